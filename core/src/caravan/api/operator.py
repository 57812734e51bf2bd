"""Operator snapshots: ``GET /v1/operator/snapshot`` saves the state, ``PUT`` restores it.

The archive is gzip-compressed; inside are three parts:

1. the line ``caravan-snapshot`` (so that a wrong file is named as such),
2. one line of JSON: ``{"Version": 1, "Index": <state index>, "Region": ..., "CreateTime":
   <unix ns>, "Size": <state bytes>, "SHA256": <hex digest of the state bytes>}``,
3. the state itself (:func:`caravan.state.persist.dump`).

A restore checks all three (a truncated or altered file is refused with 400 and changes
nothing), then replaces the region's state through Raft.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
import zlib
from typing import Any

from aiohttp import web

from caravan.api.context import AGENT, SERVER
from caravan.api.errors import BadRequest
from caravan.api.query import parse_query, query_response, write_namespace, write_response
from caravan.api.routes import RouteTable

routes = RouteTable("Operator")

MAGIC = b"caravan-snapshot\n"
ARCHIVE_VERSION = 1
#: Raw snapshot bytes read per chunk while a restore streams in.
_CHUNK = 1 << 16

_ARCHIVE = {"type": "string", "format": "binary"}
_RESTORED = {"type": "object", "properties": {"Index": {"type": "integer"}}}


def pack(state: bytes, index: int, region: str) -> bytes:
    """The archive of ``state`` (the bytes of ``persist.dump``) taken at ``index``."""
    header = {
        "Version": ARCHIVE_VERSION,
        "Index": index,
        "Region": region,
        "CreateTime": time.time_ns(),
        "Size": len(state),
        "SHA256": hashlib.sha256(state).hexdigest(),
    }
    plain = MAGIC + json.dumps(header).encode() + b"\n" + state
    return gzip.compress(plain, compresslevel=6)


def unpack(plain: bytes) -> tuple[dict[str, Any], bytes]:
    """The header and state bytes of a decompressed archive.

    :raises BadRequest: naming what is wrong (not a snapshot, unknown version, size or
        checksum mismatch).
    """
    if not plain.startswith(MAGIC):
        raise BadRequest("not a caravan snapshot: the archive has no caravan-snapshot header")
    line, _, state = plain[len(MAGIC) :].partition(b"\n")
    try:
        header = json.loads(line)
    except ValueError:
        raise BadRequest("snapshot header is not valid JSON") from None
    if not isinstance(header, dict) or header.get("Version") != ARCHIVE_VERSION:
        version = header.get("Version") if isinstance(header, dict) else None
        raise BadRequest(f"unsupported snapshot archive version {version!r}")
    if header.get("Size") != len(state):
        raise BadRequest(
            f"snapshot is truncated: {len(state)} state bytes, header says {header.get('Size')}"
        )
    if header.get("SHA256") != hashlib.sha256(state).hexdigest():
        raise BadRequest("snapshot checksum does not match its contents")
    return header, state


async def _read_archive(request: web.Request) -> bytes:
    # Snapshots may exceed the API's body limit, so the body is streamed and decompressed
    # piece by piece instead of read whole.
    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    parts: list[bytes] = []
    try:
        async for chunk in request.content.iter_chunked(_CHUNK):
            parts.append(inflate.decompress(chunk))
        parts.append(inflate.flush())
    except zlib.error as err:
        raise BadRequest(f"snapshot is not a gzip archive: {err}") from None
    if not parts or not inflate.eof:
        raise BadRequest("snapshot is empty or truncated")
    return b"".join(parts)


@routes.get("/v1/operator/snapshot", response=_ARCHIVE, content_type="application/octet-stream")
async def save_snapshot(request: web.Request) -> web.StreamResponse:
    """Save the region's state as a gzip archive (see the module docstring)."""
    parse_query(request)
    index, state = request.app[SERVER].snapshot_save()
    body = pack(state, index, request.app[AGENT].region)
    response = query_response(request, None, index)
    response.body = body
    response.content_type = "application/octet-stream"
    response.headers["Digest"] = "sha-256=" + hashlib.sha256(body).hexdigest()
    return response


@routes.write("/v1/operator/snapshot", response=_RESTORED)
async def restore_snapshot(request: web.Request) -> web.StreamResponse:
    """Replace the region's state with a saved snapshot (through Raft)."""
    write_namespace(request)
    _, state = unpack(await _read_archive(request))
    result = await request.app[SERVER].snapshot_restore(state)
    return write_response(request, {"Index": result["Index"]})
