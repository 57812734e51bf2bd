"""Auto-revert: which job version a failed deployment rolls back to, and how it says so.

A failed deployment of a group with ``auto_revert = true`` registers the latest *stable*
version of the job again (as a new version with the same spec). Nomad appends the outcome
to the failure description, and so does caravan:

- ``<reason> - rolling back to job version N``
- ``<reason> - not rolling back to stable job version N as current job has same specification``
- ``<reason> - no stable job version to auto revert to``
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from caravan.state.jobs import spec_changed


def latest_stable(versions: Iterable[Any]) -> Any | None:
    """The newest job version marked stable, or ``None``."""
    stable = [v for v in versions if v.stable]
    return max(stable, key=lambda v: v.version, default=None)


def rollback(description: str, job: Any, versions: Iterable[Any]) -> tuple[str, Any | None]:
    """The failure description with its auto-revert suffix, and the job to register.

    :param description: why the deployment failed (for example
        ``"Failed due to unhealthy allocations"``).
    :param job: the job as currently registered.
    :param versions: every stored version of the job.
    :returns: ``(description, job)``: the job is a copy of the stable version with
        ``Stable`` cleared, ready to be registered as the next version, or ``None`` when
        there is nothing to roll back to.
    """
    stable = latest_stable(versions)
    if stable is None:
        return f"{description} - no stable job version to auto revert to", None
    if not spec_changed(stable, job):
        return (
            f"{description} - not rolling back to stable job version {stable.version} "
            "as current job has same specification",
            None,
        )
    revert = stable.model_copy(update={"stable": False, "stop": False})
    return f"{description} - rolling back to job version {stable.version}", revert
