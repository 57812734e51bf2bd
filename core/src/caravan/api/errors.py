"""HTTP errors the API answers with, in Nomad's form: a status code and one plain-text line.

Handlers raise these for problems found at the HTTP layer (an unknown ID, a bad query
parameter, a method the path does not take). Errors raised by the server's endpoints are
:class:`~caravan.errors.CaravanError` subclasses and answer 400, unless the exception carries
an ``http_status`` attribute, which the error middleware honours (see :func:`status_of`).
"""

from __future__ import annotations

from caravan.errors import CaravanError


class ApiError(CaravanError):
    """An HTTP error with Nomad's status code and message (``str(err)`` is the body)."""

    http_status = 500

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.http_status = status


class BadRequest(ApiError):
    """400: the request itself is wrong (a parameter, the body)."""

    http_status = 400


class NotFound(ApiError):
    """404: the named object does not exist (``job not found``, ``alloc not found``...)."""

    http_status = 404


class MethodNotAllowed(ApiError):
    """405: the path exists but not for this method; Nomad's body is ``Invalid method``."""

    http_status = 405

    def __init__(self) -> None:
        super().__init__("Invalid method")


class PayloadTooLarge(ApiError):
    """413: the request body exceeds the agent's limit."""

    http_status = 413


#: Nomad answers a failed check-and-set with a plain error (500); the CLI matches this prefix.
ENFORCE_INDEX_PREFIX = "Enforcing job modify index"


def status_of(err: CaravanError) -> int:
    """The HTTP status for a user error: its ``http_status`` attribute if it has one; 404 for
    the server's ``NotFoundError``; 500 for a failed ``EnforceIndex`` check; else 400."""
    from caravan.server.errors import NotFoundError

    status = getattr(err, "http_status", None)
    if isinstance(status, int) and 400 <= status <= 599:
        return status
    if isinstance(err, NotFoundError):
        return 404
    if str(err).startswith(ENFORCE_INDEX_PREFIX):
        return 500
    return 400
