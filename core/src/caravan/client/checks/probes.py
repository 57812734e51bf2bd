"""One run of a service check: tcp, http and script probes, and their results.

Each probe runs once and returns a :class:`CheckResult` whose status is one of Consul's and
Nomad's ``passing``, ``warning`` or ``critical``; it never raises for a failing target (the
failure is the result). :func:`probe_for` builds the probe a job's ``check`` block asks for.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

PASSING = "passing"
WARNING = "warning"
CRITICAL = "critical"

#: How much of a response body or command output a result keeps, as Consul does (4 KiB).
OUTPUT_LIMIT = 4096

Probe = Callable[[], Awaitable["CheckResult"]]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check run: status, human-readable output, and when (Unix ns)."""

    status: str
    output: str
    timestamp: int


def _result(status: str, output: str) -> CheckResult:
    return CheckResult(status, output[:OUTPUT_LIMIT], time.time_ns())


async def tcp_probe(host: str, port: int, timeout: float) -> CheckResult:
    """``passing`` when a TCP connection to ``host:port`` opens within ``timeout`` seconds,
    ``critical`` otherwise."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except TimeoutError:
        return _result(CRITICAL, f"dial tcp {host}:{port}: i/o timeout")
    except OSError as err:
        return _result(CRITICAL, f"dial tcp {host}:{port}: {err.strerror or err}")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return _result(PASSING, f"TCP connect {host}:{port}: Success")


async def http_probe(
    url: str,
    timeout: float,
    method: str = "GET",
    headers: Mapping[str, list[str]] | None = None,
    body: str = "",
    tls_skip_verify: bool = False,
) -> CheckResult:
    """Request ``url``: a 2xx answer is ``passing``, 429 (Too Many Requests) ``warning``,
    anything else, a timeout or a connection error ``critical`` (Consul's rules).

    :param headers: ``{name: [values]}`` as in the job's ``header`` block.
    :param tls_skip_verify: accept any certificate for ``https`` URLs.
    """
    flat = [(k, v) for k, values in (headers or {}).items() for v in values]
    ssl_ctx: Any = None
    if url.startswith("https") and tls_skip_verify:
        ssl_ctx = ssl.create_default_context()
        ssl_ctx.check_hostname = False
        ssl_ctx.verify_mode = ssl.CERT_NONE
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.request(
                method or "GET", url, headers=flat, data=body or None, ssl=ssl_ctx
            ) as resp,
        ):
            text = (await resp.content.read(OUTPUT_LIMIT)).decode(errors="replace")
            line = f"HTTP {method or 'GET'} {url}: {resp.status} {resp.reason} Output: {text}"
            if 200 <= resp.status < 300:
                return _result(PASSING, line)
            if resp.status == 429:
                return _result(WARNING, line)
            return _result(CRITICAL, line)
    except TimeoutError:
        return _result(CRITICAL, f"Get {url!r}: context deadline exceeded")
    except aiohttp.ClientError as err:
        return _result(CRITICAL, f"{method or 'GET'} {url!r}: {err}")


async def script_probe(driver: Any, task_id: str, cmd: list[str], timeout: float) -> CheckResult:
    """Run ``cmd`` inside the task through its driver's ``exec_task``: exit 0 is ``passing``,
    1 ``warning``, anything else (or not finishing within ``timeout``) ``critical``."""
    try:
        res = await asyncio.wait_for(driver.exec_task(task_id, cmd, timeout), timeout + 1)
    except TimeoutError:
        return _result(CRITICAL, f"script check timed out after {timeout:g}s")
    except Exception as err:  # a driver failing to exec is the check failing, not the client
        return _result(CRITICAL, f"script check could not run: {err}")
    output = (res.stdout + res.stderr).decode(errors="replace")
    code = res.exit_result.exit_code
    if res.exit_result.err:
        return _result(CRITICAL, res.exit_result.err)
    if code == 0 and not res.exit_result.signal:
        return _result(PASSING, output)
    if code == 1:
        return _result(WARNING, output)
    return _result(CRITICAL, output)


def probe_for(
    check: Any,
    address: str = "",
    port: int = 0,
    driver: Any | None = None,
    task_id: str = "",
) -> Probe:
    """The probe a ``check`` block (:class:`~caravan.structs.services.ServiceCheck`) asks for.

    :param address: the host the service is reachable at (tcp, http).
    :param port: the port its ``port`` label resolved to (tcp, http).
    :param driver: the task's driver and ``task_id`` its handle ID (script checks).
    :raises ValueError: for a check type caravan cannot run (``grpc``), or a script check
        without a driver, naming the check.
    """
    timeout = (check.timeout or 0) / 1e9 or 2.0
    kind = check.type
    if kind == "tcp":
        return lambda: tcp_probe(address, port, timeout)
    if kind == "http":
        scheme = check.protocol or "http"
        path = check.path if check.path.startswith("/") else f"/{check.path}"
        url = f"{scheme}://{address}:{port}{path}"
        return lambda: http_probe(
            url, timeout, check.method or "GET", check.header, check.body, check.tls_skip_verify
        )
    if kind == "script":
        if driver is None:
            raise ValueError(f"script check {check.name!r} needs the task's driver")
        cmd = [check.command, *(check.args or [])]
        return lambda: script_probe(driver, task_id, cmd, timeout)
    raise ValueError(f"check {check.name!r}: type {kind!r} is not supported")
