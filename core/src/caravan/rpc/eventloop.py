"""Running a caravan process's event loop: uvloop when it is installed, asyncio's otherwise.

A server spends most of its time in the event loop itself (socket reads and writes, futures,
timers) when thousands of RPCs and Raft messages a second pass through it; uvloop does that
work in C and roughly halves it. Everything in caravan runs on either loop, so uvloop is an
optional speed-up, never a requirement (``CARAVAN_ASYNCIO_LOOP=asyncio`` turns it off).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Any:
    """The event loop class to run with: ``uvloop.Loop`` if importable and not turned off
    by ``CARAVAN_ASYNCIO_LOOP=asyncio``, else None (asyncio's default)."""
    if os.environ.get("CARAVAN_ASYNCIO_LOOP", "") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.Loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a new loop from :func:`loop_factory`; returns its result."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
