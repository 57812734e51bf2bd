"""Errors of the state store and its FSM.

A :class:`StateError` is a command the state rejects (a job version that does not exist, a
draining node made eligible): the FSM returns it as the command's result, as Nomad does, and
nothing is written. A :class:`CommandError` is a log entry the FSM cannot decode (an unknown
command type or version, a malformed payload): it is raised, because applying entries out of
step with the leader would corrupt the state.
"""

from __future__ import annotations

from caravan.errors import CaravanError


class StateError(CaravanError):
    """A command the state rejected; the message names the object and what was wrong."""


class CommandError(CaravanError):
    """A Raft log entry or FSM snapshot that cannot be decoded."""
