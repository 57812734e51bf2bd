"""The docker driver's agent config block, with Nomad's names and defaults.

::

    plugin "docker" {
      config {
        endpoint         = "unix:///var/run/docker.sock"
        allow_privileged = false
        volumes {
          enabled = true
        }
        gc {
          image       = true
          image_delay = "3m"
          container   = true
        }
        pull_activity_timeout = "2m"
      }
    }

The task's ``config {}`` block is :class:`~caravan_driver_docker.task_config.DockerTaskConfig`.
Durations are written as Go durations (``"3m"``, ``"90s"``) and kept in seconds.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from caravan_plugins import parse_duration
from caravan_plugins.capabilities import DEFAULT_ALLOW_CAPS, Capability

from .hcl import SingleBlock, StrMap
from .task_config import DockerTaskConfig

Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegistryAuth(_Block):
    """``auth {}``: where registry credentials come from when a task gives none.

    :ivar config: a docker ``config.json`` with credentials.
    :ivar helper: a ``docker-credential-<helper>`` program to ask.
    """

    config: str = ""
    helper: str = ""


class DaemonTLS(_Block):
    """``tls {}``: client certificates for a TLS-protected ``endpoint``."""

    cert: str = ""
    key: str = ""
    ca: str = ""


class Logging(_Block):
    """``logging {}``: the default log driver of task containers."""

    type: str = "json-file"
    config: StrMap = Field(default_factory=lambda: {"max-file": "2", "max-size": "2m"})


class DanglingContainers(_Block):
    """``gc { dangling_containers {} }``: removal of containers caravan lost track of."""

    enabled: bool = True
    dry_run: bool = False
    period: Duration = 300.0
    creation_grace: Duration = 300.0


class GarbageCollection(_Block):
    """``gc {}``: what the driver removes once no task uses it.

    :ivar image: remove images no task uses, after ``image_delay``.
    :ivar container: remove a task's container when the task is destroyed.
    """

    image: bool = True
    image_delay: Duration = 180.0
    container: bool = True
    dangling_containers: Annotated[DanglingContainers, SingleBlock] = Field(
        default_factory=DanglingContainers
    )


class Volumes(_Block):
    """``volumes {}``: whether tasks may mount host paths outside their allocation dir.

    :ivar enabled: allow ``volumes`` and bind ``mount`` of arbitrary host paths.
    :ivar selinuxlabel: the SELinux label added to every bind mount (``"z"``).
    """

    enabled: bool = False
    selinuxlabel: str = ""


class DockerConfig(BaseModel):
    """The ``plugin "docker" { config { ... } }`` block.

    :ivar endpoint: the Docker daemon's address.
    :ivar allow_privileged: allow tasks with ``privileged = true``.
    :ivar allow_caps: the capabilities tasks may keep or add.
    :ivar allow_runtimes: container runtimes tasks may pick with ``runtime``.
    :ivar pull_activity_timeout: cancel an image pull with no progress for this long.
    :ivar infra_image: the pause image holding a group's network namespace.
    :ivar extra_labels: extra container labels to add (``job_name``, ``task*``, ...).
    :ivar pids_limit: the most processes a task container may have (0: unlimited).
    :ivar disable_log_collection: leave task logs to Docker instead of the client.
    """

    model_config = ConfigDict(extra="forbid")

    endpoint: str = "unix:///var/run/docker.sock"
    auth: Annotated[RegistryAuth, SingleBlock] = Field(default_factory=RegistryAuth)
    tls: Annotated[DaemonTLS, SingleBlock] = Field(default_factory=DaemonTLS)
    logging: Annotated[Logging, SingleBlock] = Field(default_factory=Logging)
    gc: Annotated[GarbageCollection, SingleBlock] = Field(default_factory=GarbageCollection)
    volumes: Annotated[Volumes, SingleBlock] = Field(default_factory=Volumes)
    allow_privileged: bool = False
    allow_caps: list[Capability] = Field(default_factory=lambda: list(DEFAULT_ALLOW_CAPS))
    allow_runtimes: list[str] = Field(default_factory=lambda: ["runc", "nvidia"])
    nvidia_runtime: str = "nvidia"
    infra_image: str = "registry.k8s.io/pause-amd64:3.3"
    infra_image_pull_timeout: Duration = 300.0
    pull_activity_timeout: Duration = 120.0
    extra_labels: list[str] = Field(default_factory=list)
    pids_limit: int = Field(default=0, ge=0)
    disable_log_collection: bool = False


__all__ = ["DockerConfig", "DockerTaskConfig"]
