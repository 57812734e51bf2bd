"""Table watches for blocking queries.

Waiters on a table share one future per *generation* of that table: the first waiter after a
change creates it, every later waiter awaits the same one, and the next write to the table
resolves it and starts a new generation. A thousand held-open queries cost a thousand
callbacks on a handful of futures, not a thousand tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


class TableWatch:
    """Wakes waiters when tables change. Writers call :meth:`notify`; readers :meth:`changed`."""

    def __init__(self) -> None:
        self._generations: dict[str, asyncio.Future[None]] = {}

    def future(self, table: str) -> asyncio.Future[None]:
        """The future resolved by the next write to ``table`` (on the running loop)."""
        fut = self._generations.get(table)
        if fut is None or fut.done():
            fut = asyncio.get_running_loop().create_future()
            self._generations[table] = fut
        return fut

    def notify(self, tables: Iterable[str]) -> None:
        """Resolve the current generation of each of ``tables``. Safe from any thread."""
        for table in tables:
            fut = self._generations.pop(table, None)
            if fut is None or fut.done():
                continue
            loop = fut.get_loop()
            if _running_loop() is loop:
                fut.set_result(None)
            else:
                loop.call_soon_threadsafe(_resolve, fut)

    @property
    def waiting_tables(self) -> int:
        """How many tables have an open generation (for tests and metrics)."""
        return sum(1 for fut in self._generations.values() if not fut.done())


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
