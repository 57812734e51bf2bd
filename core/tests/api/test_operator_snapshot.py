"""``/v1/operator/snapshot``: save the state, change it, restore it through Raft."""

from __future__ import annotations

import gzip

from caravan.api.operator import MAGIC

from .conftest import add_node, place, register


async def _jobs(api) -> dict[str, int]:
    return {j["ID"]: j["ModifyIndex"] for j in await (await api.get("/v1/jobs")).json()}


async def test_save_change_restore(api, server) -> None:
    job = await register(server)
    node = await add_node(server)
    (alloc_id,) = await place(server, job, node)
    saved_jobs = await _jobs(api)

    resp = await api.get("/v1/operator/snapshot")
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/octet-stream"
    archive = await resp.read()
    assert gzip.decompress(archive).startswith(MAGIC)
    saved_index = int(resp.headers["X-Nomad-Index"])

    await register(server, "api")
    await server.job_deregister("default", "web", purge=True)
    assert set(await _jobs(api)) == {"api"}
    before_restore = server.state.latest_index

    resp = await api.put("/v1/operator/snapshot", data=archive)
    assert resp.status == 200, await resp.text()
    restored_at = (await resp.json())["Index"]
    assert restored_at > before_restore > saved_index
    assert await _jobs(api) == saved_jobs
    alloc = await (await api.get(f"/v1/allocation/{alloc_id}")).json()
    assert alloc["NodeID"] == node.id
    # Indexes never go backwards: blocking readers see the restore as a change.
    assert int((await api.get("/v1/jobs")).headers["X-Nomad-Index"]) == restored_at


async def test_bad_archives_change_nothing(api, server) -> None:
    await register(server)
    good = await (await api.get("/v1/operator/snapshot")).read()
    plain = gzip.decompress(good)
    cases = {
        b"not gzip at all": "not a gzip archive",
        gzip.compress(b"hello\n"): "not a caravan snapshot",
        gzip.compress(plain[:-5]): "truncated",
        gzip.compress(plain[:-1] + bytes([plain[-1] ^ 1])): "checksum",
        good[: len(good) // 2]: "truncated",
    }
    for body, message in cases.items():
        resp = await api.put("/v1/operator/snapshot", data=body)
        assert resp.status == 400 and message in await resp.text(), await resp.text()
    assert set(await _jobs(api)) == {"web"}
