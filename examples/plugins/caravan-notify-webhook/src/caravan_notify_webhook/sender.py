"""Delivering webhook payloads without holding up the loop or the hook chain.

The state-change hooks run on the leader's loop, one plugin after another, so a hook that
waited for a slow receiver would delay every later event. Instead each payload is queued
and a background task of the same loop posts the queue in order (receivers see ``running``
before ``successful``), each request bounded by a timeout. A failed delivery is logged and
dropped: notifications are best effort and never affect the job.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import weakref
from typing import Any

import aiohttp

log = logging.getLogger("caravan_notify_webhook")


class WebhookSender:
    """A queue of ``(url, payload, timeout)`` posted in order by one task on one loop."""

    def __init__(self) -> None:
        self._queue: collections.deque[tuple[str, dict[str, Any], float]] = collections.deque()
        self._worker: asyncio.Task[None] | None = None

    def submit(self, url: str, payload: dict[str, Any], timeout: float) -> None:
        """Queue ``payload`` for ``url`` and return at once. Must run on the loop."""
        self._queue.append((url, payload, timeout))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._deliver_all())

    async def drain(self) -> None:
        """Wait until everything queued so far was delivered or given up on."""
        while self._worker is not None and not self._worker.done():
            await asyncio.shield(self._worker)

    async def _deliver_all(self) -> None:
        # The outer check runs after the session closed, so a payload queued while it was
        # closing is still delivered: the task only ends with an empty queue.
        while self._queue:
            async with aiohttp.ClientSession() as session:
                while self._queue:
                    url, payload, timeout = self._queue.popleft()
                    await _post(session, url, payload, timeout)


async def _post(
    session: aiohttp.ClientSession, url: str, payload: dict[str, Any], timeout: float
) -> None:
    what = payload.get("text", payload.get("type", "event"))
    try:
        async with session.post(
            url, json=payload, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            if response.status >= 300:
                log.warning("webhook %s answered %s for %r", url, response.status, what)
    except TimeoutError:
        log.warning("webhook %s did not answer within %gs for %r", url, timeout, what)
    except aiohttp.ClientError as exc:
        log.warning("webhook %s failed for %r: %s", url, what, exc)


_senders: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WebhookSender] = (
    weakref.WeakKeyDictionary()
)


def sender() -> WebhookSender:
    """The sender of the running loop (one per loop, created on first use)."""
    loop = asyncio.get_running_loop()
    if loop not in _senders:
        _senders[loop] = WebhookSender()
    return _senders[loop]


async def drain() -> None:
    """Wait until the running loop's sender has nothing left to deliver."""
    await sender().drain()
