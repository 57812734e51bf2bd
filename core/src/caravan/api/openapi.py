"""``GET /v1/openapi.json``: an OpenAPI 3.1 document generated from the route table.

Every mounted route contributes its path, methods, parameters, request body and response
schema; object schemas come from the pydantic models (``model_json_schema(by_alias=True)``),
and list stubs from the keys the structs' ``stub()`` methods emit. The document is built
from the same table that serves requests, so it cannot drift from the API.
"""

from __future__ import annotations

import re
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

#: Schema and description of every query parameter the API knows.
PARAMS: dict[str, tuple[dict[str, Any], str]] = {
    "region": ({"type": "string"}, "Region to query (default: the agent's region)."),
    "namespace": ({"type": "string"}, "Namespace (default `default`; `*` lists all)."),
    "stale": ({"type": "string"}, "Allow any server to answer (Go boolean; empty means true)."),
    "index": ({"type": "integer", "minimum": 0}, "Block until the index is above this."),
    "wait": ({"type": "string"}, "Longest time to block (Go duration, default 5m, max 10m)."),
    "prefix": ({"type": "string"}, "Only objects whose ID starts with this."),
    "filter": ({"type": "string"}, "A go-bexpr filter on the full objects."),
    "per_page": ({"type": "integer", "minimum": 0}, "Page size."),
    "next_token": ({"type": "string"}, "Resume at this token (from X-Nomad-NextToken)."),
    "reverse": ({"type": "string"}, "List in reverse order (Go boolean)."),
}

_ERRORS = {
    "400": "Bad request (plain-text message).",
    "404": "Not found (plain-text message).",
    "405": "Invalid method.",
    "500": "Server error (plain-text message).",
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
        model = _model_of(spec)
        if model is not None:
            return self.refs[(model, mode)]
        return {}


def _parameters(route: Route, op: Operation) -> list[dict[str, Any]]:
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
        entry = {"name": name, "in": "query", "required": False, "schema": schema}
        if description:
            entry["description"] = description
        params.append(entry)
    return params


def build_document(mounted: list[Route], version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``mounted`` routes."""
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
                "parameters": _parameters(route, op),
                "responses": {
                    "200": ok,
                    **{code: {"description": text} for code, text in _ERRORS.items()},
                },
            }
            body = schemas.schema(op.body, "validation")
            if body is not None:
                operation["requestBody"] = {
                    "required": False,
                    "content": {"application/json": {"schema": body}},
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
    doc = build_document(request.app[ROUTES], request.app[AGENT].version)
    return web.Response(body=encode(request, doc), content_type="application/json")
