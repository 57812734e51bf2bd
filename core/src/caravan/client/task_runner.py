"""``TaskRunner``: runs one task of an allocation through its driver, for its whole life.

The life of a task: ``Received`` → (its lifecycle turn, see
:class:`~caravan.client.alloc_runner.AllocRunner`) → prestart hooks → ``driver.start_task``
→ ``Started`` → wait → ``Terminated`` → the restart tracker decides: ``Restarting`` after a
delay, done (``dead``), or ``Not Restarting`` (``dead``, failed). A kill (``Killing`` or the
event the allocation gives, e.g. ``Sibling Task Failed``) stops the task with its
``kill_signal`` and ``kill_timeout`` and ends in ``Killed``.

The driver handle is written to the client state as soon as the task runs, so that after an
agent restart :meth:`TaskRunner.restore` can reattach with ``driver.recover_task`` and carry on
waiting — without a restart and without new events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime

from caravan.structs import Allocation, Node
from caravan.structs import consts as c
from caravan.structs.allocation import TaskEvent, TaskState
from caravan.structs.durations import SECOND
from caravan.structs.task import Task
from caravan_plugins import (
    DriverError,
    ExitResult,
    InvalidTaskConfigError,
    TaskConfig,
    TaskDriver,
    TaskHandle,
    TaskResources,
)

from .allocdir import AllocDir
from .errors import ClientError
from .events import task_event
from .hooks import HookError, TaskHook, TaskHookContext, default_hooks
from .hooks.template_hook import TemplateHook
from .logrotate import LogRotator
from .networks import node_ip, task_ports
from .restarts import NOT_RESTARTING, RESTART, TERMINATED, Decision, RestartTracker
from .state import StateDB, TaskLocalState
from .taskenv import TaskEnv, build_task_env

log = logging.getLogger(__name__)

#: Nomad keeps the last ten events of a task.
MAX_EVENTS = 10

MAIN = "main"


class TaskRunner:
    """Runs ``task`` of ``alloc`` with ``driver``.

    :param driver: the task's driver; ``None`` when it is not loaded on this client, which
        fails the task with a ``Driver Failure`` event.
    :param on_change: called (synchronously) after every state change; the allocation
        runner uses it to recompute its status and schedule an update to the servers.
    :param host_env: the agent's environment, given to tasks of non-isolated drivers.
    :param hooks: the lifecycle hooks, in order (default: :func:`default_hooks`); the
        template hook always follows them.
    """

    def __init__(
        self,
        *,
        alloc: Allocation,
        task: Task,
        driver: TaskDriver | None,
        node: Node,
        alloc_dir: AllocDir,
        rotator: LogRotator,
        db: StateDB,
        on_change: Callable[[TaskRunner], None],
        host_env: Mapping[str, str] | None = None,
        hooks: list[TaskHook] | None = None,
    ) -> None:
        self.alloc = alloc
        self.task = task
        self.driver = driver
        self.node = node
        self.alloc_dir = alloc_dir
        self.db = db
        self.state = TaskState(state=c.TASK_STATE_PENDING)
        self.handle: TaskHandle | None = None
        self.hook_state: dict[str, object] = {}
        job_type = alloc.job.type if alloc.job and alloc.job.type else c.JOB_TYPE_SERVICE
        self.tracker = RestartTracker(task.restart_policy, job_type)
        self.gate = asyncio.Event()
        self.done = asyncio.Event()
        self._on_change = on_change
        self._host_env = host_env
        # The template hook is bound to this runner (it restarts and signals the task), so it
        # is added here, after the hooks the caller chose.
        chosen = default_hooks() if hooks is None else hooks
        self._hooks = [*chosen, TemplateHook.for_runner(self)]
        self._rotator = rotator
        self._killed = asyncio.Event()
        self._run_task: asyncio.Task[None] | None = None
        self._env: TaskEnv | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._lost_exit: ExitResult | None = None
        self._restart_requested = False
        self._restart_failed = False

    # -- identity -----------------------------------------------------------

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def lifecycle(self) -> str:
        """``main``, ``prestart``, ``poststart`` or ``poststop``."""
        lifecycle = self.task.lifecycle
        return lifecycle.hook if lifecycle and lifecycle.hook else MAIN

    @property
    def sidecar(self) -> bool:
        return bool(self.task.lifecycle and self.task.lifecycle.sidecar)

    @property
    def is_dead(self) -> bool:
        return self.state.state == c.TASK_STATE_DEAD

    @property
    def killed(self) -> bool:
        return self._killed.is_set()

    @property
    def env(self) -> TaskEnv:
        """The task's environment (built on first use)."""
        if self._env is None:
            isolated = self.driver is not None and self.driver.capabilities().fs_isolation != "none"
            self._env = build_task_env(
                self.alloc,
                self.task,
                self.node,
                self.alloc_dir,
                isolated=isolated,
                host_env=self._host_env,
            )
        return self._env

    # -- lifecycle ------------------------------------------------------------

    def received(self) -> None:
        """Record ``Received``: the client has accepted the task."""
        self._emit(task_event(c.TASK_RECEIVED))

    def restore(self, local: TaskLocalState) -> None:
        """Load what an earlier agent stored about this task (before :meth:`start`)."""
        if local.state is not None:
            self.state = local.state
        self.handle = local.handle
        self.hook_state = dict(local.hooks or {})
        if local.tracker is not None:
            try:
                self.tracker.restore(local.tracker)
            except (KeyError, TypeError, ValueError):
                log.warning(
                    "task %s of %s: stored restart count unreadable", self.name, self.alloc.id
                )

    async def recover(self) -> bool:
        """Reattach to the task an earlier agent started, if it still runs.

        :returns: True when the driver took the task back (it keeps running, nothing is
            recorded); False when there was nothing to recover or it is gone — a task that
            was running then goes through the restart policy when started.
        """
        if self.handle is None or self.driver is None:
            return False
        try:
            await self.driver.recover_task(self.handle)
        except Exception as exc:
            log.info("task %s of %s not recovered: %s", self.name, self.alloc.id, exc)
            self._emit(task_event(c.TASK_RESTORE_FAILED, message=str(exc)))
            self.handle = None
            self._persist_handle()
            if self.state.state == c.TASK_STATE_RUNNING:
                # It died while no agent watched it: that counts as a failed exit.
                self._lost_exit = ExitResult(exit_code=-1, err=f"failed to restore task: {exc}")
            self.gate.set()
            return False
        # The gate was passed before the restart; a recovered task never waits again.
        self.gate.set()
        ctx = self._hook_context()
        for hook in self._hooks:
            await hook.restored(ctx)
        return True

    def start(self) -> None:
        """Begin the task's run loop in the background (once)."""
        if self._run_task is None:
            self._run_task = asyncio.create_task(self._run(), name=f"task {self.name}")

    async def kill(self, event: TaskEvent | None = None) -> None:
        """Stop the task for good and wait until it is dead.

        :param event: recorded instead of ``Killing`` (``Leader Task Dead``, ``Sibling Task
            Failed``); the kill timeout is the task's own either way.
        """
        if self._killed.is_set():
            await self.done.wait()
            return
        self._killed.set()
        running = self.handle is not None and self.state.state == c.TASK_STATE_RUNNING
        if running and self.handle is not None and self.driver is not None:
            timeout = self.task.kill_timeout if self.task.kill_timeout is not None else 5 * SECOND
            self._emit(event or task_event(c.TASK_KILLING, kill_timeout=timeout))
            try:
                await self.driver.stop_task(
                    self.handle.config.id, timeout / SECOND, self.task.kill_signal or "SIGTERM"
                )
            except DriverError as exc:
                log.warning("stopping task %s of %s: %s", self.name, self.alloc.id, exc)
        if self._run_task is None:
            self.done.set()
        await self.done.wait()
        if running:
            self._set_state(c.TASK_STATE_DEAD, task_event(c.TASK_KILLED))
        elif not self.is_dead:
            self._set_state(c.TASK_STATE_DEAD)

    async def signal(self, signal: str) -> None:
        """Send ``signal`` to the running task (``caravan alloc signal``).

        :raises ClientError: the task does not run, or its driver cannot send signals.
        """
        if self.handle is None or self.driver is None or self.is_dead:
            raise ClientError(f"task {self.name!r} is not running")
        self._emit(
            task_event(c.TASK_SIGNALING, task_signal=signal, task_signal_reason="user request")
        )
        try:
            await self.driver.signal_task(self.handle.config.id, signal)
        except DriverError as exc:
            raise ClientError(f"cannot signal task {self.name!r}: {exc}") from None

    @property
    def can_exec(self) -> bool:
        """Whether the task's driver can run commands inside it."""
        return self.driver is not None and self.driver.capabilities().exec

    async def exec(self, cmd: list[str], timeout: float) -> tuple[int, str]:
        """Run ``cmd`` inside the running task through its driver (template change
        scripts); its exit code and combined output.

        :raises ClientError: the task does not run, its driver cannot exec, the command
            could not start, or it was killed after ``timeout`` seconds.
        """
        if self.handle is None or self.driver is None or self.is_dead:
            raise ClientError(f"task {self.name!r} is not running")
        try:
            result = await asyncio.wait_for(
                self.driver.exec_task(self.handle.config.id, cmd, timeout), timeout + 1
            )
        except TimeoutError:
            raise ClientError(f"{cmd[0]} timed out after {timeout:g}s") from None
        except DriverError as exc:
            raise ClientError(str(exc)) from None
        exit_result = result.exit_result
        if exit_result.err:
            raise ClientError(exit_result.err)
        output = (result.stdout + result.stderr).decode(errors="replace")
        # A command killed by a signal reports it as a shell would: 128 + the signal.
        code = exit_result.exit_code or (128 + exit_result.signal if exit_result.signal else 0)
        return code, output

    async def fail(self, reason: str) -> None:
        """Kill the task for good, marking it failed, with ``reason`` as the kill event."""
        timeout = self.task.kill_timeout if self.task.kill_timeout is not None else 5 * SECOND
        await self.kill(
            task_event(c.TASK_KILLING, kill_reason=reason, kill_timeout=timeout, fails_task=True)
        )

    async def restart(self) -> None:
        """Restart the task in place (``caravan alloc restart``), without consulting the
        restart policy. A task that finished is started again; a killed one is not.

        :raises ClientError: the task was killed.
        """
        if self.killed:
            raise ClientError(f"task {self.name!r} was killed and cannot be restarted")
        event = task_event(c.TASK_RESTART_SIGNAL, restart_reason="User requested restart")
        if self.is_dead and self.done.is_set():
            self.state.failed = False
            self.state.finished_at = None
            self._set_state(c.TASK_STATE_PENDING, event)
            self.done.clear()
            self._run_task = None
            self.start()
            return
        if self.handle is None or self.driver is None:
            return
        self._restart_requested = True
        self._emit(event)
        timeout = (self.task.kill_timeout or 5 * SECOND) / SECOND
        await self.driver.stop_task(
            self.handle.config.id, timeout, self.task.kill_signal or "SIGTERM"
        )

    def restart_unhealthy(self, reason: str) -> None:
        """Restart the running task because a check stayed unhealthy (``check_restart``).

        Records ``Restart Signal`` with ``reason``, stops the task with its kill signal
        and timeout, and lets the restart policy decide what follows, counting it as a
        failure (as Nomad does). A task that is not running, or is being killed or
        restarted already, is left alone.
        """
        if self.handle is None or self.driver is None or self.killed or self._restart_requested:
            return
        if self.state.state != c.TASK_STATE_RUNNING:
            return
        self._restart_requested = True
        self._restart_failed = True
        self._emit(task_event(c.TASK_RESTART_SIGNAL, restart_reason=reason))
        timeout = (self.task.kill_timeout or 5 * SECOND) / SECOND
        self._background(self._stop_in_driver(self.handle.config.id, timeout))

    def service_problem(self, message: str) -> None:
        """Record a service that could not be registered (a port label that is not
        allocated, an address mode without an address) as a task event users see."""
        self._emit(task_event(c.TASK_HOOK_FAILED, message=message))

    async def _stop_in_driver(self, task_id: str, timeout: float) -> None:
        assert self.driver is not None
        try:
            await self.driver.stop_task(task_id, timeout, self.task.kill_signal or "SIGTERM")
        except DriverError as exc:
            log.warning("restarting task %s of %s: %s", self.name, self.alloc.id, exc)

    async def shutdown(self) -> None:
        """Stop managing the task, leaving it running (agent shutdown)."""
        if self._run_task is not None and not self._run_task.done():
            self._run_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._run_task

    async def destroy(self) -> None:
        """Run the hooks' ``stop`` stage; the task must be dead (allocation teardown)."""
        await self._stop_hooks()

    # -- the run loop -------------------------------------------------------

    async def _run(self) -> None:
        try:
            if not await self._until(self.gate):
                return
            if self._lost_exit is not None and not await self._after(
                self.tracker.on_exit(self._lost_exit)
            ):
                return
            while not self.killed:
                if self.handle is None:
                    decision = await self._start()
                    if decision is not None:
                        if not await self._after(decision):
                            return
                        continue
                assert self.driver is not None and self.handle is not None
                result = await self.driver.wait_task(self.handle.config.id)
                self._exited(result)
                if self.killed:
                    return
                if self._restart_requested and not self._restart_failed:
                    self._restart_requested = False
                    decision = Decision(RESTART, 0, "")
                elif self._restart_requested:
                    # A check_restart counts against the restart policy, whatever the exit.
                    self._restart_requested = self._restart_failed = False
                    failed = result if not result.successful else ExitResult(exit_code=1)
                    decision = self.tracker.on_exit(failed)
                else:
                    decision = self.tracker.on_exit(result)
                if not await self._after(decision):
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("task %s of %s failed unexpectedly", self.name, self.alloc.id)
            event = task_event(c.TASK_DRIVER_FAILURE, driver_error=str(exc), fails_task=True)
            self.state.failed = True
            self._set_state(c.TASK_STATE_DEAD, event)
        finally:
            self.done.set()

    async def _start(self) -> Decision | None:
        """Run prestart hooks and start the task; a decision when it did not start."""
        if self.driver is None:
            error = f"driver {self.task.driver!r} is not loaded on this client"
            self._emit(task_event(c.TASK_DRIVER_FAILURE, driver_error=error))
            return self.tracker.on_start_error(recoverable=False)
        ctx = self._hook_context()
        try:
            for hook in self._hooks:
                await hook.prestart(ctx)
        except HookError as exc:
            self._persist_handle()
            return self.tracker.on_start_error(exc.recoverable)
        config = self._task_config()
        try:
            handle = await self.driver.start_task(config)
        except InvalidTaskConfigError as exc:
            self._emit(task_event(c.TASK_FAILED_VALIDATION, validation_error=str(exc)))
            return self.tracker.on_start_error(recoverable=False)
        except DriverError as exc:
            self._emit(task_event(c.TASK_DRIVER_FAILURE, driver_error=str(exc)))
            return self.tracker.on_start_error(recoverable=True)
        self.handle = handle
        self._persist_handle()
        self.state.started_at = datetime.now(UTC)
        self._set_state(c.TASK_STATE_RUNNING, task_event(c.TASK_STARTED))
        for hook in self._hooks:
            await hook.poststart(ctx)
        return None

    def _exited(self, result: ExitResult) -> None:
        message = "OOM Killed" if result.oom_killed else (result.err or "")
        details = {"oom_killed": "true"} if result.oom_killed else None
        self._emit(
            task_event(
                c.TASK_TERMINATED,
                exit_code=result.exit_code,
                signal=result.signal,
                message=message,
                details=details,
            )
        )
        handle, self.handle = self.handle, None
        self._persist_handle()
        if handle is not None:
            self._background(self._destroy_in_driver(handle.config.id))

    async def _destroy_in_driver(self, task_id: str) -> None:
        assert self.driver is not None
        with contextlib.suppress(DriverError):
            await self.driver.destroy_task(task_id, force=True)

    async def _after(self, decision: Decision) -> bool:
        """Apply a restart decision; True to go round again."""
        if decision.action == RESTART:
            self.state.restarts += 1
            self.state.last_restart = datetime.now(UTC)
            event = task_event(
                c.TASK_RESTARTING,
                start_delay=decision.delay_ns,
                restart_reason=decision.reason,
            )
            self._set_state(c.TASK_STATE_PENDING, event)
            # On disk before the delay: an agent killed now must not forget the restart.
            self.db.put_task_progress(self.alloc.id, self.name, self.state, self.tracker.snapshot())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(decision.delay_ns / SECOND):
                    await self._killed.wait()
            return not self.killed
        if decision.action == NOT_RESTARTING:
            self.state.failed = True
            event = task_event(
                c.TASK_NOT_RESTARTING, restart_reason=decision.reason, fails_task=True
            )
            self._finish(event)
            return False
        if decision.action == TERMINATED:
            self._finish(None)
        return False

    def _finish(self, event: TaskEvent | None) -> None:
        self.state.finished_at = datetime.now(UTC)
        self._set_state(c.TASK_STATE_DEAD, event)
        self._background(self._stop_hooks())

    def _background(self, coro: Coroutine[None, None, None]) -> None:
        task = asyncio.create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _stop_hooks(self) -> None:
        ctx = self._hook_context()
        for hook in self._hooks:
            try:
                await hook.stop(ctx)
            except Exception:
                log.exception("hook %s of task %s failed to stop", hook.name, self.name)

    async def _until(self, event: asyncio.Event) -> bool:
        """Wait for ``event``; False when the task is killed first."""
        if event.is_set():
            return True
        waiters = {asyncio.ensure_future(event.wait()), asyncio.ensure_future(self._killed.wait())}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        return event.is_set() and not self.killed

    # -- helpers --------------------------------------------------------------

    def _task_config(self) -> TaskConfig:
        env = self.env
        res = self.task.resources
        task_dir = self.alloc_dir.task(self.name)
        return TaskConfig(
            id=f"{self.alloc.id}/{self.name}/{uuid.uuid4().hex[:8]}",
            name=self.name,
            job_name=env.env.get("NOMAD_JOB_NAME", self.alloc.job_id),
            task_group_name=self.alloc.task_group,
            alloc_id=self.alloc.id,
            namespace=self.alloc.namespace or "default",
            env=env.env,
            config=env.interpolate(self.task.config or {}),
            resources=TaskResources(
                cpu=(res.cpu or 100) if res else 100,
                memory_mb=(res.memory_mb or 300) if res else 300,
                memory_max_mb=(res.memory_max_mb or 0) if res else 0,
            ),
            alloc_dir=self.alloc_dir.root,
            task_dir=task_dir.root,
            local_dir=task_dir.local,
            secrets_dir=task_dir.secrets,
            stdout_path=self.alloc_dir.log_path(self.name, "stdout"),
            stderr_path=self.alloc_dir.log_path(self.name, "stderr"),
            user=self.task.user,
            ports={
                label: port.mapping
                for label, port in task_ports(self.alloc, self.task, node_ip(self.node)).items()
            },
            node_id=self.node.id,
        )

    def _hook_context(self) -> TaskHookContext:
        return TaskHookContext(
            alloc=self.alloc,
            task=self.task,
            alloc_dir=self.alloc_dir,
            task_dir=self.alloc_dir.task(self.name),
            env=self.env,
            rotator=self._rotator,
            emit=self._emit,
            hook_state=self.hook_state,
        )

    def _persist_handle(self) -> None:
        self.db.put_task_handle(self.alloc.id, self.name, self.handle, self.hook_state)

    def _emit(self, event: TaskEvent) -> None:
        events = [*(self.state.events or []), event]
        self.state.events = events[-MAX_EVENTS:]
        if event.fails_task:
            self.state.failed = True
        self._on_change(self)

    def _set_state(self, state: str, event: TaskEvent | None = None) -> None:
        self.state.state = state
        if state == c.TASK_STATE_DEAD and self.state.finished_at is None:
            self.state.finished_at = datetime.now(UTC)
        if event is not None:
            self._emit(event)
        else:
            self._on_change(self)
