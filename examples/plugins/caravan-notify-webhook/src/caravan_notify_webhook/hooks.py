"""The ``notify_webhook`` hook plugin: allocation and deployment changes as JSON POSTs.

Configured on the servers through the environment:

``CARAVAN_WEBHOOK_URL``
    where to POST; when unset the plugin does nothing.
``CARAVAN_WEBHOOK_TIMEOUT``
    seconds one delivery may take (default 5).

Each request's body is ``{"type": "allocation" | "deployment", "text": "<one line>",
"event": {...}}``, ``event`` being the hook's event in JSON. The ``text`` line makes the
payload readable as is by chat webhooks that show a ``text`` field.
"""

from __future__ import annotations

import logging
import os

from caravan_plugins import AllocationEvent, DeploymentEvent, hookimpl

from .sender import sender

ENV_URL = "CARAVAN_WEBHOOK_URL"
ENV_TIMEOUT = "CARAVAN_WEBHOOK_TIMEOUT"
DEFAULT_TIMEOUT = 5.0

log = logging.getLogger("caravan_notify_webhook")


def webhook_timeout() -> float:
    """``CARAVAN_WEBHOOK_TIMEOUT`` in seconds; the default when unset or not a positive
    number (logged, since a broken setting should not stop notifications)."""
    raw = os.environ.get(ENV_TIMEOUT, "")
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        log.warning("%s=%r is not a positive number; using %gs", ENV_TIMEOUT, raw, DEFAULT_TIMEOUT)
        return DEFAULT_TIMEOUT
    return value


def _send(kind: str, text: str, event: AllocationEvent | DeploymentEvent) -> None:
    url = os.environ.get(ENV_URL, "")
    if not url:
        return
    payload = {"type": kind, "text": text, "event": event.model_dump(mode="json")}
    sender().submit(url, payload, webhook_timeout())


@hookimpl
def caravan_allocation_state_changed(event: AllocationEvent) -> None:
    """Queue a POST describing the allocation's new client status; returns at once."""
    previous = event.previous_client_status or "new"
    text = (
        f"allocation {event.alloc_id[:8]} of job {event.job_id} ({event.task_group}): "
        f"{previous} -> {event.client_status}"
    )
    _send("allocation", text, event)


@hookimpl
def caravan_deployment_state_changed(event: DeploymentEvent) -> None:
    """Queue a POST describing the deployment's new status; returns at once."""
    previous = event.previous_status or "new"
    text = (
        f"deployment {event.deployment_id[:8]} of job {event.job_id} "
        f"v{event.job_version}: {previous} -> {event.status}"
    )
    if event.status_description:
        text += f" ({event.status_description})"
    _send("deployment", text, event)
