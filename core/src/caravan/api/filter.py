"""A go-bexpr subset: the ``filter`` query parameter of Nomad's list endpoints.

Supported: ``Sel == v``, ``Sel != v``, ``Sel contains v``, ``Sel not contains v``,
``v in Sel``, ``v not in Sel``, ``Sel matches "re"``, ``Sel not matches "re"``,
``Sel is empty``, ``Sel is not empty``, combined with ``and``, ``or``, ``not`` and
parentheses. Selectors are dotted field names of the object's API JSON (``Status``,
``Meta.team``, ``Meta["my-key"]``, ``TaskGroups.Name``); stepping through a list selects that
field of every element, and a comparison holds when it holds for any of them. Values are
double-quoted strings, backquoted raw strings, numbers, ``true``/``false`` or bare words; a
value is compared in the type of the field it meets (``Priority == 50``, ``Stop == true``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from caravan.api.errors import BadRequest

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\() | (?P<rparen>\)) | (?P<op>==|!=) |
        (?P<dq>"(?:[^"\\]|\\.)*") | (?P<bq>`[^`]*`) |
        (?P<index>\[\s*(?:"(?:[^"\\]|\\.)*"|`[^`]*`)\s*\]) |
        (?P<word>[A-Za-z0-9_\-./:+*@]+)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "contains", "matches", "is", "empty"}

Predicate = Callable[[Any], bool]
_MISSING = object()


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"unexpected character {text[pos:].lstrip()[:1]!r} at {pos + 1}")
        kind = match.lastgroup or ""
        tokens.append(_Tok(kind, match.group(kind), match.start(kind) + 1))
        pos = match.end()
    return tokens


def _unquote(tok: _Tok) -> str:
    if tok.kind == "dq":
        return json.loads(tok.text)
    return tok.text[1:-1]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self, offset: int = 0) -> _Tok | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def keyword(self, word: str, offset: int = 0) -> bool:
        tok = self.peek(offset)
        return tok is not None and tok.kind == "word" and tok.text == word

    def next(self, what: str) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise ValueError(f"expected {what} at end of expression")
        self.i += 1
        return tok

    def parse(self) -> Predicate:
        if not self.tokens:
            raise ValueError("empty expression")
        pred = self.or_expr()
        tok = self.peek()
        if tok is not None:
            raise ValueError(f"unexpected {tok.text!r} at {tok.pos}")
        return pred

    def or_expr(self) -> Predicate:
        terms = [self.and_expr()]
        while self.keyword("or"):
            self.i += 1
            terms.append(self.and_expr())
        return terms[0] if len(terms) == 1 else (lambda o: any(t(o) for t in terms))

    def and_expr(self) -> Predicate:
        terms = [self.unary()]
        while self.keyword("and"):
            self.i += 1
            terms.append(self.unary())
        return terms[0] if len(terms) == 1 else (lambda o: all(t(o) for t in terms))

    def unary(self) -> Predicate:
        if self.keyword("not"):
            self.i += 1
            inner = self.unary()
            return lambda o: not inner(o)
        tok = self.peek()
        if tok is not None and tok.kind == "lparen":
            self.i += 1
            inner = self.or_expr()
            close = self.next("')'")
            if close.kind != "rparen":
                raise ValueError(f"expected ')' at {close.pos}, got {close.text!r}")
            return inner
        return self.match()

    def operand(self) -> tuple[_Tok, list[str | int] | None]:
        """The next operand and, when it can be a selector, its path."""
        tok = self.next("a selector or value")
        if tok.kind in ("dq", "bq"):
            return tok, None
        if tok.kind != "word" or tok.text in _KEYWORDS:
            raise ValueError(f"expected a selector or value at {tok.pos}, got {tok.text!r}")
        path: list[str | int] = list(tok.text.split("."))
        while (nxt := self.peek()) is not None and nxt.kind == "index":
            self.i += 1
            inner = nxt.text[1:-1].strip()
            path.append(_unquote(_Tok("dq" if inner.startswith('"') else "bq", inner, nxt.pos)))
        return tok, path

    def value(self) -> str:
        tok = self.next("a value")
        if tok.kind in ("dq", "bq"):
            return _unquote(tok)
        if tok.kind == "word" and tok.text not in _KEYWORDS:
            return tok.text
        raise ValueError(f"expected a value at {tok.pos}, got {tok.text!r}")

    def match(self) -> Predicate:
        first, path = self.operand()
        negate = self.keyword("not") and (
            self.keyword("in", 1) or self.keyword("contains", 1) or self.keyword("matches", 1)
        )
        if negate:
            self.i += 1
        op = self.next("an operator")
        if op.kind == "word" and op.text == "in":
            value = _unquote(first) if path is None else first.text
            selector = self.selector()
            return _negated(negate, lambda o: _contains(_select(o, selector), value))
        if path is None:
            raise ValueError(f"expected a selector at {first.pos}, got {first.text!r}")
        if op.kind == "op":
            value = self.value()
            pred = lambda o: _equals(_select(o, path), value)  # noqa: E731
            return pred if op.text == "==" else (lambda o: not pred(o))
        if op.kind == "word" and op.text == "contains":
            value = self.value()
            return _negated(negate, lambda o: _contains(_select(o, path), value))
        if op.kind == "word" and op.text == "matches":
            pattern = self.value()
            try:
                regex = re.compile(pattern)
            except re.error as err:
                raise ValueError(f"invalid regular expression {pattern!r}: {err}") from None
            return _negated(negate, lambda o: _matches(_select(o, path), regex))
        if op.kind == "word" and op.text == "is":
            is_not = self.keyword("not")
            if is_not:
                self.i += 1
            if not self.keyword("empty"):
                raise ValueError(f"expected 'empty' after 'is' at {op.pos}")
            self.i += 1
            return _negated(is_not, lambda o: _empty(_select(o, path)))
        raise ValueError(f"unknown operator {op.text!r} at {op.pos}")

    def selector(self) -> list[str | int]:
        tok, path = self.operand()
        if path is None:
            raise ValueError(f"expected a selector at {tok.pos}, got {tok.text!r}")
        return path


def _negated(flag: bool, pred: Predicate) -> Predicate:
    return (lambda o: not pred(o)) if flag else pred


class _Many(list):
    """Values selected through a list: a comparison holds if it holds for any of them."""


def _select(obj: Any, path: list[str | int]) -> Any:
    current: Any = obj
    for key in path:
        if isinstance(current, _Many):
            out = _Many()
            for item in current:
                picked = _step(item, key)
                if isinstance(picked, list):
                    out.extend(picked)
                elif picked is not _MISSING:
                    out.append(picked)
            current = out
        elif isinstance(current, list) and not isinstance(key, int):
            current = _select(_Many(current), [key])
        else:
            current = _step(current, key)
            if current is _MISSING:
                return None
    return current


def _step(current: Any, key: str | int) -> Any:
    if isinstance(current, dict):
        return current.get(key, _MISSING)
    return _MISSING


def _coerce(field: Any, value: str) -> Any:
    if isinstance(field, bool):
        return value.lower() == "true"
    if isinstance(field, int | float):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _equals(field: Any, value: str) -> bool:
    if isinstance(field, _Many):
        return any(_equals(f, value) for f in field)
    if field is None:
        return value == ""
    if isinstance(field, list | dict):
        return False
    return field == _coerce(field, value) if not isinstance(field, str) else field == value


def _contains(field: Any, value: str) -> bool:
    if isinstance(field, str):
        return value in field
    if isinstance(field, dict):
        return value in field
    if isinstance(field, list):
        return any(
            _contains(f, value)
            if isinstance(field, _Many) and isinstance(f, list)
            else _equals(f, value)
            for f in field
        )
    return False


def _matches(field: Any, regex: re.Pattern[str]) -> bool:
    if isinstance(field, list):
        return any(_matches(f, regex) for f in field)
    return isinstance(field, str) and regex.search(field) is not None


def _empty(field: Any) -> bool:
    return field is None or (isinstance(field, str | list | dict) and len(field) == 0)


@dataclass(frozen=True)
class Filter:
    """A compiled filter expression; :meth:`matches` tests one object's API JSON."""

    text: str
    predicate: Predicate

    def matches(self, obj: dict[str, Any]) -> bool:
        return bool(self.predicate(obj))


def compile_filter(text: str) -> Filter:
    """Compile a filter expression.

    :raises BadRequest: ``failed to read filter expression: ...`` naming the position.
    """
    try:
        return Filter(text, _Parser(text).parse())
    except ValueError as err:
        raise BadRequest(f"failed to read filter expression: {err}") from None
