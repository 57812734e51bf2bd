"""Traffic splits between subsets of a service's instances, with Fabio's ``route weight``
semantics (:func:`target_shares`): a weight is the total share of the matching group.

Besides ``weight=`` in a ``urlprefix-`` tag, a service can declare a split in its ``meta``::

    meta {
      lb_split     = "v1=0.9,v2=0.1"   # subset=share, comma separated
      lb_split_key = "version"         # the meta key naming the subset; default "canary"
    }

With ``lb_split_key = "canary"`` (the default) the subsets are ``canary`` and ``stable``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from .errors import PluginError
from .services import ServiceInstance
from .urlprefix import CANARY_KEY, SPLIT_KEY_META, SPLIT_META


class SplitError(PluginError):
    """A service's ``lb_split`` / ``lb_split_key`` meta that cannot be read.

    :param service: the service name.
    :param value: the ``lb_split`` value as written.
    :param reason: what is wrong, in words.
    """

    def __init__(self, service: str, value: str, reason: str) -> None:
        self.service = service
        self.value = value
        self.reason = reason
        super().__init__(f'service "{service}": meta {SPLIT_META} = "{value}": {reason}')


class Split(BaseModel):
    """A service's traffic split: each subset of its instances gets a total share.

    :ivar key: ``canary`` (subsets ``canary`` and ``stable``) or a meta key whose value
        names an instance's subset (e.g. ``version``).
    :ivar weights: subset → share of the route's traffic for all its instances together.
    """

    model_config = ConfigDict(frozen=True)

    service: str
    key: str = CANARY_KEY
    weights: dict[str, float]

    @classmethod
    def parse(cls, service: str, value: str, key: str = CANARY_KEY) -> Split:
        """Read ``lb_split`` text such as ``v1=0.9,v2=0.1``.

        :raises SplitError: an item is not ``subset=share`` with a share from 0 up, or a
            subset repeats, or a ``canary`` split names a subset other than canary/stable.
        """
        weights: dict[str, float] = {}
        for item in value.split(","):
            subset, eq, share = (part.strip() for part in item.partition("="))
            try:
                number = float(share) if eq and subset else math.nan
            except ValueError:
                number = math.nan
            if not math.isfinite(number) or number < 0:
                raise SplitError(service, value, f"{item.strip()!r} is not <subset>=<share>")
            if subset in weights:
                raise SplitError(service, value, f"subset {subset!r} is given twice")
            if key == CANARY_KEY and subset not in ("canary", "stable"):
                raise SplitError(
                    service,
                    value,
                    f'with {SPLIT_KEY_META} = "canary" the subsets are '
                    f"canary and stable, not {subset!r}",
                )
            weights[subset] = number
        return cls(service=service, key=key or CANARY_KEY, weights=weights)

    def subset(self, instance: ServiceInstance) -> str | None:
        """The subset ``instance`` belongs to, ``None`` when it carries no value for it."""
        if self.key == CANARY_KEY:
            return "canary" if instance.canary else "stable"
        return instance.meta.get(self.key)

    def selector_tag(self, subset: str) -> str:
        """The tag that marks a subset's targets in a Fabio table (``route weight`` selects
        targets by tag): the subset name for canary splits, ``key=value`` otherwise."""
        return subset if self.key == CANARY_KEY else f"{self.key}={subset}"


def splits_for_instances(
    instances: Iterable[ServiceInstance],
) -> tuple[dict[str, Split], list[SplitError]]:
    """The split of each service whose instances carry ``lb_split`` meta.

    During a rollout old and new instances may disagree; the canary instances' value wins,
    since a split normally ships with the version it shifts traffic to. Remaining ties go
    to the smallest value, so the choice does not depend on instance order.
    """
    found: dict[str, set[tuple[bool, str, str]]] = defaultdict(set)
    for inst in instances:
        if SPLIT_META in inst.meta:
            key = inst.meta.get(SPLIT_KEY_META, CANARY_KEY)
            found[inst.service].add((not inst.canary, inst.meta[SPLIT_META], key))
    splits: dict[str, Split] = {}
    errors: list[SplitError] = []
    for service in sorted(found):
        _, value, key = min(found[service])
        try:
            splits[service] = Split.parse(service, value, key)
        except SplitError as err:
            errors.append(err)
    return splits, errors


def target_shares(fixed: Sequence[float | None]) -> list[float]:
    """Each target's share of a route's traffic, with Fabio's rules.

    :param fixed: per target, its fixed weight or ``None`` (a weight ≤ 0 counts as none).
    :returns: shares in the same order, summing to 1 unless every fixed weight is 0 with
        no unfixed target. Without fixed weights every target gets ``1/N``. Otherwise with
        ``S`` the sum of fixed weights: when ``S > 1``, or when every target is fixed and
        ``S < 1``, fixed weights are scaled by ``1/S``; unfixed targets share ``1 - S``
        equally (nothing when ``S >= 1``).
    """
    weights = [w if w is not None and w > 0 else None for w in fixed]
    if not weights:
        return []
    fixed_sum = sum(w for w in weights if w is not None)
    unfixed = sum(1 for w in weights if w is None)
    if unfixed == len(weights):
        return [1 / len(weights)] * len(weights)
    scale = 1 / fixed_sum if fixed_sum > 1 or (unfixed == 0 and fixed_sum < 1) else 1.0
    rest = max(0.0, 1 - fixed_sum * scale) / unfixed if unfixed else 0.0
    return [w * scale if w is not None else rest for w in weights]


def integer_weights(shares: Sequence[float], top: int = 256) -> list[int]:
    """Shares as the integer weights proxies take: the largest share becomes ``top``, every
    positive share at least 1, a zero share 0."""
    biggest = max(shares, default=0.0)
    if biggest <= 0:
        return [0] * len(shares)
    return [max(1, round(s / biggest * top)) if s > 0 else 0 for s in shares]
