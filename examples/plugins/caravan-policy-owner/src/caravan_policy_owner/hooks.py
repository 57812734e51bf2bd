"""The ``policy_owner`` hook plugin: every job must carry ``meta { owner = "TEAM" }``.

A job without it (or with an empty one) is rejected at submit. When the operator sets
``CARAVAN_OWNER_ALLOWLIST`` (comma-separated team names) on the servers, an owner outside the
list is accepted with a warning, so a typo or an unregistered team is noticed without
blocking a deploy.
"""

from __future__ import annotations

import os
from typing import Any

from caravan_plugins import ValidationResult, hookimpl

META_KEY = "owner"
ENV_ALLOWLIST = "CARAVAN_OWNER_ALLOWLIST"


def allowed_owners() -> list[str] | None:
    """The teams named by ``CARAVAN_OWNER_ALLOWLIST``, or None when it is unset or empty.

    Read at every call rather than at import, so the list in effect is always the one in
    the process's environment now.
    """
    raw = os.environ.get(ENV_ALLOWLIST, "")
    names = [name.strip() for name in raw.split(",") if name.strip()]
    return names or None


@hookimpl
def caravan_validate_job(job: dict[str, Any]) -> ValidationResult | None:
    """Reject a job without an ``owner`` meta; warn when the owner is not allowed.

    :param job: the submitted job in Nomad's API JSON form (``ID``, ``Meta``).
    :returns: an error for a missing owner, a warning for an unknown one, else None.
    """
    job_id = job.get("ID") or job.get("Name") or "?"
    owner = str((job.get("Meta") or {}).get(META_KEY) or "").strip()
    if not owner:
        return ValidationResult(
            errors=[
                f'job "{job_id}" is missing meta "{META_KEY}": every job must name its owning team'
            ]
        )
    allowed = allowed_owners()
    if allowed is not None and owner not in allowed:
        return ValidationResult(
            warnings=[
                f'job "{job_id}" names owner "{owner}", which is not in {ENV_ALLOWLIST} '
                f"({', '.join(allowed)})"
            ]
        )
    return None
