"""The change feed: what each committed write changed, handed to subscribers as it commits.

Every write transaction records each object it inserts, replaces or deletes; when the store
commits it, :class:`ChangeFeed` passes the list to every subscriber, in commit order, on the
FSM's thread of control. Readers that follow changes (the API's event stream) thus never scan
tables to find out what moved.

Subscribers must be quick (they run inside the commit): they typically queue the changes for
a task of their own. With no subscriber, publishing costs one truth test per commit.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, NamedTuple


class Change(NamedTuple):
    """One object changed by a commit: ``old`` is ``None`` when it was created, ``new`` when
    it was deleted. A transaction that writes one object twice yields both changes."""

    table: str
    key: Hashable
    old: Any
    new: Any


#: Called with the commit's Raft index and its changes (table, key, old, new).
Subscriber = Callable[[int, list[Change]], None]


class ChangeFeed:
    """Per-commit change lists for the subscribers of one state store."""

    __slots__ = ("_subscribers",)

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber(index, changes)`` after every commit from now on; returns the
        function that unsubscribes it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def publish(self, index: int, changes: list[tuple[str, Hashable, Any, Any]]) -> None:
        """Hand the changes of the commit at ``index`` to every subscriber (the store calls
        this; nothing is done when no one listens or nothing changed)."""
        if not self._subscribers or not changes:
            return
        batch = [Change(*c) for c in changes]
        for subscriber in tuple(self._subscribers):
            subscriber(index, batch)
