"""``ServiceRouter``: which catalog each service of this client is published in.

A ``service`` block's ``provider`` picks it, as in Nomad: ``nomad`` is the servers' built-in
catalog, ``consul`` (Nomad's default, also for an empty provider) a Consul agent. caravan
publishes a provider through a discovery plugin only when the agent is configured for it
(``plugin "consul" { config { address = ... } }``); otherwise every service goes to the
built-in catalog, which caravan also serves through its Consul-compatible API, so Consul
clients find it either way.
"""

from __future__ import annotations

from collections.abc import Mapping

from caravan.structs.services import Service

from .publisher import Publisher

#: The provider of a service that names none (Nomad's default).
DEFAULT_PROVIDER = "consul"


class ServiceRouter:
    """The built-in catalog's publisher plus one per configured provider."""

    def __init__(self, builtin: Publisher, providers: Mapping[str, Publisher] | None = None):
        self.builtin = builtin
        self.providers = dict(providers or {})

    def for_service(self, service: Service) -> Publisher:
        """Where ``service``'s instances are registered."""
        provider = service.provider or DEFAULT_PROVIDER
        return self.providers.get(provider, self.builtin)

    def publishers(self) -> list[Publisher]:
        """Every catalog this client publishes to, the built-in one first."""
        return [self.builtin, *self.providers.values()]
