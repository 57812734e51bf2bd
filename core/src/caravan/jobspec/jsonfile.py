"""JSON job files (Nomad API JSON), read with the line and column of every value.

Python's ``json`` module forgets positions, so this is a small recursive-descent reader that
records, for each JSON path, where its value starts. That lets validation errors about
``TaskGroups[0].Count`` point at the right line of a ``.json`` job file too.
"""

from __future__ import annotations

import json
import re
from typing import Any

from caravan.errors import JobspecError

Path = tuple[str | int, ...]
Location = tuple[int, int]

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_MAX_DEPTH = 200


class _Reader:
    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self.pos = 0
        self.positions: dict[Path, Location] = {}

    def where(self, pos: int) -> Location:
        line = self.text.count("\n", 0, pos) + 1
        return line, pos - (self.text.rfind("\n", 0, pos) + 1) + 1

    def fail(self, message: str, pos: int | None = None) -> JobspecError:
        line, column = self.where(self.pos if pos is None else pos)
        return JobspecError(self.filename, line, column, message)

    def skip(self) -> None:
        self.pos = _WHITESPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def expect(self, char: str) -> None:
        self.skip()
        if not self.text.startswith(char, self.pos):
            found = self.text[self.pos : self.pos + 1] or "end of file"
            raise self.fail(f"invalid JSON: expected {char!r}, found {found!r}")
        self.pos += 1

    def value(self, path: Path, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise self.fail("invalid JSON: nested too deeply")
        self.skip()
        self.positions[path] = self.where(self.pos)
        ch = self.text[self.pos : self.pos + 1]
        if ch == "{":
            return self.obj(path, depth)
        if ch == "[":
            return self.array(path, depth)
        if ch == '"':
            return self.string()
        for word, result in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return result
        match = _NUMBER.match(self.text, self.pos)
        if match and match.end() > self.pos:
            self.pos = match.end()
            number = match.group(0)
            return float(number) if match.group(1) or match.group(2) else int(number)
        found = ch or "end of file"
        raise self.fail(f"invalid JSON: unexpected {found!r}; expected a value")

    def string(self) -> str:
        try:
            text, end = json.decoder.scanstring(self.text, self.pos + 1)  # type: ignore[attr-defined]
        except json.JSONDecodeError as err:
            raise self.fail(f"invalid JSON string: {err.msg}", err.pos) from None
        self.pos = end
        return text

    def obj(self, path: Path, depth: int) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        self.skip()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            return out
        while True:
            self.skip()
            if not self.text.startswith('"', self.pos):
                raise self.fail("invalid JSON: expected a quoted key")
            key_pos = self.pos
            key = self.string()
            if key in out:
                raise self.fail(f'duplicate key "{key}"', key_pos)
            self.expect(":")
            out[key] = self.value((*path, key), depth + 1)
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            self.expect("}")
            return out

    def array(self, path: Path, depth: int) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        self.skip()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return out
        while True:
            out.append(self.value((*path, len(out)), depth + 1))
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            self.expect("]")
            return out


def read_json_job(text: str, filename: str) -> tuple[dict[str, Any], dict[Path, Location]]:
    """Parse a JSON job file: ``{"Job": {...}}`` or a bare job object.

    Returns the job's API JSON and the position of each path within it.
    :raises JobspecError: invalid JSON or not a job object, naming line and column.
    """
    reader = _Reader(text, filename)
    data = reader.value(())
    reader.skip()
    if reader.pos != len(text):
        raise reader.fail("invalid JSON: unexpected text after the job object")
    positions = reader.positions
    if isinstance(data, dict) and set(data) == {"Job"}:
        data = data["Job"]
        positions = {k[1:]: v for k, v in positions.items() if k[:1] == ("Job",)}
    if not isinstance(data, dict):
        line, column = positions.get((), (1, 1))
        raise JobspecError(
            filename, line, column, 'a JSON job file must hold an object: {"Job": {...}}'
        )
    return data, positions
