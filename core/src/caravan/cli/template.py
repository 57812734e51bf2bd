"""``-t``: a small subset of Go's text/template for formatting API objects.

Supported: ``{{.}}``, ``{{.Field.Sub}}``, ``{{range .Items}}...{{end}}`` (``.`` is the element
inside), ``{{if .X}}...{{else}}...{{end}}``, ``{{json .X}}``, and ``{{-``/``-}}`` trimming.
Field names are the API's JSON keys (``{{.ID}}``, ``{{.TaskGroups}}``). Anything else is a
:class:`TemplateError` naming what was not understood.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from caravan.errors import CaravanError

_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


class TemplateError(CaravanError):
    """A ``-t`` template that cannot be parsed or applied."""


@dataclass
class _Node:
    kind: str  # text | expr | range | if
    arg: str = ""
    body: list[_Node] = field(default_factory=list)
    orelse: list[_Node] = field(default_factory=list)


def _tokens(source: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    for match in _ACTION.finditer(source):
        text = source[pos : match.start()]
        if match.group(1):
            text = text.rstrip()
        if out and out[-1][0] == "trim-next":
            out.pop()
            text = text.lstrip()
        out.append(("text", text))
        out.append(("action", match.group(2)))
        if match.group(3):
            out.append(("trim-next", ""))
        pos = match.end()
    tail = source[pos:]
    if out and out[-1][0] == "trim-next":
        out.pop()
        tail = tail.lstrip()
    out.append(("text", tail))
    return out


def _parse(
    tokens: list[tuple[str, str]], pos: int, stop: tuple[str, ...]
) -> tuple[list[_Node], int, str]:
    nodes: list[_Node] = []
    while pos < len(tokens):
        kind, value = tokens[pos]
        pos += 1
        if kind == "text":
            if value:
                nodes.append(_Node("text", value))
            continue
        word = value.split(None, 1)[0] if value else ""
        if word in stop:
            return nodes, pos, word
        if word in ("range", "if"):
            arg = value[len(word) :].strip()
            body, pos, ended = _parse(tokens, pos, ("end", "else"))
            orelse: list[_Node] = []
            if ended == "else":
                orelse, pos, ended = _parse(tokens, pos, ("end",))
            if ended != "end":
                raise TemplateError(f"template: missing {{{{end}}}} for {{{{{word} {arg}}}}}")
            nodes.append(_Node(word, arg, body, orelse))
        elif word in ("end", "else"):
            raise TemplateError(f"template: unexpected {{{{{word}}}}}")
        else:
            nodes.append(_Node("expr", value))
    if stop:
        raise TemplateError("template: missing {{end}}")
    return nodes, pos, ""


def _lookup(data: Any, path: str) -> Any:
    if path == ".":
        return data
    if not path.startswith("."):
        raise TemplateError(f"template: cannot evaluate {path!r} (expected .Field)")
    value = data
    for part in path[1:].split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise TemplateError(f"template: can't evaluate field {part}")
    return value


def _eval(expr: str, data: Any) -> Any:
    words = expr.split()
    if len(words) == 2 and words[0] == "json":
        return json.dumps(_lookup(data, words[1]))
    if len(words) != 1:
        raise TemplateError(f"template: unsupported expression {{{{{expr}}}}}")
    return _lookup(data, words[0])


def _show(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + " ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_show(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _render(nodes: list[_Node], data: Any, out: list[str]) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.arg)
        elif node.kind == "expr":
            out.append(_show(_eval(node.arg, data)))
        elif node.kind == "if":
            _render(node.body if _eval(node.arg, data) else node.orelse, data, out)
        else:
            items = _eval(node.arg, data)
            if isinstance(items, dict):
                items = [items[k] for k in sorted(items)]
            if not items:
                _render(node.orelse, data, out)
            for item in items or []:
                _render(node.body, item, out)


def render(source: str, data: Any) -> str:
    """Apply the template ``source`` to ``data`` (decoded API JSON)."""
    nodes, _, _ = _parse(_tokens(source), 0, ())
    out: list[str] = []
    _render(nodes, data, out)
    return "".join(out)
