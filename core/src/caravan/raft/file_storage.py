"""``FileStorage``: the durable Raft log — segment files of checksummed records plus a snapshot.

Layout of the directory:

- ``wal-<seq>.log``: segments, oldest first. Each holds records
  ``[u32 length][u32 crc32][msgpack payload]``; a payload is one ``save()``:
  ``[hard_state | None, snapshot_marker | None, entries]``. One record, one ``write`` and one
  ``fdatasync`` per ``Ready`` (group commit). A new segment starts with a record of the
  current hard state, so deleting older segments never loses it.

Segments are preallocated: created ``segment_bytes`` long (``posix_fallocate``, else written
zeros) and fsynced before the first record goes in; records then overwrite the zeros. An
append that grows a file makes ``fdatasync`` commit the file system's journal as well (the
new size and blocks), which costs milliseconds; writing within blocks that already belong to
the file needs no such commit. Zero bytes after the last record are the unused part of a
segment. The next segment is prepared in a background thread while the current one fills,
so rotating costs a rename instead of a stall.

Reopening replays the segments in order. A record cut short or failing its checksum at the
end of the last segment is a write torn by a crash: it is overwritten with zeros and every
earlier record is kept. Damage anywhere else raises :class:`StorageCorrupt`. Once a snapshot
exists, segments holding only entries it covers are deleted (log compaction), but for those
holding the trailing entries kept in memory; a reopen starts the log at the snapshot.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from pathlib import Path
from typing import Any

import msgpack

from caravan.raft.errors import CompactedError, StorageCorrupt
from caravan.raft.messages import (
    Entry,
    HardState,
    NodeId,
    Snapshot,
    entries_from_wire,
    entries_to_wire,
)
from caravan.raft.storage import LogBackedStorage

_HEADER = struct.Struct("<II")
_SNAPSHOT = "snapshot"
_SPARE = "wal.spare"
_ZEROS = bytes(1 << 20)
# fdatasync skips the inode's timestamps, which nothing here needs back; macOS lacks it.
_datasync = getattr(os, "fdatasync", os.fsync)


def _record(payload: Any) -> bytes:
    body = msgpack.packb(payload)
    return _HEADER.pack(len(body), zlib.crc32(body)) + body


def _read_records(data: bytes) -> tuple[list[Any], int]:
    """Decode records from the start of ``data``; returns them and where the valid part ends."""
    out: list[Any] = []
    pos = 0
    size = len(data)
    while pos + _HEADER.size <= size:
        length, crc = _HEADER.unpack_from(data, pos)
        start = pos + _HEADER.size
        body = data[start : start + length]
        if len(body) < length or zlib.crc32(body) != crc:
            break
        try:
            out.append(msgpack.unpackb(body))
        except (ValueError, msgpack.UnpackException):
            break
        pos = start + length
    return out, pos


def _zero_fill(fd: int, start: int, end: int) -> None:
    """Write zeros over ``[start, end)`` of ``fd`` and make them durable."""
    pos = start
    while pos < end:
        pos += os.pwrite(fd, _ZEROS[: min(len(_ZEROS), end - pos)], pos)
    os.fsync(fd)


def _make_spare(path: Path, size: int) -> None:
    """Create ``path`` as a durable file of ``size`` zero bytes, ready to become a segment.

    ``posix_fallocate`` reserves the blocks without writing them (they read back as zeros);
    where the file system cannot, the zeros are written.
    """
    tmp = path.parent / f"{path.name}.tmp"
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            os.posix_fallocate(fd, 0, size)
            os.fsync(fd)
        except (AttributeError, OSError):
            _zero_fill(fd, 0, size)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStorage(LogBackedStorage):
    """A :class:`Storage` kept in ``directory`` (created if missing), durable on every save.

    ``segment_bytes`` is the size of a segment file (a record that does not fit in what is
    left grows the file and the next one starts a new segment). Raises
    :class:`StorageCorrupt` when the directory holds damage that is not a torn last write.
    """

    def __init__(self, directory: str | os.PathLike[str], *, segment_bytes: int = 16 << 20):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        super().__init__()
        # (path, highest entry index written to it), oldest first; the last one is active.
        self._segments: list[tuple[Path, int]] = []
        self._fd = -1
        self._pos = 0  # where the next record of the active segment goes
        self._spare: threading.Thread | None = None
        self._open()

    # ---- reading back

    def _open(self) -> None:
        (self.dir / f"{_SNAPSHOT}.tmp").unlink(missing_ok=True)
        snap_path = self.dir / _SNAPSHOT
        if snap_path.exists():
            records, end = _read_records(snap_path.read_bytes())
            if len(records) != 1:
                raise StorageCorrupt(f"{snap_path}: snapshot unreadable at byte {end}")
            self.snap = Snapshot.from_wire(records[0])
        base_index, base_term, ents = -1, 0, []
        paths = sorted(self.dir.glob("wal-*.log"))
        for n, path in enumerate(paths):
            data = path.read_bytes()
            records, end = _read_records(data)
            if data.count(0, end) != len(data) - end:
                if n != len(paths) - 1:
                    raise StorageCorrupt(f"{path}: damaged record at byte {end}")
                # A torn final write: it was never acknowledged, so drop it.
                fd = os.open(path, os.O_RDWR)
                try:
                    _zero_fill(fd, end, len(data))
                finally:
                    os.close(fd)
            self._pos = end
            high = 0
            for hs, marker, rows in records:
                if hs is not None:
                    self.hard_state = HardState(*hs)
                if marker is not None:
                    base_index, base_term, ents = marker[0], marker[1], []
                if rows:
                    new = entries_from_wire(rows)
                    first = new[0].index
                    if base_index < 0:
                        base_index = first - 1
                    if first <= base_index:
                        new = new[base_index + 1 - first :]
                        first = base_index + 1
                        if not new:
                            continue
                    if first > base_index + len(ents) + 1:
                        raise StorageCorrupt(f"{path}: entry {first} follows a gap in the log")
                    del ents[first - base_index - 1 :]
                    ents.extend(new)
                    high = max(high, new[-1].index)
            self._segments.append((path, high))
        base_index = max(base_index, 0)
        self.log.reset_to(base_index, base_term)
        self.log.ents.extend(ents)
        snap = self.snap
        if snap.index:
            if snap.index == base_index or (
                base_index < snap.index <= self.log.last_index()
                and self.log.term(snap.index) == snap.term
            ):
                if snap.index != base_index:
                    self.log.compact_to(snap.index)
                self.log.ents[0] = Entry(snap.term, snap.index)
            elif snap.index > base_index:
                # The log does not extend the snapshot: the snapshot replaces it.
                self.log.reset_to(snap.index, snap.term)
        if not self._segments:
            self._new_segment()
        else:
            self._fd = os.open(self._segments[-1][0], os.O_RDWR)
            if os.fstat(self._fd).st_size < self.segment_bytes:
                _zero_fill(self._fd, os.fstat(self._fd).st_size, self.segment_bytes)
        self._prepare_spare()

    # ---- writes

    def save(
        self,
        hard_state: HardState | None,
        entries: list[Entry],
        snapshot: Snapshot | None = None,
    ) -> None:
        marker = None
        if snapshot is not None and snapshot.index > self.snap.index:
            self._write_snapshot(snapshot)
            marker = [snapshot.index, snapshot.term]
        if hard_state is None and not entries and marker is None:
            return
        hs = None
        if hard_state is not None:
            hs = [hard_state.term, hard_state.vote, hard_state.commit]
        self._append(_record([hs, marker, entries_to_wire(entries)]))
        if marker is not None:
            self.snap = snapshot
            self.log.reset_to(snapshot.index, snapshot.term)
        self.log.append(entries)
        if hard_state is not None:
            self.hard_state = hard_state
        if entries:
            path, high = self._segments[-1]
            self._segments[-1] = (path, max(high, entries[-1].index))
        if self._pos >= self.segment_bytes:
            self._new_segment()

    def create_snapshot(
        self, index: int, voters: tuple[NodeId, ...], data: bytes, trailing: int = 0
    ) -> Snapshot:
        if index <= self.snap.index:
            raise CompactedError(index)
        snap = Snapshot(index, self.log.term(index), tuple(voters), data)
        self._write_snapshot(snap)
        self.snap = snap
        self.log.keep_after(index - trailing)
        while len(self._segments) > 1 and self._segments[0][1] <= index - trailing:
            self._segments.pop(0)[0].unlink()
        return snap

    def close(self) -> None:
        """Close the active segment; the storage must not be used afterwards."""
        if self._spare is not None:
            self._spare.join()
            self._spare = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _append(self, record: bytes) -> None:
        """Write ``record`` at the end of the active segment and make it durable."""
        written = os.pwrite(self._fd, record, self._pos)
        while written < len(record):
            written += os.pwrite(self._fd, record[written:], self._pos + written)
        if self._pos + written > self.segment_bytes:
            os.fsync(self._fd)  # the file grew: its new size must be durable too
        else:
            _datasync(self._fd)
        self._pos += written

    def _write_snapshot(self, snap: Snapshot) -> None:
        tmp = self.dir / f"{_SNAPSHOT}.tmp"
        with open(tmp, "wb") as f:
            f.write(_record(snap.to_wire()))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.dir / _SNAPSHOT)
        _fsync_dir(self.dir)

    def _new_segment(self) -> None:
        seq = int(self._segments[-1][0].stem[4:], 16) + 1 if self._segments else 1
        path = self.dir / f"wal-{seq:016x}.log"
        if self._fd >= 0:
            os.close(self._fd)
        spare = self.dir / _SPARE
        if self._spare is not None:
            self._spare.join()
            self._spare = None
        if not spare.exists() or spare.stat().st_size != self.segment_bytes:
            _make_spare(spare, self.segment_bytes)
        os.replace(spare, path)
        _fsync_dir(self.dir)
        self._fd = os.open(path, os.O_RDWR)
        self._pos = 0
        hs = self.hard_state
        self._append(_record([[hs.term, hs.vote, hs.commit], None, []]))
        self._segments.append((path, 0))
        self._prepare_spare()

    def _prepare_spare(self) -> None:
        """Prepare the next segment in the background unless it is ready already."""
        spare = self.dir / _SPARE
        if self._spare is None and not spare.exists():
            self._spare = threading.Thread(
                target=_make_spare, args=(spare, self.segment_bytes), daemon=True
            )
            self._spare.start()
