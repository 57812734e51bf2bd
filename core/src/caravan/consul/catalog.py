"""Writes to the service catalog that read-modify-write one registration.

A check status change rewrites the whole :class:`~caravan.structs.ServiceRegistration` through
Raft. Two changes to different checks of one instance, interleaved across an ``await``, would
lose one of them, so every such write on a server holds that server's catalog lock. The Consul
surface and caravan's own service endpoints share it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable
from typing import Any

_LOCKS: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


def catalog_lock(server: Any) -> asyncio.Lock:
    """The lock serializing read-modify-write catalog changes on ``server``."""
    lock = _LOCKS.get(server)
    if lock is None:
        lock = _LOCKS[server] = asyncio.Lock()
    return lock


async def set_check_statuses(server: Any, reg_id: str, statuses: dict[str, str]) -> int | None:
    """Record the latest status of checks of one registration.

    :param statuses: check name -> ``passing``, ``warning`` or ``critical``.
    :returns: the Raft index of the write (the registration's index when nothing changed),
        or ``None`` when no registration has ``reg_id``.
    """
    async with catalog_lock(server):
        reg = server.state.service_registration_by_id(reg_id)
        if reg is None:
            return None
        checks = dict(reg.checks or {})
        if all(checks.get(name) == status for name, status in statuses.items()):
            return reg.modify_index
        checks.update(statuses)
        return await server.service_upsert([reg.model_copy(update={"checks": checks})])


async def upsert(server: Any, regs: Iterable[Any]) -> int:
    """Register or replace whole registrations under the catalog lock; the Raft index."""
    async with catalog_lock(server):
        return await server.service_upsert(list(regs))


async def delete(server: Any, reg_id: str) -> int | None:
    """Remove one registration by ID; ``None`` when there is none (a no-op)."""
    async with catalog_lock(server):
        reg = server.state.service_registration_by_id(reg_id)
        if reg is None:
            return None
        return await server.service_delete(reg.namespace, reg.service_name, reg_id)
