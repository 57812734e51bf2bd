"""Errors the server's endpoints raise for requests a person got wrong."""

from __future__ import annotations

from caravan.errors import CaravanError


class RequestError(CaravanError):
    """A request the server refuses (bad field, conflicting index); nothing was changed."""


class NotFoundError(RequestError):
    """The request names a job, node, allocation or deployment the state does not have."""
