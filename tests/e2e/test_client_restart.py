"""``kill -9`` of a client agent running one task per driver (raw_exec, exec, java, docker),
then the same agent started again on the same data dir: it reattaches to every task.

The same processes and the same container keep running, no task records a restart (or any
new event), the allocations never leave ``running`` on the servers, and each task's output
keeps growing in the same log file — the docker task's copied line by line without a gap
or a duplicate across the restart.

Tasks that end while the agent is dead (exec, through its executor; docker, through the
container's state) are reported with their real exit code once it is back, go through the
restart policy, and the restart count they reach survives the next ``kill -9``.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import docker
import pytest

from caravan_plugins.process import PROC, is_same_process, read_stat
from caravan_plugins.testing.images import BUSYBOX_TAG, ensure_busybox_image

from .cluster import Cluster, cluster_in

pytestmark = pytest.mark.integration

#: Every task prints ``line <n>`` every 200 ms, counting from 0.
TICKER_SH = "i=0; while :; do echo line $i; i=$((i+1)); sleep 0.2; done"
TICKER_JAVA = """
public class Ticker {
    public static void main(String[] args) throws Exception {
        for (long i = 0; ; i++) {
            System.out.println("line " + i);
            System.out.flush();
            Thread.sleep(200);
        }
    }
}
"""
LINE = re.compile(rb"line (\d+)\n")
DRIVERS = ("raw_exec", "exec", "java", "docker")


@pytest.fixture(scope="module")
def ticker_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ticker.jar`` (Main-Class: Ticker), compiled here with javac."""
    build = tmp_path_factory.mktemp("javac")
    (build / "Ticker.java").write_text(TICKER_JAVA)
    subprocess.run(["javac", "Ticker.java"], cwd=build, check=True, capture_output=True)
    subprocess.run(["jar", "cfe", "ticker.jar", "Ticker", "Ticker.class"], cwd=build, check=True)
    return build / "ticker.jar"


@pytest.fixture(scope="module")
def busybox(docker_client: docker.DockerClient) -> str:
    ensure_busybox_image(BUSYBOX_TAG, client=docker_client)
    return BUSYBOX_TAG


def job_hcl(jar: Path, image: str) -> str:
    """One group per driver, each running the ticker."""
    shell = f'command = "/bin/sh"\n      args = ["-c", "{TICKER_SH}"]'
    tasks = {
        "raw_exec": f"config {{\n      {shell}\n    }}",
        "exec": f"config {{\n      {shell}\n    }}",
        "docker": f'config {{\n      image = "{image}"\n      {shell}\n    }}',
        "java": (
            f'artifact {{\n      source = "file://{jar}"\n    }}\n'
            '    config {\n      jar_path = "local/ticker.jar"\n'
            '      jvm_options = ["-Xmx32m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]\n'
            "    }"
        ),
    }
    groups = "".join(
        f'  group "{driver}" {{\n'
        f'    task "ticker" {{\n'
        f'    driver = "{driver}"\n'
        f"    {body}\n"
        f"    resources {{\n      cpu = 100\n      memory = 256\n    }}\n"
        "    }\n  }\n"
        for driver, body in tasks.items()
    )
    return f'job "survivors" {{\n  datacenters = ["dc1"]\n{groups}}}\n'


def lines_of(path: Path) -> list[int]:
    """The counters printed so far (complete lines only)."""
    return [int(n) for n in LINE.findall(path.read_bytes())]


def task_processes(alloc_id: str) -> set[tuple[int, int, str]]:
    """``(pid, start time, command)`` of the allocation's long-lived processes, found in
    ``/proc`` by the ``NOMAD_ALLOC_ID`` in their environment (containers' processes
    included); the tickers' short ``sleep 0.2`` children are left out."""
    marker = f"NOMAD_ALLOC_ID={alloc_id}".encode()
    found = set()
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        stat = read_stat(int(entry.name))
        if marker in environ and argv[0] != b"sleep" and stat is not None and stat.alive:
            found.add((stat.pid, stat.start_time, argv[0].decode(errors="replace")))
    return found


def event_types(alloc: dict[str, Any]) -> list[str]:
    return [e["Type"] for e in alloc["TaskStates"]["ticker"]["Events"]]


async def test_kill_9_of_a_client_keeps_every_driver_task_running(
    tmp_path: Path, docker_client: docker.DockerClient, busybox: str, ticker_jar: Path
) -> None:
    async with cluster_in(tmp_path) as cluster:
        await cluster.start_server()
        client = await cluster.start_client(
            "client", {"raw_exec": "    enabled = true", "exec": "", "java": "", "docker": ""}
        )
        await cluster.run_job(job_hcl(ticker_jar, busybox))
        before = await all_running(cluster)
        by_driver = {a["TaskGroup"]: a for a in before}
        by_id = {a["ID"]: a for a in before}
        logs = {d: client.alloc_log(by_driver[d]["ID"], "ticker") for d in DRIVERS}
        await cluster.eventually(
            lambda: all(len(lines_of(p)) >= 3 for p in logs.values()),
            30,
            "every task printed three lines",
        )
        handles = client.handles()
        assert len(handles) == 4
        pids = {d: handles[(by_driver[d]["ID"], "ticker")] for d in DRIVERS if d != "docker"}
        container_id = handles[(by_driver["docker"]["ID"], "ticker")]["container_id"]
        events = {a["ID"]: event_types(a) for a in before}
        processes = {a["ID"]: task_processes(a["ID"]) for a in before}
        assert all(processes.values()), processes

        client.kill9()
        at_kill = {d: len(lines_of(p)) for d, p in logs.items()}
        await asyncio.sleep(1.0)
        # Processes write straight into their files: output does not wait for the agent.
        for driver in ("raw_exec", "exec", "java"):
            assert len(lines_of(logs[driver])) > at_kill[driver], driver

        # The servers heard nothing for a second, well within the node's heartbeat TTL.
        assert all(a["ClientStatus"] == "running" for a in await cluster.allocations("survivors"))
        started = client.start()
        await cluster.eventually(
            lambda: "client started: node" in client.current_log(),
            60,
            "the client agent started again",
        )
        recovered_in = time.monotonic() - started
        docker_lines = len(lines_of(logs["docker"]))
        await cluster.eventually(
            lambda: len(lines_of(logs["docker"])) > docker_lines,
            30,
            "the docker task's log grows again",
        )
        resumed_in = time.monotonic() - started
        print(
            f"\nclient recovery: agent up with 4 tasks reattached in {recovered_in:.2f}s, "
            f"docker log copying resumed {resumed_in:.2f}s after the restart"
        )
        counts = {d: len(lines_of(p)) for d, p in logs.items()}
        await asyncio.sleep(2.0)

        after = await all_running(cluster)
        assert {a["ID"] for a in after} == set(events), "no allocation was added or replaced"
        for alloc in after:
            types = event_types(alloc)
            assert "Restarting" not in types and "Terminated" not in types, types
            assert types == events[alloc["ID"]], alloc["TaskGroup"]
        assert client.handles() == handles
        for driver, state in pids.items():
            assert is_same_process(int(state["pid"]), int(state["start_time"])), driver
        for alloc_id, known in processes.items():
            assert task_processes(alloc_id) == known, by_id[alloc_id]["TaskGroup"]
        container = docker_client.containers.get(container_id)
        assert container.status == "running"
        node_label = f"com.hashicorp.nomad.node_id={client.node_id()}"
        assert [c.id for c in docker_client.containers.list(filters={"label": node_label})] == [
            container_id
        ]
        for driver, path in logs.items():
            printed = lines_of(path)
            assert len(printed) > counts[driver], f"{driver}: the log stopped growing"
            assert printed == list(range(len(printed))), f"{driver}: lines lost or repeated"

        # The reattached tasks are fully managed again: stopping the job stops all four.
        await cluster.request("DELETE", "/v1/job/survivors")

        async def all_complete() -> bool:
            allocs = await cluster.allocations("survivors")
            return all(a["ClientStatus"] == "complete" for a in allocs)

        await cluster.eventually(all_complete, 60, "every allocation complete after the stop")
        for driver, state in pids.items():
            assert not is_same_process(int(state["pid"]), int(state["start_time"])), driver
        for alloc_id in processes:
            assert task_processes(alloc_id) == set(), by_id[alloc_id]["TaskGroup"]
        await cluster.eventually(
            lambda: not docker_client.containers.list(all=True, filters={"id": container_id}),
            30,
            "the container is removed",
        )


#: Waits for ``/local/exit`` to appear, removes it, and exits 3.
EXITS_ON_CUE = "while [ ! -e /local/exit ]; do sleep 0.1; done; rm /local/exit; exit 3"
ON_CUE = ("exec", "docker")


def on_cue_hcl(image: str) -> str:
    """One group per driver in :data:`ON_CUE`, each running :data:`EXITS_ON_CUE` and
    restarted after a second, twice at most."""
    shell = f'command = "/bin/sh"\n      args = ["-c", "{EXITS_ON_CUE}"]'
    images = {"exec": "", "docker": f'image = "{image}"\n      '}
    groups = "".join(
        f'  group "{driver}" {{\n'
        '    restart {\n      attempts = 2\n      delay = "1s"\n'
        '      interval = "30m"\n      mode = "fail"\n    }\n'
        f'    task "ticker" {{\n    driver = "{driver}"\n'
        # root, so the task can remove the cue the test (root) made.
        '    user = "root"\n'
        f"    config {{\n      {images[driver]}{shell}\n    }}\n"
        "    resources {\n      cpu = 100\n      memory = 64\n    }\n"
        "    }\n  }\n"
        for driver in ON_CUE
    )
    return f'job "on-cue" {{\n  datacenters = ["dc1"]\n{groups}}}\n'


async def test_exit_while_the_client_is_dead_is_reported_and_restarted(
    tmp_path: Path, docker_client: docker.DockerClient, busybox: str
) -> None:
    async with cluster_in(tmp_path) as cluster:
        await cluster.start_server()
        client = await cluster.start_client("client", {"exec": "", "docker": ""})
        await cluster.run_job(on_cue_hcl(busybox))

        async def started(restarts: int) -> list[dict[str, Any]]:
            allocs = await cluster.allocations("on-cue")
            ready = [
                a
                for a in allocs
                if a["TaskStates"]["ticker"]["State"] == "running"
                and a["TaskStates"]["ticker"]["Restarts"] == restarts
                and event_types(a)[-1] == "Started"
            ]
            return ready if len(ready) == len(ON_CUE) == len(allocs) else []

        first = await cluster.eventually(lambda: started(0), 90, "both tasks running")
        cues = {
            a["TaskGroup"]: client.alloc_log(a["ID"], "ticker").parents[2] / "ticker" / "local"
            for a in first
        }
        handles = client.handles()
        executor = next(h for h in handles.values() if "pid" in h)
        container_id = next(h for h in handles.values() if "container_id" in h)["container_id"]

        client.kill9()
        for local in cues.values():
            (local / "exit").touch()
        await cluster.eventually(
            lambda: not is_same_process(int(executor["pid"]), int(executor["start_time"])),
            30,
            "the exec task ended",
        )
        await asyncio.to_thread(docker_client.api.wait, container_id, 30)

        client.start()
        after = await cluster.eventually(lambda: started(1), 60, "both tasks restarted once")
        for alloc in after:
            state = alloc["TaskStates"]["ticker"]
            types = event_types(alloc)
            assert types[-3:] == ["Terminated", "Restarting", "Started"], alloc["TaskGroup"]
            assert "Failed Restoring Task" not in types, alloc["TaskGroup"]
            assert state["Events"][-3]["ExitCode"] == 3, alloc["TaskGroup"]
            assert state["LastRestart"], alloc["TaskGroup"]

        # The count the restart policy reached survives the next kill -9 too.
        client.kill9()
        client.start()
        await cluster.eventually(
            lambda: "client started: node" in client.current_log(), 60, "the client is back"
        )
        again = await cluster.eventually(lambda: started(1), 30, "still one restart each")
        assert [event_types(a) for a in again] == [event_types(a) for a in after]
        await cluster.request("DELETE", "/v1/job/on-cue")


async def all_running(cluster: Cluster) -> list[dict[str, Any]]:
    """The four allocations, once each is ``running`` with its task started."""

    async def check() -> list[dict[str, Any]]:
        allocs = await cluster.allocations("survivors")
        ready = [
            a
            for a in allocs
            if a["ClientStatus"] == "running"
            and a["TaskStates"]["ticker"]["State"] == "running"
            and "Started" in event_types(a)
        ]
        return ready if len(ready) == len(DRIVERS) == len(allocs) else []

    return await cluster.eventually(check, 90, "four allocations running, one per driver")
