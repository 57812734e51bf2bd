"""How ``caravan lb watch`` makes a proxy pick up a new config: a command, a signal to a pid
(or the pid in a file), or, with neither, the load balancer plugin's own reload."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from caravan.errors import CaravanError
from caravan_plugins import LoadBalancer


class ReloadError(CaravanError):
    """The proxy could not be told to reload: the command failed, or the process is gone."""


def signal_number(name: str) -> signal.Signals:
    """``"SIGHUP"`` or ``"HUP"`` as a signal.

    :raises ReloadError: no such signal.
    """
    upper = name.upper()
    value = getattr(signal, upper if upper.startswith("SIG") else f"SIG{upper}", None)
    if not isinstance(value, signal.Signals):
        raise ReloadError(f"{name!r} is not a signal name such as SIGHUP")
    return value


@dataclass(frozen=True)
class Reloader:
    """One way to reload; at most one of ``command`` and ``signal`` is set.

    :ivar command: a shell command, run with ``/bin/sh -c``.
    :ivar signal: a signal name, sent to ``pid`` or to the pid read from ``pid_file`` at
        each reload (so a restarted proxy is found).
    """

    command: str = ""
    signal: str = ""
    pid: int | None = None
    pid_file: str = ""

    def __post_init__(self) -> None:
        if self.command and self.signal:
            raise ReloadError("use either -reload or -signal, not both")
        if self.signal:
            signal_number(self.signal)
            if (self.pid is None) == (not self.pid_file):
                raise ReloadError("-signal needs exactly one of -pid and -pid-file")
        elif self.pid is not None or self.pid_file:
            raise ReloadError("-pid and -pid-file need -signal")

    async def reload(self, balancer: LoadBalancer, path: Path) -> None:
        """Reload the proxy that reads ``path``.

        :raises ReloadError: the command exited non-zero, or the process cannot be signalled.
        :raises PluginError: the plugin's own reload failed (neither option set).
        """
        if self.command:
            await self._run_command()
        elif self.signal:
            self._send_signal()
        else:
            await balancer.reload(path)

    async def _run_command(self) -> None:
        proc = await asyncio.create_subprocess_shell(
            self.command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await proc.communicate()
        if proc.returncode:
            detail = output.decode(errors="replace").strip()
            raise ReloadError(
                f"reload command {self.command!r} exited with {proc.returncode}"
                + (f": {detail}" if detail else "")
            )

    def _send_signal(self) -> None:
        pid = self.pid
        if pid is None:
            try:
                pid = int(Path(self.pid_file).read_text().strip())
            except FileNotFoundError:
                raise ReloadError(
                    f"pid file {self.pid_file} not found; is the proxy running?"
                ) from None
            except ValueError:
                raise ReloadError(f"pid file {self.pid_file} does not hold a process id") from None
        try:
            os.kill(pid, signal_number(self.signal))
        except ProcessLookupError:
            raise ReloadError(f"no process {pid} to send {self.signal} to") from None
        except PermissionError:
            raise ReloadError(f"not allowed to send {self.signal} to process {pid}") from None
