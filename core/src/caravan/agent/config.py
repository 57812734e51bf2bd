"""The agent's configuration: Nomad's agent HCL, merged from files, dev mode and flags.

Precedence, lowest first: built-in defaults, ``-dev`` defaults, each ``-config`` file or
directory in the order given (a directory contributes its ``*.hcl`` and ``*.json`` files in
name order), then command-line flags. Blocks merge key by key; a later scalar or list replaces
an earlier one; ``plugin "NAME"`` blocks merge by name.

The plugin set: with no ``plugin`` block and no ``-plugins``, every installed plugin loads
(the ``mock`` driver only in ``-dev``); as soon as any ``plugin "NAME"`` block or ``-plugins
a,b`` is given, exactly the plugins they name load (see :meth:`AgentConfig.plugin_set`).
``-dev`` enables ``raw_exec`` without naming it.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from caravan.acl.settings import ACL_SCHEMA, ACLSettings
from caravan.tlsutil.context import TLS_SCHEMA, TLSSettings

from .hcl import FREE_FORM, UNSUPPORTED, AgentConfigError, Labelled, convert, parse_config_text

_JOIN = {"retry_join": "list", "retry_max": "int", "retry_interval": "duration"}

SCHEMA: dict[str, Any] = {
    "region": "str",
    "datacenter": "str",
    "name": "str",
    "data_dir": "str",
    "bind_addr": "str",
    "log_level": "str",
    "log_json": "bool",
    "enable_debug": "bool",
    "ports": {"http": "int", "rpc": "int", "serf": "int", "consul": "int"},
    "addresses": {"http": "str", "rpc": "str", "serf": "str"},
    "advertise": {"http": "str", "rpc": "str", "serf": "str"},
    "server": {
        "enabled": "bool",
        "bootstrap_expect": "int",
        "data_dir": "str",
        "retry_join": "list",
        "server_join": _JOIN,
        "num_schedulers": "int",
        "heartbeat_grace": "duration",
        "min_heartbeat_ttl": "duration",
        "raft_snapshot_threshold": "int",
        "raft_snapshot_interval": "duration",
        "raft_trailing_logs": "int",
    },
    "client": {
        "enabled": "bool",
        "servers": "list",
        "server_join": _JOIN,
        "state_dir": "str",
        "alloc_dir": "str",
        "node_class": "str",
        "meta": "map",
        "options": "map",
        "network_interface": "str",
        "reserved": {"cpu": "int", "memory": "int", "disk": "int", "reserved_ports": "str"},
        "max_kill_timeout": "duration",
    },
    "plugin": Labelled({"config": FREE_FORM, "args": "list"}),
    "acl": ACL_SCHEMA,
    "tls": TLS_SCHEMA,
    "telemetry": UNSUPPORTED,
    "vault": UNSUPPORTED,
    "consul": UNSUPPORTED,
    "autopilot": UNSUPPORTED,
}


class Ports(BaseModel):
    http: int = 4646
    rpc: int = 4647
    serf: int = 4648
    #: caravan's Consul-compatible catalog API (a caravan extension; -1 turns it off).
    consul: int = 8500


class Addresses(BaseModel):
    """Per-protocol addresses (``addresses`` binds, ``advertise`` tells others)."""

    http: str = ""
    rpc: str = ""
    serf: str = ""


class ServerJoin(BaseModel):
    retry_join: list[str] = Field(default_factory=list)
    retry_max: int = 0
    retry_interval: float = 30.0


class ServerSettings(BaseModel):
    enabled: bool = False
    bootstrap_expect: int = 0
    data_dir: str = ""
    retry_join: list[str] = Field(default_factory=list)
    server_join: ServerJoin = Field(default_factory=ServerJoin)
    num_schedulers: int | None = None
    heartbeat_grace: float = 10.0
    min_heartbeat_ttl: float = 10.0
    #: Applied Raft entries past the last snapshot before the next one is taken ...
    raft_snapshot_threshold: int = 8192
    #: ... and seconds between two snapshots; entries kept in the log before a snapshot
    #: (hashicorp/raft's defaults, as Nomad's).
    raft_snapshot_interval: float = 120.0
    raft_trailing_logs: int = 10240

    def join_addresses(self) -> list[str]:
        """``retry_join`` and ``server_join.retry_join`` together, without duplicates."""
        return list(dict.fromkeys(self.retry_join + self.server_join.retry_join))


class Reserved(BaseModel):
    cpu: int = 0
    memory: int = 0
    disk: int = 0
    reserved_ports: str = ""


class ClientSettings(BaseModel):
    enabled: bool = False
    servers: list[str] = Field(default_factory=list)
    server_join: ServerJoin = Field(default_factory=ServerJoin)
    state_dir: str = ""
    alloc_dir: str = ""
    node_class: str = ""
    meta: dict[str, str] = Field(default_factory=dict)
    options: dict[str, str] = Field(default_factory=dict)
    network_interface: str = ""
    reserved: Reserved = Field(default_factory=Reserved)
    max_kill_timeout: float = 30.0

    def server_addresses(self) -> list[str]:
        """The servers to register with: ``servers`` then ``server_join.retry_join``; an
        address without a port gets the default RPC port 4647."""
        out = []
        for addr in self.servers + self.server_join.retry_join:
            out.append(addr if ":" in addr else f"{addr}:4647")
        return list(dict.fromkeys(out))


class PluginSettings(BaseModel):
    config: dict[str, Any] = Field(default_factory=dict)
    args: list[str] = Field(default_factory=list)


class AgentConfig(BaseModel):
    """Everything one ``caravan agent`` runs with; field names are the HCL keys."""

    region: str = "global"
    datacenter: str = "dc1"
    name: str = Field(default_factory=socket.gethostname)
    data_dir: str = ""
    bind_addr: str = "0.0.0.0"
    log_level: str = "INFO"
    log_json: bool = False
    enable_debug: bool = False
    ports: Ports = Field(default_factory=Ports)
    addresses: Addresses = Field(default_factory=Addresses)
    advertise: Addresses = Field(default_factory=Addresses)
    server: ServerSettings = Field(default_factory=ServerSettings)
    client: ClientSettings = Field(default_factory=ClientSettings)
    plugin: dict[str, PluginSettings] = Field(default_factory=dict)
    acl: ACLSettings = Field(default_factory=ACLSettings)
    tls: TLSSettings = Field(default_factory=TLSSettings)
    #: ``-plugins``: load only these (``None``: every installed plugin).
    load_plugins: list[str] | None = None
    dev_mode: bool = False
    #: The files read, in order (for the banner).
    files: list[str] = Field(default_factory=list)
    #: Blocks accepted but not supported yet, with where they were written.
    notes: list[str] = Field(default_factory=list)

    def bind_for(self, proto: str) -> str:
        """The address ``proto`` (``http``/``rpc``/``serf``) listens on."""
        return getattr(self.addresses, proto) or self.bind_addr

    def advertise_for(self, proto: str) -> str:
        """``host:port`` others should use for ``proto``: the ``advertise`` value, else the
        bind address (``0.0.0.0`` is advertised as this host's first address)."""
        port = getattr(self.ports, proto)
        value = getattr(self.advertise, proto)
        if value:
            return value if ":" in value else f"{value}:{port}"
        host = self.bind_for(proto)
        if host in ("0.0.0.0", "::", ""):
            host = _default_ip()
        return f"{host}:{port}"

    def plugin_configs(self) -> dict[str, dict[str, Any]]:
        """Each ``plugin "NAME" { config { ... } }`` block's config, by plugin name; in
        ``-dev`` under :data:`DEV_PLUGIN_CONFIGS` (the blocks win key by key)."""
        written = {name: p.config for name, p in self.plugin.items()}
        return merge(DEV_PLUGIN_CONFIGS, written) if self.dev_mode else written

    def plugin_set(self) -> set[str] | None:
        """The plugins this config names: every ``plugin`` block's label plus ``-plugins``;
        ``None`` when it names none (load every installed plugin). ``-dev``'s own defaults
        name nothing, so ``-dev`` alone still loads everything."""
        if self.load_plugins is None and not self.plugin:
            return None
        return set(self.load_plugins or ()) | set(self.plugin)


def _default_ip() -> str:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


#: ``-dev`` enables raw_exec, as Nomad's dev agent does, without restricting the plugin set.
DEV_PLUGIN_CONFIGS: dict[str, dict[str, Any]] = {"raw_exec": {"enabled": True}}


def dev_defaults() -> dict[str, Any]:
    """``-dev``: server and client in one process, loopback only, raw_exec enabled."""
    return {
        "bind_addr": "127.0.0.1",
        "log_level": "DEBUG",
        "server": {"enabled": True, "bootstrap_expect": 1},
        "client": {"enabled": True},
    }


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Merge ``over`` onto ``base``: dicts key by key, anything else replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def config_files(path: str) -> list[Path]:
    """The files ``-config PATH`` reads: the file itself, or a directory's ``*.hcl`` and
    ``*.json`` files in name order. Raises :class:`AgentConfigError` if it does not exist."""
    p = Path(path)
    if p.is_dir():
        return sorted(f for f in p.iterdir() if f.suffix in (".hcl", ".json") and f.is_file())
    if not p.exists():
        raise AgentConfigError(
            f"Error loading configuration from {path}: no such file or directory"
        )
    return [p]


def read_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """One config file as nested dicts plus its notes; JSON files use the same keys."""
    try:
        text = path.read_text()
    except OSError as err:
        raise AgentConfigError(f"Error loading configuration from {path}: {err.strerror}") from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise AgentConfigError(f"{path}:{err.lineno}: invalid JSON: {err.msg}") from None
        return _check_json(data, SCHEMA, str(path), ""), []
    return parse_config_text(text, str(path), SCHEMA)


def _check_json(data: Any, schema: dict[str, Any], filename: str, prefix: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise AgentConfigError(f'{filename}: "{prefix or "config"}" must be an object')
    out: dict[str, Any] = {}
    for key, value in data.items():
        kind = schema.get(key)
        full = prefix + key
        if kind is None:
            raise AgentConfigError(f'{filename}: unexpected key "{full}"')
        if kind == UNSUPPORTED:
            continue
        if isinstance(kind, Labelled):
            out[key] = {
                label: _check_json(body, kind.schema, filename, f"{full}.{label}.")
                for label, body in _object(value, filename, full).items()
            }
        elif isinstance(kind, dict):
            out[key] = _check_json(value, kind, filename, full + ".")
        elif kind == FREE_FORM:
            out[key] = _object(value, filename, full)
        else:
            try:
                out[key] = convert(value, kind)
            except ValueError as err:
                raise AgentConfigError(f'{filename}: invalid value for "{full}": {err}') from None
    return out


def _object(value: Any, filename: str, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AgentConfigError(f'{filename}: "{key}" must be an object')
    return value


def load_config(
    paths: list[str] | tuple[str, ...] = (),
    *,
    dev: bool = False,
    flags: dict[str, Any] | None = None,
) -> AgentConfig:
    """Build the agent's configuration from ``-dev``, ``-config`` paths and flag values.

    :param flags: already-parsed flag values shaped like the config (see
        :func:`caravan.cli.agent` for the mapping); ``None`` values are ignored.
    :raises AgentConfigError: a file is missing or invalid, or nothing is enabled.
    """
    values: dict[str, Any] = dev_defaults() if dev else {}
    files: list[str] = []
    notes: list[str] = []
    for path in paths:
        for file in config_files(path):
            data, file_notes = read_file(file)
            values = merge(values, data)
            files.append(str(file))
            notes.extend(file_notes)
    values = merge(values, _drop_none(flags or {}))
    config = AgentConfig.model_validate({**values, "dev_mode": dev, "files": files, "notes": notes})
    if not config.server.enabled and not config.client.enabled:
        raise AgentConfigError(
            "Must specify either server, client or dev mode for the agent "
            "(-server, -client, -dev, or server/client blocks with enabled = true)"
        )
    if config.server.enabled and config.server.bootstrap_expect == 0:
        config.server.bootstrap_expect = 1
    if config.server.raft_snapshot_threshold < 1:
        raise AgentConfigError(
            "server.raft_snapshot_threshold must be at least 1 "
            f"(got {config.server.raft_snapshot_threshold})"
        )
    if config.server.raft_snapshot_interval < 0:
        raise AgentConfigError("server.raft_snapshot_interval must not be negative")
    if config.server.raft_trailing_logs < 0:
        raise AgentConfigError("server.raft_trailing_logs must not be negative")
    if config.client.enabled and not config.server.enabled and not config.client.server_addresses():
        raise AgentConfigError(
            "client: no servers to register with; set client { servers = [...] } or -servers"
        )
    return config


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            inner = _drop_none(value)
            if inner:
                out[key] = inner
        elif value is not None:
            out[key] = value
    return out


def effective_data_dir(config: AgentConfig) -> str | None:
    """Where the server keeps its Raft log: ``server.data_dir``, else ``data_dir/server``;
    ``None`` (in memory) when neither is set, as in ``-dev``."""
    if config.server.data_dir:
        return config.server.data_dir
    if config.data_dir:
        return os.path.join(config.data_dir, "server")
    return None
