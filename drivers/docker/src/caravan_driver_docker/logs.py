"""Copying a container's output into the task's stdout and stderr files.

One :class:`LogFollower` thread per stream follows ``docker logs --follow --timestamps``.
After each message it writes the payload (without the timestamp) to the task's file and
records how far it got in a small position file under the task's ``private/`` directory:
the timestamp of the last message written and how many messages carried that exact
timestamp. A follower started later (after a client restart, or after the daemon dropped
the stream) asks Docker for messages since that second and skips what it already wrote, so
lines are neither lost nor written twice. Only a crash between writing a message and
recording it can repeat that one message.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from calendar import timegm
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import docker
from docker.errors import DockerException, NotFound

Stream = Literal["stdout", "stderr"]
# Back-off before reopening a stream the daemon closed while the container still runs.
RETRY_DELAY = 0.2


@dataclass
class LogPosition:
    """The last message written: its RFC 3339 timestamp and how many shared it."""

    timestamp: str = ""
    count: int = 0

    def since(self) -> int | None:
        """The whole second to ask Docker for messages from (inclusive), if any."""
        if not self.timestamp:
            return None
        return timegm(time.strptime(self.timestamp[:19], "%Y-%m-%dT%H:%M:%S"))

    def already_written(self, timestamp: str, seen_at_timestamp: int) -> bool:
        """True for a message this position covers; ``seen_at_timestamp`` counts the messages
        with this timestamp received so far on the current stream, this one included."""
        if timestamp != self.timestamp:
            return timestamp < self.timestamp
        return seen_at_timestamp <= self.count

    def advance(self, timestamp: str) -> None:
        """Record one more message written."""
        if timestamp == self.timestamp:
            self.count += 1
        else:
            self.timestamp, self.count = timestamp, 1


def position_file(private_dir: Path, stream: Stream) -> Path:
    """Where the follower of ``stream`` records its position."""
    return private_dir / f"docker-logs.{stream}.json"


def read_position(path: Path) -> LogPosition:
    """The recorded position, or the start when there is none (or it is unreadable)."""
    try:
        raw: Any = json.loads(path.read_text())
        return LogPosition(str(raw["timestamp"]), int(raw["count"]))
    except (OSError, ValueError, KeyError, TypeError):
        return LogPosition()


class LogFollower:
    """A thread copying one output stream of a container into a file. See module docstring.

    :param client: the docker client (shared; its calls are thread-safe).
    :param container_id: the container to follow.
    :param stream: ``"stdout"`` or ``"stderr"``.
    :param output: the task's log file for that stream, appended to.
    :param position: the position file (see :func:`position_file`).
    :param tty: the container has a TTY: its output arrives as one raw stream.
    """

    def __init__(
        self,
        client: docker.DockerClient,
        container_id: str,
        stream: Stream,
        output: Path,
        position: Path,
        tty: bool = False,
    ) -> None:
        self._client = client
        self._container_id = container_id
        self._stream = stream
        self._output = output
        self._position_path = position
        self._tty = tty
        self._position = read_position(position)
        self._stopped = threading.Event()
        self._response: Any = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, name=f"docker-logs-{container_id[:12]}-{stream}", daemon=True
        )

    def start(self) -> None:
        """Start following in the background."""
        self._output.parent.mkdir(parents=True, exist_ok=True)
        self._position_path.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the follower to finish; True when it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Stop following now (the container keeps running); safe to call twice."""
        self._stopped.set()
        with self._lock:
            response = self._response
        if response is not None:
            # Closing the socket is the only way to end a blocked read of a followed stream.
            with contextlib.suppress(Exception):
                response.close()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                if self._follow_once():
                    return
            except NotFound:
                return
            except Exception:
                # The daemon closed or timed out the stream; resume from the position.
                if self._stopped.is_set() or not self._container_running():
                    if not self._stopped.is_set():
                        self._drain_finished()
                    return
                time.sleep(RETRY_DELAY)

    def _follow_once(self) -> bool:
        """Follow until the stream ends; True when the container has stopped."""
        response = self._client.api.logs(
            self._container_id,
            stdout=self._stream == "stdout",
            stderr=self._stream == "stderr",
            stream=True,
            follow=True,
            timestamps=True,
            since=self._position.since(),
        )
        with self._lock:
            self._response = response
        if self._stopped.is_set():
            response.close()
            return True
        self._copy(response)
        return not self._container_running()

    def _drain_finished(self) -> None:
        # The container stopped while the stream was broken: fetch the rest without following.
        with contextlib.suppress(Exception):
            response = self._client.api.logs(
                self._container_id,
                stdout=self._stream == "stdout",
                stderr=self._stream == "stderr",
                stream=True,
                follow=False,
                timestamps=True,
                since=self._position.since(),
            )
            self._copy(response)

    def _copy(self, response: Any) -> None:
        seen: dict[str, int] = {}
        pending = b""
        for chunk in response:
            if self._tty:
                # A TTY stream is not framed: cut it into the daemon's timestamped lines.
                pending += chunk
                *lines, pending = pending.split(b"\n")
                messages = [line + b"\n" for line in lines]
            else:
                messages = [chunk]
            for message in messages:
                self._write(message, seen)
            if self._stopped.is_set():
                return

    def _write(self, message: bytes, seen: dict[str, int]) -> None:
        stamp, _, payload = message.partition(b" ")
        timestamp = stamp.decode(errors="replace")
        seen[timestamp] = seen.get(timestamp, 0) + 1
        if self._position.already_written(timestamp, seen[timestamp]):
            return
        with self._output.open("ab") as out:
            out.write(payload)
        self._position.advance(timestamp)
        self._save_position()

    def _save_position(self) -> None:
        temporary = self._position_path.with_suffix(".tmp")
        temporary.write_text(
            json.dumps({"timestamp": self._position.timestamp, "count": self._position.count})
        )
        os.replace(temporary, self._position_path)

    def _container_running(self) -> bool:
        try:
            state = self._client.api.inspect_container(self._container_id)["State"]
        except DockerException:
            return False
        return bool(state.get("Running"))
