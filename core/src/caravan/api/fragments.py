"""Pre-encoded JSON of stored objects, so that list endpoints join bytes instead of encoding.

Stored objects are immutable: a change replaces the object (with a new ``ModifyIndex``). The
JSON a list endpoint renders for an object is therefore fixed for as long as that very object
is stored, and :class:`FragmentCache` keeps it, keyed by the resource kind, the rendering
variant (e.g. ``resources=true``) and the object's ID; a hit requires the entry to have been
made from the very object now stored (and the same dependencies, such as a job's summary):
object identity is a stricter key than ``ModifyIndex``, so a restored or rewritten object is
never served stale.

A list response is then ``[`` + the fragments joined by ``,`` + ``]`` (:class:`Fragments`);
filtering (on the full objects), ordering and pagination happen before, per request, as
before.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable
from typing import Any

#: Entries kept before the cache starts over (several times the objects of a large cluster;
#: entries of deleted objects are dropped then).
DEFAULT_LIMIT = 400_000


class Fragments(list[bytes]):
    """A JSON array given as its items' encoded JSON (see :func:`caravan.api.query.encode`)."""

    def to_json(self) -> bytes:
        return b"[" + b",".join(self) + b"]"

    def decoded(self) -> list[Any]:
        """The items as Python values (for ``?pretty`` answers)."""
        return [json.loads(item) for item in self]


class FragmentCache:
    """Encoded JSON per (kind, ID, ModifyIndex, variant) of stored objects; see the module
    docstring. One per API application; used only from its event loop."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        # (kind, variant) -> ID -> (object, its dependencies, JSON). Looking an object up by
        # its ID within one rendering keeps the hot path to one dict lookup and identity
        # checks; the object's identity stands for its ModifyIndex (a change replaces it).
        self._shelves: dict[Hashable, dict[str, tuple[Any, tuple[Any, ...], bytes]]] = {}
        self._size = 0
        self._listings: dict[Hashable, tuple[Any, list[Any]]] = {}

    def __len__(self) -> int:
        return self._size

    def encode(
        self,
        kind: str,
        obj: Any,
        render: Callable[[Any], Any],
        variant: Hashable = None,
        deps: tuple[Any, ...] = (),
    ) -> bytes:
        """The JSON of ``render(obj)``, from the cache when ``obj`` (and ``deps``, other
        objects the rendering reads, compared by identity) are the ones it was made from."""
        shelf = self._shelf(kind, variant)
        entry = shelf.get(obj.id)
        if entry is not None and entry[0] is obj and entry[1] == deps:
            return entry[2]
        return self._store(shelf, obj, render, deps)

    def encode_all(
        self, kind: str, objs: Iterable[Any], render: Callable[[Any], Any], variant: Hashable = None
    ) -> Fragments:
        """:meth:`encode` for many objects without dependencies, as one :class:`Fragments`."""
        shelf = self._shelf(kind, variant)
        get = shelf.get
        out = Fragments()
        append = out.append
        for obj in objs:
            entry = get(obj.id)
            if entry is not None and entry[0] is obj:
                append(entry[2])
            else:
                append(self._store(shelf, obj, render, ()))
        return out

    def listing(self, name: Hashable, version: Any, build: Callable[[], list[Any]]) -> list[Any]:
        """``build()`` (a list read from a state table), remembered while the table is
        ``version`` (its persistent map: the same object means the same contents), so that
        reads between two writes do not walk and sort the table again."""
        cached = self._listings.get(name)
        if cached is not None and cached[0] is version:
            return cached[1]
        listed = build()
        self._listings[name] = (version, listed)
        return listed

    def _shelf(self, kind: str, variant: Hashable) -> dict[str, tuple[Any, tuple[Any, ...], bytes]]:
        shelf = self._shelves.get((kind, variant))
        if shelf is None:
            shelf = self._shelves[(kind, variant)] = {}
        return shelf

    def _store(
        self,
        shelf: dict[str, tuple[Any, tuple[Any, ...], bytes]],
        obj: Any,
        render: Callable[[Any], Any],
        deps: tuple[Any, ...],
    ) -> bytes:
        data = json.dumps(render(obj), separators=(",", ":")).encode()
        if self._size >= self.limit:
            # Entries of deleted objects are never looked up again; starting over drops them.
            for other in self._shelves.values():
                other.clear()
            self._size = 0
        self._size += obj.id not in shelf
        shelf[obj.id] = (obj, deps, data)
        return data
