"""The replicated state store and the FSM that writes it.

``StateStore`` holds the tables; ``FSM`` applies committed Raft entries built by the
constructors in :mod:`caravan.state.commands`; ``StateSnapshot`` is a consistent read-only view.
"""

from caravan.state.errors import CommandError, StateError
from caravan.state.fsm import FSM
from caravan.state.models import ModelSet
from caravan.state.snapshot import StateSnapshot
from caravan.state.store import StateStore
from caravan.state.tables import TABLES

__all__ = ["FSM", "TABLES", "CommandError", "ModelSet", "StateError", "StateSnapshot", "StateStore"]
