"""The docker driver running real containers: ports, labels, logs across a recovery, limits,
refusals, orphans and the fingerprint."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any

import docker
import pytest
from caravan_driver_docker.driver import DockerDriver
from docker.errors import NotFound

from caravan_plugins import DriverError, PortMapping, TaskConfig, TaskHandle, TaskResources
from caravan_plugins.testing import TaskDirs
from caravan_plugins.testing.images import BOOTCAMP_TAG, BUSYBOX_TAG
from caravan_plugins.testing.ports import free_port

pytestmark = pytest.mark.integration
NODE_ID = "caravan-docker-tests"


class Runner:
    """Starts tasks on a driver and destroys whatever is left at teardown."""

    def __init__(self, make_dirs: Callable[..., TaskDirs], plugin: dict[str, Any]) -> None:
        self.make_dirs = make_dirs
        self.driver = self.new_driver(plugin)
        self.started: list[tuple[DockerDriver, str]] = []

    @staticmethod
    def new_driver(plugin: dict[str, Any] | None = None) -> DockerDriver:
        return DockerDriver.from_config(plugin or {})

    def task(self, config: dict[str, Any], **kwargs: Any) -> TaskConfig:
        ports = kwargs.pop("ports", {})
        task = self.make_dirs().task_config({"image": BUSYBOX_TAG, **config}, **kwargs)
        return task.model_copy(update={"ports": ports, "node_id": NODE_ID})

    async def start(self, task: TaskConfig) -> TaskHandle:
        handle = await self.driver.start_task(task)
        self.started.append((self.driver, task.id))
        return handle

    async def cleanup(self) -> None:
        for driver, task_id in self.started:
            with contextlib.suppress(DriverError):
                await driver.destroy_task(task_id, force=True)


@pytest.fixture
async def runner(
    tmp_task_dirs: Callable[..., TaskDirs], test_images: dict[str, str]
) -> AsyncIterator[Runner]:
    runner = Runner(tmp_task_dirs, {})
    try:
        yield runner
    finally:
        await runner.cleanup()


async def _http_get(url: str, patience: float = 10.0) -> str:
    deadline = asyncio.get_running_loop().time() + patience
    while True:
        try:
            return await asyncio.to_thread(
                lambda: urllib.request.urlopen(url, timeout=2).read().decode()
            )
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("style", ["port_map", "ports"])
async def test_bootcamp_serves_on_mapped_port(runner: Runner, style: str) -> None:
    port = free_port()
    if style == "port_map":
        config: dict[str, Any] = {"port_map": {"http": 8080}}
        ports = {"http": PortMapping(label="http", value=port)}
    else:
        config = {"ports": ["http"]}
        ports = {"http": PortMapping(label="http", value=port, to=8080)}
    task = runner.task({"image": BOOTCAMP_TAG, **config}, ports=ports)
    handle = await runner.start(task)
    body = await _http_get(f"http://127.0.0.1:{port}/")
    assert body.startswith("Hello Kubernetes bootcamp! | Running on: ")
    assert body.strip().endswith("| v=1")
    assert handle.driver_state["container_id"][:12] in body


async def test_labels_name_env_and_task_dirs(
    runner: Runner, docker_client: docker.DockerClient
) -> None:
    task = runner.task(
        {
            "command": "sh",
            "args": ["-c", 'cat /local/greeting; echo "$NOMAD_TASK_DIR $NOMAD_ALLOC_DIR"'],
            "labels": {"team": "web"},
        }
    )
    task.local_dir.joinpath("greeting").write_text("from the task dir\n")
    handle = await runner.start(task)
    assert (await runner.driver.wait_task(task.id)).successful
    container = docker_client.containers.get(handle.driver_state["container_id"])
    assert container.name == f"{task.name}-{task.alloc_id}"
    assert container.labels["team"] == "web"
    assert container.labels["com.hashicorp.nomad.alloc_id"] == task.alloc_id
    assert container.labels["com.hashicorp.nomad.task_name"] == task.name
    assert container.labels["com.hashicorp.nomad.node_id"] == NODE_ID
    await _until(lambda: "/local /alloc" in task.stdout_path.read_text())
    assert task.stdout_path.read_text() == "from the task dir\n/local /alloc\n"


async def test_logs_survive_recovery_without_loss_or_duplicates(runner: Runner) -> None:
    count = 150
    script = (
        f"i=0; while [ $i -lt {count} ]; do echo out $i; echo err $i >&2; "
        "i=$((i+1)); sleep 0.01; done"
    )
    task = runner.task({"command": "sh", "args": ["-c", script]})
    handle = await runner.start(task)
    await _until(lambda: task.stdout_path.exists() and "out 20\n" in task.stdout_path.read_text())
    # The client process goes away mid-stream; a new driver recovers the task.
    runner.driver.close()
    recovered = Runner.new_driver()
    await recovered.recover_task(TaskHandle.model_validate_json(handle.model_dump_json()))
    runner.started.append((recovered, task.id))
    assert (await asyncio.wait_for(recovered.wait_task(task.id), 20)).successful
    assert task.stdout_path.read_text() == "".join(f"out {i}\n" for i in range(count))
    assert task.stderr_path.read_text() == "".join(f"err {i}\n" for i in range(count))


async def test_container_that_exited_while_unwatched_reports_its_exit_code(
    runner: Runner, docker_client: docker.DockerClient
) -> None:
    task = runner.task({"command": "sh", "args": ["-c", "sleep 0.3; exit 5"]})
    handle = await runner.start(task)
    container_id = handle.driver_state["container_id"]
    # The client process goes away; the container ends before a new one recovers it.
    runner.driver.close()
    await asyncio.to_thread(docker_client.api.wait, container_id, 20)
    recovered = Runner.new_driver()
    await recovered.recover_task(TaskHandle.model_validate_json(handle.model_dump_json()))
    runner.started.append((recovered, task.id))
    result = await asyncio.wait_for(recovered.wait_task(task.id), 20)
    assert (result.exit_code, result.oom_killed) == (5, False)


async def test_stop_with_kill_signal_then_sigkill(runner: Runner) -> None:
    task = runner.task({"command": "sh", "args": ["-c", "trap 'exit 7' INT; sleep 60 & wait"]})
    await runner.start(task)
    await asyncio.sleep(0.2)
    await runner.driver.stop_task(task.id, timeout=5, signal="SIGINT")
    assert (await runner.driver.wait_task(task.id)).exit_code == 7


async def test_memory_limit_applied(runner: Runner, docker_client: docker.DockerClient) -> None:
    task = runner.task(
        {"command": "sleep", "args": ["60"], "memory_hard_limit": 96},
        resources=TaskResources(cpu=250, memory_mb=64),
    )
    handle = await runner.start(task)
    host = docker_client.api.inspect_container(handle.driver_state["container_id"])["HostConfig"]
    assert host["Memory"] == 96 * 1024 * 1024
    assert host["MemoryReservation"] == 64 * 1024 * 1024
    assert host["CpuShares"] == 250


async def test_oom_killed_reported(runner: Runner) -> None:
    # A shell variable of 64 MiB in a container limited to 16 MiB.
    script = "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo ${#x}"
    task = runner.task(
        {"command": "sh", "args": ["-c", script]}, resources=TaskResources(memory_mb=16)
    )
    await runner.start(task)
    result = await asyncio.wait_for(runner.driver.wait_task(task.id), 30)
    assert result.oom_killed and not result.successful


async def test_missing_image_fails_clearly(runner: Runner) -> None:
    task = runner.task({"image": "caravan-test/no-such-image:v9"})
    with pytest.raises(DriverError, match=r"Failed to pull `caravan-test/no-such-image:v9`: "):
        await runner.start(task)


async def test_privileged_refused_by_default(runner: Runner) -> None:
    with pytest.raises(DriverError, match="allow_privileged = true"):
        await runner.start(runner.task({"command": "true", "privileged": True}))


async def test_absolute_volume_needs_volumes_enabled(
    runner: Runner, docker_client: docker.DockerClient, tmp_path: Any
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "hello").write_text("host file\n")
    config = {"command": "cat", "args": ["/data/hello"], "volumes": [f"{shared}:/data:ro"]}
    with pytest.raises(DriverError, match="volumes are not enabled"):
        await runner.start(runner.task(config))
    runner.driver = Runner.new_driver({"volumes": {"enabled": True}})
    task = runner.task(config)
    await runner.start(task)
    assert (await runner.driver.wait_task(task.id)).successful
    await _until(lambda: task.stdout_path.read_text() == "host file\n")


async def test_exec_timeout_kills_the_command(runner: Runner) -> None:
    task = runner.task({"command": "sleep", "args": ["60"]})
    await runner.start(task)
    result = await runner.driver.exec_task(task.id, ["sleep", "30"], timeout=0.3)
    assert result.exit_result.err == "command timed out after 0.3s"


async def test_orphans_removed(runner: Runner, docker_client: docker.DockerClient) -> None:
    kept = runner.task({"command": "sleep", "args": ["60"]})
    lost = runner.task({"command": "sleep", "args": ["60"]})
    await runner.start(kept)
    lost_handle = await runner.start(lost)
    removed = await Runner.new_driver().remove_orphans(NODE_ID, {kept.alloc_id})
    assert removed == [f"{lost.name}-{lost.alloc_id}"]
    with pytest.raises(NotFound):
        docker_client.containers.get(lost_handle.driver_state["container_id"])
    assert (await runner.driver.inspect_task(kept.id)).state == "running"


async def test_fingerprint_attributes() -> None:
    fingerprint = await DockerDriver.from_config({"allow_privileged": True}).fingerprint()
    attributes = fingerprint.attributes
    assert fingerprint.health == "healthy"
    assert attributes["driver.docker"] == "1"
    assert attributes["driver.docker.version"].startswith("20.10")
    assert "runc" in attributes["driver.docker.runtimes"].split(",")
    assert attributes["driver.docker.os_type"] == "linux"
    assert attributes["driver.docker.bridge_ip"].count(".") == 3
    assert attributes["driver.docker.privileged.enabled"] == "1"


async def test_fingerprint_without_daemon(tmp_path: Any) -> None:
    missing = DockerDriver.from_config({"endpoint": f"unix://{tmp_path}/docker.sock"})
    fingerprint = await missing.fingerprint()
    assert fingerprint.health == "undetected"
    assert "docker.sock does not exist" in fingerprint.health_description
    silent = tmp_path / "silent.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(silent))
        fingerprint = await DockerDriver.from_config({"endpoint": f"unix://{silent}"}).fingerprint()
    assert fingerprint.health == "unhealthy"
    assert "does not answer" in fingerprint.health_description


async def _until(condition: Callable[[], bool], patience: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + patience
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.05)
