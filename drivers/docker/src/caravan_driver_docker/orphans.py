"""Finding and removing containers a client started but no longer knows about.

After a crash, or when the servers replaced an allocation while the client was down, a
container can outlive the allocation it ran for. Every container the driver creates is
labelled with the node's id and the allocation's id, so the client can sweep them.
"""

from __future__ import annotations

import docker
from docker.errors import APIError, NotFound

from .spec import LABEL_ALLOC_ID, LABEL_NODE_ID


def remove_orphan_containers(
    client: docker.DockerClient, node_id: str, known_alloc_ids: set[str]
) -> list[str]:
    """Remove (forcibly) containers of ``node_id`` whose allocation is not known. Blocking.

    :returns: the names of the containers removed, sorted.
    :raises docker.errors.DockerException: dockerd does not answer.
    """
    removed = []
    for container in client.containers.list(
        all=True, filters={"label": f"{LABEL_NODE_ID}={node_id}"}
    ):
        alloc_id = container.labels.get(LABEL_ALLOC_ID, "")
        if alloc_id in known_alloc_ids:
            continue
        try:
            container.remove(force=True, v=True)
        except NotFound:
            continue
        except APIError as exc:
            # 409: another sweep or destroy is already removing it.
            if exc.status_code != 409:
                raise
        removed.append(container.name)
    return sorted(removed)
