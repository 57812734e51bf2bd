"""``TemplateManager``: renders one task's templates and keeps them in step with the catalog.

The first render (:meth:`TemplateManager.render_all`) happens before the task starts and
must succeed. Afterwards :meth:`TemplateManager.watch` blocks on the catalog; after a change
it waits until the catalog has been quiet for the templates' ``wait.min`` (at most
``wait.max``), renders every template again, and for those whose text changed applies
their ``change_mode`` once, after a random delay of up to their ``splay``:

- any changed template with ``restart`` → the task is restarted (once, whatever else
  changed);
- otherwise each distinct ``change_signal`` of changed ``signal`` templates is sent, then
  each distinct ``change_script`` of changed ``script`` templates runs inside the task
  (through its driver's exec, as ``alloc exec`` does). Its outcome is a task event; a
  script that fails (non-zero exit, timeout, no exec) with ``fail_on_error`` kills the task,
  which then counts as failed;
- ``noop`` → the file is rewritten and nothing else happens.

``once`` templates are rendered before the first start only. A render that fails after the
task started is reported and leaves the previous file in place.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Protocol

from caravan.lb.catalog import CatalogError, CatalogSnapshot
from caravan.lb.watch import write_atomically

from .render import TemplateRenderError
from .spec import (
    CHANGE_RESTART,
    CHANGE_SCRIPT,
    CHANGE_SIGNAL,
    ChangeScript,
    TemplateSpec,
    parse_env_file,
)

#: Retry delays after a failed catalog read, in seconds (the last one repeats).
_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0)


class Catalog(Protocol):
    """Where templates read services from (:class:`caravan.lb.CatalogClient`)."""

    async def snapshot(self, index: int = 0, wait: float = 300.0) -> CatalogSnapshot:
        """The catalog once it changed after ``index``, or after ``wait`` seconds."""
        ...


class TaskLifecycle(Protocol):
    """What a template may do to its task (the task runner)."""

    @property
    def can_exec(self) -> bool:
        """Whether the task's driver can run commands inside it (change scripts)."""
        ...

    async def restart(self) -> None:
        """Restart the task in place."""
        ...

    async def signal(self, signal: str) -> None:
        """Send ``signal`` to the running task."""
        ...

    async def exec(self, cmd: list[str], timeout: float) -> tuple[int, str]:
        """Run ``cmd`` inside the running task; its exit code and output. Raises when it
        cannot run (the task is not running, its driver cannot exec, the timeout passed)."""
        ...

    async def fail(self, reason: str) -> None:
        """Kill the task for good, as failed, recording ``reason``."""
        ...


class TemplateManager:
    """The templates of one task.

    :param env: the task's environment, read by ``env()`` in templates.
    :param report: receives one line per failure after the first render (the hook turns
        them into task events).
    :param rand: returns a number in [0, 1) to scale the splay by; injectable for tests.
    :param block: the longest single blocking query, in seconds.
    """

    def __init__(
        self,
        specs: list[TemplateSpec],
        catalog: Catalog,
        lifecycle: TaskLifecycle,
        env: Mapping[str, str],
        *,
        report: Callable[[str], None],
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        block: float = 300.0,
    ) -> None:
        self.specs = specs
        self.catalog = catalog
        self.lifecycle = lifecycle
        self.env = env
        self.report = report
        self.rand = rand
        self.sleep = sleep
        self.block = block
        self.index = 0
        self.actions: list[str] = []

    async def render_all(self) -> dict[str, str]:
        """Render every template from the catalog as it is now and write the files.

        :returns: the variables of ``env = true`` templates, for the task's environment.
        :raises CatalogError: the catalog cannot be read.
        :raises TemplateRenderError: a template failed; nothing after it was written.
        """
        snapshot = await self.catalog.snapshot()
        self.index = snapshot.index
        for spec in self.specs:
            self._write(spec, spec.template.render(snapshot, self.env))
        return self.env_vars()

    def env_vars(self) -> dict[str, str]:
        """The variables the rendered ``env = true`` templates define, in template order."""
        out: dict[str, str] = {}
        for spec in self.specs:
            if spec.envvars and spec.destination.exists():
                out |= parse_env_file(spec.destination.read_text())
        return out

    async def watch(self) -> None:
        """Re-render on every catalog change until cancelled; never raises otherwise."""
        live = [s for s in self.specs if not s.once]
        if not live:
            return
        failures = 0
        while True:
            try:
                snapshot = await self.catalog.snapshot(self.index, self.block)
                if snapshot.index == self.index:
                    continue
                snapshot = await self._quiesce(snapshot, live)
                failures = 0
            except CatalogError as err:
                delay = _BACKOFF[min(failures, len(_BACKOFF) - 1)]
                failures += 1
                self.report(f"templates: {err}; retrying in {delay:g}s")
                await self.sleep(delay)
                continue
            self.index = snapshot.index
            changed = self.rerender(snapshot, live)
            if changed:
                await self._act(changed)

    def rerender(self, snapshot: CatalogSnapshot, specs: list[TemplateSpec]) -> list[TemplateSpec]:
        """Render ``specs`` for ``snapshot``; returns those whose file changed. A template
        that fails is reported and keeps its previous file."""
        changed = []
        for spec in specs:
            try:
                text = spec.template.render(snapshot, self.env)
            except TemplateRenderError as err:
                self.report(f"{err}; keeping the previous {spec.destination.name}")
                continue
            if self._write(spec, text):
                changed.append(spec)
        return changed

    async def _quiesce(
        self, snapshot: CatalogSnapshot, specs: list[TemplateSpec]
    ) -> CatalogSnapshot:
        quiet = max(s.wait_min for s in specs)
        if quiet <= 0:
            return snapshot
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(s.wait_max for s in specs)
        while loop.time() < deadline:
            later = await self.catalog.snapshot(snapshot.index, min(quiet, deadline - loop.time()))
            if later.index == snapshot.index:
                break
            snapshot = later
        return snapshot

    async def _act(self, changed: list[TemplateSpec]) -> None:
        restart = any(s.change_mode == CHANGE_RESTART for s in changed)
        signals = list(
            dict.fromkeys(s.change_signal for s in changed if s.change_mode == CHANGE_SIGNAL)
        )
        scripts = list(
            dict.fromkeys(
                s.change_script
                for s in changed
                if s.change_mode == CHANGE_SCRIPT and s.change_script is not None
            )
        )
        if not restart and not signals and not scripts:
            return
        splay = max(s.splay for s in changed)
        if splay > 0:
            await self.sleep(self.rand() * splay)
        try:
            if restart:
                self.actions.append("restart")
                await self.lifecycle.restart()
                return
            for name in signals:
                self.actions.append(name)
                await self.lifecycle.signal(name)
        except Exception as err:
            self.report(f"templates re-rendered but the task could not be notified: {err}")
            return
        for script in scripts:
            if not await self._run_script(script):
                return

    async def _run_script(self, script: ChangeScript) -> bool:
        """Run one change script; False once it failed and killed the task."""
        cmd = [script.command, *script.args]
        self.actions.append(f"script {script.command}")
        shown = f"{script.command} with arguments {list(script.args)}"
        try:
            code, output = await self.lifecycle.exec(cmd, script.timeout)
        except Exception as err:
            problem = f"could not run: {err}"
        else:
            if code == 0:
                self.report(f"Template successfully ran script {shown}. Exit code: 0")
                return True
            problem = f"exit code {code}" + (f": {output.strip()[:200]}" if output.strip() else "")
        self.report(f"Template failed to run script {shown} on change: {problem}")
        if not script.fail_on_error:
            return True
        await self.lifecycle.fail("Template script failed, task is being killed")
        return False

    def _write(self, spec: TemplateSpec, text: str) -> bool:
        path: Path = spec.destination
        if path.exists() and path.read_text() == text:
            if path.stat().st_mode & 0o7777 != spec.perms:
                path.chmod(spec.perms)
            return False
        write_atomically(path, text, spec.perms)
        return True
