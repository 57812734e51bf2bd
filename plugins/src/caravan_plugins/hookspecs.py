"""Every caravan hook, in the order they fire during a job's life.

Hook implementations are plain functions (or coroutines) decorated with
``caravan_plugins.hookimpl`` in a module named by an entry point of the ``caravan`` group.
Arguments are passed by keyword; an implementation may accept any subset of them. Every hook
is called on the agent's asyncio loop through :class:`caravan_plugins.Plugins`, and an
implementation may return either a value or an awaitable of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from .events import AllocationEvent, DeploymentEvent
from .services import ServiceInstance
from .validation import ValidationResult

if TYPE_CHECKING:
    import click
    from aiohttp import web

hookspec = pluggy.HookspecMarker("caravan")

# -------------------------------------------------------------------------
# Start-up: the CLI and the agent assemble themselves
# -------------------------------------------------------------------------


@hookspec
def caravan_register_commands(cli: click.Group) -> None:
    """Add commands to the ``caravan`` command line.

    Called once when the ``caravan`` command starts, before arguments are parsed, on the main
    thread (no event loop is running yet).

    :param cli: the top-level ``click.Group``; call ``cli.add_command(...)`` on it.
    :returns: nothing; results are ignored.
    """


@hookspec
def caravan_register_routes(app: web.Application) -> None:
    """Add HTTP routes to the agent's API.

    Called once per agent while the aiohttp application is built, before it starts serving,
    on the agent's loop. Paths under ``/v1/`` are caravan's; use your own prefix.

    :param app: the ``aiohttp.web.Application``; call ``app.router.add_get(...)`` on it.
    :returns: nothing; results are ignored.
    """


@hookspec
def caravan_node_attributes(attributes: dict[str, str]) -> dict[str, str] | None:
    """Contribute extra node attributes when a client fingerprints its node.

    Called at client start and at every fingerprint refresh, after the built-in and driver
    fingerprints, on the client's loop. Returned keys are merged into the node's attributes
    (and so become usable in ``constraint {}`` blocks); on conflicts the plugin called
    last wins.

    :param attributes: the attributes found so far (read only), e.g. ``kernel.name``.
    :returns: attributes to add or override, or ``None`` for none.
    """


# -------------------------------------------------------------------------
# Job submission: admission, before anything is stored
# -------------------------------------------------------------------------


@hookspec
def caravan_mutate_job(job: dict[str, Any]) -> dict[str, Any] | None:
    """Rewrite a submitted job before it is validated (admission mutation).

    Called on the server that receives ``PUT /v1/jobs`` or ``/v1/job/<id>/plan``, on its
    loop, once per implementation in turn: each sees the result of the previous one.

    :param job: the job in Nomad's API JSON form (``ID``, ``TaskGroups``, ...), after
        defaults were applied. Do not modify it in place.
    :returns: the replacement job, or ``None`` to keep it unchanged.
    """


@hookspec
def caravan_validate_job(job: dict[str, Any]) -> list[str] | ValidationResult | None:
    """Check a submitted job after caravan's own validation passed.

    Called on the receiving server, on its loop, after :func:`caravan_mutate_job`. If any
    implementation reports an error the job is rejected, every error is shown to the user and
    no state changes; warnings are returned to the user with the accepted job.

    :param job: the job in Nomad's API JSON form, after mutation (read only).
    :returns: a list of error messages, a :class:`ValidationResult` with errors and
        warnings, or ``None`` when there is nothing to report.
    """


# -------------------------------------------------------------------------
# Running: state changes observed after they were committed
# -------------------------------------------------------------------------


@hookspec
def caravan_allocation_state_changed(event: AllocationEvent) -> None:
    """Observe an allocation whose client or desired status changed.

    Called on the leader server, on its loop, after the change was committed; never called
    twice for one transition. A slow implementation delays later events: hand long work to a
    task of your own.

    :param event: the allocation and its old and new status.
    :returns: nothing; results are ignored.
    """


@hookspec
def caravan_deployment_state_changed(event: DeploymentEvent) -> None:
    """Observe a deployment whose status changed (e.g. ``running`` to ``successful``).

    Called on the leader server, on its loop, after the change was committed.

    :param event: the deployment and its old and new status.
    :returns: nothing; results are ignored.
    """


@hookspec
def caravan_service_instances_changed(service: str, instances: list[ServiceInstance]) -> None:
    """Observe the instances of one service after they changed.

    Called on every agent that watches the service (load balancers, the services API), on
    its loop, after a registration, deregistration or check status change.

    :param service: the service name.
    :param instances: every instance of the service now, passing or not.
    :returns: nothing; results are ignored.
    """
