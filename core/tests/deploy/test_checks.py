"""Check runners against real TCP and HTTP(S) servers on 127.0.0.1, and script checks run
as real commands."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from caravan.client.checks import (
    CRITICAL,
    PASSING,
    WARNING,
    CheckRestartTracker,
    CheckRunner,
    http_probe,
    probe_for,
    script_probe,
    tcp_probe,
)
from caravan.structs.services import CheckRestart, ServiceCheck
from caravan_plugins.drivers import ExecResult, ExitResult
from caravan_plugins.testing.ports import free_port

SECOND = 1_000_000_000


@pytest.fixture
async def http_server() -> AsyncIterator[tuple[str, list[tuple[str, str]]]]:
    seen: list[tuple[str, str]] = []

    async def ok(request: web.Request) -> web.Response:
        seen.append((request.method, request.headers.get("X-Probe", "")))
        return web.Response(text="I am healthy")

    async def busy(request: web.Request) -> web.Response:
        return web.Response(status=429, text="slow down")

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.5)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_route("*", "/health", ok)
    app.router.add_get("/busy", busy)
    app.router.add_get("/broken", broken)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_tcp_check_passes_on_an_open_port_and_fails_on_a_closed_one() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        assert (await tcp_probe("127.0.0.1", port, 1.0)).status == PASSING
    closed = await tcp_probe("127.0.0.1", free_port(), 1.0)
    assert closed.status == CRITICAL and "dial tcp" in closed.output


async def test_http_check_statuses(http_server) -> None:
    base, seen = http_server
    ok = await http_probe(f"{base}/health", 1.0, "POST", {"X-Probe": ["caravan"]})
    assert ok.status == PASSING and "I am healthy" in ok.output
    assert seen == [("POST", "caravan")]
    assert (await http_probe(f"{base}/busy", 1.0)).status == WARNING
    assert (await http_probe(f"{base}/broken", 1.0)).status == CRITICAL
    late = await http_probe(f"{base}/slow", 0.1)
    assert late.status == CRITICAL and "deadline" in late.output
    assert (await http_probe(f"{base}/missing", 1.0)).status == CRITICAL


async def test_https_check_with_a_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)

    async def secure(request: web.Request) -> web.Response:
        return web.Response(text="secure")

    app = web.Application()
    app.router.add_get("/", secure)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ctx).start()
    try:
        check = ServiceCheck(
            name="tls",
            type="http",
            protocol="https",
            path="/",
            timeout=SECOND,
            tls_skip_verify=True,
        )
        assert (await probe_for(check, "127.0.0.1", port)()).status == PASSING
        strict = check.model_copy(update={"tls_skip_verify": False})
        assert (await probe_for(strict, "127.0.0.1", port)()).status == CRITICAL
    finally:
        await runner.cleanup()


class ShellDriver:
    """Runs script checks as real shell commands (what a driver's ``exec_task`` does)."""

    async def exec_task(self, task_id: str, cmd: list[str], timeout: float) -> ExecResult:
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return ExecResult(exit_result=ExitResult(exit_code=-1, err="timed out"))
        return ExecResult(stdout=out, stderr=err, exit_result=ExitResult(exit_code=proc.returncode))


@pytest.mark.parametrize(
    ("script", "status"), [("exit 0", PASSING), ("exit 1", WARNING), ("exit 2", CRITICAL)]
)
async def test_script_check_exit_codes(script: str, status: str) -> None:
    result = await script_probe(ShellDriver(), "t1", ["sh", "-c", f"echo hi; {script}"], 2.0)
    assert result.status == status and "hi" in result.output


async def test_script_check_timeout_is_critical() -> None:
    check = ServiceCheck(
        name="slow", type="script", command="sleep", args=["5"], timeout=SECOND // 5
    )
    result = await probe_for(check, driver=ShellDriver(), task_id="t1")()
    assert result.status == CRITICAL


def test_unsupported_check_types_are_named() -> None:
    with pytest.raises(ValueError, match="check 'g': type 'grpc' is not supported"):
        probe_for(ServiceCheck(name="g", type="grpc"))
    with pytest.raises(ValueError, match="script check 's' needs the task's driver"):
        probe_for(ServiceCheck(name="s", type="script", command="true"))


async def test_runner_keeps_history_and_needs_consecutive_successes(http_server) -> None:
    base, _ = http_server
    port = int(base.rsplit(":", 1)[1])
    check = ServiceCheck(
        name="web",
        type="http",
        path="/health",
        interval=SECOND // 100,
        timeout=SECOND,
        success_before_passing=2,
    )
    results = []
    runner = CheckRunner.for_check(
        check, lambda n, r: results.append((n, r.status)), address="127.0.0.1", port=port
    )
    assert runner.status == CRITICAL
    await runner.run_once()
    assert runner.status == CRITICAL
    await runner.run_once()
    assert runner.status == PASSING
    runner.start()
    await asyncio.sleep(0.1)
    await runner.stop()
    assert len(runner.history) >= 3 and results[0] == ("web", CRITICAL)


def test_check_restart_after_limit_past_grace() -> None:
    policy = CheckRestart(limit=3, grace=10 * SECOND, ignore_warnings=True)
    tracker = CheckRestartTracker(policy.limit, policy.grace, 5 * SECOND, policy.ignore_warnings)
    tracker.task_started(0)
    assert not tracker.observe(CRITICAL, 5 * SECOND)  # within grace
    assert not tracker.observe(CRITICAL, 10 * SECOND)
    assert not tracker.observe(WARNING, 15 * SECOND)  # warnings ignored: count restarts
    assert not tracker.observe(CRITICAL, 20 * SECOND)
    assert not tracker.observe(CRITICAL, 25 * SECOND)
    assert tracker.observe(CRITICAL, 30 * SECOND)
    assert not tracker.observe(CRITICAL, 35 * SECOND)  # a fresh grace after the restart
    never = CheckRestartTracker(0, 0, SECOND, False)
    assert not any(never.observe(CRITICAL, t * SECOND) for t in range(10))
