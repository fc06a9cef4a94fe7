"""Search filters in MLflow's syntax: a tokenizer and a recursive-descent parser.

Grammar (keywords case-insensitive)::

    filter     := "" | clause ("AND" clause)*
    clause     := identifier op value | identifier ("IN" | "NOT IN") "(" value ("," value)* ")"
    identifier := [entity "."] key          entity: metrics | params | tags | attributes
                                            (and MLflow's aliases: metric, param, tag, attr ...)
    key        := name | `quoted` | "quoted"     (a name may contain dots: params.fit__opt.lr)
    op         := "=" | "!=" | "<" | "<=" | ">" | ">=" | "LIKE" | "ILIKE"
    value      := number | 'string' | "string"

A bare identifier (``version``, ``status``) is an attribute. ``OR`` is refused, as in MLflow.
Every error is an InvalidArgumentError naming the offending token and its position. A filter
compiles once to a predicate over *rows*: dicts with ``metrics``, ``params``, ``tags`` and one
key per attribute; a missing metric/param/tag never matches (MLflow's rule).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from modelmgmt.errors import InvalidArgumentError

__all__ = ["ATTRIBUTES", "compile_filter", "compile_order", "parse_filter", "select"]

#: the attributes each kind of row has
ATTRIBUTES = {
    "version": ("name", "version", "created_at", "status", "run_id", "description", "model_type"),
    "run": ("run_id", "status", "experiment", "start_time", "end_time", "parent_id"),
}
_ATTR_ALIASES = {"id": "run_id", "version_number": "version", "creation_timestamp": "created_at"}
_ENTITIES = {
    "metric": "metrics", "metrics": "metrics",
    "param": "params", "params": "params", "parameter": "params", "parameters": "params",
    "tag": "tags", "tags": "tags",
    "attribute": "attributes", "attributes": "attributes", "attr": "attributes", "run": "attributes",
}
_OPS = ("=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN")

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
  | (?P<backtick>`[^`]*`)
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<punct>[(),])
  | (?P<dot>\.)
  | (?P<word>[A-Za-z_][\w]*)
""", re.VERBOSE)


class Token:
    """One lexeme: ``kind`` (number, string, name, op, punct, dot, end), text and position."""

    __slots__ = ("kind", "pos", "text", "value")

    def __init__(self, kind: str, text: str, pos: int, value: Any = None) -> None:
        self.kind, self.text, self.pos, self.value = kind, text, pos, value

    def __repr__(self) -> str:
        return f"Token({self.kind}, {self.text!r}, {self.pos})"


def _error(source: str, token: Token, expected: str) -> InvalidArgumentError:
    shown = "end of filter" if token.kind == "end" else repr(token.text)
    return InvalidArgumentError(
        f"invalid filter at position {token.pos} ({shown}): expected {expected}\n"
        f"  {source}\n  {' ' * token.pos}^"
    )


def tokenize(source: str) -> list[Token]:
    """The tokens of ``source``, ending with an ``end`` token."""
    out, pos = [], 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:
            raise _error(source, Token("char", source[pos], pos), "a name, number, quoted string or operator")
        kind, text = m.lastgroup, m.group()
        if kind == "number":
            out.append(Token("number", text, pos, float(text) if any(c in text for c in ".eE") else int(text)))
        elif kind == "string":
            quote = text[0]
            body = text[1:-1].replace(quote * 2, quote)
            body = re.sub(r"\\(.)", r"\1", body)
            out.append(Token("string", text, pos, body))
        elif kind == "backtick":
            out.append(Token("quoted_name", text, pos, text[1:-1]))
        elif kind == "op":
            out.append(Token("op", text, pos, {"==": "=", "<>": "!="}.get(text, text)))
        elif kind != "ws":
            out.append(Token(kind, text, pos, text))
        pos = m.end()
    out.append(Token("end", "", len(source)))
    return out


class _Parser:
    def __init__(self, source: str, kind: str) -> None:
        self.source, self.kind = source, kind
        self.tokens = tokenize(source)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        return tok.kind == "word" and tok.text.upper() == word

    def parse(self) -> list[tuple[str, str, str, Any]]:
        if self.peek().kind == "end":
            return []
        clauses = [self.clause()]
        while True:
            tok = self.peek()
            if tok.kind == "end":
                return clauses
            if self.keyword("AND"):
                self.take()
                clauses.append(self.clause())
                continue
            if self.keyword("OR"):
                raise _error(self.source, tok, "AND (OR is not supported, as in MLflow)")
            raise _error(self.source, tok, "AND or the end of the filter")

    def identifier(self) -> tuple[str, str]:
        tok = self.take()
        if tok.kind in ("quoted_name", "string"):
            return self._bare(tok, tok.value)
        if tok.kind != "word":
            raise _error(self.source, tok, "an identifier like metrics.acc, params.lr, tags.team or version")
        entity = _ENTITIES.get(tok.text.lower())
        if entity is None or self.peek().kind != "dot":
            return self._bare(tok, tok.text)
        self.take()  # the dot
        first = self.take()
        if first.kind in ("quoted_name", "string"):
            key = first.value
        elif first.kind in ("word", "number"):
            key = first.text
            # a key may contain dots and digits: params.fit__optimizer.lr, metrics.top.1
            while self.peek().kind == "dot" and self.tokens[self.i + 1].kind in ("word", "number") \
                    and self.tokens[self.i + 1].pos == self.peek().pos + 1 and self.peek().pos == _end(self.tokens[self.i - 1]):
                self.take()
                key += "." + self.take().text
        else:
            raise _error(self.source, first, f"a {entity[:-1]} name after '{tok.text}.'")
        if entity == "attributes":
            return self._bare(first, key)
        return entity, key

    def _bare(self, tok: Token, name: str) -> tuple[str, str]:
        name = _ATTR_ALIASES.get(name, name)
        known = ATTRIBUTES[self.kind]
        if name not in known:
            raise _error(self.source, tok, f"a known attribute ({', '.join(known)}) or metrics.X / params.X / tags.X")
        return "attributes", name

    def value(self) -> Any:
        tok = self.take()
        if tok.kind in ("number", "string"):
            return tok.value
        raise _error(self.source, tok, "a number or a quoted string")

    def clause(self) -> tuple[str, str, str, Any]:
        entity, key = self.identifier()
        tok = self.take()
        if tok.kind == "op":
            op = tok.value
        elif tok.kind == "word" and tok.text.upper() in ("LIKE", "ILIKE", "IN"):
            op = tok.text.upper()
        elif tok.kind == "word" and tok.text.upper() == "NOT" and self.keyword("IN"):
            self.take()
            op = "NOT IN"
        else:
            raise _error(self.source, tok, f"a comparison operator ({', '.join(_OPS)})")
        if op in ("IN", "NOT IN"):
            paren = self.take()
            if paren.text != "(":
                raise _error(self.source, paren, "'(' opening the list of values")
            values = [self.value()]
            while self.peek().text == ",":
                self.take()
                values.append(self.value())
            close = self.take()
            if close.text != ")":
                raise _error(self.source, close, "',' or ')' closing the list of values")
            return entity, key, op, values
        start = self.peek()
        value = self.value()
        if op in ("LIKE", "ILIKE") and not isinstance(value, str):
            raise _error(self.source, start, f"a quoted pattern after {op}")
        if entity == "metrics" and not isinstance(value, (int, float)):
            raise _error(self.source, start, f"a number to compare metrics.{key} with")
        return entity, key, op, value


def _end(tok: Token) -> int:
    return tok.pos + len(tok.text)


def parse_filter(source: Any, kind: str = "version") -> list[tuple[str, str, str, Any]]:
    """The clauses of a filter: (entity, key, op, value) each, joined by AND."""
    if source is None:
        return []
    if not isinstance(source, str):
        raise InvalidArgumentError(f"filter must be a str like \"metrics.acc > 0.9\"; got {type(source).__name__}")
    return _Parser(source, kind).parse()


def _like(pattern: str, flags: int = 0) -> re.Pattern:
    parts = []
    for ch in pattern:
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(parts) + r"\Z", flags)


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


_NUMERIC = {"=": float.__eq__, "!=": float.__ne__, "<": float.__lt__, "<=": float.__le__,
            ">": float.__gt__, ">=": float.__ge__}
_TEXT = {"=": str.__eq__, "!=": str.__ne__, "<": str.__lt__, "<=": str.__le__, ">": str.__gt__, ">=": str.__ge__}


def _compare(op: str, value: Any) -> Callable[[Any], bool]:
    """A test of one stored value against the clause's literal."""
    if op in ("LIKE", "ILIKE"):
        rx = _like(value, re.IGNORECASE if op == "ILIKE" else 0)
        return lambda v: v is not None and rx.match(_text(v)) is not None
    if op in ("IN", "NOT IN"):
        texts = {_text(x) for x in value}
        nums = {n for n in map(_number, value) if n is not None}

        def member(v: Any) -> bool:
            n = _number(v) if not isinstance(v, str) else None
            return (n in nums) if n is not None else _text(v) in texts

        return (lambda v: v is not None and member(v)) if op == "IN" else (lambda v: v is not None and not member(v))
    if isinstance(value, str):
        fn, lit = _TEXT[op], value
        return lambda v: v is not None and fn(_text(v), lit)
    cmp, num = _NUMERIC[op], float(value)

    def test(v: Any) -> bool:
        if type(v) is float:  # the common case first: a metric
            return cmp(v, num)  # NaN compares as in Python (and MLflow)
        n = _number(v)
        return n is not None and cmp(n, num)

    return test


def _getter(entity: str, key: str) -> Callable[[dict[str, Any]], Any]:
    if entity == "attributes":
        return lambda row: row.get(key)
    return lambda row: row.get(entity, {}).get(key)


def compile_filter(source: Any, kind: str = "version") -> Callable[[dict[str, Any]], bool]:
    """A predicate over rows for ``source`` (see the module doc)."""
    tests = []
    for entity, key, op, value in parse_filter(source, kind):
        get = _getter(entity, key)
        if entity == "attributes" and key == "status" and isinstance(value, (str, list)):
            # statuses compare case-insensitively ("FINISHED" as in MLflow, or "finished")
            value = [v.lower() if isinstance(v, str) else v for v in value] if isinstance(value, list) \
                else value.lower()
            get = (lambda g: lambda row: (g(row) or "").lower())(get)
        tests.append((get, _compare(op, value)))
    if not tests:
        return lambda row: True
    if len(tests) == 1:
        ((g1, t1),) = tests
        return lambda row: t1(g1(row))
    if len(tests) == 2:
        (g1, t1), (g2, t2) = tests
        return lambda row: t1(g1(row)) and t2(g2(row))

    def every(row: dict[str, Any]) -> bool:
        for get, test in tests:
            if not test(get(row)):
                return False
        return True

    return every


def compile_order(order_by: Any, kind: str = "version") -> list[tuple[Callable[[dict[str, Any]], Any], bool]]:
    """``order_by`` items like ``"metrics.r2 DESC"`` → (getter, descending) pairs."""
    if isinstance(order_by, str):
        order_by = [order_by]
    if order_by is None:
        order_by = []
    if not isinstance(order_by, (list, tuple)):
        raise InvalidArgumentError(f"order_by must be a str or a list of str; got {type(order_by).__name__}")
    out = []
    for item in order_by:
        if not isinstance(item, str):
            raise InvalidArgumentError(f"order_by items must be str like 'metrics.r2 DESC'; got {item!r}")
        parser = _Parser(item, kind)
        entity, key = parser.identifier()
        descending = False
        tok = parser.take()
        if tok.kind == "word" and tok.text.upper() in ("ASC", "DESC"):
            descending = tok.text.upper() == "DESC"
            tok = parser.take()
        if tok.kind != "end":
            raise _error(item, tok, "ASC, DESC or the end of the order_by item")
        out.append((_getter(entity, key), descending))
    return out


def _sort_key(v: Any) -> tuple:
    n = _number(v) if not isinstance(v, str) else None
    if v is None or (n is not None and math.isnan(n)):
        return (2, 0.0, "")
    return (0, n, "") if n is not None else (1, 0.0, _text(v))


def select(rows: Iterable[dict[str, Any]], predicate: Callable[[dict[str, Any]], bool],
           order: list[tuple[Callable[[dict[str, Any]], Any], bool]], limit: int | None) -> list[dict[str, Any]]:
    """The rows passing ``predicate``, sorted by ``order`` (missing values last), at most ``limit``."""
    out = [r for r in rows if predicate(r)]
    for get, descending in reversed(order):  # stable sorts, last key first
        keyed = [(_sort_key(get(r)), r) for r in out]
        present = [kr for kr in keyed if kr[0][0] < 2]
        present.sort(key=lambda kr: kr[0], reverse=descending)
        out = [r for _, r in present] + [r for k, r in keyed if k[0] == 2]
    return out if limit is None else out[:limit]
