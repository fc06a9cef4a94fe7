"""The web UI over HTTP: every page and its JSON twin, escaping, read-only methods, tokens,
pagination, query options, and a million-point curve kept under 500 KB."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("jinja2")

import modelmgmt as mm  # noqa: E402
from modelmgmt.errors import InvalidArgumentError  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _ui_data  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui-registry")
    info = _ui_data.build(f"file://{root}")
    reg = info["registry"]
    with reg.start_run("big") as run:  # one curve of a million points
        run.metrics["long"] = [(i, 1.0 / (1 + i) + (i % 1000) * 1e-6) for i in range(1_000_000)]
        run.flush()
    info["big_run"] = run.id
    with mm.ui.serve(reg) as ui:
        info["url"] = ui.url
        yield info


def get(url: str, headers: dict | None = None, method: str = "GET"):
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def page(site, path: str) -> str:
    status, headers, body = get(site["url"] + path)
    assert status == 200, (path, body[:500])
    assert headers["Content-Type"].startswith("text/html")
    return body.decode()


def api(site, path: str):
    status, headers, body = get(site["url"] + "/api" + path)
    assert status == 200, (path, body[:500])
    assert headers["Content-Type"] == "application/json"
    return json.loads(body)


def q(text: str) -> str:
    return urllib.parse.quote(text, safe="")


# --- pages and twins ---------------------------------------------------------------------
def test_models_page_and_twin(site):
    for path in ("/", "/models"):
        body = page(site, path)
        assert '<a href="/models/churn">churn</a>' in body
        assert "@production → 1" in body and "@staging → 3" in body
    data = api(site, "/models")
    rows = {r["name"]: r for r in data["models"]}
    assert set(rows) == {"churn", _ui_data.XSS_NAME}
    assert rows["churn"]["latest_version"] == 3
    assert rows["churn"]["aliases"] == {"production": 1, "staging": 3}
    assert rows["churn"]["metrics"]["loss"] == pytest.approx(0.3)
    assert data["page"]["total"] == 2


def test_models_filter_and_pagination(site):
    data = api(site, "/models?limit=1")
    assert len(data["models"]) == 1 and data["page"]["next"] is not None
    second = api(site, "/models?limit=1&offset=1")
    assert second["models"][0]["name"] != data["models"][0]["name"] and second["page"]["next"] is None
    assert [r["name"] for r in api(site, "/models?q=chu")["models"]] == ["churn"]


def test_model_page_versions_aliases_deployments(site):
    body = page(site, "/models/churn")
    assert body.count('href="/models/churn/versions/') >= 3
    assert "accuracy across versions" in body and "<svg" in body
    assert 'id="alias-history"' in body and "rollback" in body
    assert '<a href="/deployments/churn-api">churn-api</a>' in body
    data = api(site, "/models/churn")
    assert [v["version"] for v in data["versions"]] == [3, 2, 1]
    assert data["aliases"] == {"production": 1, "staging": 3}
    assert [e["action"] for e in data["alias_history"]["production"]] == ["set", "set", "rollback"]
    assert data["deployments"][0]["name"] == "churn-api"
    assert data["monitor"] == "/monitors/churn" and 'href="/monitors/churn"' in body
    assert api(site, f"/models/{q(_ui_data.XSS_NAME)}")["monitor"] is None
    newest = api(site, "/models/churn?limit=2")
    assert [v["version"] for v in newest["versions"]] == [3, 2] and newest["page"]["prev"] is None
    older = api(site, newest["page"]["next"])
    assert [v["version"] for v in older["versions"]] == [1] and older["page"]["next"] is None
    assert [v["version"] for v in api(site, older["page"]["prev"])["versions"]] == [3, 2]


def test_model_metric_choice(site):
    assert api(site, "/models/churn?metric=loss")["metric"] == "loss"
    status, _, body = get(site["url"] + "/api/models/churn?metric=nope")
    assert status == 404 and b"accuracy" in body


def test_version_page_lineage_and_tensors(site):
    body = page(site, "/models/churn/versions/2")
    assert 'id="lineage"' in body and f'href="/runs/{site["runs"][1]}"' in body
    assert "churn-api" in body and "LogisticRegression" in body
    data = api(site, "/models/churn/versions/2")
    assert data["version"] == 2 and data["run_id"] == site["runs"][1]
    assert set(data["tensors"]) == {"W", "b"} and data["tensors"]["W"]["shape"] == [4, 2]
    assert data["lineage"]["deployments"][0]["name"] == "churn-api"
    assert data["monitor_reports"] and data["monitor_reports"][0].startswith("monitor/report-")
    assert api(site, "/models/churn/versions/1")["lineage"]["aliases"] == ["production"]


def test_compare_differences_only_by_default(site):
    data = api(site, "/compare?a=churn/1&b=churn/2")
    keys = {(r["section"], r["key"]) for r in data["rows"]}
    assert ("params", "l2") in keys and ("metrics", "loss") in keys
    assert ("tags", "stage") not in keys  # equal in both: hidden by default
    assert all(not r["same"] for r in data["rows"])
    everything = api(site, "/compare?a=churn/1&b=churn/2&all=1")
    assert ("tags", "stage") in {(r["section"], r["key"]) for r in everything["rows"]}
    assert "churn/1" in page(site, "/compare?a=churn/1&b=churn/2")


def test_experiments_and_runs_table(site):
    assert '<a href="/experiments/churn-exp">churn-exp</a>' in page(site, "/experiments")
    assert api(site, "/experiments")["experiments"] == ["big", "churn-exp"]
    body = page(site, "/experiments/churn-exp")
    assert body.count('class="run-row"') == 3
    data = api(site, "/experiments/churn-exp")
    assert {r["id"] for r in data["runs"]} == set(site["runs"])
    assert "params.l2" in data["columns"] and "metrics.accuracy" in data["columns"]
    first = api(site, "/experiments/churn-exp?limit=2")
    assert len(first["runs"]) == 2 and first["page"]["next"]
    rest = api(site, first["page"]["next"])
    assert len(rest["runs"]) == 1 and rest["page"]["next"] is None and rest["page"]["prev"]
    assert {r["id"] for r in first["runs"] + rest["runs"]} == set(site["runs"])
    assert [r["id"] for r in first["runs"]] == site["runs"][::-1][:2]  # newest first


def test_runs_filter_uses_search_syntax(site):
    data = api(site, "/experiments/churn-exp?filter=" + q("params.l2 > 0") + "&order_by=" + q("params.l2 DESC"))
    assert [r["params"]["l2"] for r in data["runs"]] == [0.1, 0.01]
    status, _, body = get(site["url"] + "/experiments/churn-exp?filter=" + q("params.l2 >>> 1"))
    assert status == 400 and b'class="error-box"' in body
    cols = api(site, "/experiments/churn-exp?columns=metrics.accuracy")["columns"]
    assert cols == ["metrics.accuracy"]


def test_run_page_curves_and_options(site):
    rid = site["runs"][0]
    body = page(site, f"/runs/{rid}")
    assert body.count('<svg class="mm-chart"') >= 3  # batch_loss, loss, val_loss, lr
    assert re.search(r'<path class="mm-series mm-line" data-series="batch_loss" d="M[\d.]+,[\d.]+L', body)
    smooth = page(site, f"/runs/{rid}?smooth=0.9&logy=1")
    assert "mm-raw" in smooth and "(log scale)" in smooth
    data = api(site, f"/runs/{rid}")
    assert data["points"]["batch_loss"] == 500 and data["params"]["l2"] == 0.0
    assert data["versions"] == ["churn/1"]
    assert data["resources"]["wall_seconds"] > 0 and "<h3>Cost</h3>" in body


def test_runs_compare_overlays_curves(site):
    ids = ",".join(site["runs"][:2])
    body = page(site, f"/runs/compare?ids={ids}")
    chart = body[body.index("<h3>batch_loss</h3>"):]
    chart = chart[:chart.index("</svg>")]
    assert chart.count('class="mm-series mm-line"') == 2
    data = api(site, f"/runs/compare?ids={ids}")
    assert [p["key"] for p in data["params"]] == ["l2"]  # "note" is equal: hidden
    assert {p["key"] for p in api(site, f"/runs/compare?ids={ids}&all=1")["params"]} == {"l2", "note"}


def test_monitor_page_histograms(site):
    body = page(site, "/monitors/churn")
    assert 'id="drift-table"' in body and body.count('class="drift-row"') == 4
    assert body.count('<svg class="mm-chart"') == 4 and "<rect" in body
    data = api(site, "/monitors/churn")
    assert data["version"] == "churn/2"
    f0 = data["report"]["features"][0]
    assert f0["name"] == "f0" and f0["drifted"] is True
    assert "missing_share" in f0 and "histogram" in f0


def test_deployment_pages(site):
    assert '<a href="/deployments/churn-api">churn-api</a>' in page(site, "/deployments")
    body = page(site, "/deployments/churn-api")
    assert body.count("<tr>") >= 4 and "rollback" in body and "<svg" in body
    data = api(site, "/deployments/churn-api")
    assert [e["event"] for e in data["events"]] == ["deploy", "update", "rollback"]
    assert api(site, "/deployments")["deployments"][0]["serving"] == "churn/1"


def test_million_point_curve_stays_small(site):
    status, _, body = get(site["url"] + f"/runs/{site['big_run']}")
    assert status == 200 and len(body) < 500_000
    d = re.search(rb'data-series="long" d="([^"]+)"', body).group(1)
    assert 100 < d.count(b"L") < 3000  # downsampled to about two points per pixel
    status, _, body = get(site["url"] + f"/runs/{site['big_run']}?smooth=0.95&logy=1")
    assert status == 200 and len(body) < 500_000


# --- escaping ----------------------------------------------------------------------------
def test_user_strings_are_escaped_everywhere(site):
    name = q(_ui_data.XSS_NAME)
    paths = ["/models", f"/models/{name}", f"/models/{name}/versions/1", "/models/churn",
             "/models/churn/versions/2", f"/runs/{site['runs'][0]}", "/monitors/churn",
             f"/runs/compare?ids={site['runs'][0]},{site['runs'][1]}&all=1",
             "/compare?a=churn/1&b=churn/2&all=1", "/experiments/churn-exp?columns=params.note"]
    for path in paths:
        body = page(site, path)
        for raw in (_ui_data.XSS_SCRIPT, _ui_data.XSS_IMG, _ui_data.XSS_NAME):
            assert raw not in body, (path, raw)
        assert "<script>window" not in body  # no injected script element
        assert re.search(r"<img\b", body) is None, path  # no injected element with onerror=
        assert "&lt;script&gt;window" in body or "&lt;img src=x onerror" in body, path  # shown as text


def test_json_twin_keeps_strings_verbatim(site):
    data = api(site, "/models/churn/versions/2")
    assert data["tags"]["stage"] == _ui_data.XSS_SCRIPT and data["description"] == _ui_data.XSS_IMG


# --- protocol ----------------------------------------------------------------------------
def test_headers_forbid_external_loads(site):
    status, headers, body = get(site["url"] + "/models")
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert not re.search(rb'(src|href)="(https?:)?//', body)
    for asset, ctype in (("app.css", "text/css"), ("app.js", "text/javascript"), ("icon.svg", "image/svg+xml")):
        status, headers, body = get(f"{site['url']}/static/{asset}")
        assert status == 200 and headers["Content-Type"].startswith(ctype) and body
        assert headers["Cache-Control"] == "max-age=3600"
    assert get(site["url"] + "/static/../server.py")[0] == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_read_only(site, method):
    status, headers, _ = get(site["url"] + "/models", method=method)
    assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_head_matches_get(site):
    _, get_headers, body = get(site["url"] + "/models/churn")
    status, headers, head_body = get(site["url"] + "/models/churn", method="HEAD")
    assert status == 200 and head_body == b"" and headers["Content-Length"] == str(len(body))


def test_not_found_and_bad_requests(site):
    assert get(site["url"] + "/models/nope")[0] == 404
    status, headers, body = get(site["url"] + "/api/models/nope")
    assert status == 404 and "nope" in json.loads(body)["error"]
    assert get(site["url"] + "/no/such/page")[0] == 404
    assert get(site["url"] + "/experiments/nope")[0] == 404
    assert get(site["url"] + "/runs/0123abcd")[0] == 404
    assert get(site["url"] + "/deployments/nope")[0] == 404
    assert get(site["url"] + f"/monitors/{q(_ui_data.XSS_NAME)}")[0] == 404
    assert get(site["url"] + "/models?limit=abc")[0] == 400
    assert get(site["url"] + "/models?limit=0")[0] == 400
    assert get(site["url"] + f"/runs/{site['runs'][0]}?smooth=2")[0] == 400
    assert get(site["url"] + f"/runs/{site['runs'][0]}?logy=maybe")[0] == 400
    assert get(site["url"] + "/models/churn/versions/x")[0] == 400
    assert get(site["url"] + "/compare?a=churn/1")[0] == 400
    assert get(site["url"] + "/runs/compare")[0] == 400


def test_token_bearer_query_and_cookie(site):
    with mm.ui.serve(site["registry"], token="s3cret") as ui:
        assert get(ui.url + "/models")[0] == 401
        status, headers, body = get(ui.url + "/api/models")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        assert get(ui.url + "/api/models", {"Authorization": "Bearer wrong"})[0] == 401
        assert get(ui.url + "/api/models", {"Authorization": "Bearer s3cret"})[0] == 200
        status, headers, _ = get(ui.url + "/models?token=s3cret")
        assert status == 200 and "HttpOnly" in headers["Set-Cookie"]
        cookie = headers["Set-Cookie"].split(";")[0]
        assert get(ui.url + "/models/churn", {"Cookie": cookie})[0] == 200
        assert get(ui.url + "/static/app.css")[0] == 200  # assets need no token


def test_serve_arguments(site, tmp_path):
    with pytest.raises(InvalidArgumentError):
        mm.ui.serve(site["registry"], port=-1)
    with pytest.raises(InvalidArgumentError):
        mm.ui.serve(site["registry"], token="")
    with pytest.raises(InvalidArgumentError):
        mm.ui.serve(site["registry"], host="")
    with mm.ui.serve(f"file://{tmp_path}") as ui:  # a URL works too; an empty registry renders
        assert ui.url.startswith("http://127.0.0.1:")
        assert "No models" in page({"url": ui.url}, "/")
        assert api({"url": ui.url}, "/experiments")["experiments"] == []
    ui.stop()  # idempotent


def test_cli_ui_command(site, tmp_path):
    root = site["registry"].url
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "modelmgmt", "--registry", root, "ui", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        assert get(url + "/api/models")[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    missing = subprocess.run([sys.executable, "-m", "modelmgmt", "--registry", str(tmp_path / "nope"), "ui"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no registry" in missing.stderr
    assert not (tmp_path / "nope").exists()


def test_demo_ends_with_report_and_ui_command():
    import io
    import shutil

    from modelmgmt.demo import main

    out = io.StringIO()
    main(out=out)
    text = out.getvalue()
    report = re.search(r"^report: (\S+\.html)", text, re.M).group(1)
    command = re.search(r"^ui: (modelmgmt ui --registry (file://\S+))$", text, re.M)
    try:
        assert Path(report).read_text().startswith("<!DOCTYPE html>")
        assert "x0" in Path(report).read_text()
        with mm.ui.serve(command.group(2)) as ui:
            data = api({"url": ui.url}, "/monitors/churn")
            assert data["report"]["features"][0]["name"] == "x0"
    finally:
        shutil.rmtree(command.group(2)[len("file://"):], ignore_errors=True)
        Path(report).unlink(missing_ok=True)


def test_nested_runs_parent_column_and_children_link(tmp_path):
    reg = mm.Registry(f"file://{tmp_path}")
    with reg.start_run("search") as parent:
        for lr in (0.1, 0.01):
            with reg.start_run("search", params={"lr": lr}, parent=parent) as child:
                child.log_metric("score", lr)
    with reg.start_run("search") as other:
        pass
    with mm.ui.serve(reg) as ui:
        site = {"url": ui.url}
        body = page(site, "/experiments/search")
        assert f'href="/runs/{parent.id}">{parent.id[:8]}</a>' in body and ">parent</th>" in body
        link = api(site, f"/runs/{parent.id}")["children"]
        children = api(site, link)["runs"]
        assert sorted(r["params"]["lr"] for r in children) == [0.01, 0.1]
        assert other.id not in {r["id"] for r in children}
