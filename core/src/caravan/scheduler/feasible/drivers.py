"""Driver stage: every task's driver must be detected and healthy on the node."""

from __future__ import annotations

from typing import Any

#: The ``ConstraintFiltered`` reason recorded when a driver is missing or unhealthy.
MISSING_DRIVERS = "missing drivers"


def _driver_ok(node: Any, name: str) -> bool:
    info = (node.drivers or {}).get(name)
    if info is not None:
        return bool(info.detected and info.healthy)
    # Nodes that report drivers only as fingerprinted attributes ("driver.docker" = "1").
    value = (node.attributes or {}).get(f"driver.{name}")
    return value is not None and str(value).lower() in ("1", "true")


def drivers_present(node: Any, drivers: frozenset[str]) -> bool:
    """Whether ``node`` has every driver in ``drivers`` detected and healthy."""
    return all(_driver_ok(node, name) for name in drivers)


def group_drivers(tg: Any) -> frozenset[str]:
    """The drivers a task group's tasks use."""
    return frozenset(task.driver for task in tg.tasks or [] if task.driver)
