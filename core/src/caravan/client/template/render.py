"""caravan's template language: Jinja2 in a sandbox, with the service catalog and the task's
environment as functions.

Templates are rendered with Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment` (no
access to Python internals, no file or network access from the template), with
``trim_blocks`` and ``lstrip_blocks`` so block tags on their own lines leave no blank
lines, and the template's own delimiters (``left_delimiter``/``right_delimiter`` replace
``{{``/``}}``). Functions:

- ``services()``: every service name with its tags: ``[{"Name": ..., "Tags": [...]}]``;
- ``service(name, tag=None, healthy=True)``: the instances of ``name`` ordered by ID, each
  with ``.ID``, ``.Name``, ``.Address``, ``.Port``, ``.Tags``, ``.Meta``, ``.Checks``,
  ``.Status``, ``.Node``, ``.Datacenter``, ``.Namespace``, ``.JobID``, ``.AllocID``; ``tag``
  keeps instances carrying that tag; ``healthy`` keeps only instances whose checks all pass;
- ``nomad_service(...)``: the same as ``service``;
- ``env(name)``: a variable of the task's environment, ``""`` when unset.

With ``error_on_missing_key`` an undefined name or attribute fails the render; without it,
it renders as an empty string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from caravan.errors import CaravanError
from caravan.lb.catalog import CatalogSnapshot
from caravan.structs.service_registration import CHECK_PASSING, ServiceRegistration


class TemplateRenderError(CaravanError):
    """A template that cannot be compiled or rendered; the message names the template and,
    when known, the line."""


@dataclass(frozen=True)
class ServiceEntry:
    """One instance as templates see it (Nomad's ``nomadService`` field names)."""

    ID: str
    Name: str
    Address: str
    Port: int
    Tags: list[str] = field(default_factory=list)
    Meta: dict[str, str] = field(default_factory=dict)
    Checks: dict[str, str] = field(default_factory=dict)
    Status: str = CHECK_PASSING
    Node: str = ""
    Datacenter: str = ""
    Namespace: str = ""
    JobID: str = ""
    AllocID: str = ""

    @property
    def ServiceName(self) -> str:
        """The same as ``Name``, as Nomad's registration spells it."""
        return self.Name

    @property
    def NodeID(self) -> str:
        """The same as ``Node``."""
        return self.Node

    @classmethod
    def from_registration(cls, data: dict[str, Any]) -> ServiceEntry:
        """An entry from ``ServiceRegistration`` API JSON."""
        reg = ServiceRegistration.from_api(data)
        return cls(
            ID=reg.id,
            Name=reg.service_name,
            Address=reg.address,
            Port=reg.port,
            Tags=list(reg.tags or []),
            Meta=dict(reg.meta or {}),
            Checks=dict(reg.checks or {}),
            Status=reg.health(),
            Node=reg.node_id,
            Datacenter=reg.datacenter,
            Namespace=reg.namespace,
            JobID=reg.job_id,
            AllocID=reg.alloc_id,
        )


class CompiledTemplate:
    """One template, compiled once, rendered on every catalog change.

    :param text: the template source.
    :param name: named in errors (the destination, or the source file).
    :raises TemplateRenderError: the text is not valid for these delimiters.
    """

    def __init__(
        self,
        text: str,
        name: str,
        *,
        left_delimiter: str = "{{",
        right_delimiter: str = "}}",
        error_on_missing_key: bool = False,
    ) -> None:
        self.name = name
        env = SandboxedEnvironment(
            variable_start_string=left_delimiter or "{{",
            variable_end_string=right_delimiter or "}}",
            undefined=jinja2.StrictUndefined if error_on_missing_key else jinja2.Undefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=False,
        )
        try:
            self._template = env.from_string(text)
        except jinja2.TemplateSyntaxError as err:
            raise TemplateRenderError(f"template {name}:{err.lineno}: {err.message}") from None

    def render(self, catalog: CatalogSnapshot, env: Mapping[str, str]) -> str:
        """The text for ``catalog`` and the task environment ``env``.

        :raises TemplateRenderError: the template failed (undefined name with
            ``error_on_missing_key``, a sandbox violation, a type error).
        """

        def service(name: str, tag: str | None = None, healthy: bool = True) -> list[ServiceEntry]:
            entries = [
                ServiceEntry.from_registration(r) for r in catalog.registrations.get(name, [])
            ]
            return [
                e
                for e in entries
                if (tag is None or tag in e.Tags) and (not healthy or e.Status == CHECK_PASSING)
            ]

        def services() -> list[dict[str, Any]]:
            return [
                {"Name": name, "Tags": sorted({t for r in regs for t in r.get("Tags") or []})}
                for name, regs in sorted(catalog.registrations.items())
            ]

        def env_var(name: str) -> str:
            return env.get(name, "")

        try:
            return self._template.render(
                service=service, nomad_service=service, services=services, env=env_var
            )
        except jinja2.TemplateError as err:
            raise TemplateRenderError(f"template {self.name}: {err}") from None
        except (TypeError, ValueError, AttributeError) as err:
            raise TemplateRenderError(f"template {self.name}: {err}") from None
