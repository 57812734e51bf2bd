"""Secondary indexes: a writer's result, whether it touched one key or several."""

from __future__ import annotations

from immutables import Map

from caravan.state.index import MultiIndexWriter, members_of


def _index(**members: list[str]) -> Map:
    return Map({key: Map(dict.fromkeys(keys, True)) for key, keys in members.items()})


def test_an_index_only_read_is_returned_as_it_was() -> None:
    base = _index(job1=["a"])
    writer = MultiIndexWriter(base)
    assert list(writer.members("job1")) == ["a"]
    assert writer.finish() is base


def test_one_key_written_adds_and_drops_emptied_keys() -> None:
    base = _index(job1=["a"], job2=["b"])
    writer = MultiIndexWriter(base)
    writer.add("job1", "c")
    assert sorted(members_of(writer.finish(), "job1").keys()) == ["a", "c"]

    writer = MultiIndexWriter(base)
    writer.discard("job2", "b")
    after = writer.finish()
    assert "job2" not in after and "job1" in after

    writer = MultiIndexWriter(base)
    writer.discard("job3", "x")  # nothing under it before or after
    assert writer.finish() == base


def test_several_keys_written_at_once() -> None:
    writer = MultiIndexWriter(_index(job1=["a"]))
    writer.discard("job1", "a")
    writer.add_many("job2", ["b", "c"])
    after = writer.finish()
    assert "job1" not in after
    assert sorted(members_of(after, "job2").keys()) == ["b", "c"]
