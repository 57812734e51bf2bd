"""Service checks and allocation health on the client.

- :mod:`.probes`: one run of a ``tcp``, ``http`` or ``script`` check
  (:func:`tcp_probe`, :func:`http_probe`, :func:`script_probe`, :func:`probe_for`);
- :mod:`.runner`: :class:`CheckRunner` runs a check every ``interval`` with its history;
- :mod:`.restart`: :class:`CheckRestartTracker` applies ``check_restart``;
- :mod:`.health`: :class:`AllocHealthTracker` decides the allocation's deployment health
  (its docstring shows how the client wires the three together).
"""

from caravan.client.checks.health import AllocHealthTracker, HealthVerdict
from caravan.client.checks.probes import (
    CRITICAL,
    PASSING,
    WARNING,
    CheckResult,
    http_probe,
    probe_for,
    script_probe,
    tcp_probe,
)
from caravan.client.checks.restart import CheckRestartTracker
from caravan.client.checks.runner import CheckRunner

__all__ = [
    "CRITICAL",
    "PASSING",
    "WARNING",
    "AllocHealthTracker",
    "CheckRestartTracker",
    "CheckResult",
    "CheckRunner",
    "HealthVerdict",
    "http_probe",
    "probe_for",
    "script_probe",
    "tcp_probe",
]
