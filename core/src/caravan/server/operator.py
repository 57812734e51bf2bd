"""Operator endpoints: saving the region's state and restoring it (``/v1/operator/snapshot``).

A save reads this server's state as it is now (``stale`` reads from a follower are the API's
business). A restore is a write: it runs on the leader and goes through Raft as one log
entry (see :mod:`caravan.state.restore`), so every server installs the same state at the same
index.
"""

from __future__ import annotations

from typing import Any

from caravan.rpc.forwarding import leader_endpoint
from caravan.server.errors import RequestError
from caravan.state import persist
from caravan.state.errors import CommandError
from caravan.state.restore import check_state, snapshot_restore


class OperatorEndpoints:
    """The operator endpoints of :class:`~caravan.server.Server`."""

    def snapshot_save(self) -> tuple[int, bytes]:
        """The state's index and its bytes (:func:`caravan.state.persist.dump`)."""
        data = self.state.snapshot().data
        return data.index, persist.dump(data)

    @leader_endpoint
    async def snapshot_restore(self, state: bytes) -> dict[str, Any]:
        """Replace the region's state with ``state`` (bytes of :meth:`snapshot_save`).

        :raises RequestError: when ``state`` is not a state snapshot this version reads;
            nothing is changed then.
        """
        try:
            check_state(state, self.state.models)
        except CommandError as err:
            raise RequestError(f"invalid state snapshot: {err}") from None
        return await self._apply(snapshot_restore(state))
