"""Real NGINX and HAProxy processes on 127.0.0.1 for the load-balancer demos, kept in step
with an agent's catalog by ``caravan lb watch``, and the client side: request counting.

:func:`proxy_behind_watch` writes a first config with ``caravan lb render``, starts the
proxy in the foreground on it, then runs ``caravan lb watch`` (which reloads the proxy with
its plugin's signal); both processes are stopped when the block exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from .conftest import CARAVAN, REPO, Agent, free_ports

HOST = re.compile(r"Running on: (\S+) \| v=(\d+)")

#: How each proxy runs in the foreground on ``{conf}`` with its pid in ``{pid}``.
COMMANDS = {
    "nginx": ["nginx", "-c", "{conf}", "-g", "daemon off;"],
    "haproxy": ["haproxy", "-W", "-f", "{conf}", "-p", "{pid}"],
}
RELOAD_SIGNALS = {"nginx": "SIGHUP", "haproxy": "SIGUSR2"}


@dataclass
class Proxy:
    """A running proxy: where it listens and its files."""

    kind: str
    url: str
    conf: Path
    process: subprocess.Popen[bytes]
    watch: subprocess.Popen[bytes]
    watch_log: Path

    def log(self) -> str:
        return self.watch_log.read_text(errors="replace")


def plugin_config(kind: str, root: Path) -> Path:
    """An agent-format config file keeping the proxy's pid, logs and temp files in ``root``."""
    settings = {"pid_file": str(root / f"{kind}.pid")}
    if kind == "nginx":
        temp = root / "nginx-temp"
        temp.mkdir(exist_ok=True)
        settings |= {
            "error_log": str(root / "nginx-error.log"),
            "temp_dir": str(temp),
            "worker_processes": "1",
        }
    body = "".join(f'    {key} = "{value}"\n' for key, value in settings.items())
    path = root / f"{kind}-plugin.hcl"
    path.write_text(f'plugin "{kind}" {{\n  config {{\n{body}  }}\n}}\n')
    return path


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


@contextlib.contextmanager
def proxy_behind_watch(agent: Agent, kind: str, root: Path, *extra: str) -> Iterator[Proxy]:
    """``kind`` (nginx or haproxy) on a free port, its config kept current by
    ``caravan lb watch KIND`` against ``agent``; ``extra`` are more ``lb`` flags."""
    (port,) = free_ports(1)
    conf = root / f"{kind}.conf"
    config = plugin_config(kind, root)
    flags = ["-listen", f"127.0.0.1:{port}", "-config", str(config), *extra]
    agent.cli("lb", "render", kind, "-out", str(conf), *flags)
    command = [p.format(conf=conf, pid=root / f"{kind}.pid") for p in COMMANDS[kind]]
    proxy_log = root / f"{kind}.log"
    with proxy_log.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    watch_log = root / f"{kind}-watch.log"
    env = {**os.environ, "NOMAD_ADDR": agent.address}
    with watch_log.open("wb") as log:
        watch = subprocess.Popen(
            [
                str(CARAVAN),
                "lb",
                "watch",
                kind,
                "-out",
                str(conf),
                "-wait",
                "200ms",
                "-signal",
                RELOAD_SIGNALS[kind],
                "-pid",
                str(process.pid),
                *flags,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
            start_new_session=True,
        )
    try:
        yield Proxy(kind, f"http://127.0.0.1:{port}/", conf, process, watch, watch_log)
    finally:
        _stop(watch)
        _stop(process)


@dataclass
class Tally:
    """What a series of requests got back: answers per (host, version), and failures."""

    hosts: Counter[tuple[str, str]]
    failures: list[str]

    @property
    def total(self) -> int:
        return sum(self.hosts.values()) + len(self.failures)

    def by_version(self) -> Counter[str]:
        versions: Counter[str] = Counter()
        for (_, version), count in self.hosts.items():
            versions[version] += count
        return versions


async def tally(url: str, count: int, *, pause: float = 0.0) -> Tally:
    """Send ``count`` GETs to ``url`` one after another (``pause`` seconds apart)."""
    result = Tally(Counter(), [])
    timeout = aiohttp.ClientTimeout(total=5)
    # A new connection per request, so a proxy balances each one (no keep-alive pinning).
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        for _ in range(count):
            try:
                async with session.get(url) as resp:
                    body = await resp.text()
                    match = HOST.search(body)
                    if resp.status != 200 or match is None:
                        result.failures.append(f"{resp.status}: {body[:80]!r}")
                    else:
                        result.hosts[(match.group(1), match.group(2))] += 1
            except (TimeoutError, aiohttp.ClientError) as exc:
                result.failures.append(repr(exc))
            if pause:
                await asyncio.sleep(pause)
    return result


async def answered_by(url: str, hosts: int, version: str = "1") -> bool:
    """Whether 3 * ``hosts`` requests reach exactly ``hosts`` instances of ``version``."""
    result = await tally(url, 3 * hosts)
    seen = {host for host, v in result.hosts if v == version}
    return not result.failures and len(result.hosts) == hosts and len(seen) == hosts


def shares(result: Tally) -> dict[str, float]:
    """Each host's share of the answered requests."""
    answered = sum(result.hosts.values())
    return {host: count / answered for (host, _), count in result.hosts.items()}


@contextlib.asynccontextmanager
async def continuous_load(url: str, pause: float = 0.02) -> AsyncIterator[list[Tally]]:
    """Requests sent back to back until the block exits; the list holds their tally after."""
    results: list[Tally] = []
    stop = asyncio.Event()

    async def run() -> None:
        total = Tally(Counter(), [])
        while not stop.is_set():
            batch = await tally(url, 10, pause=pause)
            total.hosts.update(batch.hosts)
            total.failures.extend(batch.failures)
        results.append(total)

    task = asyncio.create_task(run())
    try:
        yield results
    finally:
        stop.set()
        await task
