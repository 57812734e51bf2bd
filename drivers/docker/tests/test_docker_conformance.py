"""The docker driver against the task driver contract, on a real dockerd."""

from __future__ import annotations

from typing import Any

import docker
import pytest
from caravan_driver_docker.driver import DockerDriver
from docker.errors import NotFound

from caravan_plugins import TaskHandle
from caravan_plugins.testing import TaskDriverConformance
from caravan_plugins.testing.images import BUSYBOX_TAG as BUSYBOX

pytestmark = pytest.mark.integration


class TestDockerConformance(TaskDriverConformance):
    driver_class = DockerDriver
    # Let sh install its traps before a test signals it.
    startup_grace = 0.2

    @pytest.fixture(autouse=True)
    def _images(self, test_images: dict[str, str], docker_client: docker.DockerClient) -> None:
        self.docker_client = docker_client

    def config_sleep(self) -> dict[str, Any]:
        # sh is the container's pid 1, which ignores SIGTERM unless it handles it.
        return {
            "image": BUSYBOX,
            "command": "sh",
            "args": ["-c", "trap 'exit 0' TERM; sleep 60 & wait"],
        }

    def config_exit(self, code: int) -> dict[str, Any]:
        return {"image": BUSYBOX, "command": "sh", "args": ["-c", f"exit {code}"]}

    def config_print(self, text: str) -> dict[str, Any]:
        return {"image": BUSYBOX, "command": "echo", "args": [text]}

    def config_trap_sigterm(self) -> dict[str, Any]:
        return {"image": BUSYBOX, "command": "sh", "args": ["-c", "trap '' TERM; sleep 60"]}

    def leftovers(self, handle: TaskHandle) -> list[str]:
        container_id = handle.driver_state["container_id"]
        try:
            self.docker_client.containers.get(container_id)
        except NotFound:
            return []
        return [container_id]
