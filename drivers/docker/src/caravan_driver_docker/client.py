"""The connection to dockerd named by the plugin's ``endpoint`` (and ``tls {}``) config.

Every call through the docker SDK blocks, so the driver makes them in threads. The client
negotiates the API version with the daemon on first use (Docker 20.10 speaks 1.41, older
than the SDK's default), which is why building it needs a reachable daemon.
"""

from __future__ import annotations

from pathlib import Path

import docker
from docker.tls import TLSConfig

from .config import DockerConfig

# Each running task holds up to three long requests (wait and two log streams) at once;
# a larger pool keeps them from evicting the connections short calls reuse.
MAX_POOL_SIZE = 64
REQUEST_TIMEOUT = 60


def socket_path(endpoint: str) -> Path | None:
    """The unix socket ``endpoint`` points at, or ``None`` for ``tcp://`` endpoints."""
    for prefix in ("unix://", "unix:"):
        if endpoint.startswith(prefix):
            return Path(endpoint.removeprefix(prefix))
    return None


def open_client(config: DockerConfig) -> docker.DockerClient:
    """Connect to the daemon at ``config.endpoint`` and agree on an API version.

    Blocking: call it from a thread.

    :raises docker.errors.DockerException: the daemon does not answer.
    """
    tls: TLSConfig | bool = False
    if config.tls.cert or config.tls.ca:
        tls = TLSConfig(
            client_cert=(config.tls.cert, config.tls.key) if config.tls.cert else None,
            ca_cert=config.tls.ca or None,
            verify=bool(config.tls.ca),
        )
    return docker.DockerClient(
        base_url=config.endpoint,
        version="auto",
        timeout=REQUEST_TIMEOUT,
        tls=tls,
        max_pool_size=MAX_POOL_SIZE,
    )
