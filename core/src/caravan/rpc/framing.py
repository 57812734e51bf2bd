"""Length-prefixed msgpack frames: the byte format of every caravan RPC connection.

A frame is a 4-byte big-endian length followed by that many bytes of msgpack. The first
frame on a connection is its preamble, ``{"Proto": "raft" | "rpc", ...}``, which says what
the rest of the connection carries (see :mod:`caravan.rpc.server`). Values are plain msgpack
(maps, lists, strings, bytes, numbers); nothing is ever pickled.
"""

from __future__ import annotations

import asyncio
import struct
import threading
from typing import Any

import msgpack

_LENGTH = struct.Struct(">I")

#: Frames larger than this are refused: a snapshot of a large state still fits, garbage does not.
MAX_FRAME_BYTES = 256 << 20

#: Bytes buffered for a socket past which writers wait for it to drain.
DRAIN_ABOVE = 256 << 10

PROTO_RAFT = "raft"
PROTO_RPC = "rpc"


class FrameError(ConnectionError):
    """The peer sent bytes that are not a valid frame; the connection is closed."""


_packers = threading.local()


def pack(obj: Any) -> bytes:
    """One frame holding ``obj``; raises ``TypeError`` for a value msgpack cannot carry and
    :class:`FrameError` past :data:`MAX_FRAME_BYTES`."""
    # A packer per thread, kept: making one per call costs more than packing a small answer.
    try:
        packer = _packers.packer
    except AttributeError:
        packer = _packers.packer = msgpack.Packer(use_bin_type=True)
    body = packer.pack(obj)
    if len(body) > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {len(body)} bytes exceeds the {MAX_FRAME_BYTES} byte limit")
    return _LENGTH.pack(len(body)) + body


class FrameReader:
    """Reads frames from a stream in large chunks: one ``read`` often yields many frames,
    which matters when thousands of small calls a second share one connection.
    """

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._buf = bytearray()
        self._pos = 0

    async def read(self) -> Any:
        """The next frame. Raises ``asyncio.IncompleteReadError`` at end of stream and
        :class:`FrameError` for an oversized or undecodable frame.
        """
        buf, pos = self._buf, self._pos
        if len(buf) - pos >= _LENGTH.size:
            # The frame is often in the buffer already (one read brings many): decode it
            # without awaiting, which is most of the cost of a small frame.
            (length,) = _LENGTH.unpack_from(buf, pos)
            end = pos + _LENGTH.size + length
            if end <= len(buf) and length <= MAX_FRAME_BYTES:
                self._pos = end
                return _decode(bytes(buf[pos + _LENGTH.size : end]))
        header = await self._take(_LENGTH.size)
        (length,) = _LENGTH.unpack(header)
        if length > MAX_FRAME_BYTES:
            raise FrameError(f"peer announced a frame of {length} bytes, over the limit")
        return _decode(await self._take(length))

    async def _take(self, n: int) -> bytes:
        while len(self._buf) - self._pos < n:
            if self._pos:
                del self._buf[: self._pos]
                self._pos = 0
            chunk = await self._reader.read(max(65536, n - len(self._buf)))
            if not chunk:
                raise asyncio.IncompleteReadError(bytes(self._buf), n)
            self._buf += chunk
        out = bytes(self._buf[self._pos : self._pos + n])
        self._pos += n
        return out


def _decode(body: bytes) -> Any:
    try:
        return msgpack.unpackb(body, raw=False, strict_map_key=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as err:
        raise FrameError(f"undecodable frame: {err}") from None


def split_address(address: str, default_port: int = 4647) -> tuple[str, int]:
    """``"host:port"`` (or ``"host"``) as ``(host, port)``; raises ``ValueError`` if malformed."""
    host, sep, port = address.rpartition(":")
    if not sep:
        return address, default_port
    if not host or not port.isdigit():
        raise ValueError(f"invalid server address {address!r}: expected host:port")
    return host.strip("[]"), int(port)


def normalize_address(address: str, default_port: int = 4647) -> str:
    """``"host"`` or ``"host:port"`` as ``"host:port"`` (servers are known by that string)."""
    host, port = split_address(address, default_port)
    return f"{host}:{port}"
