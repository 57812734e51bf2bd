"""Errors raised while reading job files, beyond the single-problem ``JobspecError``.

A job file can have several problems at once (two unknown fields, a bad duration and a missing
variable); reporting all of them in one go saves the user a round trip per mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from caravan.errors import CaravanError, FieldError, JobspecError, JobValidationError, format_path

Location = tuple[int, int]


@dataclass
class JobspecErrors(CaravanError):
    """Several problems found in one job file; ``str`` lists each on its own line."""

    errors: list[JobspecError]

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


@dataclass
class JobFileValidationError(JobValidationError):
    """A job file that parsed but failed the job model's validation.

    It is a :class:`JobValidationError` (callers that handle validation failures keep working)
    whose lines also name the file, line and column each JSON field path came from:
    ``\t* job.nomad:2,3: Type: Invalid job type``.
    """

    filename: str = "<input>"
    locations: dict[tuple[str | int, ...], Location] = field(default_factory=dict)

    def locate(self, err: FieldError) -> Location:
        """The position of the longest prefix of ``err.path`` that the file defines, or (0, 0)."""
        path = err.path
        while True:
            if path in self.locations:
                return self.locations[path]
            if not path:
                return (0, 0)
            path = path[:-1]

    def __str__(self) -> str:
        n = len(self.errors)
        lines = [f"{n} error{'s' if n != 1 else ''} occurred:"]
        for err in self.errors:
            line, col = self.locate(err)
            where = format_path(err.path)
            message = f"{where}: {err.message}" if where else err.message
            lines.append(f"\t* {JobspecError(self.filename, line, col, message)}")
        return "\n".join(lines)
