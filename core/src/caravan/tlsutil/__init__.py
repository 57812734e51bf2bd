"""Mutual TLS for caravan's HTTP API and RPC: a private CA, role certificates, and the
``ssl`` contexts agents and the CLI use (see ``docs/security.md``)."""

from caravan.tlsutil.certs import PemPair, TLSError, create_ca, create_cert
from caravan.tlsutil.context import TLSSettings, agent_contexts, client_context, server_context

__all__ = [
    "PemPair",
    "TLSError",
    "TLSSettings",
    "agent_contexts",
    "client_context",
    "create_ca",
    "create_cert",
    "server_context",
]
