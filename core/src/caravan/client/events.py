"""Task events as Nomad records them: the type, the typed detail fields, and the one-line
``DisplayMessage`` that ``caravan alloc status`` shows.

Every event is built by :func:`task_event`, which fills ``Time`` and the display message
from the other fields the same way Nomad's ``PopulateEventDisplayMessage`` does.
"""

from __future__ import annotations

import time
from typing import Any

from caravan.structs import consts as c
from caravan.structs.allocation import TaskEvent
from caravan.structs.durations import format_duration

#: The restart reason that Nomad leaves out of the "Task restarting in ..." message.
REASON_WITHIN_POLICY = "Restart within policy"


def task_event(kind: str, **fields: Any) -> TaskEvent:
    """A :class:`TaskEvent` of type ``kind`` (a ``TASK_*`` constant) stamped now.

    :param fields: TaskEvent attributes (``exit_code``, ``restart_reason``, ``start_delay``
        in nanoseconds, ``details``...).
    """
    event = TaskEvent(type=kind, time=time.time_ns(), **fields)
    event.display_message = display_message(event)
    return event


def display_message(e: TaskEvent) -> str:
    """The human sentence for an event, following Nomad's wording for each type."""
    if e.type == c.TASK_SETUP:
        return e.message
    if e.type == c.TASK_STARTED:
        return "Task started by client"
    if e.type == c.TASK_RECEIVED:
        return "Task received by client"
    if e.type == c.TASK_FAILED_VALIDATION:
        return e.validation_error or "Validation of task failed"
    if e.type == c.TASK_SETUP_FAILURE:
        return e.setup_error or "Task setup failed"
    if e.type == c.TASK_DRIVER_FAILURE:
        return e.driver_error or "Failed to start task"
    if e.type == c.TASK_DOWNLOADING_ARTIFACTS:
        return "Client is downloading artifacts"
    if e.type == c.TASK_ARTIFACT_DOWNLOAD_FAILED:
        return e.download_error or "Failed to download artifacts"
    if e.type == c.TASK_KILLING:
        if e.kill_reason:
            return e.kill_reason
        return f"Sent interrupt. Waiting {format_duration(e.kill_timeout)} before force killing"
    if e.type == c.TASK_KILLED:
        return e.kill_error or "Task successfully killed"
    if e.type == c.TASK_TERMINATED:
        parts = [f"Exit Code: {e.exit_code}"]
        if e.signal:
            parts.append(f"Signal: {e.signal}")
        if e.message:
            parts.append(f'Exit Message: "{e.message}"')
        return ", ".join(parts)
    if e.type == c.TASK_RESTARTING:
        when = f"Task restarting in {format_duration(e.start_delay)}"
        if e.restart_reason and e.restart_reason != REASON_WITHIN_POLICY:
            return f"{e.restart_reason} - {when}"
        return when
    if e.type == c.TASK_NOT_RESTARTING:
        return e.restart_reason or "Task exceeded restart policy"
    if e.type == c.TASK_SIBLING_FAILED:
        if e.failed_sibling:
            return f'Task\'s sibling "{e.failed_sibling}" failed'
        return "Task's sibling failed"
    if e.type == c.TASK_SIGNALING:
        return f"Task being sent signal {e.task_signal}: {e.task_signal_reason}".rstrip(": ")
    if e.type == c.TASK_RESTART_SIGNAL:
        return e.restart_reason or "Task signaled to restart"
    if e.type == c.TASK_DRIVER_MESSAGE:
        return e.driver_message
    if e.type == c.TASK_LEADER_DEAD:
        return "Leader Task in Group dead"
    if e.type == c.TASK_MAIN_DEAD:
        return "Main tasks in the group died"
    return e.message
