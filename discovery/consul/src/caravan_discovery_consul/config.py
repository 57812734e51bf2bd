"""The consul backend's config block: how to reach the local Consul agent.

The keys follow Nomad's agent ``consul {}`` block where it has them::

    plugin "consul" {
      config {
        address    = "127.0.0.1:8500"
        scheme     = "https"
        token      = "..."
        ca_file    = "/etc/consul.d/ca.pem"
        cert_file  = "/etc/consul.d/client.pem"
        key_file   = "/etc/consul.d/client-key.pem"
        verify_ssl = true
        check_ttl  = "30s"
      }
    }
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from caravan_plugins import parse_duration


class ConsulConfig(BaseModel):
    """The ``plugin "consul" { config { ... } }`` block.

    :ivar address: the Consul agent's HTTP API, ``host:port``.
    :ivar token: the ACL token sent with every request.
    :ivar scheme: ``http`` or ``https``.
    :ivar datacenter: the Consul datacenter to use; empty means the agent's own.
    :ivar ca_file: CA certificate that signed the agent's certificate (https).
    :ivar cert_file: client certificate, when the agent verifies clients.
    :ivar key_file: the client certificate's key.
    :ivar verify_ssl: verify the agent's certificate (https).
    :ivar check_ttl: the TTL of the Consul check behind each caravan check; the backend
        re-reports every status well within it, so a check goes critical in Consul when the
        process reporting it is gone.
    :ivar watch_rate_limit: at most this many blocking queries per second per backend
        (bursts of two), so a watch loop cannot hammer the agent.
    """

    model_config = ConfigDict(extra="forbid")

    address: str = "127.0.0.1:8500"
    token: str = ""
    scheme: Literal["http", "https"] = "http"
    datacenter: str = ""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    verify_ssl: bool = True
    check_ttl: str = "30s"
    watch_rate_limit: float = 5.0

    @field_validator("address")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f'expected "host:port", got {value!r}')
        return value

    @field_validator("check_ttl")
    @classmethod
    def _duration(cls, value: str) -> str:
        if parse_duration(value) < 1:
            raise ValueError(f"must be at least 1s, got {value!r}")
        return value

    @field_validator("watch_rate_limit")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be greater than 0")
        return value
