"""The durable log: what survives a reopen, torn and corrupt tails, snapshots, compaction."""

from __future__ import annotations

import random
import shutil
import struct
from pathlib import Path

import pytest

from caravan.raft import (
    Entry,
    EntryType,
    FileStorage,
    HardState,
    MemoryStorage,
    Snapshot,
    StorageCorrupt,
)

from .harness import Cluster


def ents(lo: int, hi: int, term: int = 1, tag: bytes = b"") -> list[Entry]:
    return [Entry(term, i, EntryType.NORMAL, tag + str(i).encode()) for i in range(lo, hi)]


def all_entries(s: FileStorage) -> list[Entry]:
    return list(s.entries(s.first_index(), s.last_index() + 1))


#: Small segments keep the zero-filled preallocation cheap in tests.
SEGMENT = 64 << 10


def segment(dir: Path) -> Path:
    (path,) = sorted(dir.glob("wal-*.log"))[-1:]
    return path


def records_end(path: Path) -> int:
    """Where the records of a segment end and its zero-filled unused part begins."""
    data = path.read_bytes()
    pos = 0
    while pos + 8 <= len(data):
        length, _ = struct.unpack_from("<II", data, pos)
        if length == 0:
            break
        pos += 8 + length
    return pos


def test_segments_are_preallocated_and_records_fill_them(tmp_path):
    s = FileStorage(tmp_path, segment_bytes=SEGMENT)
    s.save(HardState(1, "n1", 0), ents(1, 4))
    path = segment(tmp_path)
    assert path.stat().st_size == SEGMENT
    end = records_end(path)
    assert 0 < end < SEGMENT and path.read_bytes()[end:] == bytes(SEGMENT - end)
    s.close()
    assert all_entries(FileStorage(tmp_path, segment_bytes=SEGMENT)) == ents(1, 4)


def test_a_segment_written_without_preallocation_is_read_and_extended(tmp_path):
    s = FileStorage(tmp_path, segment_bytes=SEGMENT)
    s.save(HardState(1, "n1", 0), ents(1, 4))
    s.close()
    path = segment(tmp_path)
    end = records_end(path)
    with open(path, "r+b") as f:
        f.truncate(end)
    r = FileStorage(tmp_path, segment_bytes=SEGMENT)
    assert path.stat().st_size == SEGMENT
    r.save(HardState(1, "n1", 3), ents(4, 6))
    r.close()
    assert all_entries(FileStorage(tmp_path, segment_bytes=SEGMENT)) == ents(1, 6)


def test_reopen_restores_hard_state_entries_and_snapshot(tmp_path):
    s = FileStorage(tmp_path, segment_bytes=SEGMENT)
    s.save(HardState(1, "n1", 0), ents(1, 11))
    s.save(HardState(2, "n2", 8), ents(11, 21, term=2))
    snap = s.create_snapshot(5, ("n1", "n2", "n3"), b"state@5")
    s.close()
    r = FileStorage(tmp_path, segment_bytes=SEGMENT)
    assert r.initial_state() == (HardState(2, "n2", 8), snap)
    assert (r.first_index(), r.last_index()) == (6, 20)
    assert all_entries(r) == ents(6, 11) + ents(11, 21, term=2)
    assert r.term(5) == 1
    assert not (tmp_path / "snapshot.tmp").exists()


def test_conflicting_suffix_is_truncated_durably(tmp_path):
    s = FileStorage(tmp_path, segment_bytes=SEGMENT)
    s.save(HardState(1, "n1", 3), ents(1, 10))
    s.save(HardState(2, "n2", 3), ents(5, 7, term=2, tag=b"new"))
    assert s.last_index() == 6
    s.close()
    r = FileStorage(tmp_path, segment_bytes=SEGMENT)
    assert all_entries(r) == ents(1, 5) + ents(5, 7, term=2, tag=b"new")


def test_installed_snapshot_replaces_the_log_across_reopen(tmp_path):
    s = FileStorage(tmp_path, segment_bytes=SEGMENT)
    s.save(HardState(1, "", 2), ents(1, 10))
    snap = Snapshot(30, 3, ("n1",), b"leader-state")
    s.save(HardState(3, "", 30), [], snap)
    s.save(None, ents(31, 33, term=3))
    s.close()
    r = FileStorage(tmp_path, segment_bytes=SEGMENT)
    assert r.snapshot() == snap
    assert (r.first_index(), r.last_index()) == (31, 32)
    assert all_entries(r) == ents(31, 33, term=3)


def _write_history(dir: Path) -> tuple[int, int]:
    """Two complete saves, then a third; returns where the records ended before and after
    the third."""
    s = FileStorage(dir, segment_bytes=SEGMENT)
    s.save(HardState(1, "n1", 0), ents(1, 4))
    s.save(HardState(1, "n1", 2), ents(4, 6))
    before = records_end(segment(dir))
    s.save(HardState(2, "n2", 5), ents(6, 9, term=2))
    after = records_end(segment(dir))
    s.close()
    (dir / "wal.spare").unlink()  # keeps each copied directory small
    assert before < after
    return before, after


def _check_rolled_back(dir: Path, before: int) -> None:
    r = FileStorage(dir, segment_bytes=SEGMENT)
    assert r.initial_state()[0] == HardState(1, "n1", 2)
    assert all_entries(r) == ents(1, 6)
    data = segment(dir).read_bytes()
    assert data[before:] == bytes(len(data) - before), "the torn record was not wiped"
    # The log is writable again right after the recovered point.
    r.save(HardState(2, "n3", 5), ents(6, 7, term=2))
    r.close()
    reopened = FileStorage(dir, segment_bytes=SEGMENT)
    assert all_entries(reopened) == ents(1, 6) + ents(6, 7, term=2)
    reopened.close()


@pytest.mark.parametrize("crash", ["unwritten blocks", "shorter file"])
def test_torn_last_record_is_dropped_at_every_byte_offset(tmp_path, crash):
    """A crash mid-write leaves the record's first bytes and then either the zeros that were
    there (a preallocated segment) or the end of the file (one that was growing)."""
    base = tmp_path / "base"
    before, after = _write_history(base)
    for cut in range(before, after):
        work = tmp_path / f"cut{cut}"
        shutil.copytree(base, work)
        with open(segment(work), "r+b") as f:
            if crash == "shorter file":
                f.truncate(cut)
            else:
                f.seek(cut)
                f.write(bytes(after - cut))
        _check_rolled_back(work, before)
        shutil.rmtree(work)


def test_corrupt_last_record_is_dropped_at_every_byte_offset(tmp_path):
    base = tmp_path / "base"
    before, after = _write_history(base)
    for pos in range(before, after):
        work = tmp_path / f"flip{pos}"
        shutil.copytree(base, work)
        path = segment(work)
        data = bytearray(path.read_bytes())
        data[pos] ^= 0x5A
        path.write_bytes(bytes(data))
        _check_rolled_back(work, before)
        shutil.rmtree(work)


def test_damage_before_the_last_segment_is_reported_with_file_and_offset(tmp_path):
    s = FileStorage(tmp_path, segment_bytes=200)
    for i in range(1, 40, 3):
        s.save(HardState(1, "n1", i), ents(i, i + 3))
    s.close()
    first = sorted(tmp_path.glob("wal-*.log"))[0]
    data = bytearray(first.read_bytes())
    data[20] ^= 0xFF
    first.write_bytes(bytes(data))
    with pytest.raises(StorageCorrupt, match=rf"{first.name}: damaged record at byte"):
        FileStorage(tmp_path, segment_bytes=200)


def test_compaction_deletes_covered_segments(tmp_path):
    s = FileStorage(tmp_path, segment_bytes=300)
    for i in range(1, 100, 5):
        s.save(HardState(1, "n1", i + 4), ents(i, i + 5, tag=b"x" * 20))
    n_before = len(list(tmp_path.glob("wal-*.log")))
    s.create_snapshot(90, ("n1",), b"s")
    n_after = len(list(tmp_path.glob("wal-*.log")))
    assert n_before > 5 and n_after < n_before
    s.close()
    r = FileStorage(tmp_path, segment_bytes=300)
    assert r.first_index() == 91 and r.last_index() == 100
    assert r.initial_state()[0] == HardState(1, "n1", 100)
    assert all_entries(r) == ents(91, 101, tag=b"x" * 20)


def test_trailing_entries_stay_until_a_reopen(tmp_path):
    s = FileStorage(tmp_path, segment_bytes=300)
    for i in range(1, 100, 5):
        s.save(HardState(1, "n1", i + 4), ents(i, i + 5, tag=b"x" * 20))
    s.create_snapshot(90, ("n1",), b"s", trailing=30)
    assert s.snapshot().index == 90
    assert s.first_index() == 61 and all_entries(s) == ents(61, 101, tag=b"x" * 20)
    s.close()
    r = FileStorage(tmp_path, segment_bytes=300)  # the segments holding 61.. were kept
    assert r.snapshot().index == 90 and r.first_index() == 91
    assert all_entries(r) == ents(91, 101, tag=b"x" * 20)


def test_cluster_on_file_storage_survives_full_restart(tmp_path):
    ids = ("n1", "n2", "n3")
    c = Cluster(ids, storages={i: FileStorage(tmp_path / i, segment_bytes=SEGMENT) for i in ids})
    c.tick(30)
    lead = c.leader()
    for i in range(20):
        lead.propose(f"c{i}".encode())
    c.settle()
    lead.compact(lead.applied_index - 5, b"snap")
    committed = lead.commit_index
    for s in c.storages.values():
        s.close()
    storages = {i: FileStorage(tmp_path / i, segment_bytes=SEGMENT) for i in ids}
    c2 = Cluster(ids, storages=storages, seed=2)
    for node in c2.nodes.values():
        assert node.commit_index == committed
    c2.tick(30)
    lead2 = c2.leader()
    lead2.propose(b"after")
    c2.settle()
    assert c2.data("n3")[-1] == b"after"


@pytest.mark.parametrize("seed", range(30))
def test_reopened_file_storage_matches_memory_storage(tmp_path, seed):
    """Random saves (appends, conflicting rewrites, installed and local snapshots) read back
    from disk exactly as an in-memory storage holds them."""
    rng = random.Random(seed)
    disk = FileStorage(tmp_path, segment_bytes=rng.choice((150, 400, SEGMENT)))
    mem = MemoryStorage()
    term = 1
    for step in range(40):
        op = rng.random()
        last = mem.last_index()
        if op < 0.1 and last > mem.first_index():
            index = rng.randint(mem.first_index(), last)
            for s in (disk, mem):
                s.create_snapshot(index, ("n1", "n2"), f"local{step}".encode())
        elif op < 0.15:
            term += 1
            snap = Snapshot(last + rng.randint(1, 5), term, ("n1",), f"installed{step}".encode())
            for s in (disk, mem):
                s.save(HardState(term, "", snap.index), [], snap)
        else:
            start = rng.randint(max(mem.first_index(), last - 3), last + 1)
            if rng.random() < 0.3:
                term += 1
            batch = ents(start, start + rng.randint(1, 6), term=term, tag=f"{step}-".encode())
            hs = HardState(term, rng.choice(("", "n1")), mem.first_index() - 1)
            for s in (disk, mem):
                s.save(hs, batch)
        if rng.random() < 0.2:
            disk.close()
            disk = FileStorage(tmp_path, segment_bytes=disk.segment_bytes)
        assert disk.initial_state() == mem.initial_state()
        assert (disk.first_index(), disk.last_index()) == (mem.first_index(), mem.last_index())
        assert disk.term(disk.first_index() - 1) == mem.term(mem.first_index() - 1)
        assert all_entries(disk) == list(mem.entries(mem.first_index(), mem.last_index() + 1))
