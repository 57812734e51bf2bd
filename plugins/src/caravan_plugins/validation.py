"""Field-level problems and validation results shared by every plugin contract.

Plugins validate user input (a plugin ``config {}`` block, a task ``config {}`` block, a
rendered load-balancer file) and report what is wrong in a form core can place in front of a
person: a path to the field and a message.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PathElem = str | int

# pydantic's wording is written for programmers; these read better in a job-file context.
_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


class FieldProblem(BaseModel):
    """One problem with one field.

    ``path`` locates the field inside the block that was validated (``("ports", 0)``), and
    ``message`` says what is wrong with it.
    """

    model_config = ConfigDict(frozen=True)

    path: tuple[PathElem, ...] = ()
    message: str

    def __str__(self) -> str:
        where = format_path(self.path)
        return f"{where}: {self.message}" if where else self.message


class ValidationResult(BaseModel):
    """Errors (which reject the input) and warnings (which are shown but accepted)."""

    errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there is no error; warnings do not count."""
        return not self.errors

    def merge(self, other: ValidationResult) -> ValidationResult:
        """Return a new result holding the errors and warnings of both."""
        return ValidationResult(
            errors=[*self.errors, *other.errors], warnings=[*self.warnings, *other.warnings]
        )


def format_path(path: tuple[PathElem, ...]) -> str:
    """Render a field path the way job files and the API spell it: ``ports[0].to``."""
    out = ""
    for elem in path:
        if isinstance(elem, int):
            out += f"[{elem}]"
        else:
            out += ("." if out else "") + elem
    return out


def problems_from_validation_error(
    exc: ValidationError, prefix: tuple[PathElem, ...] = ()
) -> list[FieldProblem]:
    """Turn a pydantic :class:`ValidationError` into :class:`FieldProblem` s.

    :param exc: the error raised by ``model_validate``.
    :param prefix: prepended to every path, e.g. ``("config",)``.
    :returns: one problem per failing field, in pydantic's order.
    """
    problems = []
    for err in exc.errors():
        if err["type"] == "value_error":
            # Our validators raise ValueError with a complete sentence; drop pydantic's prefix.
            message = str(err["ctx"]["error"])
        else:
            message = _MESSAGES.get(err["type"], err["msg"])
        problems.append(FieldProblem(path=(*prefix, *err["loc"]), message=message))
    return problems


def validate_model(
    schema: type[BaseModel], data: dict[str, Any]
) -> tuple[BaseModel | None, list[FieldProblem]]:
    """Validate ``data`` against ``schema``.

    :returns: ``(instance, [])`` on success, ``(None, problems)`` otherwise. Never raises for
        bad data, so callers can collect every problem before rejecting anything.
    """
    try:
        return schema.model_validate(data), []
    except ValidationError as exc:
        return None, problems_from_validation_error(exc)
