"""The whole state as bytes: what the FSM hands Raft for a snapshot, and reads back.

The format is a msgpack map: ``Version``, ``Index``, ``TableIndex`` and one list per table of
objects in API JSON form, fields at their default left out (job versions as lists, newest
first). Allocations carry their job by
reference into ``AllocJobs``: the allocations of one plan share one job object, so the snapshot
stores each distinct job spec once and a restore shares it again.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

import msgpack

from caravan.state import acl_tables
from caravan.state.commands import allocs_without_job, encode_object, encode_objects
from caravan.state.errors import CommandError
from caravan.state.models import ModelSet, replace
from caravan.state.shared import alloc_decoder
from caravan.state.snapshot import StateData
from caravan.state.tables import (
    ALLOCS,
    DEPLOYMENTS,
    EVALS,
    JOB_SUMMARIES,
    JOB_VERSIONS,
    JOBS,
    NODES,
    SERVICES,
    TABLES,
)
from caravan.state.txn import WriteTxn

SNAPSHOT_VERSION = 1

#: Table -> the ModelSet attribute its objects decode with (job versions: jobs).
_MODEL_OF = {
    JOBS: "job",
    JOB_SUMMARIES: "job_summary",
    NODES: "node",
    EVALS: "evaluation",
    DEPLOYMENTS: "deployment",
    SERVICES: "service_registration",
}


#: Allocations rendered at a time while a snapshot is written.
_CHUNK = 5000


def dump(data: StateData) -> bytes:
    """Encode every table of ``data``.

    The encoding is written out table by table, allocations a chunk at a time, so it holds
    the API JSON of one chunk besides the bytes: rendering a million allocations first would
    take several times the snapshot's size in memory.
    """
    packer = msgpack.Packer(use_bin_type=True)
    out = bytearray()
    acl = acl_tables.dump(data)
    out += packer.pack_map_header(5)
    for key, value in (
        ("Version", SNAPSHOT_VERSION),
        ("Index", data.index),
        ("TableIndex", data.table_index),
    ):
        out += packer.pack(key) + packer.pack(value)
    out += packer.pack("Tables") + packer.pack_map_header(len(_MODEL_OF) + 2 + len(acl))
    for name in _MODEL_OF:
        out += packer.pack(name) + packer.pack(encode_objects(data.tables[name].values()))
    versions = data.tables[JOB_VERSIONS]
    out += packer.pack(JOB_VERSIONS) + packer.pack_array_header(len(versions))
    for vs in versions.values():
        out += packer.pack(encode_objects(vs))
    allocs = data.tables[ALLOCS]
    out += packer.pack(ALLOCS) + packer.pack_array_header(len(allocs))
    jobs: dict[int, int] = {}
    job_list: list[dict[str, Any]] = []
    rest = iter(allocs.values())
    while chunk := list(islice(rest, _CHUNK)):
        for alloc, entry in zip(chunk, allocs_without_job(chunk), strict=True):
            if alloc.job is not None:
                ref = jobs.get(id(alloc.job))
                if ref is None:
                    ref = jobs[id(alloc.job)] = len(job_list)
                    job_list.append(encode_object(alloc.job))
                entry["Job"] = ref
            out += packer.pack(entry)
    for name, entries in acl.items():
        out += packer.pack(name) + packer.pack(entries)
    out += packer.pack("AllocJobs") + packer.pack(job_list)
    return bytes(out)


def load(raw: bytes, models: ModelSet) -> StateData:
    """Decode a snapshot made by :func:`dump`; :class:`CommandError` if it cannot be read."""
    try:
        snap = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as err:
        raise CommandError(f"state snapshot is not valid msgpack: {err}") from None
    if not isinstance(snap, dict) or snap.get("Version") != SNAPSHOT_VERSION:
        version = snap.get("Version") if isinstance(snap, dict) else None
        raise CommandError(f"unsupported state snapshot version {version!r}")
    txn = WriteTxn(StateData.empty(), snap["Index"], models)
    tables = snap["Tables"]
    for name, attr in _MODEL_OF.items():
        model = getattr(models, attr)
        for entry in tables.get(name, ()):
            txn.upsert(name, model.from_api(entry))
    for versions in tables.get(JOB_VERSIONS, ()):
        decoded = tuple(models.job.from_api(v) for v in versions)
        if decoded:
            txn.put_raw(JOB_VERSIONS, (decoded[0].namespace, decoded[0].id), decoded)
    alloc_jobs = [models.job.from_api(j) for j in snap.get("AllocJobs", ())]
    decoder = alloc_decoder(models.allocation)
    for entry in tables.get(ALLOCS, ()):
        ref = entry.pop("Job", None)
        alloc = decoder.decode(entry)
        if ref is not None:
            alloc = replace(alloc, job=alloc_jobs[ref])
        txn.upsert(ALLOCS, alloc)
    acl_tables.load(txn, tables)
    restored = txn.commit()
    table_index = {name: snap["TableIndex"].get(name, 0) for name in TABLES}
    return StateData(
        index=snap["Index"],
        table_index=table_index,
        tables=restored.tables,
        indexes=restored.indexes,
        counters=restored.counters,
    )
