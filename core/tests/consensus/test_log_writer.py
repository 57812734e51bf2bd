"""The background log writer: order, group commit, messages held until their write is durable."""

from __future__ import annotations

import asyncio
import threading

from hypothesis import given
from hypothesis import strategies as st

from caravan.raft import Entry, FileStorage, HardState, MemoryStorage, Message, MessageType
from caravan.server.log_writer import LogWriter, merge


def ents(lo: int, hi: int, term: int = 1) -> list[Entry]:
    return [Entry(term, i, data=f"{term}:{i}".encode()) for i in range(lo, hi)]


class SlowStorage(MemoryStorage):
    """Saves block until the test releases them, and are counted."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.saves: list[tuple[HardState | None, list[Entry]]] = []

    def save(self, hard_state, entries, snapshot=None) -> None:
        self.release.wait(5)
        self.saves.append((hard_state, list(entries)))
        super().save(hard_state, entries, snapshot)


def ack(index: int) -> Message:
    return Message(MessageType.APP_RESP, to="leader", index=index)


async def test_messages_go_out_only_after_the_write_before_them_is_durable() -> None:
    storage = SlowStorage()
    sent: list[int] = []
    written = asyncio.Event()
    writer = LogWriter(storage, lambda ms: sent.extend(m.index for m in ms), written.set)
    writer.submit(HardState(1, "n1", 0), ents(1, 3), [ack(2)])
    writer.submit(None, [], [ack(2)])  # nothing to write, but it vouches for entry 2
    await asyncio.sleep(0.05)
    assert sent == [] and writer.busy
    storage.release.set()
    await writer.drained()
    assert sent == [2, 2] and not writer.busy
    assert writer.take_written() == (2, 1) and writer.take_written() is None
    writer.submit(None, [], [ack(5)])  # idle: nothing to wait for
    assert sent == [2, 2, 5]
    await writer.close()


async def test_writes_handed_over_during_a_write_share_the_next_one() -> None:
    storage = SlowStorage()
    writer = LogWriter(storage, lambda ms: None, lambda: None)
    writer.submit(None, ents(1, 2), [])
    await asyncio.sleep(0.02)  # the first write is now blocked in its thread
    for i in range(2, 12):
        writer.submit(HardState(1, "", i), ents(i, i + 1), [])
    storage.release.set()
    await writer.drained()
    assert [len(e) for _, e in storage.saves] == [1, 10]
    assert storage.saves[1][0] == HardState(1, "", 11)
    assert storage.last_index() == 11
    await writer.close()


async def test_a_failed_write_is_reported_and_stops_the_writer(tmp_path) -> None:
    storage = FileStorage(tmp_path, segment_bytes=1 << 16)
    storage.close()  # every save now fails
    calls: list[int] = []
    writer = LogWriter(storage, lambda ms: calls.append(1), lambda: None)
    writer.submit(None, ents(1, 2), [ack(1)])
    for _ in range(100):
        if writer.error is not None:
            break
        await asyncio.sleep(0.01)
    assert isinstance(writer.error, OSError) and calls == []
    await writer.close()


batches = st.lists(
    st.tuples(st.integers(1, 8), st.integers(0, 4), st.integers(1, 3)), min_size=1, max_size=6
)


@given(batches)
def test_merged_writes_leave_the_log_as_writing_them_one_by_one(plan) -> None:
    """Each write starts at or before the end of the previous (as a follower's log does when
    a new leader overwrites a suffix); one merged save gives the same log and hard state."""
    writes = []
    last = 0
    for k, (start, length, term) in enumerate(plan):
        start = min(start, last + 1)
        entries = ents(start, start + length, term + k)
        writes.append((HardState(term + k, "", 0) if k % 2 else None, entries, []))
        if entries:
            last = entries[-1].index
    one_by_one, merged = MemoryStorage(), MemoryStorage()
    for hs, entries, _ in writes:
        one_by_one.save(hs, entries)
    hs, entries = merge(writes)
    merged.save(hs, entries)
    assert merged.initial_state() == one_by_one.initial_state()
    assert merged.last_index() == one_by_one.last_index()
    lo, hi = one_by_one.first_index(), one_by_one.last_index() + 1
    assert merged.entries(lo, hi) == one_by_one.entries(lo, hi)
