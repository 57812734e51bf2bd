"""The client side of the HTTP API's ``/v1/client/*`` endpoints (:class:`ClientAPI`):
allocation files, logs, resource usage, signals and restarts.

Paths are relative to the allocation directory; a leading ``/`` means its root, as in
Nomad (``/alloc/logs``). A path containing ``..``, or resolving (through a symlink) outside
the allocation directory, is refused, so a task cannot expose host files by linking to them.
"""

from __future__ import annotations

import asyncio
import stat as stat_mod
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from caravan.api.client_api import StreamFrame
from caravan.structs.base import format_go_time
from caravan_plugins import DriverError

from .alloc_runner import AllocRunner
from .allocdir import AllocDir
from .errors import (
    ClientError,
    FileNotFoundInAllocError,
    PathEscapeError,
    UnknownAllocationError,
    UnknownTaskError,
)
from .logs import stream_logs
from .task_runner import TaskRunner

if TYPE_CHECKING:
    from .client import Client

CHUNK = 64 * 1024


def resolve_in_alloc(root: Path, path: str) -> Path:
    """The host path of ``path`` inside the allocation directory ``root``.

    :raises PathEscapeError: ``..`` components, or a result outside ``root``.
    """
    parts = PurePosixPath(path or "/").parts
    if ".." in parts:
        raise PathEscapeError(f"path {path!r} must not contain '..'")
    relative = [p for p in parts if p not in ("/", ".")]
    target = root.joinpath(*relative)
    resolved = target.resolve()
    base = root.resolve()
    if resolved != base and base not in resolved.parents:
        raise PathEscapeError(f"path {path!r} points outside the allocation directory")
    return target


def file_info(path: Path) -> dict[str, Any]:
    """Nomad's ``AllocFileInfo`` for one file or directory."""
    st = path.stat()
    is_dir = stat_mod.S_ISDIR(st.st_mode)
    return {
        "Name": path.name,
        "IsDir": is_dir,
        "Size": 0 if is_dir else st.st_size,
        "FileMode": stat_mod.filemode(st.st_mode),
        "ModTime": format_go_time(datetime.fromtimestamp(st.st_mtime, UTC)),
        "ContentType": "" if is_dir else _content_type(path),
    }


def _content_type(path: Path) -> str:
    try:
        with path.open("rb") as f:
            head = f.read(512)
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    except OSError:
        return ""
    return "text/plain; charset=utf-8"


class ClientFS:
    """:class:`~caravan.api.client_api.ClientAPI` over a running :class:`Client`."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def has_alloc(self, alloc_id: str) -> bool:
        return alloc_id in self.client.allocs

    def _runner(self, alloc_id: str) -> AllocRunner:
        runner = self.client.allocs.get(alloc_id)
        if runner is None:
            raise UnknownAllocationError(alloc_id)
        return runner

    def _task(self, alloc_id: str, task: str) -> TaskRunner:
        runner = self._runner(alloc_id)
        if task not in runner.tasks:
            raise UnknownTaskError(alloc_id, task)
        return runner.tasks[task]

    def _path(self, alloc_id: str, path: str) -> Path:
        target = resolve_in_alloc(self._runner(alloc_id).alloc_dir.root, path)
        if not target.exists():
            raise FileNotFoundInAllocError(f"file {path!r} not found in allocation {alloc_id!r}")
        return target

    async def alloc_fs_dir(self, alloc_id: str, path: str) -> list[dict[str, Any]]:
        target = self._path(alloc_id, path)
        if not target.is_dir():
            raise ClientError(f"{path!r} is not a directory")
        return [file_info(p) for p in sorted(target.iterdir())]

    async def alloc_fs_stat(self, alloc_id: str, path: str) -> dict[str, Any]:
        return file_info(self._path(alloc_id, path))

    async def alloc_fs_cat(self, alloc_id: str, path: str) -> AsyncIterator[bytes]:
        async for chunk in self.alloc_fs_read_at(alloc_id, path, 0, 0):
            yield chunk

    async def alloc_fs_read_at(
        self, alloc_id: str, path: str, offset: int, limit: int
    ) -> AsyncIterator[bytes]:
        target = self._path(alloc_id, path)
        if target.is_dir():
            raise ClientError(f"{path!r} is a directory")
        if offset < 0 or limit < 0:
            raise ClientError("offset and limit must not be negative")
        remaining = limit or None
        with target.open("rb") as f:
            f.seek(offset)
            while remaining is None or remaining > 0:
                size = CHUNK if remaining is None else min(CHUNK, remaining)
                chunk = await asyncio.to_thread(f.read, size)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    async def alloc_logs(
        self, alloc_id: str, task: str, log_type: str, follow: bool, origin: str, offset: int
    ) -> AsyncIterator[StreamFrame]:
        runner = self._task(alloc_id, task)
        alloc_dir: AllocDir = runner.alloc_dir
        async for frame in stream_logs(
            alloc_dir,
            task,
            log_type,
            follow=follow,
            origin=origin,
            offset=offset,
            alive=lambda: not runner.is_dead,
        ):
            yield frame

    async def alloc_stats(self, alloc_id: str, task: str = "") -> dict[str, Any]:
        runner = self._runner(alloc_id)
        names = [task] if task else list(runner.tasks)
        tasks: dict[str, Any] = {}
        total_cpu = {"Percent": 0.0, "TotalTicks": 0.0, "UserMode": 0.0, "SystemMode": 0.0}
        total_mem = {"RSS": 0, "Usage": 0, "Cache": 0, "Swap": 0, "MaxUsage": 0}
        for name in names:
            tr = self._task(alloc_id, name)
            if tr.handle is None or tr.driver is None:
                continue
            try:
                usage = await tr.driver.task_stats(tr.handle.config.id)
            except DriverError:
                continue
            cpu = {
                "Percent": usage.cpu.percent,
                "TotalTicks": usage.cpu.total_ticks,
                "UserMode": usage.cpu.user_mode,
                "SystemMode": usage.cpu.system_mode,
                "Measured": usage.cpu.measured,
                "ThrottledPeriods": 0,
                "ThrottledTime": 0,
            }
            mem = {
                "RSS": usage.memory.rss,
                "Usage": usage.memory.usage,
                "Cache": usage.memory.cache,
                "Swap": usage.memory.swap,
                "MaxUsage": usage.memory.max_usage,
                "Measured": usage.memory.measured,
            }
            for key in total_cpu:
                total_cpu[key] += cpu[key]
            for key in total_mem:
                total_mem[key] += mem[key]
            tasks[name] = {
                "ResourceUsage": {"CpuStats": cpu, "MemoryStats": mem, "DeviceStats": None},
                "Timestamp": int(usage.timestamp.timestamp() * 1e9),
                "Pids": None,
            }
        now = int(datetime.now(UTC).timestamp() * 1e9)
        return {
            "ResourceUsage": {"CpuStats": total_cpu, "MemoryStats": total_mem, "DeviceStats": None},
            "Tasks": tasks,
            "Timestamp": now,
        }

    async def alloc_signal(self, alloc_id: str, task: str, signal: str) -> None:
        runner = self._runner(alloc_id)
        targets = [self._task(alloc_id, task)] if task else list(runner.tasks.values())
        for tr in targets:
            if not tr.is_dead:
                await tr.signal(signal)

    async def alloc_restart(self, alloc_id: str, task: str, all_tasks: bool) -> None:
        runner = self._runner(alloc_id)
        if task:
            targets = [self._task(alloc_id, task)]
        else:
            targets = [t for t in runner.tasks.values() if all_tasks or not t.is_dead]
        for tr in targets:
            await tr.restart()
