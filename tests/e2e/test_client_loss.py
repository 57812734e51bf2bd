"""Losing a client: a service job spread over two client agents; one is killed with
``kill -9``. Once its heartbeat TTL and the servers' grace have passed, its node is
``down``, its allocation ``lost``, and a replacement runs on the surviving node — all seen
through the HTTP API, as an operator would. When the killed client comes back, it stops the
task of its lost allocation, which ran on unattended meanwhile."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from caravan_plugins.process import is_same_process

from .cluster import cluster_in

pytestmark = pytest.mark.integration

#: Short liveness settings, so a dead client is noticed within seconds: the server marks
#: a node down at most twice the TTL plus the grace after its last heartbeat.
HEARTBEAT_GRACE = "2s"
MIN_HEARTBEAT_TTL = "2s"

JOB = """
job "pair" {
  datacenters = ["dc1"]
  group "web" {
    count = 2
    spread {
      attribute = "${node.unique.id}"
    }
    task "sleep" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["600"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"""


async def test_lost_client_is_marked_down_and_its_allocation_replaced(tmp_path: Path) -> None:
    async with cluster_in(tmp_path) as cluster:
        await cluster.start_server(
            heartbeat_grace=HEARTBEAT_GRACE, min_heartbeat_ttl=MIN_HEARTBEAT_TTL
        )
        raw_exec = {"raw_exec": "    enabled = true"}
        doomed = await cluster.start_client("doomed", raw_exec)
        survivor = await cluster.start_client("survivor", raw_exec)
        doomed_id, survivor_id = doomed.node_id(), survivor.node_id()
        await cluster.run_job(JOB)

        async def one_running_on_each() -> dict[str, dict[str, Any]]:
            running = [
                a for a in await cluster.allocations("pair") if a["ClientStatus"] == "running"
            ]
            by_node = {a["NodeID"]: a for a in running}
            return by_node if set(by_node) == {doomed_id, survivor_id} else {}

        placed = await cluster.eventually(one_running_on_each, 60, "one allocation per node")
        lost_id = placed[doomed_id]["ID"]

        doomed.kill9()
        killed_at = time.monotonic()

        async def node_down() -> bool:
            nodes = await cluster.nodes()
            return nodes[doomed_id]["Status"] == "down"

        await cluster.eventually(node_down, 30, "the killed client's node is down")
        down_after = time.monotonic() - killed_at

        async def replaced() -> list[dict[str, Any]]:
            allocs = {a["ID"]: a for a in await cluster.allocations("pair")}
            if allocs[lost_id]["ClientStatus"] != "lost":
                return []
            return [
                a
                for a in allocs.values()
                if a["NodeID"] == survivor_id
                and a["ClientStatus"] == "running"
                and a["ID"] != placed[survivor_id]["ID"]
            ]

        replacement = (await cluster.eventually(replaced, 30, "a replacement running"))[0]
        replaced_after = time.monotonic() - killed_at
        print(
            f"\nclient loss: node down {down_after:.1f}s after kill -9, "
            f"replacement running after {replaced_after:.1f}s"
        )

        lost = await cluster.get(f"/v1/allocation/{lost_id}")
        assert lost["DesiredStatus"] == "stop"
        assert replacement["PreviousAllocation"] == lost_id
        assert replacement["TaskStates"]["sleep"]["State"] == "running"
        nodes = await cluster.nodes()
        assert nodes[survivor_id]["Status"] == "ready"
        job = await cluster.get("/v1/job/pair/summary")
        assert job["Summary"]["web"]["Running"] == 2
        assert job["Summary"]["web"]["Lost"] == 1

        # The lost task kept running on the dead client's host; when that client comes
        # back it learns that its allocation was stopped and kills it.
        lost_task = doomed.handles()[(lost_id, "sleep")]
        assert is_same_process(int(lost_task["pid"]), int(lost_task["start_time"]))
        doomed.start()
        await cluster.node_ready(doomed)
        await cluster.eventually(
            lambda: not is_same_process(int(lost_task["pid"]), int(lost_task["start_time"])),
            30,
            "the returning client kills its lost task",
        )

        async def lost_one_stopped() -> list[tuple[str, str, str]]:
            allocs = await cluster.allocations("pair")
            statuses = [(a["ID"], a["NodeID"], a["ClientStatus"]) for a in allocs]
            running = sorted(node for _, node, status in statuses if status == "running")
            stopped = (lost_id, doomed_id, "complete") in statuses
            return statuses if stopped and running == [survivor_id, survivor_id] else []

        await cluster.eventually(
            lost_one_stopped, 30, "the lost allocation complete, two running on the survivor"
        )
