"""Log rotation by the ``logs`` block, and reading logs across rotated files."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from caravan.client.allocdir import AllocDir
from caravan.client.errors import ClientError
from caravan.client.logrotate import LogRotator, RotationPolicy
from caravan.client.logs import stream_logs

from .conftest import eventually


def alloc_dir(tmp_path: Path) -> AllocDir:
    d = AllocDir(tmp_path / "a1")
    d.build()
    return d


def test_rotation_keeps_max_files(tmp_path: Path) -> None:
    d = alloc_dir(tmp_path)
    live = d.log_path("web", "stdout")
    rotator = LogRotator()
    rotator.watch(live, RotationPolicy(max_files=3, max_file_size=10))
    for chunk in (b"a" * 11, b"b" * 11, b"c" * 11, b"d" * 5):
        with live.open("ab") as f:
            f.write(chunk)
        rotator.check()
    names = sorted(p.name for p in d.logs.iterdir())
    assert names == ["web.stdout.0", "web.stdout.1", "web.stdout.2"]
    assert d.log_path("web", "stdout", 2).read_bytes() == b"b" * 11
    assert d.log_path("web", "stdout", 1).read_bytes() == b"c" * 11
    assert live.read_bytes() == b"d" * 5


def test_writer_keeps_writing_to_the_same_file(tmp_path: Path) -> None:
    d = alloc_dir(tmp_path)
    live = d.log_path("web", "stdout")
    rotator = LogRotator()
    rotator.watch(live, RotationPolicy(max_files=2, max_file_size=4))
    with live.open("ab", buffering=0) as out:
        out.write(b"12345")
        assert rotator.check() == 1
        out.write(b"xy")
    assert live.read_bytes() == b"xy"
    assert d.log_path("web", "stdout", 1).read_bytes() == b"12345"


@contextlib.asynccontextmanager
async def running(rotator: LogRotator) -> AsyncIterator[LogRotator]:
    task = asyncio.create_task(rotator.run())
    try:
        yield rotator
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class CountingRotator(LogRotator):
    """Counts the files whose size it read."""

    def __init__(self, interval: float) -> None:
        super().__init__(interval)
        self.checked: list[Path] = []

    def _rotate(self, files: list[tuple[Path, RotationPolicy]]) -> int:  # type: ignore[override]
        self.checked.extend(path for path, _ in files)
        return LogRotator._rotate(files)


async def test_running_rotator_rotates_on_write(tmp_path: Path) -> None:
    d = alloc_dir(tmp_path)
    live = d.log_path("web", "stdout")
    live.touch()
    async with running(LogRotator(interval=0.05)) as rotator:
        rotator.watch(live, RotationPolicy(max_files=3, max_file_size=10))
        await asyncio.sleep(0.1)
        with live.open("ab", buffering=0) as out:
            out.write(b"a" * 11)
            await eventually(lambda: d.log_path("web", "stdout", 1).exists(), 5)
            out.write(b"b" * 11)
            await eventually(lambda: d.log_path("web", "stdout", 2).exists(), 5)
    assert d.log_path("web", "stdout", 2).read_bytes() == b"a" * 11
    assert d.log_path("web", "stdout", 1).read_bytes() == b"b" * 11
    assert live.read_bytes() == b""


async def test_quiet_files_are_not_checked_and_chatty_ones_once_per_interval(
    tmp_path: Path,
) -> None:
    d = alloc_dir(tmp_path)
    quiet, chatty = d.log_path("quiet", "stdout"), d.log_path("chatty", "stdout")
    for path in (quiet, chatty):
        path.touch()
    policy = RotationPolicy(max_files=2, max_file_size=10**9)
    async with running(CountingRotator(interval=0.2)) as rotator:
        rotator.watch(quiet, policy)
        rotator.watch(chatty, policy)
        # Both are checked once at first: either may be over its limit already.
        await eventually(lambda: sorted(rotator.checked) == sorted([quiet, chatty]), 5)
        rotator.checked.clear()
        with chatty.open("ab", buffering=0) as out:
            for _ in range(100):
                out.write(b"line\n")
                await asyncio.sleep(0.005)
        await asyncio.sleep(0.5)
    assert quiet not in rotator.checked
    # 100 writes over ~0.5 s: a handful of checks, not one per write.
    assert 1 <= rotator.checked.count(chatty) <= 5


async def collect(d: AllocDir, **kw) -> bytes:
    frames = [f async for f in stream_logs(d, "web", "stdout", follow=False, **kw)]
    return b"".join(f.data for f in frames)


async def test_stream_reads_across_rotated_files(tmp_path: Path) -> None:
    d = alloc_dir(tmp_path)
    d.log_path("web", "stdout", 2).write_bytes(b"one\n")
    d.log_path("web", "stdout", 1).write_bytes(b"two\n")
    d.log_path("web", "stdout", 0).write_bytes(b"three\n")
    assert await collect(d) == b"one\ntwo\nthree\n"
    assert await collect(d, offset=5) == b"wo\nthree\n"
    assert await collect(d, origin="end", offset=8) == b"o\nthree\n"
    assert await collect(d, origin="end", offset=6) == b"three\n"
    frames = [f async for f in stream_logs(d, "web", "stdout", follow=False)]
    assert frames[0].file == "alloc/logs/web.stdout.2"
    assert frames[-1].file == "alloc/logs/web.stdout.0"
    assert frames[-1].offset == 6


async def test_follow_sees_new_output_and_ends_with_task(tmp_path: Path) -> None:
    d = alloc_dir(tmp_path)
    live = d.log_path("web", "stdout")
    live.write_bytes(b"a")
    running = [True]
    seen = b""
    async for frame in stream_logs(
        d, "web", "stdout", follow=True, alive=lambda: running[0], poll=0.01
    ):
        seen += frame.data
        if seen == b"a":
            with live.open("ab") as f:
                f.write(b"b")
        elif seen == b"ab":
            running[0] = False
    assert seen == b"ab"


async def test_bad_log_type(tmp_path: Path) -> None:
    with pytest.raises(ClientError, match="must provide log type"):
        await collect_type(alloc_dir(tmp_path), "stdin")


async def collect_type(d: AllocDir, stream: str) -> None:
    async for _ in stream_logs(d, "web", stream, follow=False):
        pass
