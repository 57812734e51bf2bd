"""The contract between the HTTP API and the local client agent.

The ``/v1/client/*`` endpoints (allocation files, logs, stats, signals, restarts) are answered
by the client agent running on this node; it implements :class:`ClientAPI`. Errors it raises
are :class:`~caravan.errors.CaravanError` subclasses (an ``http_status`` attribute selects the
status code, e.g. 404 for a missing file), so they reach users as Nomad's one-line errors.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class StreamFrame:
    """One frame of a streamed file or log, in Nomad's ``StreamFrame`` form.

    ``data`` is raw bytes (base64 in JSON); ``offset`` is the file offset after ``data``;
    ``file_event`` is ``"file deleted"`` or ``"file truncated"`` when that happened.
    """

    data: bytes = b""
    offset: int = 0
    file: str = ""
    file_event: str = ""

    def to_api(self) -> dict[str, Any]:
        """Nomad's frame JSON; every empty field is left out (``{}`` is a heartbeat)."""
        out: dict[str, Any] = {}
        if self.offset:
            out["Offset"] = self.offset
        if self.data:
            out["Data"] = base64.b64encode(self.data).decode()
        if self.file:
            out["File"] = self.file
        if self.file_event:
            out["FileEvent"] = self.file_event
        return out


@runtime_checkable
class ClientAPI(Protocol):
    """What the client agent offers the HTTP API, per allocation it runs.

    Paths are relative to the allocation directory (``alloc/logs/web.stdout.0``,
    ``web/local/config.yml``). File info dicts have Nomad's ``AllocFileInfo`` keys:
    ``Name, IsDir, Size, FileMode, ModTime, ContentType``.
    """

    def has_alloc(self, alloc_id: str) -> bool:
        """Whether this client runs (or keeps the directory of) the allocation."""

    async def alloc_fs_dir(self, alloc_id: str, path: str) -> list[dict[str, Any]]:
        """The entries of a directory of the allocation."""

    async def alloc_fs_stat(self, alloc_id: str, path: str) -> dict[str, Any]:
        """Information about one file or directory of the allocation."""

    def alloc_fs_cat(self, alloc_id: str, path: str) -> AsyncIterator[bytes]:
        """The file's contents, in chunks."""

    def alloc_fs_read_at(
        self, alloc_id: str, path: str, offset: int, limit: int
    ) -> AsyncIterator[bytes]:
        """``limit`` bytes of the file from ``offset`` (to the end when ``limit`` is 0)."""

    def alloc_logs(
        self, alloc_id: str, task: str, log_type: str, follow: bool, origin: str, offset: int
    ) -> AsyncIterator[StreamFrame]:
        """A task's ``stdout``/``stderr`` across its rotated files, from ``offset`` bytes
        after ``origin`` (``start``) or before it (``end``); with ``follow``, never ends
        while the task may still write."""

    async def alloc_stats(self, alloc_id: str, task: str = "") -> dict[str, Any]:
        """Nomad's ``AllocResourceUsage`` (``ResourceUsage``, ``Tasks``, ``Timestamp``)."""

    async def alloc_signal(self, alloc_id: str, task: str, signal: str) -> None:
        """Send ``signal`` (``SIGHUP``...) to one task, or to every task when ``task`` is empty."""

    async def alloc_restart(self, alloc_id: str, task: str, all_tasks: bool) -> None:
        """Restart one task, the running tasks, or (``all_tasks``) every task in place."""
