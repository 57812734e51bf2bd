"""Fixtures for the docker driver's tests: a real dockerd and locally built test images.

The integration tests need dockerd; when it does not answer they fail (never skip) and say
how to get one.
"""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest
from docker.errors import DockerException

from caravan_plugins.testing.images import (
    BOOTCAMP_TAG,
    BUSYBOX_TAG,
    bootcamp_image,
    ensure_busybox_image,
)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client of the local dockerd; fails the test when there is none."""
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as exc:
        pytest.fail(
            f"dockerd is not reachable ({exc}): run scripts/system-deps.sh (as root) to "
            "install and start it"
        )
    yield client
    client.close()


@pytest.fixture(scope="session")
def test_images(docker_client: docker.DockerClient) -> dict[str, str]:
    """Build the busybox and bootcamp test images once per session."""
    return {
        "busybox": ensure_busybox_image(BUSYBOX_TAG, client=docker_client),
        "bootcamp": bootcamp_image(BOOTCAMP_TAG, 1, client=docker_client),
    }
