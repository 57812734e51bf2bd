"""A docker task's ``config {}`` block, with Nomad's names and defaults.

::

    task "redis" {
      driver = "docker"
      config {
        image = "redis:7"
        ports = ["db"]
        labels {
          group = "webservice-cache"
        }
        mount {
          type   = "bind"
          source = "local/redis.conf"
          target = "/etc/redis.conf"
        }
      }
    }

Only ``image`` is required. ``port_map``, ``labels``, ``sysctl``, ``ulimit`` and
``logging.config`` also accept the list-of-one-map shape older job files carry.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from caravan_plugins import parse_duration
from caravan_plugins.capabilities import Capability

from .hcl import IntMap, SingleBlock, StrMap

Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Auth(_Block):
    """``auth {}``: credentials for the image's registry."""

    username: str = ""
    password: str = ""
    email: str = ""
    server_address: str = ""


class Device(_Block):
    """One ``devices`` entry: a host device exposed in the container."""

    host_path: str = Field(min_length=1)
    container_path: str = ""
    cgroup_permissions: str = Field(default="rwm", pattern=r"^[rwm]{1,3}$")


class Healthchecks(_Block):
    """``healthchecks {}``: ``disable = true`` turns off the image's HEALTHCHECK."""

    disable: bool = False


class Logging(_Block):
    """``logging {}``: the container's Docker log driver and its options."""

    type: str = ""
    driver: str = ""
    config: StrMap = Field(default_factory=dict)


class BindOptions(_Block):
    """``bind_options {}`` of a bind mount."""

    propagation: Literal["", "rprivate", "private", "rshared", "shared", "rslave", "slave"] = ""


class TmpfsOptions(_Block):
    """``tmpfs_options {}``: size in bytes and octal-as-integer mode of a tmpfs mount."""

    size: int = Field(default=0, ge=0)
    mode: int = Field(default=0, ge=0)


class VolumeDriverConfig(_Block):
    """``driver_config {}`` of a volume mount: the volume driver and its options."""

    name: str = ""
    options: StrMap = Field(default_factory=dict)


class VolumeOptions(_Block):
    """``volume_options {}`` of a volume mount."""

    no_copy: bool = False
    labels: StrMap = Field(default_factory=dict)
    driver_config: Annotated[VolumeDriverConfig | None, SingleBlock] = None


class Mount(_Block):
    """One ``mount {}`` block: a volume, bind or tmpfs mount in the container."""

    type: Literal["volume", "bind", "tmpfs"] = "volume"
    target: str = ""
    source: str = ""
    readonly: bool = False
    bind_options: Annotated[BindOptions | None, SingleBlock] = None
    tmpfs_options: Annotated[TmpfsOptions | None, SingleBlock] = None
    volume_options: Annotated[VolumeOptions | None, SingleBlock] = None


class DockerTaskConfig(BaseModel):
    """The ``config {}`` block of a ``driver = "docker"`` task.

    Field names are Nomad's; see its docker driver documentation for each one. Durations
    (``image_pull_timeout``) are Go duration strings, kept in seconds.
    """

    model_config = ConfigDict(extra="forbid")

    image: str = Field(min_length=1)
    command: str = ""
    args: list[str] = Field(default_factory=list)
    entrypoint: list[str] = Field(default_factory=list)
    work_dir: str = ""
    hostname: str = ""

    ports: list[str] = Field(default_factory=list)
    port_map: IntMap = Field(default_factory=dict)
    network_mode: str = ""
    network_aliases: list[str] = Field(default_factory=list)
    ipv4_address: str = ""
    ipv6_address: str = ""
    advertise_ipv6_address: bool = False
    mac_address: str = ""
    dns_servers: list[str] = Field(default_factory=list)
    dns_search_domains: list[str] = Field(default_factory=list)
    dns_options: list[str] = Field(default_factory=list)
    extra_hosts: list[str] = Field(default_factory=list)

    volumes: list[str] = Field(default_factory=list)
    volume_driver: str = ""
    mount: list[Mount] = Field(default_factory=list)
    mounts: list[Mount] = Field(default_factory=list)
    devices: list[Device] = Field(default_factory=list)
    readonly_rootfs: bool = False
    storage_opt: StrMap = Field(default_factory=dict)
    shm_size: int = Field(default=0, ge=0)

    labels: StrMap = Field(default_factory=dict)
    auth: Annotated[Auth | None, SingleBlock] = None
    auth_soft_fail: bool = False
    force_pull: bool = False
    image_pull_timeout: Duration = 300.0
    load: str = ""

    privileged: bool = False
    cap_add: list[Capability] = Field(default_factory=list)
    cap_drop: list[Capability] = Field(default_factory=list)
    security_opt: list[str] = Field(default_factory=list)
    group_add: list[str] = Field(default_factory=list)
    userns_mode: str = ""
    pid_mode: str = ""
    ipc_mode: str = ""
    uts_mode: str = ""
    runtime: str = ""
    isolation: str = ""
    init: bool = False
    tty: bool = False
    interactive: bool = False

    cpu_hard_limit: bool = False
    cpu_cfs_period: int = Field(default=100000, ge=1000, le=1000000)
    cpuset_cpus: str = ""
    memory_hard_limit: int = Field(default=0, ge=0)
    pids_limit: int = Field(default=0, ge=0)
    ulimit: StrMap = Field(default_factory=dict)
    sysctl: StrMap = Field(default_factory=dict)

    logging: Annotated[Logging | None, SingleBlock] = None
    healthchecks: Annotated[Healthchecks | None, SingleBlock] = None
