"""HCL2 text -> a small tree of bodies, blocks and attributes, each with its position.

python-hcl2 builds a lark parse tree with line/column metadata; this module walks it into
:class:`Body` / :class:`Block` / :class:`Attribute` so the decoder sees the structure of the
file, while attribute values stay lark expression trees for :mod:`.expressions` to evaluate.
Every parse failure becomes a :class:`~caravan.errors.JobspecError` naming file:line,col.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import hcl2
from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from caravan.errors import JobspecError


@dataclass
class Attribute:
    """``name = expr``; ``expr`` is the unevaluated lark expression tree."""

    name: str
    expr: Tree | Token
    line: int
    column: int


@dataclass
class Block:
    """``type "label" ... { body }``."""

    type: str
    labels: list[str]
    body: Body
    line: int
    column: int


@dataclass
class Body:
    """The attributes and blocks of a file or a block, in source order."""

    attributes: list[Attribute] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


# Friendlier spellings of the grammar's terminal names for "expected ..." messages.
_TOKEN_WORDS = {
    "RBRACE": "'}'",
    "LBRACE": "'{'",
    "RSQB": "']'",
    "LSQB": "'['",
    "RPAR": "')'",
    "LPAR": "'('",
    "EQ": "'='",
    "COMMA": "','",
    "DBLQUOTE": "'\"'",
    "NAME": "a name",
    "NL_OR_COMMENT": "a new line",
    "$END": "end of file",
    "COLON": "':'",
    "QMARK": "'?'",
    "INT_LITERAL": "a number",
    "FLOAT_LITERAL": "a number",
    "STRING_CHARS": "text",
    "HEREDOC_TEMPLATE": "a heredoc",
}
# When one of these is possible, it is the useful thing to tell the user; the rest is noise.
_PREFERRED = ["RBRACE", "RSQB", "RPAR", "EQ", "LBRACE", "DBLQUOTE", "COMMA", "NL_OR_COMMENT"]


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    text = str(tok).strip()
    if not text:
        return "a new line"
    return repr(text.splitlines()[0][:20])


def _expected_words(expected: set[str]) -> str:
    if {"INT_LITERAL", "LSQB", "DBLQUOTE"} <= expected:
        return "a value (a string, number, list, map or expression)"
    if {"STRING_CHARS", "DBLQUOTE"} <= expected:
        return "the closing '\"' of the string"
    preferred = [_TOKEN_WORDS[t] for t in _PREFERRED if t in expected]
    if preferred:
        return " or ".join(dict.fromkeys(preferred[:3]))
    words = sorted({_TOKEN_WORDS.get(t, t.lower()) for t in expected})
    return ", ".join(words[:4])


def unclosed_brace(source: str) -> tuple[int, int] | None:
    """Find the ``{`` most likely missing its ``}``; returns its (line, column) or None.

    Braces are matched ignoring strings, comments and heredocs. A ``{`` whose matching ``}``
    sits at a smaller indentation is the likely culprit (the ``}`` belonged to an outer block);
    otherwise the first ``{`` left open at the end of the file.
    """
    stack: list[tuple[int, int, int]] = []
    suspects: list[tuple[int, int]] = []
    lines = source.split("\n")
    in_comment = False
    heredoc: str | None = None
    for lineno, text in enumerate(lines, start=1):
        if heredoc is not None:
            if text.strip() == heredoc:
                heredoc = None
            continue
        indent = len(text) - len(text.lstrip())
        i = 0
        in_string = False
        while i < len(text):
            ch = text[i]
            if in_comment:
                if text.startswith("*/", i):
                    in_comment = False
                    i += 1
            elif in_string:
                if ch == "\\":
                    i += 1
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch == "#" or text.startswith("//", i):
                break
            elif text.startswith("/*", i):
                in_comment = True
                i += 1
            elif text.startswith("<<", i):
                marker = text[i + 2 :].lstrip("-").strip()
                if marker.isidentifier():
                    heredoc = marker
                    break
            elif ch == "{":
                stack.append((lineno, i + 1, indent))
            elif ch == "}" and stack:
                open_line, open_col, open_indent = stack.pop()
                if indent < open_indent and open_line != lineno:
                    suspects.append((open_line, open_col))
            i += 1
    if not stack:
        return None
    if suspects:
        return suspects[0]
    return stack[0][0], stack[0][1]


def _syntax_error(source: str, filename: str, err: LarkError) -> JobspecError:
    if isinstance(err, UnexpectedToken):
        tok = err.token
        if tok.type == "$END" and "RBRACE" in err.expected:
            spot = unclosed_brace(source)
            if spot is not None:
                return JobspecError(
                    filename,
                    spot[0],
                    spot[1],
                    "unclosed block: this '{' has no matching '}' before the end of the file",
                )
        line = tok.line if tok.line is not None else err.line
        column = tok.column if tok.column is not None else err.column
        message = f"unexpected {_describe_token(tok)}; expected {_expected_words(err.expected)}"
        return JobspecError(filename, line or 0, column or 0, message)
    if isinstance(err, UnexpectedCharacters):
        char = source[err.pos_in_stream] if err.pos_in_stream < len(source) else ""
        return JobspecError(filename, err.line, err.column, f"invalid character {char!r}")
    if isinstance(err, UnexpectedEOF):
        spot = unclosed_brace(source)
        if spot is not None:
            return JobspecError(filename, spot[0], spot[1], "unclosed block")
        return JobspecError(filename, 0, 0, "unexpected end of file")
    return JobspecError(filename, 0, 0, f"invalid HCL: {err}")


def parse_tree(source: str, filename: str) -> Tree:
    """Parse HCL2 text into python-hcl2's lark tree; raises :class:`JobspecError`."""
    try:
        return hcl2.parses_to_tree(source)
    except LarkError as err:
        raise _syntax_error(source, filename, err) from None
    except (ValueError, IndexError, KeyError, TypeError) as err:
        raise JobspecError(filename, 0, 0, f"invalid HCL: {err}") from None


def parse_body(source: str, filename: str) -> Body:
    """Parse a whole HCL2 file into its top-level :class:`Body`; raises :class:`JobspecError`."""
    tree = parse_tree(source, filename)
    return _body(tree.children[0], filename)


def _name_of(node: Tree | Token) -> str:
    """Text of an attribute name, block type or unquoted label node."""
    if isinstance(node, Token):
        return str(node)
    return "".join(str(t) for t in node.scan_values(lambda v: isinstance(v, Token)))


def _label(node: Tree, filename: str) -> str:
    if node.data != "string":
        return _name_of(node)
    text = []
    for part in node.children[1:-1]:
        inner = part.children[0]
        if isinstance(inner, Tree):
            raise JobspecError(
                filename, node.meta.line, node.meta.column, "block labels cannot use templates"
            )
        text.append(str(inner))
    return unescape("".join(text))


def _body(tree: Tree, filename: str) -> Body:
    body = Body()
    for child in tree.children:
        if not isinstance(child, Tree):
            continue
        if child.data == "attribute":
            name_node, _eq, expr = child.children
            body.attributes.append(
                Attribute(_name_of(name_node), expr, child.meta.line, child.meta.column)
            )
        elif child.data == "block":
            parts = [c for c in child.children if isinstance(c, Tree)]
            inner = next(c for c in parts if c.data == "body")
            heads = [c for c in parts if c.data not in ("body", "new_line_or_comment")]
            body.blocks.append(
                Block(
                    _name_of(heads[0]),
                    [_label(h, filename) for h in heads[1:]],
                    _body(inner, filename),
                    child.meta.line,
                    child.meta.column,
                )
            )
    return body


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def unescape(text: str) -> str:
    """Resolve HCL string escapes: ``\\n \\t \\r \\" \\\\ \\uXXXX \\UXXXXXXXX``."""
    if "\\" not in text:
        return text
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            width = {"u": 4, "U": 8}.get(nxt)
            digits = text[i + 2 : i + 2 + width] if width else ""
            if width and len(digits) == width and _is_codepoint(digits):
                out.append(chr(int(digits, 16)))
                i += 2 + width
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _is_codepoint(digits: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in digits) and int(digits, 16) <= 0x10FFFF
