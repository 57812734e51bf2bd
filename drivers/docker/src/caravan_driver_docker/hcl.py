"""Value shapes the docker driver accepts because Nomad's HCL1 parser produced them.

Nomad declares ``port_map``, ``labels``, ``sysctl``, ``ulimit`` and ``logging.config`` as a
list of maps, because HCL1 decoded ``port_map { http = 80 }`` into ``[{"http": 80}]``; job
files written as JSON still carry that shape. Blocks such as ``auth {}`` and ``logging {}``
arrive the same way, as a list of one object. caravan accepts both the plain map and the
list form, so old job files keep working.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator

T = TypeVar("T")


def _merge_maps(value: Any) -> Any:
    # A list of maps merges in order, later keys winning, as Nomad's MapStrInt/MapStrStr do.
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        merged: dict[str, Any] = {}
        for item in value:
            merged.update(item)
        return merged
    return value


def _single_block(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        return value[0]
    if isinstance(value, list):
        raise ValueError(f"expected one block, got {len(value)}")
    return value


StrMap = Annotated[dict[str, str], BeforeValidator(_merge_maps)]
IntMap = Annotated[dict[str, int], BeforeValidator(_merge_maps)]
SingleBlock = BeforeValidator(_single_block)
