"""The ``caravan lb watch`` loop: keep a proxy's config in step with the service catalog.

Each round blocks on the catalog until something changes, waits out the coalescing window
(``-wait``) so a burst of changes (a deployment replacing ten instances) causes one reload,
reads the catalog as it then is, and applies it:

render → unchanged? stop → validate with the real binary (``nginx -t``, ``haproxy -c``) →
write atomically → reload.

A render that fails (a broken user template) or that the proxy's own check rejects is
reported and the running config stays as it is; the next change is tried afresh. An
unreachable agent is reported and retried with a growing delay.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from caravan_plugins import LoadBalancer, PluginError, RenderOptions

from .catalog import CatalogClient, CatalogError, CatalogSnapshot
from .reload import Reloader, ReloadError

Outcome = Literal["unchanged", "reloaded", "rejected"]

#: Retry delays after a failed catalog read, in seconds (the last one repeats).
_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


def report_to_stderr(line: str) -> None:
    """The default reporter: one line on stderr."""
    print(line, file=sys.stderr, flush=True)


@dataclass
class WatchStats:
    """What a watcher did, for people and tests."""

    applied: int = 0
    reloads: int = 0
    rejected: int = 0


class LBWatcher:
    """Renders ``balancer``'s config from ``catalog`` into ``out`` on every change.

    :param services: only these services (empty for all).
    :param wait: the coalescing window in seconds.
    :param block: the longest single blocking query, in seconds.
    :param report: receives one human-readable line per event.
    """

    def __init__(
        self,
        balancer: LoadBalancer,
        catalog: CatalogClient,
        out: Path,
        *,
        options: RenderOptions | None = None,
        reloader: Reloader | None = None,
        services: Sequence[str] = (),
        wait: float = 0.5,
        block: float = 300.0,
        report: Callable[[str], None] = report_to_stderr,
    ) -> None:
        self.balancer = balancer
        self.catalog = catalog
        self.out = Path(out)
        self.options = options or RenderOptions(services=list(services))
        self.reloader = reloader or Reloader()
        self.services = tuple(services)
        self.wait = wait
        self.block = block
        self.report = report
        self.stats = WatchStats()

    async def apply(self, snapshot: CatalogSnapshot) -> Outcome:
        """Render ``snapshot`` and, when the text differs from ``out``, validate, write and
        reload. Never raises for a bad render or a rejected config: it reports and keeps
        the file there.

        :raises ReloadError, PluginError: the new file was written but the reload failed.
        """
        self.stats.applied += 1
        instances = snapshot.instances(self.services)
        name = self.balancer.name
        try:
            text = self.balancer.render(instances, self.options)
        except PluginError as err:
            return self._rejected(f"{name}: cannot render: {err}")
        if self.out.exists() and self.out.read_text() == text:
            return "unchanged"
        result = await self.balancer.validate(text)
        if not result.ok:
            return self._rejected(
                f"{name} rejected the rendered config: {'; '.join(result.errors)}"
            )
        write_atomically(self.out, text)
        await self.reloader.reload(self.balancer, self.out)
        self.stats.reloads += 1
        self.report(
            f"lb watch: wrote {self.out} ({len(instances)} instances, index {snapshot.index}); "
            "reloaded"
        )
        return "reloaded"

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Apply the current catalog, then every change, until ``stop`` is set (or the task
        is cancelled). Reload failures are reported and do not end the loop."""
        stop = stop or asyncio.Event()
        index = 0
        failures = 0
        while not stop.is_set():
            try:
                snapshot = await self._next(index)
                failures = 0
            except CatalogError as err:
                delay = _BACKOFF[min(failures, len(_BACKOFF) - 1)]
                failures += 1
                self.report(f"lb watch: {err}; retrying in {delay:g}s")
                await _sleep_unless(stop, delay)
                continue
            if snapshot.index == index:
                continue
            index = snapshot.index
            try:
                await self.apply(snapshot)
            except (ReloadError, PluginError) as err:
                self.report(f"lb watch: config written but the reload failed: {err}")

    async def _next(self, index: int) -> CatalogSnapshot:
        if index == 0:
            return await self.catalog.snapshot(services=self.services)
        changed = await self.catalog.snapshot(index, self.block, self.services)
        if changed.index == index or self.wait <= 0:
            return changed
        # Coalesce: let the rest of a burst land, then render the catalog as it is now.
        await asyncio.sleep(self.wait)
        return await self.catalog.snapshot(services=self.services)

    def _rejected(self, message: str) -> Outcome:
        self.stats.rejected += 1
        self.report(f"lb watch: {message}; keeping the running config {self.out}")
        return "rejected"


def write_atomically(path: Path, text: str, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` in one rename, so a reloading proxy never reads half a
    file.

    :param mode: the file's permission bits; ``None`` keeps those of the file it replaces
        (0644 for a new file).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def _sleep_unless(stop: asyncio.Event, delay: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), delay)
    except TimeoutError:
        return
