"""Making the task's image available: loaded from the task dir, found locally, or pulled.

Blocking (docker SDK calls): the driver runs :func:`ensure_image` in a thread. Failures are
:class:`DriverError` with Nomad's task-event wording, ``Failed to pull `image`: reason``.
"""

from __future__ import annotations

from typing import Any

import docker
from docker.errors import DockerException, ImageNotFound

from caravan_plugins import DriverError, TaskConfig

from .task_config import DockerTaskConfig


def ensure_image(client: docker.DockerClient, task: TaskConfig, config: DockerTaskConfig) -> str:
    """Return the id of ``config.image``, loading or pulling it first when needed.

    With ``load``, the image archive in the task directory is loaded first. Without
    ``force_pull``, an image present locally is used as is; otherwise it is pulled with
    the task's ``auth`` credentials.

    :raises DriverError: the archive cannot be loaded, or the image is neither present nor
        pullable (no registry, unknown image, bad credentials).
    """
    image = config.image
    if config.load:
        _load(client, task, config)
    if not config.force_pull:
        try:
            return client.images.get(image).id
        except ImageNotFound:
            pass
        except DockerException as exc:
            raise DriverError(f"Failed to pull `{image}`: {_reason(exc)}") from exc
    try:
        for message in client.api.pull(image, auth_config=_auth(config), stream=True, decode=True):
            if isinstance(message, dict) and message.get("error"):
                raise DriverError(f"Failed to pull `{image}`: {message['error']}")
        return client.images.get(image).id
    except DockerException as exc:
        raise DriverError(f"Failed to pull `{image}`: {_reason(exc)}") from exc


def _load(client: docker.DockerClient, task: TaskConfig, config: DockerTaskConfig) -> None:
    archive = (task.task_dir / config.load).resolve()
    if not archive.is_relative_to(task.task_dir.resolve()):
        raise DriverError(f"docker: load: {config.load!r} is outside the task directory")
    try:
        with archive.open("rb") as data:
            client.images.load(data.read())
    except OSError as exc:
        raise DriverError(f"docker: load: cannot read {archive}: {exc.strerror}") from exc
    except DockerException as exc:
        raise DriverError(f"docker: load: dockerd rejected {archive}: {_reason(exc)}") from exc


def _auth(config: DockerTaskConfig) -> dict[str, Any] | None:
    if config.auth is None:
        return None
    auth = {
        "username": config.auth.username,
        "password": config.auth.password,
        "email": config.auth.email,
        "serveraddress": config.auth.server_address,
    }
    return {key: value for key, value in auth.items() if value}


def _reason(exc: DockerException) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc)
