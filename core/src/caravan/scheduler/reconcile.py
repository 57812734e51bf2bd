"""The reconciler: what should change for a job's allocations, before deciding where.

:func:`reconcile` compares the job (or its absence: stopped or purged) with its existing
allocations, the nodes they sit on and the job's deployment, and decides per task group which
allocations to keep, update in place, replace (destructive update, migration off a draining
node, replacement of a lost or failed allocation), stop, or reschedule later; and how many new
ones to place. It is pure: the same inputs always give the same result, and nothing is read
from anywhere else. Where the result goes is the scheduler's business.

Rolling updates: when a group's ``update`` stanza has ``max_parallel > 0``, at most
``max_parallel`` minus the new allocations not yet healthy are replaced per round, and with
``canary > 0`` a changed job first gets ``canary`` new allocations next to the old ones, which
are left alone until the deployment is promoted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from caravan.scheduler.names import NameIndex, alloc_index, alloc_name
from caravan.scheduler.reconcile_results import (
    ALLOC_LOST,
    ALLOC_MIGRATING,
    ALLOC_NOT_NEEDED,
    ALLOC_RESCHEDULED,
    ALLOC_UPDATING,
    DEPLOYMENT_CANCELLED_NEWER,
    DEPLOYMENT_CANCELLED_STOPPED,
    DelayedReschedule,
    DeploymentGroup,
    DeploymentStatusUpdate,
    DesiredUpdates,
    DestructiveUpdate,
    PlaceRequest,
    ReconcileResult,
    StopRequest,
)
from caravan.scheduler.reschedule import reschedule_decision
from caravan.scheduler.resources import client_terminal
from caravan.scheduler.updates import UpdateClassifier

_ACTIVE_DEPLOYMENT = frozenset({"running", "paused", "pending", "initializing", "blocked"})


def _is_stopped(job: Any | None) -> bool:
    return job is None or bool(job.stop)


def _flagged_canary(alloc: Any, deployment_id: str) -> bool:
    status = alloc.deployment_status
    return alloc.deployment_id == deployment_id and status is not None and bool(status.canary)


def _by_index(allocs: list[Any]) -> list[Any]:
    return sorted(allocs, key=lambda a: (alloc_index(a.name), a.id))


@dataclass
class _Buckets:
    """One group's live allocations, sorted by what happens to them."""

    keep: list[Any] = field(default_factory=list)
    migrate: list[Any] = field(default_factory=list)
    lost: list[Any] = field(default_factory=list)
    reschedule_now: list[tuple[Any, int]] = field(default_factory=list)
    reschedule_later: list[DelayedReschedule] = field(default_factory=list)


class Reconciler:
    """Reconciles one job; see :func:`reconcile` for the inputs."""

    def __init__(
        self,
        job_id: str,
        job: Any | None,
        allocs: list[Any],
        tainted: Mapping[str, Any | None],
        deployment: Any | None,
        now: int,
        batch: bool,
    ) -> None:
        self.job_id = job_id
        self.job = job
        self.allocs = allocs
        self.tainted = tainted
        self.deployment = deployment
        self.now = now
        self.batch = batch
        self.result = ReconcileResult()
        self._replaced = {a.previous_allocation for a in allocs if a.previous_allocation}
        self._stopped: set[str] = set()
        self._dep_active: Any | None = None
        self._dep_for_version: Any | None = None

    # ------------------------------------------------------------------ entry

    def compute(self) -> ReconcileResult:
        """Run the reconciliation and return its result."""
        groups: dict[str, list[Any]] = {}
        for alloc in self.allocs:
            groups.setdefault(alloc.task_group, []).append(alloc)
        if _is_stopped(self.job):
            self._cancel_deployment(DEPLOYMENT_CANCELLED_STOPPED)
            for name, allocs in groups.items():
                self._stop_all(name, allocs)
            return self.result
        job = self.job
        self._classifier = UpdateClassifier(job)
        self._current_deployment()
        wanted = {tg.name: tg for tg in job.task_groups or []}
        for name, allocs in groups.items():
            if name not in wanted:
                self._stop_all(name, allocs)
        for name, tg in wanted.items():
            self._group(tg, groups.get(name, []))
        return self.result

    # ------------------------------------------------------------------ deployment seam

    def _current_deployment(self) -> None:
        dep = self.deployment
        if dep is None:
            return
        # A job purged and registered again restarts at version 0: the create index tells.
        same_version = dep.job_version == self.job.version and (
            not dep.job_create_index or dep.job_create_index == self.job.create_index
        )
        if same_version and dep.status in _ACTIVE_DEPLOYMENT:
            self._dep_active = dep
            self.result.deployment_id = dep.id
        elif not same_version:
            self._cancel_deployment(DEPLOYMENT_CANCELLED_NEWER)
        self._dep_for_version = dep if same_version else None

    def _cancel_deployment(self, description: str) -> None:
        dep = self.deployment
        if dep is not None and dep.status in _ACTIVE_DEPLOYMENT:
            self.result.deployment_updates.append(
                DeploymentStatusUpdate(dep.id, "cancelled", description)
            )

    def _group_state(self, group: str) -> Any | None:
        dep = self._dep_active
        if dep is None:
            return None
        return (dep.task_groups or {}).get(group)

    # ------------------------------------------------------------------ helpers

    def _summary(self, group: str) -> DesiredUpdates:
        return self.result.desired_updates.setdefault(group, DesiredUpdates())

    def _stop(self, alloc: Any, description: str, client_status: str | None = None) -> None:
        self.result.stop.append(StopRequest(alloc, description, client_status))
        self._stopped.add(alloc.id)
        self._summary(alloc.task_group).stop += 1

    def _stop_all(self, group: str, allocs: list[Any]) -> None:
        self._summary(group)
        for alloc in allocs:
            if alloc.desired_status != "run" or client_terminal(alloc):
                continue
            lost = self._node_down(alloc.node_id)
            self._stop(alloc, ALLOC_LOST if lost else ALLOC_NOT_NEEDED, "lost" if lost else None)

    def _node_down(self, node_id: str) -> bool:
        if node_id not in self.tainted:
            return False
        node = self.tainted[node_id]
        return node is None or node.status == "down"

    def _bucket(self, tg: Any, allocs: list[Any]) -> _Buckets:
        b = _Buckets()
        policy = tg.reschedule_policy
        for alloc in allocs:
            if alloc.desired_status != "run":
                continue
            if client_terminal(alloc):
                if alloc.id in self._replaced or getattr(alloc, "next_allocation", None):
                    continue
                if alloc.client_status == "failed":
                    decision = reschedule_decision(policy, alloc)
                    if decision.now(self.now):
                        b.reschedule_now.append((alloc, decision.delay))
                        continue
                    if decision.eligible:
                        b.reschedule_later.append(DelayedReschedule(alloc, decision.at))
                    # Failed and not (yet) rescheduled: it keeps its slot, so the group is
                    # not topped up behind the reschedule policy's back.
                    b.keep.append(alloc)
                elif alloc.client_status == "complete" and self.batch:
                    b.keep.append(alloc)
                elif alloc.client_status == "lost":
                    b.lost.append(alloc)
                continue
            if alloc.node_id in self.tainted:
                (b.lost if self._node_down(alloc.node_id) else b.migrate).append(alloc)
                continue
            b.keep.append(alloc)
        return b

    # ------------------------------------------------------------------ one group

    def _group(self, tg: Any, allocs: list[Any]) -> None:
        group, count = tg.name, tg.count or 0
        summary = self._summary(group)
        b = self._bucket(tg, allocs)
        dep_id = self._dep_active.id if self._dep_active is not None else None
        self._stop_stale_canaries(b, dep_id)
        self.result.delayed.extend(d for d in b.reschedule_later if d.alloc.id not in self._stopped)
        update = tg.update if not self.batch else None
        rolling = update is not None and (update.max_parallel or 0) > 0
        dstate = self._group_state(group)
        promoted = bool(dstate is not None and dstate.promoted)

        if promoted and dep_id is not None:
            self._promote(b, dep_id, set(dstate.placed_canaries or []))
        current, old = [], []
        for alloc in b.keep:
            if client_terminal(alloc) or self._classifier.same_version(alloc.job):
                current.append(alloc)
            else:
                old.append(alloc)
        destructive = [a for a in old if self._classifier.destructive(a.job, group)]
        inplace = [a for a in old if not self._classifier.destructive(a.job, group)]
        want_canaries = (update.canary or 0) if rolling else 0
        # The deployment canaries until it is promoted, as in Nomad, even once no old
        # allocation is left to replace (they failed or were lost meanwhile): its canaries
        # stay outside the group's count and a lost one is replaced by a canary.
        canarying = bool(dstate is not None and (dstate.desired_canaries or 0) > 0)
        canary_phase = want_canaries > 0 and not promoted and (bool(destructive) or canarying)

        canaries: list[Any] = []
        replaced_canaries: list[PlaceRequest] = []
        if canary_phase and dep_id is not None:
            canaries = [a for a in b.keep if _flagged_canary(a, dep_id)]
            replaced_canaries = self._replace_canaries(b, group, dep_id)
        canary_ids = {a.id for a in canaries}

        # Every slot holds one allocation and keeps its name; canaries come on top.
        regular = [a for a in b.keep if a.id not in canary_ids and a.id not in self._stopped]
        slots = len(regular) + len(b.migrate) + len(b.lost) + len(b.reschedule_now)
        if slots > count:
            self._scale_down(slots - count, b, regular)
            slots = count
        names = NameIndex(
            self.job_id,
            group,
            [a.name for a in regular if a.id not in self._stopped]
            + [a.name for a in b.migrate + b.lost]
            + [a.name for a, _ in b.reschedule_now],
        )

        for alloc in b.lost:
            self._stop(alloc, ALLOC_LOST, "lost")
            self._place(PlaceRequest(alloc.name, group, alloc, lost=True))
        for alloc, delay in b.reschedule_now:
            self._stop(alloc, ALLOC_RESCHEDULED)
            self._place(
                PlaceRequest(
                    alloc.name,
                    group,
                    alloc,
                    reschedule=True,
                    reschedule_delay=delay,
                    penalty_nodes=frozenset({alloc.node_id}),
                )
            )
        migrate_limit = (tg.migrate.max_parallel or 1) if tg.migrate is not None else 1
        for i, alloc in enumerate(_by_index(b.migrate)):
            if i >= migrate_limit:
                summary.ignore += 1
                continue
            self._stop(alloc, ALLOC_MIGRATING)
            self.result.place.append(
                PlaceRequest(alloc.name, group, alloc, migrate=True, stop_previous=True)
            )
            summary.stop -= 1
            summary.migrate += 1

        for alloc in inplace:
            if alloc.id not in self._stopped:
                self.result.inplace.append(alloc)
                summary.in_place_update += 1

        live = [a for a in destructive if a.id not in self._stopped]
        if canary_phase:
            for req in replaced_canaries:
                self.result.place.append(req)
                summary.canary += 1
            live_canaries = [a for a in canaries if not client_terminal(a)]
            # New canaries only while something is left for them to replace.
            n = want_canaries - len(live_canaries) - len(replaced_canaries) if live else 0
            taken = [a.name for a in live_canaries] + [r.name for r in replaced_canaries]
            if not self._halted():
                self._place_canaries(group, n, live, taken)
            summary.ignore += len(live)
        else:
            limit = self._rolling_limit(update, rolling, current, dep_id)
            for i, alloc in enumerate(_by_index(live)):
                if i >= limit:
                    summary.ignore += 1
                    continue
                self._stop(alloc, ALLOC_UPDATING)
                self.result.destructive.append(DestructiveUpdate(alloc, alloc.name, group))
                summary.stop -= 1
                summary.destructive_update += 1

        summary.ignore += sum(1 for a in current if a.id not in self._stopped)
        for name in names.next(max(count - slots, 0)):
            self._place(PlaceRequest(name, group))
        self._maybe_deployment(tg, update, rolling, current, destructive, inplace, canary_phase)

    def _stop_stale_canaries(self, b: _Buckets, dep_id: str | None) -> None:
        # Canaries of a deployment that is no longer active and never took over: an older
        # allocation (an earlier job version, or a non-canary of the same one) still holds
        # their name. They are not needed.
        def flagged(alloc: Any) -> bool:
            return alloc.deployment_status is not None and bool(alloc.deployment_status.canary)

        def version(alloc: Any) -> int:
            return alloc.job.version if alloc.job is not None else 0

        everyone = b.keep + b.migrate + b.lost + [e[0] for e in b.reschedule_now]
        by_name: dict[str, list[Any]] = {}
        for alloc in everyone:
            by_name.setdefault(alloc.name, []).append(alloc)

        def stale(alloc: Any) -> bool:
            if not flagged(alloc) or alloc.deployment_id == dep_id:
                return False
            mine = version(alloc)
            return any(
                other is not alloc
                and version(other) <= mine
                and not (flagged(other) and other.deployment_id == alloc.deployment_id)
                for other in by_name[alloc.name]
            )

        for alloc in [a for a in b.keep if stale(a)]:
            b.keep.remove(alloc)
            if not client_terminal(alloc):
                self._stop(alloc, ALLOC_NOT_NEEDED)
            else:
                self._stopped.add(alloc.id)
        for alloc in [a for a in b.migrate if stale(a)]:
            b.migrate.remove(alloc)
            self._stop(alloc, ALLOC_NOT_NEEDED)
        for alloc in [a for a in b.lost if stale(a)]:
            b.lost.remove(alloc)
            self._stop(alloc, ALLOC_LOST, "lost")
        for entry in [e for e in b.reschedule_now if stale(e[0])]:
            b.reschedule_now.remove(entry)
            self._stop(entry[0], ALLOC_NOT_NEEDED)

    def _place(self, req: PlaceRequest) -> None:
        self.result.place.append(req)
        self._summary(req.group).place += 1

    def _scale_down(self, excess: int, b: _Buckets, regular: list[Any]) -> None:
        # The highest names go, whatever state their allocation is in, so the group keeps the
        # names 0..count-1 (as Nomad does). Replacements that are no longer needed are
        # simply not placed.
        slots: list[tuple[int, str, Any]] = [(alloc_index(a.name), "keep", a) for a in regular]
        slots += [(alloc_index(a.name), "migrate", a) for a in b.migrate]
        slots += [(alloc_index(a.name), "lost", a) for a in b.lost]
        slots += [(alloc_index(a.name), "reschedule", a) for a, _ in b.reschedule_now]
        slots.sort(key=lambda s: (s[0], s[2].id), reverse=True)
        for _, kind, alloc in slots[:excess]:
            if kind == "lost":
                b.lost.remove(alloc)
                self._stop(alloc, ALLOC_LOST, "lost")
                continue
            if kind == "migrate":
                b.migrate.remove(alloc)
            elif kind == "reschedule":
                b.reschedule_now = [e for e in b.reschedule_now if e[0] is not alloc]
            self._stop(alloc, ALLOC_NOT_NEEDED)

    def _promote(self, b: _Buckets, dep_id: str, placed_canaries: set[str]) -> None:
        # Promoted canaries take over the names (and slots) of the allocations they replace;
        # whatever else still holds such a name is no longer needed. They are known by the
        # deployment's PlacedCanaries, since promotion clears their Canary flag.
        canary_ids = {
            a.id
            for a in b.keep
            if (a.id in placed_canaries or _flagged_canary(a, dep_id))
            and a.deployment_id == dep_id
            and not client_terminal(a)
        }
        names = {a.name for a in b.keep if a.id in canary_ids}
        if not names:
            return
        for alloc in [a for a in b.keep if a.name in names and a.id not in canary_ids]:
            b.keep.remove(alloc)
            if client_terminal(alloc):
                self._stopped.add(alloc.id)
            else:
                self._stop(alloc, ALLOC_NOT_NEEDED)
        for alloc in [a for a in b.migrate if a.name in names]:
            b.migrate.remove(alloc)
            self._stop(alloc, ALLOC_NOT_NEEDED)
        for alloc in [a for a in b.lost if a.name in names]:
            b.lost.remove(alloc)
            self._stop(alloc, ALLOC_LOST, "lost")
        for entry in [e for e in b.reschedule_now if e[0].name in names]:
            b.reschedule_now.remove(entry)
            self._stop(entry[0], ALLOC_NOT_NEEDED)

    def _replace_canaries(self, b: _Buckets, group: str, dep_id: str) -> list[PlaceRequest]:
        # Canaries that were lost, are leaving a draining node or failed are replaced by
        # canaries: they stay outside the group's count and its names.
        out = []
        for alloc in [a for a in b.lost if _flagged_canary(a, dep_id)]:
            b.lost.remove(alloc)
            self._stop(alloc, ALLOC_LOST, "lost")
            out.append(PlaceRequest(alloc.name, group, alloc, canary=True, lost=True))
        for alloc in [a for a in b.migrate if _flagged_canary(a, dep_id)]:
            b.migrate.remove(alloc)
            self._stop(alloc, ALLOC_MIGRATING)
            out.append(PlaceRequest(alloc.name, group, alloc, canary=True, migrate=True))
        for alloc, delay in [e for e in b.reschedule_now if _flagged_canary(e[0], dep_id)]:
            b.reschedule_now = [e for e in b.reschedule_now if e[0] is not alloc]
            self._stop(alloc, ALLOC_RESCHEDULED)
            out.append(
                PlaceRequest(
                    alloc.name,
                    group,
                    alloc,
                    canary=True,
                    reschedule=True,
                    reschedule_delay=delay,
                    penalty_nodes=frozenset({alloc.node_id}),
                )
            )
        return out

    def _place_canaries(
        self, group: str, n: int, destructive: list[Any], taken_names: list[str]
    ) -> None:
        # A canary takes the name of an old allocation it will eventually replace, then any
        # name of the group not used by another canary. Canaries never claim names from the
        # group's regular allocations, which keep theirs until promotion.
        taken = set(taken_names)
        candidates = [a.name for a in _by_index(destructive) if a.name not in taken]
        taken.update(candidates)
        index = 0
        while len(candidates) < n:
            name = alloc_name(self.job_id, group, index)
            if name not in taken:
                candidates.append(name)
                taken.add(name)
            index += 1
        for name in candidates[: max(n, 0)]:
            self.result.place.append(PlaceRequest(name, group, canary=True))
            self._summary(group).canary += 1

    def _rolling_limit(
        self, update: Any, rolling: bool, current: list[Any], dep_id: str | None
    ) -> int:
        if not rolling:
            return len(self.allocs)
        if self._halted():
            return 0
        in_flight = sum(
            1
            for a in current
            if dep_id is not None
            and a.deployment_id == dep_id
            and not client_terminal(a)
            and not (a.deployment_status is not None and a.deployment_status.healthy)
        )
        return max(update.max_parallel - in_flight, 0)

    def _halted(self) -> bool:
        # A paused deployment waits for the operator, a failed one for a new job version
        # (or its auto-revert): neither replaces nor adds canaries in the meantime.
        dep = self._dep_active
        if dep is not None and dep.status == "paused":
            return True
        failed = self._dep_for_version
        return failed is not None and failed.status == "failed"

    def _maybe_deployment(
        self,
        tg: Any,
        update: Any,
        rolling: bool,
        current: list[Any],
        destructive: list[Any],
        inplace: list[Any],
        canary_phase: bool,
    ) -> None:
        if not rolling or self._dep_for_version is not None:
            return
        had_running = any(not client_terminal(a) for a in current)
        if had_running and not destructive and not inplace:
            return
        groups = self.result.new_deployment
        if groups is None:
            groups = self.result.new_deployment = {}
        groups[tg.name] = DeploymentGroup(
            desired_total=tg.count or 0,
            desired_canaries=(update.canary or 0) if canary_phase else 0,
            auto_promote=bool(update.auto_promote),
            auto_revert=bool(update.auto_revert),
            progress_deadline=update.progress_deadline or 0,
        )


def reconcile(
    job_id: str,
    job: Any | None,
    allocs: list[Any],
    tainted: Mapping[str, Any | None],
    deployment: Any | None,
    now: int,
    batch: bool,
) -> ReconcileResult:
    """Decide what changes for a job's allocations.

    :param job_id: the job's ID (names new allocations even when ``job`` is gone).
    :param job: the current job, or ``None``/a job with ``stop`` set to stop everything.
    :param allocs: every allocation of the job, terminal ones included.
    :param tainted: nodes (by ID) that allocations must leave: down or missing (``None``)
        nodes lose their allocations, draining nodes migrate them.
    :param deployment: the job's latest deployment, or ``None``.
    :param now: the current time, Unix nanoseconds (for reschedule delays).
    :param batch: whether the job is a batch job (complete allocations are never replaced).
    :returns: a :class:`ReconcileResult`; the function never raises for valid models.
    """
    return Reconciler(job_id, job, allocs, tainted, deployment, now, batch).compute()
