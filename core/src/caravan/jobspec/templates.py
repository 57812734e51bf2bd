"""HCL string templates: literal text, ``${...}`` interpolations and ``%{...}`` directives.

Quoted strings arrive from python-hcl2 already split into parts; heredoc bodies arrive as one
token, so :func:`scan_heredoc` splits them here (parsing each embedded expression with the
same grammar). :func:`render` then assembles ``if``/``else``/``endif`` and ``for``/``endfor``
into structure, applies ``~`` strip markers and produces the text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hcl2
from lark import Token, Tree
from lark.exceptions import LarkError

from caravan.errors import JobspecError

from .values import ConversionError, to_bool


@dataclass
class Interp:
    """``${expr}``; ``raw`` is its source text, kept when the expression is resolved at runtime."""

    expr: Tree
    raw: str
    line_offset: int = 0


@dataclass
class Directive:
    """One ``%{ ... }`` marker: kind is if, else, endif, for or endfor."""

    kind: str
    expr: Tree | None = None
    names: list[str] = field(default_factory=list)
    strip_left: bool = False
    strip_right: bool = False
    line_offset: int = 0


TemplatePart = str | Interp | Directive
Piece = Callable[[Interp | Directive, dict[str, Any]], Any]


def string_parts(node: Tree) -> list[TemplatePart]:
    """The parts of a quoted-string node from python-hcl2's tree."""
    from .syntax import unescape

    parts: list[TemplatePart] = []
    for part in node.children[1:-1]:
        inner = part.children[0]
        if isinstance(inner, Token):
            text = str(inner)
            if inner.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
                parts.append(text[1:])
            else:
                parts.append(unescape(text))
        elif inner.data == "interpolation":
            expr = next(c for c in inner.children if isinstance(c, Tree))
            parts.append(Interp(expr, _source_text(inner)))
        else:
            parts.append(_directive_from_tree(inner))
    return parts


def _source_text(node: Tree) -> str:
    """Reassemble a node's text from its tokens (exact for the references kept verbatim)."""
    tokens = sorted(node.scan_values(lambda v: isinstance(v, Token)), key=lambda t: t.start_pos)
    out = ""
    end = None
    for tok in tokens:
        if end is not None and tok.start_pos > end:
            out += " " * (tok.start_pos - end)
        out += str(tok)
        end = tok.end_pos
    return out


def _directive_from_tree(node: Tree) -> Directive:
    kind = node.data.removeprefix("template_").removesuffix("_start")
    tokens = [c for c in node.children if isinstance(c, Token)]
    exprs = [c for c in node.children if isinstance(c, Tree) and c.data != "identifier"]
    names = [
        str(c.children[0]) for c in node.children if isinstance(c, Tree) and c.data == "identifier"
    ]
    strips = [i for i, t in enumerate(tokens) if t.type == "STRIP_MARKER"]
    return Directive(
        kind,
        exprs[0] if exprs else None,
        names,
        strip_left=bool(strips) and strips[0] == 1,
        strip_right=bool(strips) and strips[-1] == len(tokens) - 2,
    )


_HEREDOC_HEAD = re.compile(r"<<(-?)([A-Za-z][A-Za-z0-9._-]*)\r?\n")


def scan_heredoc(token: Token, filename: str) -> list[TemplatePart]:
    """Split a heredoc token (``<<EOT ... EOT``) into template parts.

    ``<<-`` heredocs have their common leading indentation removed, as HCL does.
    """
    text = str(token)
    head = _HEREDOC_HEAD.match(text)
    if head is None:
        raise JobspecError(filename, token.line or 0, token.column or 0, "malformed heredoc")
    lines = text[head.end() :].split("\n")
    body_lines = lines[:-2] if len(lines) >= 2 else []
    if head.group(1):
        indents = [len(ln) - len(ln.lstrip()) for ln in body_lines if ln.strip()]
        cut = min(indents, default=0)
        body_lines = [ln[cut:] for ln in body_lines]
    body = "".join(ln + "\n" for ln in body_lines)
    return scan_template(body, filename, (token.line or 1))


def scan_template(text: str, filename: str, first_line: int) -> list[TemplatePart]:
    """Split raw template text (no escapes) into parts; ``first_line`` is the text's line - 1."""
    parts: list[TemplatePart] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$${", i) or text.startswith("%%{", i):
            literal.append(text[i + 1 : i + 3])
            i += 3
            continue
        if text.startswith("${", i) or text.startswith("%{", i):
            end = _closing_brace(text, i + 2)
            line = first_line + text.count("\n", 0, i) + 1
            if end < 0:
                raise JobspecError(filename, line, 0, "unterminated template sequence")
            if literal:
                parts.append("".join(literal))
                literal = []
            inner = text[i + 2 : end]
            if text[i] == "$":
                parts.append(
                    Interp(parse_expression(inner, filename, line), text[i : end + 1], line - 1)
                )
            else:
                parts.append(_parse_directive(inner, filename, line))
            i = end + 1
            continue
        literal.append(text[i])
        i += 1
    if literal:
        parts.append("".join(literal))
    return parts


def _closing_brace(text: str, start: int) -> int:
    depth = 0
    i = start
    in_string = False
    while i < len(text):
        ch = text[i]
        if in_string:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def parse_expression(source: str, filename: str, line: int) -> Tree:
    """Parse one HCL expression (from a template or a ``-var`` value); ``line`` places errors."""
    try:
        tree = hcl2.parses_to_tree("x = " + source.strip())
        attribute = tree.children[0].children[0]
        return attribute.children[2]
    except (LarkError, IndexError, AttributeError):
        raise JobspecError(filename, line, 0, f"invalid template expression {source!r}") from None


_DIRECTIVE = re.compile(r"^(~?)\s*(if|else|endif|for|endfor)\b(.*?)\s*(~?)$", re.S)
_FOR_HEAD = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*(?:,\s*([A-Za-z_][\w-]*))?\s+in\s+(.+)$", re.S)


def _parse_directive(source: str, filename: str, line: int) -> Directive:
    match = _DIRECTIVE.match(source.strip())
    if match is None:
        raise JobspecError(filename, line, 0, f"invalid template directive %{{{source}}}")
    left, kind, rest, right = match.groups()
    directive = Directive(
        kind, strip_left=bool(left), strip_right=bool(right), line_offset=line - 1
    )
    if kind == "if":
        directive.expr = parse_expression(rest, filename, line)
    elif kind == "for":
        head = _FOR_HEAD.match(rest)
        if head is None:
            raise JobspecError(filename, line, 0, "invalid for directive: expected 'for x in list'")
        directive.names = [n for n in head.group(1, 2) if n]
        directive.expr = parse_expression(head.group(3), filename, line)
    elif rest.strip():
        raise JobspecError(filename, line, 0, f"unexpected text after %{{{kind}}}")
    return directive


def _strip(parts: list[TemplatePart]) -> list[TemplatePart]:
    out = list(parts)
    for i, part in enumerate(out):
        if not isinstance(part, Directive):
            continue
        if part.strip_left and i > 0 and isinstance(out[i - 1], str):
            out[i - 1] = out[i - 1].rstrip()
        if part.strip_right and i + 1 < len(out) and isinstance(out[i + 1], str):
            out[i + 1] = out[i + 1].lstrip()
    return out


def render(parts: list[TemplatePart], piece: Piece) -> str:
    """Render parts to text; ``piece`` evaluates an interpolation (to text) or a directive's
    expression, given extra bound names. Raises :class:`ConversionError` for unbalanced
    directives."""
    stripped = _strip(parts)
    text, end = _render(stripped, 0, piece, {}, stop=())
    if end < len(stripped):
        directive = stripped[end]
        assert isinstance(directive, Directive)
        raise ConversionError(f"unexpected %{{{directive.kind}}} in template")
    return text


def _skip(parts: list[TemplatePart], i: int, stop: tuple[str, ...]) -> int:
    """Index of the directive in ``stop`` closing the block that starts at ``i``."""
    depth = 0
    while i < len(parts):
        part = parts[i]
        if isinstance(part, Directive):
            if part.kind in ("if", "for"):
                depth += 1
            elif depth and part.kind in ("endif", "endfor"):
                depth -= 1
            elif not depth and part.kind in stop:
                return i
        i += 1
    raise ConversionError(f"template directive is missing %{{{stop[-1]}}}")


def _render(
    parts: list[TemplatePart], i: int, piece: Piece, bound: dict[str, Any], stop: tuple[str, ...]
) -> tuple[str, int]:
    out: list[str] = []
    while i < len(parts):
        part = parts[i]
        if isinstance(part, str):
            out.append(part)
            i += 1
        elif isinstance(part, Interp):
            out.append(piece(part, bound))
            i += 1
        elif part.kind == "if":
            middle = _skip(parts, i + 1, ("else", "endif"))
            end = middle if parts[middle].kind == "endif" else _skip(parts, middle + 1, ("endif",))
            if to_bool(piece(part, bound)):
                out.append(_render(parts[:middle], i + 1, piece, bound, ())[0])
            elif middle != end:
                out.append(_render(parts[:end], middle + 1, piece, bound, ())[0])
            i = end + 1
        elif part.kind == "for":
            end = _skip(parts, i + 1, ("endfor",))
            collection = piece(part, bound)
            pairs = (
                (
                    sorted(collection.items())
                    if isinstance(collection, dict)
                    else enumerate(collection)
                )
                if isinstance(collection, (dict, list))
                else None
            )
            if pairs is None:
                raise ConversionError("a %{for} directive needs a list or a map")
            for key, value in pairs:
                names = part.names
                extra = {names[0]: value} if len(names) == 1 else {names[0]: key, names[1]: value}
                out.append(_render(parts[:end], i + 1, piece, {**bound, **extra}, ())[0])
            i = end + 1
        else:
            return "".join(out), i
    return "".join(out), i
