"""Jinja2 with autoescaping for every HTML and SVG we write (jinja2 is the ``ui`` extra).

Every user-provided string reaches a page through a template, so it is escaped by Jinja2's
autoescape (markupsafe); only values marked safe by our own renderers (charts) pass through.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any, Iterable

__all__ = ["TEMPLATE_DIR", "environment", "render", "fmt", "fmt_time", "stylesheet", "require_jinja2"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
_ENVS: dict[tuple[str, ...], Any] = {}


def require_jinja2() -> Any:
    """The jinja2 module, or an ImportError naming the extra to install."""
    try:
        import jinja2
    except ImportError as exc:  # pragma: no cover - jinja2 is in the test environment
        raise ImportError("HTML output needs jinja2: pip install 'modelmgmt[ui]'") from exc
    return jinja2


def fmt(value: Any, digits: int = 4) -> str:
    """A number short and readable (4 significant digits), anything else as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def fmt_time(value: Any) -> str:
    """An ISO 8601 string or a POSIX time as 'YYYY-MM-DD HH:MM:SS' UTC."""
    if value is None or value == "":
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _dt.datetime.fromtimestamp(float(value), _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    return text.replace("T", " ").replace("+00:00", "").rstrip("Z")[:19]


def environment(extra_dirs: Iterable[str | Path] = ()) -> Any:
    """A cached Jinja2 Environment (autoescape on) over ``extra_dirs`` then viz's templates."""
    dirs = tuple(str(d) for d in extra_dirs) + (str(TEMPLATE_DIR),)
    env = _ENVS.get(dirs)
    if env is None:
        jinja2 = require_jinja2()
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(list(dirs)),
            autoescape=True,  # every template, .html and .svg.j2 alike
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        env.filters["fmt"] = fmt
        env.filters["fmt_time"] = fmt_time
        env.filters["tojson_attr"] = lambda v: json.dumps(v, sort_keys=True, default=str)
        _ENVS[dirs] = env
    return env


def render(template: str, **context: Any) -> Any:
    """Render one of viz's templates; returns markupsafe.Markup (safe to embed in a page)."""
    jinja2 = require_jinja2()
    return jinja2.utils.markupsafe.Markup(environment().get_template(template).render(**context))


def stylesheet() -> str:
    """The CSS shared by the web UI and the standalone reports."""
    return (TEMPLATE_DIR / "style.css").read_text(encoding="utf-8")
