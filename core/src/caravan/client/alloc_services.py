"""``AllocServices``: the service instances of one allocation, their checks, and the
restarts those checks ask for.

A task's services are registered when the task runs (the task-level
:class:`~caravan.client.hooks.services_hook.ServicesHook` calls :meth:`task_running`) and
removed when it is dead for good (:meth:`task_stopped`); the group's services are
registered once the allocation's main tasks run and removed when the allocation stops
(:meth:`group_running`, :meth:`close`). A task that exits and is restarted keeps its
registration: its checks turn ``critical`` meanwhile, which is what users and load
balancers should see.

Every ``check`` gets a :class:`~caravan.client.checks.CheckRunner`. Each result updates the
instance's ``Checks`` (``{name: status}``) and re-registers it when a status changed; it is
also handed to the allocation (``on_check``, which feeds deployment health) and to the
check's ``check_restart`` tracker, which restarts the task when the check stays unhealthy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from caravan.structs import Allocation, Node, ServiceRegistration
from caravan.structs.services import Service, ServiceCheck

from .checks import CheckRestartTracker, CheckResult, CheckRunner
from .errors import ClientError
from .networks import TaskPort, node_ip, task_group, task_ports
from .publisher import Publisher
from .service_regs import (
    ServiceTarget,
    advertised_tags,
    build_registration,
    check_target,
    default_service_name,
    registration_id,
    resolve_target,
)
from .service_router import ServiceRouter

if TYPE_CHECKING:
    from .task_runner import TaskRunner

log = logging.getLogger(__name__)

#: The owner key of the group's services (task names cannot be empty).
GROUP = ""


@dataclass
class _Instance:
    """One registered service and what keeps it current."""

    service: Service
    task_name: str | None
    name: str
    tags: list[str]
    target: ServiceTarget
    statuses: dict[str, str] = field(default_factory=dict)
    runners: list[CheckRunner] = field(default_factory=list)
    restarts: dict[str, CheckRestartTracker] = field(default_factory=dict)
    restart_task: dict[str, str] = field(default_factory=dict)


class AllocServices:
    """The services of one allocation.

    :param tasks: the allocation's task runners by name (their env, driver, handle, and
        the restarts ``check_restart`` asks for).
    :param on_check: called after any check status changed (deployment health).
    """

    def __init__(
        self,
        alloc: Allocation,
        node: Node,
        router: ServiceRouter,
        tasks: Mapping[str, TaskRunner],
        on_check: Callable[[], None] | None = None,
    ) -> None:
        self.alloc = alloc
        self.node = node
        self.router = router
        self.tasks = tasks
        self._on_check = on_check
        self._instances: dict[str, list[_Instance]] = {}
        self._closed = False

    # -- what the allocation and its tasks report ---------------------------

    async def task_running(self, task_name: str) -> None:
        """The task (re)started or was recovered: register its services, (re)start their
        checks against the new handle, and begin each ``check_restart`` grace period."""
        if self._closed:
            return
        runner = self.tasks[task_name]
        await self._start(task_name, list(runner.task.services or []), runner)

    async def task_stopped(self, task_name: str) -> None:
        """The task is dead for good: stop its checks and deregister its services."""
        await self._drop(task_name)

    async def group_running(self) -> None:
        """The allocation's main tasks run: register the group's services (once)."""
        if self._closed or GROUP in self._instances:
            return
        group = task_group(self.alloc)
        services = list((group.services if group else None) or [])
        if services:
            await self._start(GROUP, services, None)

    def update_alloc(self, alloc: Allocation) -> None:
        """A newer version of the allocation (a canary promoted): re-register with the tags
        it now advertises."""
        self.alloc = alloc
        for instances in self._instances.values():
            for inst in instances:
                inst.tags = self._tags(inst.service, inst.task_name)
                self._register(inst)

    async def close(self) -> None:
        """The allocation stopped: stop every check and deregister every service — also
        those an earlier agent registered and this one never took over (the allocation
        ended while no agent ran). Later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        for owner in list(self._instances):
            await self._drop(owner)
        for publisher, reg in self._unclaimed():
            publisher.deregister([reg])

    async def stop_checks(self) -> None:
        """Stop every check and leave the services registered (agent shutdown)."""
        for instances in self._instances.values():
            for inst in instances:
                for check_runner in inst.runners:
                    await check_runner.stop()

    def _unclaimed(self) -> list[tuple[Publisher, ServiceRegistration]]:
        """Minimal registrations (ID, name, namespace) of every service of the allocation
        this agent never registered itself, each with the catalog it belongs in."""
        owners: list[tuple[str | None, list[Service]]] = []
        group = task_group(self.alloc)
        owners.append((None, list((group.services if group else None) or [])))
        for runner in self.tasks.values():
            owners.append((runner.name, list(runner.task.services or [])))
        out = []
        for task_name, services in owners:
            env_runner = self.tasks.get(task_name) if task_name else self._first_runner()
            for service in services:
                name = service.name or default_service_name(self.alloc, task_name)
                if env_runner is not None:
                    name = env_runner.env.replace(name)
                owner = task_name or f"group-{self.alloc.task_group}"
                reg_id = registration_id(self.alloc, owner, name, service.port_label)
                publisher = self.router.for_service(service)
                if reg_id in publisher.registered:
                    continue
                reg = ServiceRegistration(
                    id=reg_id, service_name=name, namespace=self.alloc.namespace or "default"
                )
                out.append((publisher, reg))
        return out

    def check_statuses(self) -> dict[str, str]:
        """``{check name: status}`` over every registered service of the allocation."""
        return {
            name: status
            for instances in self._instances.values()
            for inst in instances
            for name, status in inst.statuses.items()
        }

    def registrations(self) -> list[ServiceRegistration]:
        """What the allocation currently has registered (or is registering)."""
        return [self._registration(i) for insts in self._instances.values() for i in insts]

    # -- internals -------------------------------------------------------------

    async def _start(self, owner: str, services: list[Service], runner: TaskRunner | None) -> None:
        task_name = owner or None
        old = {i.name + i.service.port_label: i for i in self._instances.pop(owner, [])}
        for inst in old.values():
            for check_runner in inst.runners:
                await check_runner.stop()
        instances = []
        for service in services:
            try:
                inst = self._instance(service, task_name, runner)
            except ClientError as exc:
                self._report(runner, task_name, str(exc))
                continue
            # A restarted task keeps its checks' last statuses until new results arrive.
            previous = old.get(inst.name + service.port_label)
            if previous is not None:
                inst.statuses.update(previous.statuses)
            instances.append(inst)
        self._instances[owner] = instances
        now = time.time_ns()
        for inst in instances:
            self._register(inst)
            for tracker in inst.restarts.values():
                tracker.task_started(now)
            for check_runner in inst.runners:
                check_runner.start()

    def _instance(self, service: Service, task_name: str | None, runner: Any) -> _Instance:
        context = runner if runner is not None else self._first_runner()
        ports = self._ports(context)
        driver_ip = _driver_ip(context)
        alloc_ip = _alloc_ip(self.alloc)
        name = service.name or default_service_name(self.alloc, task_name)
        if context is not None:
            name = context.env.replace(name)
        label = f"service {name!r}"
        target = resolve_target(
            service.address_mode,
            service.port_label,
            ports,
            self.node,
            driver_ip=driver_ip,
            alloc_ip=alloc_ip,
            address=service.address,
            what=label,
        )
        inst = _Instance(service, task_name, name, self._tags(service, task_name), target)
        for check in service.checks or []:
            owner = task_name or check.task_name
            check_runner = self._check_runner(inst, check, ports, driver_ip, alloc_ip, owner)
            inst.runners.append(check_runner)
            inst.statuses.setdefault(check.name, check_runner.status)
            restart = check.check_restart or service.check_restart
            if restart is not None and restart.limit > 0 and owner:
                inst.restarts[check.name] = CheckRestartTracker(
                    restart.limit,
                    restart.grace or 0,
                    check.interval or 10 * 10**9,
                    restart.ignore_warnings,
                )
                inst.restart_task[check.name] = owner
        return inst

    def _check_runner(
        self,
        inst: _Instance,
        check: ServiceCheck,
        ports: Mapping[str, TaskPort],
        driver_ip: str,
        alloc_ip: str,
        owner: str | None,
    ) -> CheckRunner:
        target = check_target(
            check,
            inst.service,
            inst.target,
            ports,
            self.node,
            driver_ip=driver_ip,
            alloc_ip=alloc_ip,
        )
        runner = self.tasks.get(owner) if owner else None
        handle = runner.handle if runner is not None else None
        try:
            return CheckRunner.for_check(
                check,
                lambda name, result: self._result(inst, name, result),
                address=target.address,
                port=target.port,
                driver=runner.driver if runner is not None else None,
                task_id=handle.config.id if handle is not None else "",
            )
        except ValueError as exc:
            raise ClientError(str(exc)) from None

    def _result(self, inst: _Instance, name: str, result: CheckResult) -> None:
        restart = inst.restarts.get(name)
        if restart is not None and restart.observe(result.status, result.timestamp):
            task = self.tasks.get(inst.restart_task[name])
            if task is not None:
                task.restart_unhealthy(f'healthcheck: check "{name}" unhealthy')
        if inst.statuses.get(name) == result.status:
            return
        inst.statuses[name] = result.status
        # A result of a runner being replaced must not resurrect its old registration.
        if any(i is inst for i in self._instances.get(inst.task_name or GROUP, [])):
            self._register(inst)
        if self._on_check is not None:
            self._on_check()

    async def _drop(self, owner: str) -> None:
        instances = self._instances.pop(owner, [])
        for inst in instances:
            for check_runner in inst.runners:
                await check_runner.stop()
        for inst in instances:
            self.router.for_service(inst.service).deregister([self._registration(inst)])

    def _register(self, inst: _Instance) -> None:
        publisher = self.router.for_service(inst.service)
        publisher.register(
            [self._registration(inst)], group=self.alloc.task_group, task=inst.task_name or ""
        )

    def _registration(self, inst: _Instance) -> ServiceRegistration:
        return build_registration(
            self.alloc,
            self.node,
            inst.service,
            inst.target,
            task_name=inst.task_name,
            name=inst.name,
            tags=inst.tags,
            checks=inst.statuses,
        )

    def _tags(self, service: Service, task_name: str | None) -> list[str]:
        runner = self.tasks.get(task_name) if task_name else self._first_runner()
        tags = advertised_tags(self.alloc, service)
        return [runner.env.replace(t) for t in tags] if runner is not None else tags

    def _ports(self, runner: TaskRunner | None) -> dict[str, TaskPort]:
        if runner is not None:
            return task_ports(self.alloc, runner.task, node_ip(self.node))
        return {}

    def _first_runner(self) -> TaskRunner | None:
        return next(iter(self.tasks.values()), None)

    def _report(self, runner: TaskRunner | None, task_name: str | None, message: str) -> None:
        log.warning("allocation %s: %s", self.alloc.id, message)
        target = runner if runner is not None else self._first_runner()
        if target is not None:
            target.service_problem(message)


def _driver_ip(runner: Any) -> str:
    handle = runner.handle if runner is not None else None
    return str(handle.driver_state.get("ip") or "") if handle is not None else ""


def _alloc_ip(alloc: Allocation) -> str:
    status = alloc.network_status or {}
    return str(status.get("Address") or "")
