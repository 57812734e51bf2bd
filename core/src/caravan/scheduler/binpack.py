"""Bin packing: does a group fit on a node, which host ports does it get, and how well it packs.

:func:`check_fit` checks cpu, memory, disk and bandwidth against the node's proposed usage, the
group's static ports for collisions and the dynamic range for room; :func:`assign_ports` then
picks dynamic ports on the chosen node with the evaluation's random generator (so the choice is
reproducible). :func:`fit_score` checks the fit and scores it with Nomad's
``ScoreFitBinPack``: best fit, the fuller the node after placement the higher the score.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from caravan.scheduler.resources import GroupAsk, NodeUsage, Usage

#: Nomad's ``binPackingMaxFitScore``: the raw score of a perfectly full node.
MAX_FIT_SCORE = 18.0

DIM_CPU = "cpu"
DIM_MEMORY = "memory"
DIM_DISK = "disk"
DIM_BANDWIDTH = "network: bandwidth exceeded"
DIM_PORT_COLLISION = "network: reserved port collision"
DIM_DYNAMIC_PORTS = "network: dynamic port selection failed"

# Random probes of the dynamic range before falling back to a scan, as Nomad's network index.
_RANDOM_PORT_ATTEMPTS = 20


@dataclass(frozen=True, slots=True)
class AssignedPort:
    """A host port given to one of the group's port labels."""

    label: str
    value: int
    to: int
    host_network: str


@dataclass(slots=True)
class Fit:
    """A successful fit: the ports assigned and the usage the allocation will hold."""

    ports: tuple[AssignedPort, ...]
    usage: Usage


def _pick_dynamic(
    used: set[int], taken: set[int], lo: int, hi: int, rng: random.Random
) -> int | None:
    span = hi - lo + 1
    for _ in range(_RANDOM_PORT_ATTEMPTS):
        port = lo + int(rng.random() * span)
        if port not in used and port not in taken:
            return port
    start = int(rng.random() * span)
    for i in range(span):
        port = lo + (start + i) % span
        if port not in used and port not in taken:
            return port
    return None


def check_fit(ask: GroupAsk, node: NodeUsage) -> str | None:
    """Whether ``ask`` fits on ``node``: ``None``, or the exhausted dimension's name.

    Checks cpu, memory, disk, bandwidth, static port collisions and whether the dynamic port
    range has room; which dynamic ports are used is only decided for the chosen node
    (:func:`assign_ports`). A node advertising no bandwidth is treated as unmetered, as
    modern Nomad clients are.
    """
    if node.used_cpu + ask.cpu > node.cpu:
        return DIM_CPU
    if node.used_memory_mb + ask.memory_mb > node.memory_mb:
        return DIM_MEMORY
    if node.used_disk_mb + ask.disk_mb > node.disk_mb:
        return DIM_DISK
    if ask.mbits and node.mbits and node.used_mbits + ask.mbits > node.mbits:
        return DIM_BANDWIDTH
    if not ask.static_ports and not ask.dynamic_ports:
        return None
    used = node.used_ports
    statics = ask.static_values
    if len(statics) < len(ask.static_ports) or not used.isdisjoint(statics):
        return DIM_PORT_COLLISION
    if ask.dynamic_ports:
        span = node.max_port - node.min_port + 1
        need = len(ask.dynamic_ports)
        # Cheap bound first: every used port counted as if it were in the dynamic range.
        if len(used) + len(statics) + need > span:
            lo, hi = node.min_port, node.max_port
            busy = sum(1 for p in used | statics if lo <= p <= hi)
            if busy + need > span:
                return DIM_DYNAMIC_PORTS
    return None


def assign_ports(ask: GroupAsk, node: NodeUsage, rng: random.Random) -> Fit:
    """The ports and usage of ``ask`` placed on ``node``, which :func:`check_fit` accepted."""
    if not ask.static_ports and not ask.dynamic_ports:
        return Fit((), Usage(ask.cpu, ask.memory_mb, ask.disk_mb, ask.mbits, ()))
    used = node.used_ports
    taken: set[int] = set()
    ports: list[AssignedPort] = []
    for p in ask.static_ports:
        taken.add(p.value)
        ports.append(AssignedPort(p.label, p.value, p.to, p.host_network))
    for p in ask.dynamic_ports:
        value = _pick_dynamic(used, taken, node.min_port, node.max_port, rng)
        if value is None:  # check_fit guarantees room; kept for a clear failure if not
            raise RuntimeError(f"no dynamic port left for {p.label!r} after check_fit")
        taken.add(value)
        ports.append(AssignedPort(p.label, value, p.to, p.host_network))
    usage = Usage(ask.cpu, ask.memory_mb, ask.disk_mb, ask.mbits, tuple(a.value for a in ports))
    return Fit(tuple(ports), usage)


def fixed_fit(ask: GroupAsk) -> Fit | None:
    """The :class:`Fit` of ``ask`` on any node when it asks for no ports (``None`` when it
    does): the same for every placement of the group, so one object serves them all (a
    ``Usage`` is never changed once built)."""
    if ask.static_ports or ask.dynamic_ports:
        return None
    return Fit((), Usage(ask.cpu, ask.memory_mb, ask.disk_mb, ask.mbits, ()))


def fit(ask: GroupAsk, node: NodeUsage, rng: random.Random) -> Fit | str:
    """:func:`check_fit` then :func:`assign_ports`: a :class:`Fit` or the exhausted dimension."""
    reason = check_fit(ask, node)
    if reason is not None:
        return reason
    return assign_ports(ask, node, rng)


def fit_scorer(ask: GroupAsk) -> Callable[[NodeUsage], float | str]:
    """A function of a node's usage that checks the fit of ``ask`` and scores it: the
    :func:`fit_score` of ``ask``, with the ask's numbers bound once.

    The candidate loop builds one per task group and calls it for every node it scores, so
    the common case (no ports, no bandwidth) is checked inline and the rest left to
    :func:`check_fit`.
    """
    cpu, memory, disk = ask.cpu, ask.memory_mb, ask.disk_mb
    network = bool(ask.mbits or ask.static_ports or ask.dynamic_ports)

    def score(node: NodeUsage) -> float | str:
        used_cpu = node.used_cpu + cpu
        node_cpu = node.cpu
        if used_cpu > node_cpu:
            return DIM_CPU
        used_memory = node.used_memory_mb + memory
        node_memory = node.memory_mb
        if used_memory > node_memory:
            return DIM_MEMORY
        if node.used_disk_mb + disk > node.disk_mb:
            return DIM_DISK
        if network:
            exhausted = check_fit(ask, node)
            if exhausted is not None:
                return exhausted
        free_cpu = 1.0 - used_cpu / node_cpu if node_cpu > 0 else 0.0
        free_mem = 1.0 - used_memory / node_memory if node_memory > 0 else 0.0
        raw = 20.0 - (10.0**free_cpu + 10.0**free_mem)
        # Clamped to [0, MAX_FIT_SCORE] without min/max calls.
        if raw < 0.0:
            return 0.0
        if raw > MAX_FIT_SCORE:
            return 1.0
        return raw / MAX_FIT_SCORE

    return score


def fit_score(ask: GroupAsk, node: NodeUsage) -> float | str:
    """:func:`check_fit` and, when ``ask`` fits, Nomad's ``ScoreFitBinPack`` of ``node`` with
    ``ask`` placed, normalised to [0, 1] (best fit: the fuller the node, the higher).

    Returns the exhausted dimension's name (a ``str``) or the score (a ``float``). Callers
    scoring many nodes for one ask should build :func:`fit_scorer` once instead.
    """
    return fit_scorer(ask)(node)
