"""One ``caravan agent`` process: plugins, server, client and HTTP API wired together.

:class:`Agent` builds, from an :class:`~caravan.agent.config.AgentConfig`:

- the plugin registry (every installed plugin, or exactly those the ``plugin`` blocks and
  ``-plugins`` name, each configured by its ``plugin "NAME" { config { ... } }`` block; see
  :mod:`caravan.agent.plugins`);
- when ``server.enabled``: the RPC listener, the region's Raft group and the
  :class:`~caravan.server.Server` on it;
- when ``client.enabled``: the client agent, calling the in-process server directly when both
  run here and the servers' RPC port otherwise;
- the HTTP API on ``bind_addr``:``ports.http``.

A part that cannot run (a module missing from this build, a port taken) is reported in
:attr:`Agent.unavailable` and in the banner, by name and reason; nothing pretends to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from caravan.state.gc_policy import tune_gc
from caravan.tlsutil.context import agent_contexts
from caravan.version import caravan_version
from caravan_plugins.loader import PluginRegistry

from .config import AgentConfig, effective_data_dir
from .plugins import build_registry, load_plugins, service_providers

log = logging.getLogger("caravan.agent")
#: Seconds the HTTP server gives open requests (blocking queries) before cancelling them.
SHUTDOWN_GRACE = 2.0


class Agent:
    """A running agent; use ``async with Agent(config):`` or :meth:`start`/:meth:`stop`.

    :param registry: the plugin registry to use; built from the config when ``None``.
    """

    def __init__(self, config: AgentConfig, *, registry: PluginRegistry | None = None) -> None:
        self.config = config
        self.registry = registry or build_registry(config)
        self.server: Any = None
        self.client: Any = None
        self.rpc: Any = None
        self.group: Any = None
        self.http_address = ""
        #: Parts that could not run: part name -> reason.
        self.unavailable: dict[str, str] = {}
        #: Whether :meth:`start` completed.
        self.started = False
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Agent:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ start-up

    async def start(self) -> None:
        """Start every enabled part, in dependency order (plugins, server, client, API).

        :raises OSError: a port is taken (the message names the address).
        :raises AgentConfigError: a plugin's ``config {}`` block is invalid.
        """
        load_plugins(self.registry, self.config)
        try:
            if self.config.server.enabled:
                await self._start_server()
            if self.config.client.enabled:
                await self._start_client()
            await self._start_http()
        except BaseException:
            await self.stop()
            raise
        # Everything loaded so far lives as long as the agent: keep the collector off it.
        tune_gc()
        self.started = True

    async def _start_server(self) -> None:
        from caravan.rpc.forwarding import LeaderForwarder
        from caravan.rpc.server import RPCServer
        from caravan.server import Server, ServerConfig
        from caravan.server.consensus import RaftGroup
        from caravan.server.state_hooks import StateChangeHooks
        from caravan.state import FSM, StateStore

        cfg = self.config
        _, rpc_tls, rpc_dial_tls = agent_contexts(cfg.tls, cfg.region)
        self.rpc = RPCServer(f"{cfg.bind_for('rpc')}:{cfg.ports.rpc}", ssl=rpc_tls)
        await self.rpc.start()
        self._stack.push_async_callback(self.rpc.stop)
        advertise = cfg.advertise_for("rpc")
        fsm = FSM(StateStore())
        self.group = RaftGroup(
            fsm,
            self.rpc,
            data_dir=effective_data_dir(cfg),
            bootstrap_expect=cfg.server.bootstrap_expect,
            join=cfg.server.join_addresses(),
            name=cfg.name,
            region=cfg.region,
            datacenter=cfg.datacenter,
            snapshot_threshold=cfg.server.raft_snapshot_threshold,
            snapshot_interval=cfg.server.raft_snapshot_interval,
            trailing_logs=cfg.server.raft_trailing_logs,
            ssl=rpc_dial_tls,
        )
        await self.group.start()
        self._stack.push_async_callback(self.group.stop)
        server_cfg = ServerConfig(
            region=cfg.region,
            datacenter=cfg.datacenter,
            name=cfg.name,
            rpc_address=self.rpc.address if self.rpc.port else advertise,
            heartbeat_grace=cfg.server.heartbeat_grace,
            min_heartbeat_ttl=cfg.server.min_heartbeat_ttl,
        )
        if cfg.server.num_schedulers is not None:
            server_cfg.num_schedulers = cfg.server.num_schedulers
        self.server = Server(
            server_cfg,
            self.group,
            fsm,
            forwarder=LeaderForwarder(self.group, ssl=rpc_dial_tls, faults=self.rpc.faults),
        )
        await self._stack.enter_async_context(self.server)
        # Hook plugins admit submitted jobs and observe committed state changes.
        self.server.plugins = self.registry.hooks
        await self._stack.enter_async_context(StateChangeHooks(self.server, self.registry.hooks))
        self.rpc.serve_endpoints(self.server)
        log.info("server started: RPC on %s, region %s", self.rpc.address, cfg.region)

    async def _start_client(self) -> None:
        try:
            from caravan.client import Client
            from caravan.client.config import ClientConfig
        except ImportError as err:
            self.unavailable["client"] = f"the client agent is not part of this build ({err})"
            log.error("client unavailable: %s", self.unavailable["client"])
            return
        cfg = self.config
        servers: Any = self.server
        if servers is None:
            from caravan.rpc.client import RPCClient

            servers = RPCClient(
                cfg.client.server_addresses(), ssl=agent_contexts(cfg.tls, cfg.region)[2]
            )
            self._stack.push_async_callback(servers.close)
        data_dir = cfg.data_dir or _temp_dir(self._stack)
        client_cfg = ClientConfig(
            data_dir=cfg.client.state_dir or data_dir,
            region=cfg.region,
            datacenter=cfg.datacenter,
            node_name=cfg.name,
            node_class=cfg.client.node_class,
            meta=cfg.client.meta,
            http_addr=f"{cfg.advertise_for('http')}",
            network_interface=cfg.client.network_interface,
            network_address="127.0.0.1" if cfg.dev_mode else "",
            reserved=cfg.client.reserved.model_dump(),
            service_providers=service_providers(cfg),
        )
        self.client = Client(
            client_cfg, servers, self.registry, servers=cfg.client.server_addresses()
        )
        await self._stack.enter_async_context(self.client)
        log.info("client started: node %s", self.client.node.id)

    async def _start_http(self) -> None:
        from aiohttp import web

        if self.server is None:
            self.unavailable["http"] = (
                "the HTTP API is served by server agents; this client-only agent "
                "serves none (point the CLI at a server)"
            )
            log.warning("HTTP API unavailable: %s", self.unavailable["http"])
            return
        try:
            from caravan.api import create_app
            from caravan.api.context import AgentInfo
            from caravan.api.plugins import PLUGINS, PluginSource
        except ImportError as err:
            self.unavailable["http"] = f"the HTTP API is not part of this build ({err})"
            log.error("HTTP API unavailable: %s", self.unavailable["http"])
            return

        cfg = self.config
        info = AgentInfo(
            region=cfg.region,
            datacenter=cfg.datacenter,
            node_name=cfg.name,
            bind_addr=cfg.bind_for("http"),
            http_port=cfg.ports.http,
            rpc_port=self.rpc.port if self.rpc else cfg.ports.rpc,
            serf_port=cfg.ports.serf,
            server_enabled=cfg.server.enabled,
            client_enabled=cfg.client.enabled and self.client is not None,
            servers=tuple([self.rpc.address] if self.rpc else cfg.client.server_addresses()),
            acl_enabled=cfg.acl.enabled,
        )
        client_api = None
        if self.client is not None:
            from caravan.client.fs import ClientFS

            client_api = ClientFS(self.client)
        app = create_app(
            self.server, client=client_api, agent_info=info, plugins=self.registry.hooks
        )
        node_id = self.client.node.id if self.client is not None else ""
        app[PLUGINS] = PluginSource(self.registry, node_id)
        # Blocking queries hold requests for minutes: cancel them on shutdown instead of waiting.
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_GRACE
        )
        await runner.setup()
        self._stack.push_async_callback(runner.cleanup)
        http_tls = agent_contexts(cfg.tls, cfg.region)[0]
        site = web.TCPSite(runner, cfg.bind_for("http"), cfg.ports.http, ssl_context=http_tls)
        await site.start()
        port = runner.addresses[0][1] if runner.addresses else cfg.ports.http
        self.http_address = f"{cfg.bind_for('http')}:{port}"
        log.info("HTTP API listening on %s", self.http_address)
        await self._start_consul_api()

    async def _start_consul_api(self) -> None:
        """Serve the catalog to Consul clients; a taken port disables it, not the agent."""
        from caravan.consul import create_consul_app, serve_consul

        cfg = self.config
        if cfg.ports.consul < 0 or self.server is None:
            return
        app = create_consul_app(
            self.server,
            datacenter=cfg.datacenter,
            node_name=cfg.name,
            node_id=self.client.node.id if self.client is not None else "",
            address=cfg.advertise_for("http").rpartition(":")[0] or "127.0.0.1",
        )
        try:
            runner = await serve_consul(app, cfg.bind_for("http"), cfg.ports.consul)
        except OSError as err:
            self.unavailable["consul"] = str(err)
            log.warning("%s; the Consul-compatible API is off", err)
            return
        self._stack.push_async_callback(runner.cleanup)
        log.info("Consul-compatible API listening on %s:%s", cfg.bind_for("http"), cfg.ports.consul)

    # ------------------------------------------------------------------ shutdown

    async def stop(self) -> None:
        """Stop every part in reverse order. A client leaves its tasks running (as Nomad's
        does), so a restarted agent reattaches to them."""
        await self._stack.aclose()

    async def run_until(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set (by a signal handler), then shut down."""
        await stop.wait()
        log.info("caught signal, shutting down")
        await self.stop()

    # ------------------------------------------------------------------ banner

    def banner(self) -> str:
        """Nomad's start-up banner: the configuration summary printed before the logs."""
        cfg = self.config
        http = self.http_address or f"{cfg.bind_for('http')}:{cfg.ports.http}"
        rpc = self.rpc.address if self.rpc else f"{cfg.bind_for('rpc')}:{cfg.ports.rpc}"
        serf = f"{cfg.bind_for('serf')}:{cfg.ports.serf}"
        adv_http = cfg.advertise.http or http
        adv_rpc = cfg.advertise.rpc or rpc
        node_id = self.client.node.id if self.client is not None else ""
        rows = [
            ("Advertise Addrs", f"HTTP: {adv_http}; RPC: {adv_rpc}; Serf: {serf}"),
            ("Bind Addrs", f"HTTP: {http}; RPC: {rpc}; Serf: {serf}"),
            ("Client", _part(cfg.client.enabled, self.unavailable.get("client"))),
            ("Log Level", cfg.log_level.upper()),
            ("Node Id", node_id or "<none>"),
            ("Region", f"{cfg.region} (DC: {cfg.datacenter})"),
            ("Server", _part(cfg.server.enabled, self.unavailable.get("server"))),
            ("Version", caravan_version()),
        ]
        if "http" in self.unavailable:
            rows.insert(0, ("HTTP API", f"unavailable: {self.unavailable['http']}"))
        width = max(len(k) for k, _ in rows)
        lines = [
            "==> Loaded configuration from " + ", ".join(cfg.files)
            if cfg.files
            else "==> No configuration files loaded",
            "==> Starting Caravan agent...",
            "==> Caravan agent configuration:",
            "",
        ]
        lines += [f"{k.rjust(width + 7)}: {v}" for k, v in rows]
        lines += ["", "==> Caravan agent started! Log data will stream in below:", ""]
        for note in cfg.notes:
            lines.insert(1, f"==> {note}")
        return "\n".join(lines)


def _part(enabled: bool, problem: str | None) -> str:
    if problem:
        return f"unavailable ({problem})"
    return str(enabled).lower()


def _temp_dir(stack: contextlib.AsyncExitStack) -> str:
    """A directory that lives as long as the agent (``-dev`` without ``-data-dir``)."""
    import tempfile

    tmp = tempfile.TemporaryDirectory(prefix="caravan-agent-")
    stack.callback(tmp.cleanup)
    return tmp.name
