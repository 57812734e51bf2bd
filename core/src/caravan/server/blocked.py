"""Blocked evaluations: jobs that could not place everything, waiting for capacity.

A scheduler that cannot place all of a job's allocations leaves a ``blocked`` evaluation.
It waits here, one per job (a newer one replaces an older one, which is handed to
``on_duplicate`` to be cancelled), until the cluster changes in a way that may let it place:
a node registers, becomes ready or eligible, changes its resources or drivers, or
allocations stop and free capacity. It is then handed to ``on_unblock`` (the broker).

An evaluation that recorded which computed node classes it found eligible
(``ClassEligibility``) is only released by a change on a class it did not rule out; one whose
constraints escaped class-level checks (``EscapedComputedClass``, or no class information)
is released by any change. Releases are batched over a short window so a burst of node
updates re-enqueues each blocked job once, and an evaluation planned against a snapshot older
than the last change on its classes is released at once (it may have missed that change).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

JobKey = tuple[str, str]


class BlockedEvals:
    """Tracks blocked evaluations per job (leader only; runs on the loop)."""

    def __init__(
        self,
        *,
        on_unblock: Callable[[list[Any]], None],
        on_duplicate: Callable[[list[Any]], None] = lambda evs: None,
        window: float = 0.05,
    ) -> None:
        self.on_unblock = on_unblock
        self.on_duplicate = on_duplicate
        self.window = window
        self.enabled = False
        self._reset()

    def _reset(self) -> None:
        self._by_job: dict[JobKey, Any] = {}
        self._pending_classes: set[str] = set()
        self._pending_all = False
        self._flush: asyncio.TimerHandle | None = None
        #: computed class (or "" for any) -> state index of the last capacity change seen.
        self._unblock_index: dict[str, int] = {}

    def set_enabled(self, enabled: bool) -> None:
        """Enable on gaining leadership; disabling forgets every blocked evaluation."""
        self.enabled = enabled
        if not enabled:
            if self._flush is not None:
                self._flush.cancel()
            self._reset()

    # ------------------------------------------------------------------ tracking

    def block(self, ev: Any) -> None:
        """Track ``ev`` (status ``blocked``) for its job, replacing an older one."""
        if not self.enabled:
            return
        key = (ev.namespace, ev.job_id)
        old = self._by_job.get(key)
        if old is not None and old.id != ev.id:
            if (old.modify_index, old.create_index) > (ev.modify_index, ev.create_index):
                self.on_duplicate([ev])
                return
            self.on_duplicate([old])
        if self._missed_unblock(ev):
            self._by_job.pop(key, None)
            self.on_unblock([ev])
            return
        self._by_job[key] = ev

    def untrack(self, namespace: str, job_id: str) -> None:
        """Forget the job's blocked evaluation (it placed everything, or was stopped)."""
        self._by_job.pop((namespace, job_id), None)

    def blocked(self) -> list[Any]:
        """The evaluations currently blocked, one per job."""
        return list(self._by_job.values())

    def _missed_unblock(self, ev: Any) -> bool:
        snapshot = ev.snapshot_index
        if not snapshot:
            return False
        eligibility = ev.class_eligibility or {}
        if ev.escaped_computed_class or not eligibility:
            return any(index > snapshot for index in self._unblock_index.values())
        return any(
            index > snapshot and (cls == "" or eligibility.get(cls, True))
            for cls, index in self._unblock_index.items()
        )

    # ------------------------------------------------------------------ releasing

    def unblock(self, computed_class: str, index: int) -> None:
        """Capacity changed on nodes of ``computed_class`` at state ``index``."""
        if not self.enabled:
            return
        self._unblock_index[computed_class] = max(self._unblock_index.get(computed_class, 0), index)
        self._pending_classes.add(computed_class)
        self._schedule()

    def unblock_all(self, index: int) -> None:
        """Capacity may have changed anywhere (allocations of unknown nodes stopped)."""
        if not self.enabled:
            return
        self._unblock_index[""] = max(self._unblock_index.get("", 0), index)
        self._pending_all = True
        self._schedule()

    def _schedule(self) -> None:
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(self.window, self.flush)

    def flush(self) -> None:
        """Release every evaluation the changes since the last flush may let place."""
        self._flush = None
        classes, everything = self._pending_classes, self._pending_all
        self._pending_classes, self._pending_all = set(), False
        released = []
        for key, ev in list(self._by_job.items()):
            eligibility = ev.class_eligibility or {}
            if (
                everything
                or ev.escaped_computed_class
                or not eligibility
                or any(eligibility.get(cls, True) for cls in classes)
            ):
                released.append(ev)
                del self._by_job[key]
        if released:
            self.on_unblock(released)

    def stats(self) -> dict[str, int]:
        return {"TotalBlocked": len(self._by_job)}
