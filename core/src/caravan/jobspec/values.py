"""HCL values as plain Python data, and the conversions HCL applies between them.

A value is ``None`` (null), ``str``, ``bool``, ``int``/``float`` (number), ``list`` (tuple, list
or set) or ``dict`` (object or map). Conversions follow HCL's rules: numbers and bools convert
to strings, strings that spell a number or ``true``/``false`` convert back, nothing else does.
"""

from __future__ import annotations

import math
from typing import Any


class ConversionError(ValueError):
    """A value could not be converted; the message says what was required."""


def type_name(value: Any) -> str:
    """The HCL name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def is_number(value: Any) -> bool:
    """True for HCL numbers (bools are not numbers)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def normalize_number(value: float | int) -> float | int:
    """Integral floats become ints so ``4 / 2`` prints as ``2`` like HCL does."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def format_number(value: float | int) -> str:
    """Render a number the way HCL converts it to a string."""
    value = normalize_number(value)
    if isinstance(value, float):
        if math.isinf(value) or math.isnan(value):
            raise ConversionError("number is not finite")
        return repr(value)
    return str(value)


def to_string(value: Any) -> str:
    """Convert to a string, as HCL does for string-typed fields."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return format_number(value)
    raise ConversionError(f"a string is required, but found {type_name(value)}")


def to_number(value: Any) -> int | float:
    """Convert to a number; strings must spell one (``"10"``, ``"2.5"``)."""
    if is_number(value):
        if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
            raise ConversionError("a finite number is required")
        return normalize_number(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            raise ConversionError(f"a number is required, but found string {value!r}") from None
        if math.isinf(number) or math.isnan(number):
            raise ConversionError(f"a number is required, but found string {value!r}")
        return normalize_number(number)
    raise ConversionError(f"a number is required, but found {type_name(value)}")


def to_int(value: Any) -> int:
    """Convert to a whole number; a fraction is an error."""
    number = to_number(value)
    if isinstance(number, float):
        raise ConversionError(f"a whole number is required, but found {number}")
    return number


def to_bool(value: Any) -> bool:
    """Convert to a bool; strings must be exactly ``true`` or ``false``."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ConversionError(f"a bool is required, but found {type_name(value)}")


def equal(left: Any, right: Any) -> bool:
    """HCL equality: values of different types are never equal (``1 != "1"``, ``1 != true``)."""
    if type_name(left) != type_name(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(
            equal(a, b) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(equal(left[k], right[k]) for k in left)
    return bool(left == right)
