"""User-facing errors.

Every error a person can cause (a bad job file, a bad API request, a bad flag) is a
:class:`CaravanError`: it carries a message written for people, and the CLI and the HTTP API
turn it into one line (or a list of lines) with no traceback. Anything else escaping is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PathElem = str | int


def format_path(path: tuple[PathElem, ...]) -> str:
    """Render a JSON field path the way the API documents it: ``TaskGroups[0].Tasks[1].Name``."""
    out = ""
    for elem in path:
        if isinstance(elem, int):
            out += f"[{elem}]"
        else:
            out += ("." if out else "") + elem
    return out


@dataclass(frozen=True)
class FieldError:
    """One problem with one field: ``path`` is its location in the job's API JSON."""

    path: tuple[PathElem, ...]
    message: str

    def __str__(self) -> str:
        where = format_path(self.path)
        return f"{where}: {self.message}" if where else self.message


class CaravanError(Exception):
    """Base of every error meant for a person; ``str(err)`` is the whole message."""


@dataclass
class JobValidationError(CaravanError):
    """A job that failed validation; nothing was changed. ``errors`` lists every problem found."""

    errors: list[FieldError]
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        n = len(self.errors)
        head = f"{n} error{'s' if n != 1 else ''} occurred:"
        return "\n".join([head, *(f"\t* {e}" for e in self.errors)])


@dataclass
class JobspecError(CaravanError):
    """A job file that could not be read: names the file, line and column, and what was expected.

    ``line`` and ``column`` are 1-based; 0 means unknown (for example a JSON body with no file).
    """

    filename: str
    line: int
    column: int
    message: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.filename or "<input>"
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f",{self.column}"
        return f"{where}: {self.message}"
