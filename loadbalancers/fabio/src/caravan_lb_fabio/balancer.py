"""The ``fabio`` load balancer: a Fabio routing table from ``urlprefix-`` tags.

Renders the ``route add`` lines of every routed instance in Fabio's own order (reverse
string order) followed by the ``route weight`` lines of services with an ``lb_split``, checks
the table against Fabio's grammar, writes it to ``out`` and runs ``reload_command``.
Malformed tags are listed as comments at the top of the table, never dropped unseen.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

from caravan_plugins import (
    LoadBalancer,
    PluginError,
    RenderOptions,
    ServiceInstance,
    ValidationResult,
)
from caravan_plugins.routetable import routes_for_instances
from caravan_plugins.splits import splits_for_instances

from .config import DEFAULT_OUT, FabioConfig
from .grammar import check_table
from .routes import route_add_line, route_weight_lines

HEADER = "# Fabio routing table written by caravan; changes are overwritten.\n"


class FabioLoadBalancer(LoadBalancer):
    """Entry point ``fabio`` in ``caravan.loadbalancers``."""

    name: ClassVar[str] = "fabio"
    config_schema = FabioConfig
    default_path: ClassVar[str] = DEFAULT_OUT

    def __init__(self, config: FabioConfig | None = None) -> None:
        super().__init__(config)
        # The contract reads default_path for apply(); the configured ``out`` wins.
        self.default_path = self.config.out  # type: ignore[misc]

    def render(self, instances: list[ServiceInstance], options: RenderOptions) -> str:
        """The routing table for ``instances``: routable ones only unless
        ``options.passing_only`` is false, only ``options.services`` when given."""
        chosen = [i for i in instances if not options.services or i.service in options.services]
        targets, tag_errors = routes_for_instances(
            chosen,
            self.config.tag_prefix,
            passing_only=options.passing_only,
            service_status=self.config.service_status,
            checks_required=self.config.checks_required,
        )
        splits, split_errors = splits_for_instances(chosen)
        comments = "".join(f"# skipped: {err}\n" for err in (*tag_errors, *split_errors))
        adds = sorted(
            (route_add_line(t, splits.get(t.instance.service)) for t in targets), reverse=True
        )
        lines = [*adds, *route_weight_lines(targets, splits)]
        return HEADER + comments + "".join(f"{line}\n" for line in lines)

    async def validate(self, config_text: str) -> ValidationResult:
        """Check the routing table against Fabio's grammar, line by line."""
        return ValidationResult(errors=check_table(config_text))

    async def reload(self, path: Path) -> None:
        """Run ``reload_command`` so Fabio reads the table at ``path``.

        :raises PluginError: no ``reload_command`` is configured (Fabio's file registry reads
            the table when it starts), or the command failed.
        """
        command = self.config.reload_command
        if not command:
            raise PluginError(
                f"fabio: {path} is written; Fabio reads its routing table file when it "
                f"starts, so restart Fabio or set reload_command in the plugin config"
            )
        try:
            proc = await asyncio.create_subprocess_exec(
                *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
            )
        except OSError as err:
            raise PluginError(f"fabio: reload_command {command[0]!r}: {err.strerror}") from None
        output, _ = await proc.communicate()
        if proc.returncode != 0:
            detail = output.decode(errors="replace").strip()
            raise PluginError(
                f"fabio: reload_command exited with {proc.returncode}"
                + (f": {detail}" if detail else "")
            )
