"""Run-time traffic splits: ``caravan lb split SERVICE v1=90 v2=10 [-key version]``.

A split is stored as the ``lb_split`` / ``lb_split_key`` meta of every registered instance
of the service, the same two keys a job's ``service { meta { ... } }`` block can carry. Every
renderer (``caravan lb render|watch`` for fabio, nginx and haproxy, and task templates
reading instance meta) already reads them from the catalog, so a split set here reaches
all of them through the catalog's blocking queries, with no new state.

Semantics are Fabio's ``route weight``: a subset's share is the total for all of its
instances on a route; instances in no listed subset share what is left. On the command
line, shares above 1 are percentages (``canary=10`` is 10 %, ``v1=90 v2=10`` is 90 % /
10 %), stored as fractions (``canary=0.1``), the only weights Fabio's table takes. With
the ``canary`` key the subsets are ``canary`` and ``stable`` (the deployment's canaries and
the rest).

The split lives on the registrations: an instance registered afterwards by its client
carries its job's meta instead, so a split meant to outlive a redeploy belongs in the job's
``service`` block. :func:`set_split` therefore reports how many instances it changed.
"""

from __future__ import annotations

from collections.abc import Sequence

from caravan.errors import CaravanError
from caravan_plugins.splits import Split, SplitError
from caravan_plugins.urlprefix import CANARY_KEY, SPLIT_KEY_META, SPLIT_META

from .catalog import CatalogClient


class SplitArgumentError(CaravanError):
    """``caravan lb split`` arguments that do not describe a split."""


def parse_split(service: str, items: Sequence[str], key: str = CANARY_KEY) -> Split:
    """Read ``["v1=90", "v2=10"]`` (one ``subset=share`` per item) into a :class:`Split`.

    :raises SplitArgumentError: an item is malformed, a subset repeats, or a ``canary``
        split names a subset other than ``canary``/``stable``.
    """
    if not items:
        raise SplitArgumentError("lb split: give at least one <subset>=<share>, e.g. v2=10")
    try:
        split = Split.parse(service, ",".join(item.strip() for item in items), key)
    except SplitError as err:
        raise SplitArgumentError(f"lb split: {err.reason}") from None
    return _as_fractions(split)


def _as_fractions(split: Split) -> Split:
    # Shares above 1 are percentages ("canary=10" is 10 %, the rest going to the other
    # instances), stored as the fractions Fabio's "route weight" takes; percentages summing
    # to more than 100 are normalised.
    weights = split.weights
    if all(share <= 1 for share in weights.values()):
        return split
    scale = max(100.0, sum(weights.values()))
    return split.model_copy(update={"weights": {k: v / scale for k, v in weights.items()}})


def split_meta(split: Split) -> dict[str, str]:
    """The meta keys that carry ``split``: ``{"lb_split": "v1=90,v2=10", "lb_split_key": ...}``."""
    value = ",".join(f"{subset}={_number(share)}" for subset, share in split.weights.items())
    return {SPLIT_META: value, SPLIT_KEY_META: split.key}


async def set_split(catalog: CatalogClient, split: Split | None, service: str) -> int:
    """Write ``split`` onto every registered instance of ``service``; ``None`` removes it.

    :returns: the number of instances written.
    :raises SplitArgumentError: the service has no registered instance.
    :raises CatalogError: the agent refused or could not be reached.
    """
    regs = await catalog.registrations(service)
    if not regs:
        raise SplitArgumentError(f'lb split: service "{service}" has no registered instances')
    updated = []
    for reg in regs:
        meta = {k: v for k, v in (reg.get("Meta") or {}).items() if k not in _SPLIT_KEYS}
        if split is not None:
            meta |= split_meta(split)
        updated.append({**reg, "Meta": meta})
    await catalog.upsert(updated)
    return len(updated)


_SPLIT_KEYS = (SPLIT_META, SPLIT_KEY_META)


def _number(share: float) -> str:
    return str(int(share)) if share == int(share) else repr(share)
