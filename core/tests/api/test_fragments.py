"""List endpoints served from pre-encoded fragments stay exact as objects change."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from caravan.api.fragments import FragmentCache, Fragments
from caravan.state import commands as c
from caravan.structs import Allocation

from .conftest import add_node, place, register


async def test_lists_follow_every_change(api, server) -> None:
    job = await register(server)
    node = await add_node(server)
    (alloc_id,) = await place(server, job, node)
    first = await (await api.get("/v1/allocations")).json()
    assert first[0]["ClientStatus"] == "running"

    update = {"ID": alloc_id, "ClientStatus": "failed"}
    await server.consensus.apply(c.alloc_client_update([update]))
    again = await (await api.get("/v1/allocations")).json()
    assert again[0]["ClientStatus"] == "failed"
    assert again[0]["ModifyIndex"] > first[0]["ModifyIndex"]

    # Variants of one object are cached apart; filters still see the full objects.
    bare = await (await api.get("/v1/allocations?task_states=false")).json()
    assert bare[0]["TaskStates"] is None
    none = await (await api.get('/v1/allocations?filter=ClientStatus == "running"')).json()
    assert none == []

    jobs = await (await api.get("/v1/jobs")).json()
    assert jobs[0]["JobSummary"]["Summary"]["app"]["Failed"] == 1
    assert (await (await api.get("/v1/jobs?pretty")).text()).startswith("[\n")


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 3)), max_size=30))
def test_cache_serves_only_the_object_it_was_made_from(writes: list[tuple[str, int]]) -> None:
    cache = FragmentCache(limit=4)
    stored: dict[str, Allocation] = {}
    for alloc_id, index in writes:
        stored[alloc_id] = Allocation(id=alloc_id, modify_index=index, name=f"{alloc_id}{index}")
        objs = sorted(stored.values(), key=lambda a: a.id)
        got = cache.encode_all("alloc", objs, lambda a: a.stub())
        assert isinstance(got, Fragments)
        assert got.decoded() == [a.stub() for a in objs]
        assert len(cache) <= 4
