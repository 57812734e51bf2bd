"""Collecting validation problems with their JSON paths."""

from __future__ import annotations

from dataclasses import dataclass, field

from caravan.errors import FieldError, JobValidationError, PathElem

Path = tuple[PathElem, ...]


@dataclass
class Problems:
    """Errors (each at a JSON path) and warnings found while validating one job."""

    errors: list[FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def error(self, path: Path, message: str) -> None:
        """Record an error at ``path`` (e.g. ``("TaskGroups", 0, "Count")``)."""
        self.errors.append(FieldError(path, message))

    def warn(self, message: str) -> None:
        """Record a warning: the job is accepted, but the user should hear about it."""
        self.warnings.append(message)

    def raise_if_any(self) -> None:
        """:raises JobValidationError: carrying every error and warning, if any error."""
        if self.errors:
            raise JobValidationError(list(self.errors), list(self.warnings))
