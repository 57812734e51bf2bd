"""Turning pydantic's validation errors into caravan's field errors, worded for people."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from caravan.errors import FieldError

_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "a boolean",
    "bool_type": "a boolean",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "missing required field"
    expected = _EXPECTED.get(kind)
    if expected is not None:
        return f"expected {expected}, got {_shown(err.get('input'))}"
    msg = str(err.get("msg", kind))
    return msg.removeprefix("Value error, ")


def field_errors(err: ValidationError) -> list[FieldError]:
    """One :class:`FieldError` per problem pydantic found, with the JSON path where it sits."""
    return [FieldError(tuple(e["loc"]), _message(e)) for e in err.errors()]
