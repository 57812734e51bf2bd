"""Real nginx and HAProxy processes for load balancer tests.

:func:`nginx_setup` and :func:`haproxy_setup` make a plugin config whose files live in a
test's temporary directory and whose proxy listens on a free 127.0.0.1 port; the
:class:`ProxySetup` they return starts the real binary on the config file once the test has
written it, and stops every proxy it started in :meth:`ProxySetup.stop_all`.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .backends import wait_until
from .ports import free_port


def proxy_binary(name: str) -> str:
    """The path of the ``name`` executable (on ``PATH`` or in ``/usr/sbin``); fails the
    test, saying how to install it, when there is none."""
    path = shutil.which(name) or shutil.which(f"/usr/sbin/{name}")
    if path is None:
        pytest.fail(f"{name} is not installed: run scripts/system-deps.sh")
    return path


class ProxyProcess:
    """A real proxy running ``command`` in the foreground; the constructor returns once it
    accepts connections on ``port``.

    :raises AssertionError: the proxy exited (with its stderr), or did not listen in time.
    """

    def __init__(self, command: list[str], port: int, stop_signal: int = signal.SIGTERM) -> None:
        self.name = Path(command[0]).name
        self.port = port
        self.stop_signal = stop_signal
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(self._answers, f"{self.name} on port {port}")

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            assert self.proc.stderr is not None
            raise AssertionError(f"{self.name} exited: {self.proc.stderr.read().decode()}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def stop(self) -> None:
        """Send ``stop_signal``, SIGKILL after 5 seconds, and reap the process."""
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        assert self.proc.stderr is not None
        self.proc.stderr.close()


@dataclass
class ProxySetup:
    """A plugin ``config`` living in a temporary directory, and how to start the proxy on it.

    :ivar kind: the plugin's name (``nginx``, ``haproxy``).
    :ivar port: where the proxy accepts HTTP traffic (``config["listen"]``).
    :ivar command: the proxy's command line, serving ``config["out"]``.
    :ivar stop_signal: the signal that makes the proxy exit.
    """

    kind: str
    config: dict[str, Any]
    port: int
    command: list[str]
    stop_signal: int = signal.SIGTERM
    started: list[ProxyProcess] = field(default_factory=list)

    @property
    def out(self) -> Path:
        """The config file the plugin writes and the proxy reads."""
        return Path(self.config["out"])

    def start(self) -> ProxyProcess:
        """Start the proxy on the file at ``out``; it is stopped by :meth:`stop_all`."""
        process = ProxyProcess(self.command, self.port, self.stop_signal)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        """Stop every proxy :meth:`start` started."""
        for process in self.started:
            process.stop()
        self.started.clear()


def nginx_setup(directory: Path) -> ProxySetup:
    """An nginx plugin config with its prefix, pid file and temp files in ``directory``,
    one worker and a 1 s ``fail_timeout``; nginx runs in the foreground and stops on
    SIGQUIT (gracefully)."""
    binary = proxy_binary("nginx")
    (directory / "temp").mkdir(exist_ok=True)
    port = free_port()
    config = {
        "binary": binary,
        "listen": f"127.0.0.1:{port}",
        "out": str(directory / "nginx.conf"),
        "pid_file": str(directory / "nginx.pid"),
        "temp_dir": str(directory / "temp"),
        "worker_processes": "1",
        "fail_timeout": "1s",
    }
    command = [binary, "-p", str(directory), "-e", "stderr", "-c", config["out"]]
    return ProxySetup(
        "nginx", config, port, [*command, "-g", "daemon off;"], stop_signal=signal.SIGQUIT
    )


def haproxy_setup(directory: Path) -> ProxySetup:
    """An HAProxy plugin config with its files in ``directory``; HAProxy runs in
    master-worker mode (so SIGUSR2 reloads it) with its pid file where the config says."""
    binary = proxy_binary("haproxy")
    port = free_port()
    config = {
        "binary": binary,
        "listen": f"127.0.0.1:{port}",
        "out": str(directory / "haproxy.cfg"),
        "pid_file": str(directory / "haproxy.pid"),
    }
    command = [binary, "-W", "-f", config["out"], "-p", config["pid_file"]]
    return ProxySetup("haproxy", config, port, command)
