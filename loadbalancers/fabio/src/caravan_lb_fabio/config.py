"""The fabio load balancer's config block.

::

    plugin "fabio" {
      config {
        tag_prefix      = "urlprefix-"
        out             = "/etc/fabio/routes.txt"
        service_status  = ["passing"]
        checks_required = "one"
        reload_command  = ["systemctl", "restart", "fabio"]
      }
    }

Fabio reads that file when its ``registry.backend = file`` and ``registry.file.path`` point
at it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from caravan_plugins.routetable import ChecksRequired
from caravan_plugins.services import CheckStatus

DEFAULT_OUT = "/etc/fabio/routes.txt"


class FabioConfig(BaseModel):
    """The ``plugin "fabio" { config { ... } }`` block.

    :ivar tag_prefix: service tags starting with it become routes (Fabio's
        ``registry.consul.tagprefix``).
    :ivar out: the routing-table file to write.
    :ivar service_status: check statuses that count as healthy (Fabio's
        ``registry.consul.service.status``).
    :ivar checks_required: ``one`` or ``all`` of an instance's checks must have such a
        status (Fabio's ``registry.consul.checksRequired``).
    :ivar reload_command: run after a new table is written; empty when Fabio picks the
        file up by itself.
    """

    model_config = ConfigDict(extra="forbid")

    tag_prefix: str = Field(default="urlprefix-", min_length=1)
    out: str = Field(default=DEFAULT_OUT, min_length=1)
    service_status: list[CheckStatus] = Field(default_factory=lambda: ["passing"], min_length=1)
    checks_required: ChecksRequired = "one"
    reload_command: list[str] = Field(default_factory=list)
