"""Duration strings as job files write them (Go's ``time.ParseDuration``): ``"10s"``,
``"1m30s"``, ``"250ms"``, ``"1.5h"``. The one parser of them in caravan: core and plugins alike."""

from __future__ import annotations

import re
from fractions import Fraction

_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_MAX_NS = 2**63 - 1


def parse_duration_ns(text: str) -> int:
    """Parse a Go duration into exact integer nanoseconds (``"1.1s"`` is 1100000000).

    Accepts an optional sign, then one or more number+unit pairs, or a bare ``"0"``; Go
    requires a unit for anything but zero, so ``"10"`` is refused.
    :raises ValueError: the text is not a duration (the message quotes it and shows the form).
    """
    if not isinstance(text, str):
        raise ValueError(f"invalid duration {text!r}")
    body = text.strip()
    sign = -1 if body.startswith("-") else 1
    body = body[1:] if body[:1] in "+-" else body
    if body == "0":
        return 0
    total = Fraction(0)
    pos = 0
    for match in _PART.finditer(body):
        if match.start() != pos:
            break
        total += Fraction(match.group(1)) * _UNIT_NS[match.group(2)]
        pos = match.end()
    if not body or pos != len(body):
        raise ValueError(
            f'invalid duration "{text}" (expected a form like "10s", "1m30s", "250ms")'
        )
    if total > _MAX_NS:
        raise ValueError(f'duration "{text}" is too large')
    return sign * int(total)


def parse_duration(value: str | int | float) -> float:
    """Return ``value`` in seconds.

    :param value: a Go duration string (see :func:`parse_duration_ns`) or a number of seconds.
    :raises ValueError: the string is not a duration; the message quotes it.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        return float(value)
    return parse_duration_ns(value) / 1_000_000_000
