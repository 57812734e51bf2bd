"""Allocation names, ``<job>.<group>[<index>]``, and which indexes are free.

Every allocation of a group has an index in ``0..count-1`` (``NOMAD_ALLOC_INDEX``). A
replacement keeps the name of the allocation it replaces; new placements take the lowest free
indexes first, so scaling down and up again reuses the same names.
"""

from __future__ import annotations

from collections.abc import Iterable


def alloc_name(job_id: str, group: str, index: int) -> str:
    """The name of allocation ``index`` of ``group``: ``"web.frontend[2]"``."""
    return f"{job_id}.{group}[{index}]"


def alloc_index(name: str) -> int:
    """The index in an allocation name (``-1`` when the name carries none)."""
    if not name.endswith("]"):
        return -1
    start = name.rfind("[")
    try:
        return int(name[start + 1 : -1])
    except ValueError:
        return -1


class NameIndex:
    """The indexes of one group in use, handing out the lowest free ones."""

    __slots__ = ("_group", "_job_id", "_used")

    def __init__(self, job_id: str, group: str, used_names: Iterable[str]) -> None:
        self._job_id = job_id
        self._group = group
        self._used = {alloc_index(n) for n in used_names}

    def next(self, n: int) -> list[str]:
        """Claim and return ``n`` names with the lowest free indexes."""
        out = []
        i = 0
        while len(out) < n:
            if i not in self._used:
                self._used.add(i)
                out.append(alloc_name(self._job_id, self._group, i))
            i += 1
        return out

    def release(self, name: str) -> None:
        """Give a name back (its allocation is being stopped and not replaced)."""
        self._used.discard(alloc_index(name))
