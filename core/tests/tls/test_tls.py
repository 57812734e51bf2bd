"""Mutual TLS on the HTTP API and RPC: only holders of a CA-signed certificate get in."""

from __future__ import annotations

import asyncio
import ssl
import urllib.error
import urllib.request

import pytest
from aiohttp import web

from caravan.rpc import RPCServer
from caravan.rpc.client import RPCConnection
from caravan.tlsutil import TLSError, TLSSettings, agent_contexts, client_context, server_context

from .conftest import PKI, Files


def _server(files: Files, require: bool = True) -> ssl.SSLContext:
    return server_context(files.ca, files.cert, files.key, require_client_cert=require)


def _client(files: Files, **kw: object) -> ssl.SSLContext:
    return client_context(files.ca, files.cert, files.key, **kw)  # type: ignore[arg-type]


async def _serve_http(ctx: ssl.SSLContext) -> tuple[web.AppRunner, int]:
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/v1/agent/health", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port


def _get(port: int, ctx: ssl.SSLContext) -> int:
    url = f"https://127.0.0.1:{port}/v1/agent/health"
    with urllib.request.urlopen(url, context=ctx, timeout=5) as resp:
        return resp.status


async def test_https_requires_a_client_certificate_from_the_ca(pki: PKI) -> None:
    runner, port = await _serve_http(_server(pki.server))
    try:
        assert await asyncio.to_thread(_get, port, _client(pki.cli)) == 200
        no_cert = client_context(pki.cli.ca)
        with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
            await asyncio.to_thread(_get, port, no_cert)
        with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
            await asyncio.to_thread(_get, port, _client(pki.rogue_server))
    finally:
        await runner.cleanup()


async def _rpc_call(address: str, ctx: ssl.SSLContext) -> object:
    conn = await RPCConnection.open(address, ssl=ctx, timeout=2.0)
    try:
        return await conn.call("Echo", {"Value": 7}, timeout=2.0)
    finally:
        conn.close()


async def test_rpc_refuses_peers_without_a_ca_signed_certificate(pki: PKI) -> None:
    rpc = RPCServer("127.0.0.1:0", ssl=_server(pki.server))

    async def echo(args: dict) -> dict:
        return args

    rpc.register("Echo", echo)
    await rpc.start()
    try:
        assert await _rpc_call(rpc.address, _client(pki.client)) == {"Value": 7}
        for ctx in (client_context(pki.client.ca), _client(pki.rogue_server)):
            with pytest.raises(
                (ssl.SSLError, ConnectionError, OSError, asyncio.IncompleteReadError)
            ):
                await _rpc_call(rpc.address, ctx)
        # With verify_server_hostname a client's certificate cannot pose as a server's.
        imposter = RPCServer("127.0.0.1:0", ssl=_server(pki.client))
        imposter.register("Echo", echo)
        await imposter.start()
        try:
            strict = _client(pki.server, verify_role="server")
            assert await _rpc_call(rpc.address, strict) == {"Value": 7}
            with pytest.raises(ssl.SSLError):
                await _rpc_call(imposter.address, strict)
        finally:
            await imposter.stop()
    finally:
        await rpc.stop()


def test_settings_need_every_file(pki: PKI) -> None:
    with pytest.raises(TLSError, match="cert_file is required"):
        agent_contexts(TLSSettings(rpc=True, ca_file=pki.server.ca), "global")
    http, rpc_server, rpc_client = agent_contexts(
        TLSSettings(
            http=True,
            rpc=True,
            ca_file=pki.server.ca,
            cert_file=pki.server.cert,
            key_file=pki.server.key,
            verify_https_client=True,
        ),
        "global",
    )
    assert http is not None and http.verify_mode == ssl.CERT_REQUIRED
    assert rpc_server is not None and rpc_client is not None
    with pytest.raises(TLSError, match="ca_file"):
        server_context(
            "/nonexistent/ca.pem", pki.server.cert, pki.server.key, require_client_cert=True
        )
