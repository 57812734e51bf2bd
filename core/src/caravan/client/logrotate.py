"""Rotation of task log files, by each task's ``logs { max_files, max_file_size }`` block.

Drivers write a task's output straight into ``alloc/logs/<task>.stdout.0`` and
``.stderr.0`` (opened for append, so there is no pipe through the agent and output keeps
flowing while the agent restarts). One :class:`LogRotator` per client checks the watched
files every ``interval`` seconds; when ``<task>.stdout.0`` is larger than the limit its
contents move to ``<task>.stdout.1`` (older archives shift to ``.2``, ``.3``... and the
oldest beyond ``max_files`` is deleted) and ``.0`` is truncated in place, so the driver's
open file keeps working. ``.0`` is therefore always the newest file and higher numbers are
older. Output written in the instant between the copy and the truncation can be lost,
the usual price of rotating a file another process holds open.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

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
    """Rotates every watched log file of the client from one background loop.

    :param interval: seconds between checks; a file can grow past its limit by what the
        task writes in that time.
    """

    def __init__(self, interval: float = 2.0) -> None:
        self.interval = interval
        self._watched: dict[Path, RotationPolicy] = {}

    def watch(self, path: Path, policy: RotationPolicy) -> None:
        """Start rotating ``path`` (a ``.0`` file) by ``policy``."""
        self._watched[path] = policy

    def unwatch(self, path: Path) -> None:
        """Stop rotating ``path``; unknown paths are ignored."""
        self._watched.pop(path, None)

    def check(self) -> int:
        """Rotate every watched file that is over its limit now; returns how many were."""
        rotated = 0
        for path, policy in list(self._watched.items()):
            try:
                rotated += rotate(path, policy)
            except OSError:
                # The allocation directory may be going away under us; the next check or
                # the unwatch at task teardown settles it.
                continue
        return rotated

    async def run(self) -> None:
        """Check forever, every ``interval`` seconds (cancel to stop)."""
        while True:
            await asyncio.sleep(self.interval)
            if self._watched:
                await asyncio.to_thread(self.check)
