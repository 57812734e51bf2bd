"""Errors the client agent raises for requests people make (``caravan alloc fs/logs``...).

Each carries the HTTP status the API answers with.
"""

from __future__ import annotations

from caravan.errors import CaravanError


class ClientError(CaravanError):
    """A request the client cannot satisfy as asked (400)."""

    http_status = 400


class UnknownAllocationError(ClientError):
    """The allocation does not run on this client (404)."""

    http_status = 404

    def __init__(self, alloc_id: str) -> None:
        super().__init__(f"unknown allocation ID {alloc_id!r}")


class UnknownTaskError(ClientError):
    """The allocation has no task of that name (404)."""

    http_status = 404

    def __init__(self, alloc_id: str, task: str) -> None:
        super().__init__(f"allocation {alloc_id!r} has no task {task!r}")


class FileNotFoundInAllocError(ClientError):
    """A path inside the allocation directory does not exist (404)."""

    http_status = 404


class PathEscapeError(ClientError):
    """A path that would leave the allocation directory (``..``, absolute, symlink) (403)."""

    http_status = 403
