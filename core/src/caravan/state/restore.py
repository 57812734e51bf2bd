"""Restoring an operator's state snapshot through Raft (``caravan operator snapshot restore``).

The snapshot (the bytes of :func:`caravan.state.persist.dump`) travels in one log entry, so
every server replaces its state at the same index. The restored state is *rebased* on that
index: its objects keep their own ``CreateIndex``/``ModifyIndex``, but the store's index and
every table's index become the entry's, so indexes never go backwards and every blocking
query wakes to see the restored state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from caravan.state import commands as c
from caravan.state import persist
from caravan.state.models import ModelSet
from caravan.state.snapshot import StateData

#: The log entry type of a restore; handled by :meth:`caravan.state.FSM.apply` itself, since it
#: replaces the whole store rather than writing through a transaction.
SNAPSHOT_RESTORE = "snapshot_restore"


def snapshot_restore(state: bytes) -> bytes:
    """The log entry replacing the state with ``state`` (bytes of ``persist.dump``)."""
    return c.encode(SNAPSHOT_RESTORE, {"State": state})


def check_state(state: bytes, models: ModelSet) -> StateData:
    """Decode ``state`` as the FSM will, so that a bad snapshot is refused before it is
    proposed. :raises caravan.state.CommandError: when it cannot be read."""
    return persist.load(state, models)


def restored_state(payload: Mapping[str, Any], models: ModelSet, index: int) -> StateData:
    """The state a restore entry committed at ``index`` installs (see the module docstring)."""
    data = persist.load(payload["State"], models)
    return replace(data, index=index, table_index=dict.fromkeys(data.table_index, index))
