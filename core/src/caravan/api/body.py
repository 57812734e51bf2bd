"""Request bodies: JSON decoded into pydantic request models, keys matched ignoring case.

Go's ``encoding/json`` matches keys case-insensitively and ignores unknown ones; caravan's
:class:`~caravan.structs.ApiModel` does the same, so request envelopes are ``ApiModel``
subclasses. Problems answer 400 with the JSON path of the offending field.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from caravan.api.errors import BadRequest

M = TypeVar("M", bound=BaseModel)


async def read_json(request: web.Request, *, optional: bool = False) -> Any:
    """The request's JSON body; ``None`` when empty and ``optional``.

    :raises BadRequest: ``Request body is empty`` (unless ``optional``), or a decode error
        naming the line and column.
    """
    raw = await request.read()
    if not raw.strip():
        if optional:
            return None
        raise BadRequest("Request body is empty")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRequest(f"Failed to decode request body: {err}") from None


async def read_body(request: web.Request, model: type[M], *, optional: bool = False) -> M:
    """The request body decoded as ``model`` (an ``ApiModel``); an empty optional body gives
    ``model()`` with its defaults.

    :raises BadRequest: for an empty or non-JSON body, or a body that is not an object.
    :raises caravan.errors.JobValidationError: (400) listing each field that does not fit.
    """
    data = await read_json(request, optional=optional)
    if data is None:
        return model()
    if not isinstance(data, dict):
        raise BadRequest(f"Request body must be a JSON object, not {type(data).__name__}")
    return model.from_api(data)  # type: ignore[attr-defined, no-any-return]
