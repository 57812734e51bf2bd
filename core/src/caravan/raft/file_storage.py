"""``FileStorage``: the durable Raft log — segment files of checksummed records plus a snapshot.

Layout of the directory:

- ``wal-<seq>.log``: segments, oldest first. Each holds records
  ``[u32 length][u32 crc32][msgpack payload]``; a payload is one ``save()``:
  ``[hard_state | None, snapshot_marker | None, entries]``. One record, one ``write`` and one
  fsync per ``Ready`` (group commit). A new segment starts with a record of the current hard
  state, so deleting older segments never loses it.
- ``snapshot``: the latest snapshot, one checksummed record, replaced atomically (write
  ``snapshot.tmp``, fsync, rename, fsync the directory).

Reopening replays the segments in order. A record cut short or failing its checksum at the
end of the last segment is a write torn by a crash: the file is truncated there and every
earlier record is kept. Damage anywhere else raises :class:`StorageCorrupt`. Once a snapshot
exists, segments holding only entries it covers are deleted (log compaction).
"""

from __future__ import annotations

import os
import struct
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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStorage(LogBackedStorage):
    """A :class:`Storage` kept in ``directory`` (created if missing), durable on every save.

    ``segment_bytes`` is the size past which a new segment file is started. Raises
    :class:`StorageCorrupt` when the directory holds damage that is not a torn last write.
    """

    def __init__(self, directory: str | os.PathLike[str], *, segment_bytes: int = 16 << 20):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        super().__init__()
        # (path, highest entry index written to it), oldest first; the last one is active.
        self._segments: list[tuple[Path, int]] = []
        self._file: Any = None
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
            if end < len(data):
                if n != len(paths) - 1:
                    raise StorageCorrupt(f"{path}: damaged record at byte {end}")
                # A torn final write: it was never acknowledged, so drop it.
                with open(path, "r+b") as f:
                    f.truncate(end)
                    os.fsync(f.fileno())
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
            self._file = open(self._segments[-1][0], "ab")  # noqa: SIM115

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
        self._file.write(_record([hs, marker, entries_to_wire(entries)]))
        self._file.flush()
        os.fsync(self._file.fileno())
        if marker is not None:
            self.snap = snapshot
            self.log.reset_to(snapshot.index, snapshot.term)
        self.log.append(entries)
        if hard_state is not None:
            self.hard_state = hard_state
        if entries:
            path, high = self._segments[-1]
            self._segments[-1] = (path, max(high, entries[-1].index))
        if self._file.tell() >= self.segment_bytes:
            self._new_segment()

    def create_snapshot(self, index: int, voters: tuple[NodeId, ...], data: bytes) -> Snapshot:
        if index <= self.snap.index:
            raise CompactedError(index)
        snap = Snapshot(index, self.log.term(index), tuple(voters), data)
        self._write_snapshot(snap)
        self.snap = snap
        self.log.compact_to(index)
        while len(self._segments) > 1 and self._segments[0][1] <= index:
            self._segments.pop(0)[0].unlink()
        return snap

    def close(self) -> None:
        """Close the active segment; the storage must not be used afterwards."""
        if self._file is not None:
            self._file.close()
            self._file = None

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
        if self._file is not None:
            self._file.close()
        self._file = open(path, "ab")  # noqa: SIM115
        hs = self.hard_state
        self._file.write(_record([[hs.term, hs.vote, hs.commit], None, []]))
        self._file.flush()
        os.fsync(self._file.fileno())
        _fsync_dir(self.dir)
        self._segments.append((path, 0))
