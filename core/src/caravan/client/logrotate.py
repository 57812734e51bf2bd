"""Rotation of task log files, by each task's ``logs { max_files, max_file_size }`` block.

Drivers write a task's output straight into ``alloc/logs/<task>.stdout.0`` and
``.stderr.0`` (opened for append, so there is no pipe through the agent and output keeps
flowing while the agent restarts). One :class:`LogRotator` per client checks a watched
file's size when it has been written: the kernel reports the first write to each file
(a one-shot inotify watch, see :mod:`caravan.client.inotify`), and the files written are
checked together ``interval`` seconds later, so a quiet task costs nothing and a chatty
one one check per interval. Where inotify is missing, every watched file is checked each
``interval`` instead. When ``<task>.stdout.0`` is larger than the limit its contents move
to ``<task>.stdout.1`` (older archives shift to ``.2``, ``.3``... and the oldest beyond
``max_files`` is deleted) and ``.0`` is truncated in place, so the driver's open file keeps
working. ``.0`` is therefore always the newest file and higher numbers are
older. Output written in the instant between the copy and the truncation can be lost,
the usual price of rotating a file another process holds open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .inotify import ModifiedFiles, open_inotify

log = logging.getLogger(__name__)

MB = 1024 * 1024


@dataclass(frozen=True)
class RotationPolicy:
    """How many files to keep per stream (live one included) and the size limit of each."""

    max_files: int = 10
    max_file_size: int = 10 * MB


def archive_path(live: Path, index: int) -> Path:
    """``<task>.stdout.<index>`` next to the live ``<task>.stdout.0``."""
    stem = live.name.rsplit(".", 1)[0]
    return live.with_name(f"{stem}.{index}")


def rotate(live: Path, policy: RotationPolicy) -> bool:
    """Rotate ``live`` if it is over the limit; returns whether it did.

    Archives keep at most ``max_files - 1`` files besides the live one.
    """
    try:
        size = live.stat().st_size
    except FileNotFoundError:
        return False
    if size <= policy.max_file_size:
        return False
    keep = max(policy.max_files, 1) - 1
    if keep:
        with contextlib.suppress(FileNotFoundError):
            archive_path(live, keep).unlink()
        for index in range(keep - 1, 0, -1):
            src = archive_path(live, index)
            if src.exists():
                src.rename(archive_path(live, index + 1))
        shutil.copyfile(live, archive_path(live, 1))
    os.truncate(live, 0)
    return True


class LogRotator:
    """Rotates every watched log file of the client, from the client's event loop.

    :param interval: seconds between a file's first write and its check; a file can grow
        past its limit by what the task writes in that time.
    """

    def __init__(self, interval: float = 2.0) -> None:
        self.interval = interval
        self._watched: dict[Path, RotationPolicy] = {}
        self._written: set[Path] = set()
        self._events: ModifiedFiles | None = None
        self._checking: asyncio.TimerHandle | None = None
        self._pending: set[asyncio.Future[int]] = set()

    def watch(self, path: Path, policy: RotationPolicy) -> None:
        """Start rotating ``path`` (a ``.0`` file) by ``policy``; it is checked once soon,
        as it may be over the limit already (a task reattached after a restart)."""
        self._watched[path] = policy
        self._written.add(path)
        self._schedule()

    def unwatch(self, path: Path) -> None:
        """Stop rotating ``path``; unknown paths are ignored."""
        self._watched.pop(path, None)
        self._written.discard(path)

    def check(self) -> int:
        """Rotate every watched file that is over its limit now; returns how many were."""
        return self._rotate(list(self._watched.items()))

    async def run(self) -> None:
        """Rotate until cancelled: on writes where inotify is available, else by checking
        every file each ``interval``."""
        self._events = open_inotify()
        if self._events is None:
            log.info("inotify unavailable: checking log sizes every %ss", self.interval)
            while True:
                await asyncio.sleep(self.interval)
                if self._watched:
                    await asyncio.to_thread(self.check)
        loop = asyncio.get_running_loop()
        loop.add_reader(self._events.fd, self._on_written)
        self._schedule()
        try:
            await asyncio.Event().wait()
        finally:
            loop.remove_reader(self._events.fd)
            if self._checking is not None:
                self._checking.cancel()
                self._checking = None
            for pending in self._pending:
                pending.cancel()
            self._events.close()
            self._events = None

    def _on_written(self) -> None:
        assert self._events is not None
        self._written.update(p for p in self._events.read() if p in self._watched)
        self._schedule()

    def _schedule(self) -> None:
        """Check the written files ``interval`` from now, unless a check is already due."""
        if self._events is None or self._checking is not None or not self._written:
            return
        loop = asyncio.get_running_loop()
        self._checking = loop.call_later(self.interval, self._check_written)

    def _check_written(self) -> None:
        self._checking = None
        assert self._events is not None
        written, self._written = self._written, set()
        due = []
        for path in written:
            policy = self._watched.get(path)
            if policy is None:
                continue
            # Armed before the size is read, so a write after the check is not missed.
            if not self._events.arm(path):
                # Not watchable now (e.g. not created yet): look again next interval.
                self._written.add(path)
            due.append((path, policy))
        task = asyncio.ensure_future(asyncio.to_thread(self._rotate, due))
        self._pending.add(task)
        task.add_done_callback(self._checked)

    def _checked(self, task: asyncio.Future[int]) -> None:
        self._pending.discard(task)
        self._schedule()

    @staticmethod
    def _rotate(files: list[tuple[Path, RotationPolicy]]) -> int:
        rotated = 0
        for path, policy in files:
            try:
                rotated += rotate(path, policy)
            except OSError:
                # The allocation directory may be going away under us; the next check or
                # the unwatch at task teardown settles it.
                continue
        return rotated
