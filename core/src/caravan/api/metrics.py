"""Agent metrics: ``GET /v1/metrics`` as Nomad's JSON summary, or Prometheus text with
``format=prometheus``.

Gauges (names as in the JSON form; Prometheus replaces ``.`` with ``_``):
``nomad.state.{jobs,allocations,nodes,evaluations,deployments,services}`` (object counts),
``nomad.state.allocations.client_status`` (labelled by ``client_status``),
``nomad.state.nodes.status`` (labelled by ``status``), ``nomad.raft.applied_index``,
``nomad.runtime.rss_bytes`` (resident memory of the agent process), and, when the server
exposes ``broker_stats() -> dict[str, int]``, ``nomad.broker.<stat>``.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from caravan.api.context import SERVER
from caravan.api.errors import BadRequest
from caravan.api.query import encode
from caravan.api.routes import RouteTable
from caravan.process_memory import resident_bytes

routes = RouteTable("Metrics")

Gauge = tuple[str, float, dict[str, str]]


def gauges(server: Any) -> list[Gauge]:
    """The current gauges of the agent."""
    snap = server.state.snapshot()
    allocs = snap.allocs()
    nodes = snap.nodes()
    out: list[Gauge] = [
        ("nomad.state.jobs", len(snap.jobs()), {}),
        ("nomad.state.allocations", len(allocs), {}),
        ("nomad.state.nodes", len(nodes), {}),
        ("nomad.state.evaluations", len(snap.evals()), {}),
        ("nomad.state.deployments", len(snap.deployments()), {}),
        ("nomad.state.services", len(snap.service_registrations()), {}),
        ("nomad.raft.applied_index", snap.index, {}),
        ("nomad.runtime.rss_bytes", resident_bytes(), {}),
    ]
    for status, count in sorted(Counter(a.client_status for a in allocs).items()):
        out.append(("nomad.state.allocations.client_status", count, {"client_status": status}))
    for status, count in sorted(Counter(n.status for n in nodes).items()):
        out.append(("nomad.state.nodes.status", count, {"status": status}))
    broker_stats = getattr(server, "broker_stats", None)
    if callable(broker_stats):
        for name, value in sorted(broker_stats().items()):
            out.append((f"nomad.broker.{name}", value, {}))
    return out


def prometheus_text(points: list[Gauge]) -> str:
    """Prometheus' text exposition format (version 0.0.4) for ``points``."""
    lines: list[str] = []
    typed: set[str] = set()
    for name, value, labels in points:
        metric = name.replace(".", "_")
        if metric not in typed:
            typed.add(metric)
            lines.append(f"# HELP {metric} {name}")
            lines.append(f"# TYPE {metric} gauge")
        label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        lines.append(f"{metric}{{{label_text}}} {value}" if label_text else f"{metric} {value}")
    return "\n".join(lines) + "\n"


@routes.get(
    "/v1/metrics",
    response={"type": "object", "description": "MetricsSummary"},
    params=("format",),
)
async def agent_metrics(request: web.Request) -> web.StreamResponse:
    """The agent's gauges (JSON ``MetricsSummary``, or Prometheus text)."""
    fmt = request.query.get("format", "")
    points = gauges(request.app[SERVER])
    if fmt == "prometheus":
        return web.Response(
            text=prometheus_text(points), content_type="text/plain", charset="utf-8"
        )
    if fmt:
        raise BadRequest(f'Invalid metrics format {fmt!r}: only "prometheus" is supported')
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
    body = {
        "Timestamp": now,
        "Gauges": [{"Name": n, "Value": v, "Labels": labels} for n, v, labels in points],
        "Counters": [],
        "Samples": [],
        "Points": [],
    }
    return web.Response(body=encode(request, body), content_type="application/json")
