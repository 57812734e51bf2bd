"""``GET /v1/openapi.json``: an OpenAPI 3.1 document generated from the route table.

Every mounted route contributes its path, methods, parameters, request body and response
schema; object schemas come from the pydantic models (``model_json_schema(by_alias=True)``),
and list stubs from the keys the structs' ``stub()`` methods emit. The document is built
from the same table that serves requests, so it cannot drift from the API.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from caravan.api.context import AGENT, ROUTES
from caravan.api.query import encode
from caravan.api.routes import (
    BLOCKING_PARAMS,
    LIST_PARAMS,
    READ_PARAMS,
    Operation,
    Route,
    RouteTable,
)
from caravan.structs import Allocation, Evaluation, Job, Node

routes = RouteTable("Agent")

_REF = "#/components/schemas/{model}"

#: Go's ``strconv.ParseBool`` spellings; the empty string (``?stale``) reads as true.
GO_BOOL = {
    "type": "string",
    "enum": ["", "1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"],
}
#: Go's ``time.ParseDuration`` grammar (``300ms``, ``1m30s``); empty means the default.
GO_DURATION = {
    "type": "string",
    "pattern": r"^([-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+))?$",
}
_UINT = {"type": "integer", "minimum": 0}

#: Schema and description of every query parameter the API knows; parameters not listed
#: are free strings.
PARAMS: dict[str, tuple[dict[str, Any], str]] = {
    "namespace": ({"type": "string"}, "Namespace (default `default`; `*` lists all)."),
    "stale": (GO_BOOL, "Allow any server to answer (empty means true)."),
    "index": (_UINT, "Block until the index is above this."),
    "wait": (GO_DURATION, "Longest time to block (default 5m, max 10m)."),
    "prefix": ({"type": "string"}, "Only objects whose ID starts with this."),
    "filter": ({"type": "string"}, "A go-bexpr filter on the full objects."),
    "per_page": (_UINT, "Page size."),
    "next_token": ({"type": "string"}, "Resume at this token (from X-Nomad-NextToken)."),
    "reverse": (GO_BOOL, "List in reverse order."),
    "offset": ({"type": "integer"}, "Byte offset."),
    "limit": (_UINT, "Bytes to read."),
    "index_only": (GO_BOOL, ""),
    **{
        name: (GO_BOOL, "")
        for name in (
            "all",
            "diffs",
            "follow",
            "global",
            "healthy",
            "meta",
            "no_shutdown_delay",
            "os",
            "passing",
            "plain",
            "purge",
            "related",
            "resources",
            "task_states",
        )
    },
}

_ERRORS = {
    "400": "Bad request (plain-text message).",
    "403": "Permission denied (plain-text message; agents with ACLs enabled).",
    "404": "Not found (plain-text message).",
    "405": "Invalid method (with an `Allow` header).",
    "500": (
        "Nomad's deliberate server errors (plain-text message): `No path to region` for a "
        "region this agent does not serve, `Enforcing job modify index ...` for a failed "
        "check-and-set; anything else is a fault."
    ),
}

_STUBS = {
    "JobListStub": lambda: Job().stub(),
    "AllocationListStub": lambda: Allocation().stub(),
    "NodeListStub": lambda: Node().stub(),
    "EvaluationStub": lambda: Evaluation().stub(),
}


def _model_of(spec: Any) -> type[BaseModel] | None:
    if isinstance(spec, type) and issubclass(spec, BaseModel):
        return spec
    if typing.get_origin(spec) is list:
        (item,) = typing.get_args(spec)
        return _model_of(item)
    if typing.get_origin(spec) in (typing.Union, types.UnionType):
        models = [m for m in map(_model_of, typing.get_args(spec)) if m is not None]
        return models[0] if len(models) == 1 else None
    return None


class _Schemas:
    """Collects pydantic models and renders references to them."""

    def __init__(self, operations: list[Operation]) -> None:
        pairs: set[tuple[type[BaseModel], str]] = set()
        for op in operations:
            if (model := _model_of(op.response)) is not None:
                pairs.add((model, "serialization"))
            if (model := _model_of(op.body)) is not None:
                pairs.add((model, "validation"))
        ordered = sorted(pairs, key=lambda p: (p[0].__name__, p[1]))
        self.refs, defs = models_json_schema(ordered, by_alias=True, ref_template=_REF)
        self.components: dict[str, Any] = dict(defs.get("$defs", {}))
        for name, make in _STUBS.items():
            keys = list(make())
            self.components[name] = {
                "type": "object",
                "description": f"Nomad's {name}",
                "properties": {k: {} for k in keys},
            }

    def schema(self, spec: Any, mode: str) -> dict[str, Any] | None:
        if spec is None:
            return None
        if isinstance(spec, dict):
            return spec
        if typing.get_origin(spec) is list:
            (item,) = typing.get_args(spec)
            inner = self.schema(item, mode)
            return {"type": "array", "items": inner if inner is not None else {}}
        if typing.get_origin(spec) in (typing.Union, types.UnionType):
            # ``Model | None``: the object, or ``null`` when there is none.
            return {
                "anyOf": [
                    {"type": "null"} if arg is type(None) else self.schema(arg, mode)
                    for arg in typing.get_args(spec)
                ]
            }
        model = _model_of(spec)
        if model is not None:
            return self.refs[(model, mode)]
        return {}


def _parameters(route: Route, op: Operation, region: str) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{(\w+)", route.path)
    ]
    names: list[str] = list(READ_PARAMS if op.method == "GET" else ("region", "namespace"))
    if op.blocking:
        names += BLOCKING_PARAMS
    if op.list_params:
        names += LIST_PARAMS
    names += [p for p in op.params if p not in names]
    for name in names:
        schema, description = PARAMS.get(name, ({"type": "string"}, ""))
        if name == "region":
            # One region per agent until federation: any other region is Nomad's 500.
            schema = {"type": "string", "enum": ["", region]}
            description = "Region to query (empty: the agent's region)."
        entry = {"name": name, "in": "query", "required": False, "schema": schema}
        if description:
            entry["description"] = description
        params.append(entry)
    return params


def build_document(mounted: list[Route], version: str, region: str = "global") -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``mounted`` routes served by an agent of ``region``."""
    schemas = _Schemas([op for r in mounted for op in r.operations.values()])
    paths: dict[str, Any] = {}
    for route in mounted:
        item = paths.setdefault(route.openapi_path, {})
        for method, op in route.operations.items():
            ok: dict[str, Any] = {"description": "Success."}
            schema = schemas.schema(op.response, "serialization")
            ok["content"] = {op.content_type: {"schema": schema if schema is not None else {}}}
            operation: dict[str, Any] = {
                "tags": [route.tag],
                "summary": op.summary,
                "operationId": f"{op.handler.__name__}_{method.lower()}",
                "parameters": _parameters(route, op, region),
                "responses": {
                    "200": ok,
                    **{code: {"description": text} for code, text in _ERRORS.items()},
                },
            }
            body = schemas.schema(op.body, "validation")
            if body is not None:
                # Go decodes a JSON ``null`` body into the empty request, as caravan does.
                operation["requestBody"] = {
                    "required": not op.body_optional,
                    "content": {
                        "application/json": {"schema": {"anyOf": [body, {"type": "null"}]}}
                    },
                }
            item[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "caravan HTTP API (Nomad-compatible v1)",
            "version": version,
        },
        "paths": paths,
        "components": {"schemas": schemas.components},
    }


@routes.get("/v1/openapi.json", response={"type": "object"})
async def openapi_document(request: web.Request) -> web.StreamResponse:
    """This API's OpenAPI 3.1 document."""
    agent = request.app[AGENT]
    doc = build_document(request.app[ROUTES], agent.version, agent.region)
    return web.Response(body=encode(request, doc), content_type="application/json")
