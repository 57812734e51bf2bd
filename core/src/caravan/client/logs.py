"""Reading a task's logs across its rotated files, as ``caravan alloc logs`` shows them.

The files of one stream are ``alloc/logs/<task>.<stream>.N``: ``.0`` is the one being
written, higher numbers are older (see :mod:`caravan.client.logrotate`). A stream reads them
as one sequence, oldest first. Frames carry the file they came from and the offset in that
file after their data, as Nomad's ``StreamFrame``; while following, an empty frame is sent
every second without output so proxies keep the connection open.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from caravan.api.client_api import StreamFrame

from .allocdir import AllocDir
from .errors import ClientError
from .logrotate import archive_path

FRAME_SIZE = 64 * 1024
HEARTBEAT = 1.0


def log_files(alloc_dir: AllocDir, task: str, stream: str) -> list[Path]:
    """The files of one stream, oldest first (``.N`` ... ``.1``, then ``.0``)."""
    prefix = f"{task}.{stream}."
    found: list[tuple[int, Path]] = []
    if alloc_dir.logs.is_dir():
        for path in alloc_dir.logs.iterdir():
            suffix = path.name[len(prefix) :]
            if path.name.startswith(prefix) and suffix.isdigit():
                found.append((int(suffix), path))
    return [p for _, p in sorted(found, reverse=True)]


def _rel(path: Path) -> str:
    return f"alloc/logs/{path.name}"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read(path: Path, pos: int, limit: int = FRAME_SIZE) -> bytes:
    try:
        with path.open("rb") as f:
            f.seek(pos)
            return f.read(limit)
    except FileNotFoundError:
        return b""


async def stream_logs(
    alloc_dir: AllocDir,
    task: str,
    stream: str,
    *,
    follow: bool,
    origin: str = "start",
    offset: int = 0,
    alive: Callable[[], bool] = lambda: False,
    poll: float = 0.25,
) -> AsyncIterator[StreamFrame]:
    """Frames of ``task``'s ``stream`` (``stdout``/``stderr``).

    :param origin: ``start`` (``offset`` bytes from the beginning of the oldest file) or
        ``end`` (``offset`` bytes before the end of the newest).
    :param follow: keep waiting for output while ``alive()`` says the task may still write.
    :raises ClientError: for a bad ``stream`` or ``origin``.
    """
    if stream not in ("stdout", "stderr"):
        raise ClientError("must provide log type (stdout/stderr)")
    if origin not in ("start", "end"):
        raise ClientError("origin must be start or end")
    files = log_files(alloc_dir, task, stream) or [alloc_dir.log_path(task, stream)]
    sizes = [_size(p) for p in files]
    skip = offset if origin == "start" else max(0, sum(sizes) - offset)
    index, pos = 0, 0
    while index < len(files) - 1 and skip >= sizes[index]:
        skip -= sizes[index]
        index += 1
    pos = min(skip, sizes[index]) if index < len(files) - 1 else skip
    live = alloc_dir.log_path(task, stream)
    for path in files[index:-1]:
        while data := await asyncio.to_thread(_read, path, pos):
            pos += len(data)
            yield StreamFrame(data=data, offset=pos, file=_rel(path))
        pos = 0
    idle = 0.0
    while True:
        size = _size(live)
        if size < pos:
            # Rotated under us: what we had not read yet is now the newest archive.
            archive = archive_path(live, 1)
            while data := await asyncio.to_thread(_read, archive, pos):
                pos += len(data)
                yield StreamFrame(data=data, offset=pos, file=_rel(archive))
            pos = 0
            yield StreamFrame(file=_rel(live), file_event="file truncated")
            continue
        if size > pos:
            data = await asyncio.to_thread(_read, live, pos)
            pos += len(data)
            idle = 0.0
            yield StreamFrame(data=data, offset=pos, file=_rel(live))
            continue
        if not follow or not alive():
            return
        await asyncio.sleep(poll)
        idle += poll
        if idle >= HEARTBEAT:
            idle = 0.0
            yield StreamFrame()
