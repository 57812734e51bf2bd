"""Signal names as job files write them (``kill_signal = "SIGINT"``) and their numbers."""

from __future__ import annotations

import signal as _signal


def signal_number(name: str) -> int:
    """Return the number of signal ``name`` (``"SIGTERM"``, ``"TERM"`` or ``"15"``).

    :raises ValueError: not a signal this platform knows.
    """
    text = name.strip().upper()
    if text.isdigit():
        return int(text)
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        return int(getattr(_signal.Signals, text))
    except AttributeError:
        raise ValueError(f"unknown signal {name!r}") from None
