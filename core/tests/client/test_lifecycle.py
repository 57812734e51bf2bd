"""Task lifecycle ordering, leader tasks and failing siblings (mock driver)."""

from __future__ import annotations

from typing import Any

from .conftest import eventually


def mock_task(name: str, hook: str = "", sidecar: bool = False, **config: Any) -> dict[str, Any]:
    task: dict[str, Any] = {"Name": name, "Driver": "mock", "Config": config}
    if hook:
        task["Lifecycle"] = {"Hook": hook, "Sidecar": sidecar}
    return task


def batch(job_id: str, *tasks: dict[str, Any], **group: Any) -> dict[str, Any]:
    return {
        "ID": job_id,
        "Type": "batch",
        "TaskGroups": [{"Name": "g", "Tasks": list(tasks), **group}],
    }


def finished(server, alloc_id: str, status: str) -> bool:
    alloc = server.allocs[alloc_id]
    states = (alloc.task_states or {}).values()
    return alloc.client_status == status and all(s.state == "dead" for s in states)


def first(server, alloc_id: str, task: str, kind: str) -> int:
    events = server.task_state(alloc_id, task).events
    return next(e.time for e in events if e.type == kind)


async def test_prestart_main_poststop_order(client, server) -> None:
    job = batch(
        "ordered",
        mock_task("init", "prestart", run_for="50ms"),
        mock_task("side", "prestart", sidecar=True),
        mock_task("main", run_for="100ms"),
        mock_task("post", "poststop", run_for="10ms"),
    )
    alloc = await server.place(job)
    await eventually(lambda: finished(server, alloc.id, "complete"))
    a = alloc.id
    assert first(server, a, "init", "Terminated") < first(server, a, "main", "Started")
    assert first(server, a, "side", "Started") < first(server, a, "main", "Started")
    assert first(server, a, "main", "Terminated") < first(server, a, "post", "Started")
    side = [e.type for e in server.task_state(a, "side").events]
    assert "Main Tasks Dead" in side and side[-1] == "Killed"
    states = server.allocs[a].task_states
    assert {n: (s.state, s.failed) for n, s in states.items()} == {
        "init": ("dead", False),
        "side": ("dead", False),
        "main": ("dead", False),
        "post": ("dead", False),
    }


async def test_poststart_waits_for_main_running(client, server) -> None:
    job = batch(
        "poststart",
        mock_task("main", run_for="100ms"),
        mock_task("after", "poststart", run_for="10ms"),
    )
    alloc = await server.place(job)
    await eventually(lambda: finished(server, alloc.id, "complete"))
    a = alloc.id
    assert first(server, a, "main", "Started") < first(server, a, "after", "Started")


async def test_leader_death_kills_the_others(client, server) -> None:
    leader = {**mock_task("boss", run_for="50ms"), "Leader": True}
    alloc = await server.place(batch("led", leader, mock_task("worker")))
    await eventually(lambda: finished(server, alloc.id, "complete"))
    worker = server.task_state(alloc.id, "worker").events
    assert [e.type for e in worker][-3:] == ["Leader Task Dead", "Terminated", "Killed"]
    assert worker[-3].display_message == "Leader Task in Group dead"


async def test_failed_task_kills_siblings(client, server) -> None:
    job = batch(
        "sib",
        mock_task("bad", run_for="20ms", exit_code=2),
        mock_task("good"),
        RestartPolicy={"Attempts": 0, "Mode": "fail"},
    )
    alloc = await server.place(job)
    await eventually(lambda: finished(server, alloc.id, "failed"))
    good = server.task_state(alloc.id, "good").events
    assert good[-3].type == "Sibling Task Failed"
    assert good[-3].display_message == 'Task\'s sibling "bad" failed'
    assert good[-1].type == "Killed"
    assert not server.task_state(alloc.id, "good").failed


async def test_failed_prestart_never_starts_main(client, server) -> None:
    job = batch(
        "nostart",
        mock_task("init", "prestart", run_for="10ms", exit_code=1),
        mock_task("main"),
        RestartPolicy={"Attempts": 0, "Mode": "fail"},
    )
    alloc = await server.place(job)
    await eventually(lambda: finished(server, alloc.id, "failed"))
    main = server.task_state(alloc.id, "main")
    assert main.state == "dead"
    assert [e.type for e in main.events] == ["Received"]


async def test_health_seam_records_all_running(client, server) -> None:
    job = batch("healthy", mock_task("a"), mock_task("b"))
    alloc = await server.place(job)
    runner = await eventually(lambda: client.allocs.get(alloc.id))
    await eventually(lambda: runner.healthy_since is not None)
    await runner.tasks["a"].kill()
    assert runner.healthy_since is None
