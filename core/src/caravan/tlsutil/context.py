"""TLS settings of an agent (the ``tls {}`` block) and the ``ssl.SSLContext``s built from them.

- :func:`server_context`: what a listener presents (HTTP or RPC); with
  ``require_client_cert`` a peer must show a certificate signed by the CA (mutual TLS).
- :func:`client_context`: what a dialler uses: it verifies the peer against the CA and
  presents its own certificate. With ``verify_role`` the peer must also carry a role name
  such as ``server.global.caravan`` (or Nomad's ``server.global.nomad``), so that a client's
  certificate cannot pose as a server's.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

from pydantic import BaseModel

from caravan.tlsutil.certs import TLSError, role_names


class TLSSettings(BaseModel):
    """The agent's ``tls { ... }`` block; field names are the HCL keys."""

    http: bool = False
    rpc: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    verify_server_hostname: bool = False
    verify_https_client: bool = False

    def check(self) -> None:
        """:raises TLSError: TLS is on but a file is missing from the block."""
        if not (self.http or self.rpc):
            return
        for key in ("ca_file", "cert_file", "key_file"):
            if not getattr(self, key):
                raise TLSError(f"tls: {key} is required when http or rpc is enabled")


def _load(ctx: ssl.SSLContext, ca_file: str, cert_file: str, key_file: str) -> None:
    try:
        ctx.load_verify_locations(cafile=ca_file)
    except (OSError, ssl.SSLError) as err:
        raise TLSError(f"tls: cannot load ca_file {ca_file}: {err}") from None
    if cert_file or key_file:
        try:
            ctx.load_cert_chain(cert_file, key_file or None)
        except (OSError, ssl.SSLError) as err:
            raise TLSError(
                f"tls: cannot load cert_file {cert_file} / key_file {key_file}: {err}"
            ) from None


def server_context(
    ca_file: str, cert_file: str, key_file: str, *, require_client_cert: bool
) -> ssl.SSLContext:
    """The context of a TLS listener presenting ``cert_file``.

    :raises TLSError: a file cannot be read or does not hold what it should.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    _load(ctx, ca_file, cert_file, key_file)
    ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_NONE
    return ctx


def client_context(
    ca_file: str,
    cert_file: str = "",
    key_file: str = "",
    *,
    verify_role: str = "",
    region: str = "global",
) -> ssl.SSLContext:
    """The context of a TLS dialler trusting ``ca_file`` and presenting ``cert_file``.

    The peer's host name is not compared with the address dialled (agents are reached by IP);
    with ``verify_role`` (``"server"``) the peer's certificate must name that role in
    ``region`` instead.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    _load(ctx, ca_file, cert_file, key_file)
    if verify_role:
        ctx.sslobject_class = _role_checked(frozenset(role_names(verify_role, region)))
    return ctx


def _role_checked(names: frozenset[str]) -> type[ssl.SSLObject]:
    """An ``SSLObject`` whose handshake also requires one of ``names`` in the peer's SANs."""

    class RoleChecked(ssl.SSLObject):
        def do_handshake(self) -> None:
            super().do_handshake()
            peer: Any = self.getpeercert() or {}
            sans = {value for kind, value in peer.get("subjectAltName", ()) if kind == "DNS"}
            if not sans & names:
                raise ssl.SSLCertVerificationError(
                    f"certificate is not valid for {' or '.join(sorted(names))}"
                )

    return RoleChecked


def agent_contexts(
    settings: TLSSettings, region: str
) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None, ssl.SSLContext | None]:
    """``(http_server, rpc_server, rpc_client)`` contexts for an agent (``None`` where TLS is
    off). RPC is always mutual; HTTP asks for client certificates with
    ``verify_https_client``.

    :raises TLSError: a required file is missing or unreadable.
    """
    settings.check()
    files = (settings.ca_file, settings.cert_file, settings.key_file)
    http = (
        server_context(*files, require_client_cert=settings.verify_https_client)
        if settings.http
        else None
    )
    if not settings.rpc:
        return http, None, None
    role = "server" if settings.verify_server_hostname else ""
    return (
        http,
        server_context(*files, require_client_cert=True),
        client_context(*files, verify_role=role, region=region),
    )


#: The ``tls`` block's keys and kinds, for the agent config schema.
TLS_SCHEMA = {
    "http": "bool",
    "rpc": "bool",
    "ca_file": "str",
    "cert_file": "str",
    "key_file": "str",
    "verify_server_hostname": "bool",
    "verify_https_client": "bool",
}


def _first_env(*names: str) -> str:
    return next((os.environ[n] for n in names if os.environ.get(n)), "")


def cli_context(
    ca_cert: str | None = None, client_cert: str | None = None, client_key: str | None = None
) -> ssl.SSLContext | None:
    """The context the CLI uses for an ``https://`` agent address.

    Each file comes from its flag, else ``CARAVAN_CACERT`` / ``NOMAD_CACERT``,
    ``CARAVAN_CLIENT_CERT`` / ``NOMAD_CLIENT_CERT``, ``CARAVAN_CLIENT_KEY`` /
    ``NOMAD_CLIENT_KEY``. Returns ``None`` when none is set (the system's trust store is
    used). The agent's host name is checked against its certificate.

    :raises TLSError: a file cannot be read.
    """
    ca = ca_cert or _first_env("CARAVAN_CACERT", "NOMAD_CACERT")
    cert = client_cert or _first_env("CARAVAN_CLIENT_CERT", "NOMAD_CLIENT_CERT")
    key = client_key or _first_env("CARAVAN_CLIENT_KEY", "NOMAD_CLIENT_KEY")
    if not (ca or cert or key):
        return None
    try:
        ctx = ssl.create_default_context(cafile=ca or None)
    except (OSError, ssl.SSLError) as err:
        raise TLSError(f"cannot load CA certificate {ca}: {err}") from None
    if cert or key:
        try:
            ctx.load_cert_chain(cert, key or None)
        except (OSError, ssl.SSLError) as err:
            raise TLSError(f"cannot load client certificate {cert} / key {key}: {err}") from None
    return ctx
