"""The client's durable state: ``<data_dir>/client/state.db`` (SQLite, WAL).

What survives an agent restart (even ``kill -9``): the node's ID, every allocation the
client runs, each task's state and events, its restart count (the task state's
``Restarts`` and ``LastRestart`` and the restart tracker's count within the policy's
interval), its hook state, and the driver handle needed to reattach to it.

Writes use WAL with ``synchronous=NORMAL``: a committed transaction is in the operating
system's hands before the call returns, so it survives the agent being killed (``kill -9``)
right after, which is what a handle must survive to not leak its task. Only a crash of the
machine itself can lose the last transactions, and that also ends every task they describe.
Not waiting for the disk on each of a task's state changes keeps the agent's loop free when
a thousand tasks start or stop at once.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from caravan.structs import Allocation
from caravan.structs.allocation import TaskState
from caravan_plugins import TaskHandle

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS allocs (id TEXT PRIMARY KEY, alloc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    alloc_id TEXT NOT NULL,
    task TEXT NOT NULL,
    state TEXT,
    handle TEXT,
    hooks TEXT,
    tracker TEXT,
    PRIMARY KEY (alloc_id, task)
);
"""
# Columns added after the first release, with their type: added to older databases on open.
_ADDED_COLUMNS = {"tasks": {"tracker": "TEXT"}}


@dataclass
class TaskLocalState:
    """What the client keeps about one task between runs."""

    state: TaskState | None = None
    handle: TaskHandle | None = None
    hooks: dict[str, Any] | None = None
    tracker: dict[str, Any] | None = None


class StateDB:
    """The client state database; one per agent, used from the agent's loop.

    :param path: the database file; its directory is created.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        for table, columns in _ADDED_COLUMNS.items():
            present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for column, kind in columns.items():
                if column not in present:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def close(self) -> None:
        self._db.close()

    # -- node ---------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- allocations --------------------------------------------------------

    def put_allocs(self, allocs: list[Allocation]) -> None:
        """Store (or replace) these allocations in one transaction."""
        rows = [(a.id, a.model_dump_json(by_alias=True)) for a in allocs]
        with self._txn():
            self._db.executemany("INSERT OR REPLACE INTO allocs (id, alloc) VALUES (?, ?)", rows)

    def allocs(self) -> list[Allocation]:
        """Every stored allocation."""
        return [
            Allocation.model_validate_json(row[0])
            for row in self._db.execute("SELECT alloc FROM allocs ORDER BY id")
        ]

    def delete_alloc(self, alloc_id: str) -> None:
        """Forget an allocation and its tasks."""
        with self._txn():
            self._db.execute("DELETE FROM allocs WHERE id = ?", (alloc_id,))
            self._db.execute("DELETE FROM tasks WHERE alloc_id = ?", (alloc_id,))

    # -- tasks --------------------------------------------------------------

    def put_task_states(self, states: list[tuple[str, str, TaskState]]) -> None:
        """Store ``(alloc_id, task, state)`` rows in one transaction."""
        rows = [(a, t, s.model_dump_json(by_alias=True)) for a, t, s in states]
        with self._txn():
            self._db.executemany(
                "INSERT INTO tasks (alloc_id, task, state) VALUES (?, ?, ?) "
                "ON CONFLICT (alloc_id, task) DO UPDATE SET state = excluded.state",
                rows,
            )

    def put_task_handle(
        self, alloc_id: str, task: str, handle: TaskHandle | None, hooks: dict[str, Any]
    ) -> None:
        """Store (``None``: clear) the driver handle of a task, with its hook state."""
        data = handle.model_dump_json() if handle is not None else None
        with self._txn():
            self._db.execute(
                "INSERT INTO tasks (alloc_id, task, handle, hooks) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (alloc_id, task) DO UPDATE SET handle = excluded.handle, "
                "hooks = excluded.hooks",
                (alloc_id, task, data, json.dumps(hooks)),
            )

    def put_task_progress(
        self, alloc_id: str, task: str, state: TaskState, tracker: dict[str, Any]
    ) -> None:
        """Store a task's state with its restart tracker's snapshot now, in one transaction:
        called when the task restarts, so its count is on disk before the restart begins."""
        with self._txn():
            self._db.execute(
                "INSERT INTO tasks (alloc_id, task, state, tracker) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (alloc_id, task) DO UPDATE SET state = excluded.state, "
                "tracker = excluded.tracker",
                (alloc_id, task, state.model_dump_json(by_alias=True), json.dumps(tracker)),
            )

    def tasks(self, alloc_id: str) -> dict[str, TaskLocalState]:
        """The stored state of each task of an allocation."""
        out = {}
        for task, state, handle, hooks, tracker in self._db.execute(
            "SELECT task, state, handle, hooks, tracker FROM tasks WHERE alloc_id = ?",
            (alloc_id,),
        ):
            out[task] = TaskLocalState(
                state=TaskState.model_validate_json(state) if state else None,
                handle=TaskHandle.model_validate_json(handle) if handle else None,
                hooks=json.loads(hooks) if hooks else None,
                tracker=json.loads(tracker) if tracker else None,
            )
        return out

    def _txn(self) -> _Txn:
        return _Txn(self._db)


class _Txn:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
