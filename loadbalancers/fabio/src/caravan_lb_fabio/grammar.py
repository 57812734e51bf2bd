"""A check of Fabio routing-table text against the documented grammar.

::

    route add <svc> <src> <dst>[ weight <w>][ tags "<t>,..."][ opts "<k=v> ..."]
    route del <svc>[ <src>[ <dst>]]
    route del <svc> tags "<t>,..."
    route del tags "<t>,..."
    route weight <svc> <src> weight <w>[ tags "<t>,..."]
    route weight <src> weight <w> tags "<t>,..."

Blank lines and lines starting with ``#`` or ``//`` are comments. Words are separated by
runs of spaces; a quoted string may hold spaces and ``\\"``. Clauses come in the order shown.
"""

from __future__ import annotations

import math
import re

_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))')
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$")


def check_table(text: str) -> list[str]:
    """Every syntax error in routing table ``text``, each naming its line; empty if valid."""
    errors = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", "//")):
            continue
        problem = check_line(line)
        if problem:
            errors.append(f"line {number}: {problem}: {raw!r}")
    return errors


def check_line(line: str) -> str | None:
    """What is wrong with one non-comment line, or ``None`` when it is well formed."""
    words = _tokens(line)
    if words is None:
        return "unbalanced quotes"
    if len(words) < 2 or words[0] != ("w", "route"):
        return 'expected "route add", "route del" or "route weight"'
    command, rest = words[1][1], words[2:]
    if command == "add":
        return _check_add(rest)
    if command == "del":
        return _check_del(rest)
    if command == "weight":
        return _check_weight(rest)
    return f'unknown command "route {command}"'


def _tokens(line: str) -> list[tuple[str, str]] | None:
    # ("w", word) or ("q", quoted text); None when a quote is left open.
    out, pos = [], 0
    while pos < len(line):
        match = _TOKEN.match(line, pos)
        if not match or match.end() == pos:
            return None if line[pos:].strip() else out
        quoted, word = match.groups()
        out.append(("q", quoted) if quoted is not None else ("w", word))
        pos = match.end()
    return out


def _check_add(rest: list[tuple[str, str]]) -> str | None:
    if len(rest) < 3 or any(kind != "w" for kind, _ in rest[:3]):
        return "route add needs a service, a source and a destination"
    if problem := _check_source(rest[1][1]):
        return problem
    if not _URL.match(rest[2][1]):
        return f"destination {rest[2][1]!r} is not a URL"
    return _check_clauses(rest[3:], ("weight", "tags", "opts"))


def _check_del(rest: list[tuple[str, str]]) -> str | None:
    if rest[:1] == [("w", "tags")]:
        return _check_clauses(rest, ("tags",), required=("tags",))
    if rest[1:2] == [("w", "tags")] and rest[0][0] == "w":
        return _check_clauses(rest[1:], ("tags",), required=("tags",))
    if not 1 <= len(rest) <= 3 or any(kind != "w" for kind, _ in rest):
        return "route del takes a service, an optional source and an optional destination"
    return None


def _check_weight(rest: list[tuple[str, str]]) -> str | None:
    at = next((i for i, (kind, w) in enumerate(rest) if kind == "w" and w == "weight"), None)
    if at not in (1, 2) or any(kind != "w" for kind, _ in rest[:at]):
        return "route weight needs [<service>] <source> weight <w>"
    if problem := _check_source(rest[at - 1][1]):
        return problem
    required = ("weight", "tags") if at == 1 else ("weight",)
    return _check_clauses(rest[at:], ("weight", "tags"), required=required)


def _check_source(source: str) -> str | None:
    if "/" in source or (source.startswith(":") and source[1:].isdigit()):
        return None
    return f'source {source!r} is neither "[host]/path" nor ":port"'


def _check_clauses(
    rest: list[tuple[str, str]], order: tuple[str, ...], required: tuple[str, ...] = ()
) -> str | None:
    seen: list[str] = []
    while rest:
        kind, word = rest[0]
        if kind != "w" or word not in order:
            return f"unexpected {word!r}"
        if seen and order.index(word) <= order.index(seen[-1]):
            return f'"{word}" out of order: clauses go {", ".join(order)}'
        if len(rest) < 2:
            return f'"{word}" needs a value'
        value_kind, value = rest[1]
        if word == "weight" and (value_kind != "w" or not _is_number(value)):
            return f"weight {value!r} is not a number"
        if word in ("tags", "opts") and value_kind != "q":
            return f'{word} needs a quoted value: {word} "..."'
        seen.append(word)
        rest = rest[2:]
    missing = [w for w in required if w not in seen]
    return f'missing "{missing[0]}"' if missing else None


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
