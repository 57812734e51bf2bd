"""The evaluation broker: the leader's in-memory queue of evaluations waiting for a scheduler.

Semantics follow Nomad's ``EvalBroker``:

* Ready evaluations wait in one priority queue per scheduler type (higher ``Priority`` first,
  then older first). :meth:`EvalBroker.dequeue` hands one out with a token; the worker must
  :meth:`~EvalBroker.ack` or :meth:`~EvalBroker.nack` it. An evaluation not acknowledged within
  the nack timeout is nacked for the worker (at-least-once delivery).
* At most one evaluation per job is ready or out with a worker. Later ones for the same job
  wait; when the outstanding one is acknowledged only the newest waiting one becomes ready,
  the older ones are handed to ``on_cancel`` (they would only redo the newest one's work).
* A nacked evaluation is redelivered after a delay; once it has been delivered
  ``delivery_limit`` times it is given to ``on_failed`` instead.
* Evaluations with a ``WaitUntil`` in the future sit on a timer until then.

The broker runs on the event loop and is only enabled on the leader; disabling it drops
everything (the new leader rebuilds its queues from the state store).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from caravan.server.evals import wait_until_ns
from caravan.structs import new_id

JobKey = tuple[str, str]


@dataclass
class _Unacked:
    ev: Any
    token: str
    timer: asyncio.TimerHandle


class EvalBroker:
    """Priority queues of evaluations with per-job serialization and at-least-once delivery.

    ``on_failed(ev)`` receives an evaluation that reached the delivery limit; ``on_cancel(evs)``
    evaluations superseded by a newer one for the same job. Both are called on the loop and
    must not block.
    """

    def __init__(
        self,
        *,
        nack_timeout: float,
        delivery_limit: int,
        initial_nack_delay: float = 1.0,
        subsequent_nack_delay: float = 20.0,
        on_failed: Callable[[Any], None] = lambda ev: None,
        on_cancel: Callable[[list[Any]], None] = lambda evs: None,
    ) -> None:
        self.nack_timeout = nack_timeout
        self.delivery_limit = delivery_limit
        self.initial_nack_delay = initial_nack_delay
        self.subsequent_nack_delay = subsequent_nack_delay
        self.on_failed = on_failed
        self.on_cancel = on_cancel
        self.enabled = False
        self._seq = itertools.count()
        self._reset()

    def _reset(self) -> None:
        self._ready: dict[str, list[tuple[int, int, int, Any]]] = {}
        self._job_evals: dict[JobKey, str] = {}
        self._pending: dict[JobKey, list[Any]] = {}
        self._unack: dict[str, _Unacked] = {}
        self._deliveries: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    def set_enabled(self, enabled: bool) -> None:
        """Enable on gaining leadership; disabling drops every queued evaluation and timer."""
        self.enabled = enabled
        if not enabled:
            for entry in self._unack.values():
                entry.timer.cancel()
            for timer in self._timers.values():
                timer.cancel()
            self._reset()
        self._wake()

    # ------------------------------------------------------------------ enqueue

    def enqueue(self, ev: Any) -> None:
        """Queue a pending (or unblocked) evaluation; a no-op while disabled or if it is
        already known to the broker."""
        if not self.enabled or ev.id in self._unack or ev.id in self._timers:
            return
        due = wait_until_ns(ev)
        delay = (due - time.time_ns()) / 1e9 if due else 0.0
        if delay > 0:
            self._timers[ev.id] = _loop().call_later(delay, self._delay_done, ev)
            return
        self._admit(ev)

    def enqueue_all(self, evs: Iterable[Any]) -> None:
        for ev in evs:
            self.enqueue(ev)

    def _delay_done(self, ev: Any) -> None:
        self._timers.pop(ev.id, None)
        self._admit(ev)

    def _admit(self, ev: Any) -> None:
        key = (ev.namespace, ev.job_id)
        outstanding = self._job_evals.get(key)
        if outstanding is not None and outstanding != ev.id:
            waiting = self._pending.setdefault(key, [])
            if all(w.id != ev.id for w in waiting):
                waiting.append(ev)
            return
        self._job_evals[key] = ev.id
        self._push_ready(ev)

    def _push_ready(self, ev: Any) -> None:
        entry = (-ev.priority, ev.create_index, next(self._seq), ev)
        heapq.heappush(self._ready.setdefault(ev.type, []), entry)
        self._wake()

    # ------------------------------------------------------------------ dequeue

    async def dequeue(self, types: Iterable[str], timeout: float) -> tuple[Any, str] | None:
        """The highest-priority ready evaluation of one of ``types`` and its delivery token,
        or ``None`` after ``timeout`` seconds with nothing ready (or while disabled)."""
        wanted = tuple(types)
        deadline = time.monotonic() + timeout
        while True:
            if self.enabled:
                picked = self._pop(wanted)
                if picked is not None:
                    return picked
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return None

    def _pop(self, types: tuple[str, ...]) -> tuple[Any, str] | None:
        best: tuple[int, int, int, Any] | None = None
        best_type = ""
        for kind in types:
            queue = self._ready.get(kind)
            if queue and (best is None or queue[0] < best):
                best, best_type = queue[0], kind
        if best is None:
            return None
        heapq.heappop(self._ready[best_type])
        ev = best[3]
        token = new_id()
        timer = _loop().call_later(self.nack_timeout, self._nack_timeout, ev.id, token)
        self._unack[ev.id] = _Unacked(ev, token, timer)
        self._deliveries[ev.id] = self._deliveries.get(ev.id, 0) + 1
        return ev, token

    # ------------------------------------------------------------------ ack / nack

    def _take(self, eval_id: str, token: str) -> _Unacked:
        entry = self._unack.get(eval_id)
        if entry is None:
            raise KeyError(f"evaluation {eval_id!r} is not outstanding")
        if entry.token != token:
            raise KeyError(f"evaluation {eval_id!r}: token does not match")
        entry.timer.cancel()
        del self._unack[eval_id]
        return entry

    def outstanding_reset(self, eval_id: str, token: str) -> None:
        """Restart the nack timer of an evaluation a worker is still busy with."""
        entry = self._unack.get(eval_id)
        if entry is None or entry.token != token:
            raise KeyError(f"evaluation {eval_id!r} is not outstanding with that token")
        entry.timer.cancel()
        entry.timer = _loop().call_later(self.nack_timeout, self._nack_timeout, eval_id, token)

    def ack(self, eval_id: str, token: str) -> None:
        """The worker finished the evaluation. Raises ``KeyError`` for an unknown token."""
        entry = self._take(eval_id, token)
        self._deliveries.pop(eval_id, None)
        self._release_job(entry.ev)

    def nack(self, eval_id: str, token: str) -> None:
        """The worker gave up on the evaluation: redeliver it later, or fail it at the
        delivery limit. Raises ``KeyError`` for an unknown token."""
        entry = self._take(eval_id, token)
        ev = entry.ev
        count = self._deliveries.get(eval_id, 0)
        if count >= self.delivery_limit:
            self._deliveries.pop(eval_id, None)
            self._release_job(ev)
            self.on_failed(ev)
            return
        delay = self.initial_nack_delay if count <= 1 else self.subsequent_nack_delay
        self._timers[eval_id] = _loop().call_later(delay, self._redeliver, ev)

    def _redeliver(self, ev: Any) -> None:
        self._timers.pop(ev.id, None)
        self._push_ready(ev)

    def _nack_timeout(self, eval_id: str, token: str) -> None:
        if eval_id in self._unack and self._unack[eval_id].token == token:
            self.nack(eval_id, token)

    def _release_job(self, ev: Any) -> None:
        key = (ev.namespace, ev.job_id)
        if self._job_evals.get(key) == ev.id:
            del self._job_evals[key]
        waiting = self._pending.pop(key, None)
        if not waiting:
            return
        waiting.sort(key=lambda w: (w.modify_index, w.create_index))
        newest, older = waiting[-1], waiting[:-1]
        self._job_evals[key] = newest.id
        self._push_ready(newest)
        if older:
            self.on_cancel(older)

    # ------------------------------------------------------------------ introspection

    def stats(self) -> dict[str, int]:
        """Counts for metrics and tests: ready, unacked, pending (waiting on their job), delayed."""
        return {
            "TotalReady": sum(len(q) for q in self._ready.values()),
            "TotalUnacked": len(self._unack),
            "TotalPending": sum(len(p) for p in self._pending.values()),
            "TotalWaiting": len(self._timers),
        }

    def _wake(self) -> None:
        # Waiters hold the old event; a fresh one makes the next wait block again.
        self._changed.set()
        self._changed = asyncio.Event()


def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()
