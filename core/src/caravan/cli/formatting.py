"""Nomad's text shapes: ``Key = Value`` blocks, section headings, short IDs, times and ages."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Sequence
from typing import Any

#: IDs are shown by their first eight characters unless ``-verbose``.
SHORT_ID = 8


def short_id(value: str | None, verbose: bool = False) -> str:
    """The first eight characters of an ID (all of it with ``verbose``)."""
    value = value or ""
    return value if verbose else value[:SHORT_ID]


def kv(pairs: Sequence[tuple[str, Any]]) -> str:
    """A block of ``Key = Value`` lines with the ``=`` signs aligned, as ``formatKV`` does."""
    if not pairs:
        return ""
    width = max(len(k) for k, _ in pairs)
    return "\n".join(f"{k.ljust(width)} = {_text(v)}".rstrip() for k, v in pairs)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "<none>"
    return str(value)


def heading(title: str) -> str:
    """A section title, preceded by a blank line."""
    return f"\n{title}"


def _local(moment: dt.datetime) -> str:
    return moment.astimezone().isoformat(timespec="seconds").replace("+00:00", "Z")


def format_unix_nano(ns: int | None) -> str:
    """A Unix-nanoseconds timestamp as local RFC 3339 (``2020-06-21T20:36:27+02:00``)."""
    if not ns:
        return "<none>"
    return _local(dt.datetime.fromtimestamp(ns / 1e9, dt.UTC))


def parse_rfc3339(value: str | None) -> dt.datetime | None:
    """An RFC 3339 string from the API, or ``None`` for empty or Go's zero time."""
    if not value or value.startswith("0001-01-01"):
        return None
    text = value.replace("Z", "+00:00")
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(itertools.takewhile(str.isdigit, rest))
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def format_rfc3339(value: str | None) -> str:
    """An API RFC 3339 time in local time, or ``<none>`` for Go's zero time."""
    moment = parse_rfc3339(value)
    return _local(moment) if moment else "<none>"


def pretty_duration(seconds: float) -> str:
    """Go-style rounded duration with at most two units: ``3m28s``, ``1h2m``, ``2d3h``."""
    total = round(abs(seconds))
    days, rem = divmod(total, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    while parts and parts[0][0] == 0 and len(parts) > 1:
        parts.pop(0)
    return "".join(f"{n}{unit}" for n, unit in parts[:2])


def pretty_age(ns: int | None, now: float | None = None) -> str:
    """How long ago a Unix-nanoseconds time was: ``5m34s ago`` (``<none>`` when unset)."""
    if not ns:
        return "<none>"
    now = time.time() if now is None else now
    return f"{pretty_duration(now - ns / 1e9)} ago"


def format_event_time(ns: int | None) -> str:
    """A task or node event's time: ``2020-06-21T20:36:27+02:00``."""
    return format_unix_nano(ns)


def bytes_human(n: float) -> str:
    """``256 MiB``, ``6.3 MiB``, ``300 MiB`` as Nomad's humanize prints them."""
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    value = float(n)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
        value /= 1024
    return f"{n} B"
