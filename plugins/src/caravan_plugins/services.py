"""Service instances: what discovery backends store and load balancers read.

One :class:`ServiceInstance` is one ``service {}`` block of one allocation, registered by the
client when the task starts and deregistered when it stops.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, computed_field

CheckStatus = Literal["passing", "warning", "critical"]

# Worst first: an instance is as healthy as its least healthy check.
_SEVERITY: dict[str, int] = {"critical": 2, "warning": 1, "passing": 0}


class ServiceInstance(BaseModel):
    """One registered instance of a service.

    ``checks`` maps each check name to its latest status. ``health`` is derived from them:
    ``critical`` if any check is critical, else ``warning`` if any warns, else ``passing``
    (an instance without checks is passing).
    """

    id: str
    service: str
    namespace: str = "default"
    node_id: str = ""
    datacenter: str = "dc1"
    job_id: str = ""
    group: str = ""
    task: str = ""
    alloc_id: str = ""
    address: str
    port: int
    tags: list[str] = Field(default_factory=list)
    meta: dict[str, str] = Field(default_factory=dict)
    canary: bool = False
    checks: dict[str, CheckStatus] = Field(default_factory=dict)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def health(self) -> CheckStatus:
        """The worst status among the instance's checks; ``passing`` with none."""
        return max(self.checks.values(), key=_SEVERITY.__getitem__, default="passing")
