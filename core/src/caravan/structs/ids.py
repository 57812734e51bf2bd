"""Identifiers and clocks for new objects."""

from __future__ import annotations

import time
import uuid


def new_id() -> str:
    """A new random (version 4) UUID string, the form of every Nomad object ID."""
    return str(uuid.uuid4())


def now_ns() -> int:
    """The current time as Unix nanoseconds, the form of ``CreateTime``/``SubmitTime``."""
    return time.time_ns()
