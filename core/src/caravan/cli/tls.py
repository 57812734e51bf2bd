"""``caravan tls ca create`` and ``caravan tls cert create``: a private CA and the
certificates servers, clients and the CLI use for mutual TLS (files named as Nomad names
them, with caravan's domain; see :mod:`caravan.tlsutil.certs`)."""

from __future__ import annotations

from pathlib import Path

import click

from caravan.tlsutil import PemPair, TLSError, create_ca, create_cert
from caravan.tlsutil.certs import ca_file_names, cert_file_names

from .output import CLIError


@click.group("tls")
def tls_group() -> None:
    """Create a certificate authority and certificates for mutual TLS."""


@tls_group.group("ca")
def ca_group() -> None:
    """The certificate authority."""


@ca_group.command("create")
@click.option("-days", "--days", default=1825, show_default=True, help="Validity in days.")
@click.option(
    "-common-name", "--common-name", "common_name", default="Caravan Agent CA", show_default=True
)
def ca_create(days: int, common_name: str) -> None:
    """Write ``caravan-agent-ca.pem`` and ``caravan-agent-ca-key.pem`` here."""
    cert, key = ca_file_names(Path.cwd())
    try:
        create_ca(days, common_name).write(cert, key)
    except TLSError as err:
        raise CLIError(str(err)) from None
    click.echo(f"==> CA certificate saved to: {cert.name}")
    click.echo(f"==> CA certificate key saved to: {key.name}")


@tls_group.group("cert")
def cert_group() -> None:
    """Certificates signed by the CA."""


@cert_group.command("create")
@click.option("-server", "--server", "server", is_flag=True, help="A server certificate.")
@click.option("-client", "--client", "client", is_flag=True, help="A client certificate.")
@click.option("-cli", "--cli", "cli_role", is_flag=True, help="A certificate for the CLI.")
@click.option("-region", "--region", default="global", show_default=True)
@click.option("-dc", "--dc", "datacenter", default="dc1", show_default=True)
@click.option("-days", "--days", default=365, show_default=True, help="Validity in days.")
@click.option("-ca", "--ca", "ca_file", default="", help="The CA certificate (default: here).")
@click.option("-key", "--key", "key_file", default="", help="The CA key (default: here).")
@click.option(
    "-additional-dnsname", "--additional-dnsname", "dns", multiple=True, help="Extra DNS name."
)
@click.option(
    "-additional-ipaddress", "--additional-ipaddress", "ips", multiple=True, help="Extra IP."
)
def cert_create(
    server: bool,
    client: bool,
    cli_role: bool,
    region: str,
    datacenter: str,
    days: int,
    ca_file: str,
    key_file: str,
    dns: tuple[str, ...],
    ips: tuple[str, ...],
) -> None:
    """Write ``<region>-<role>-caravan.pem`` and its ``-key.pem`` here."""
    roles = [r for r, on in (("server", server), ("client", client), ("cli", cli_role)) if on]
    if len(roles) != 1:
        raise CLIError("Exactly one of -server, -client or -cli must be given")
    default_cert, default_key = ca_file_names(Path.cwd())
    ca_cert, ca_key = Path(ca_file or default_cert), Path(key_file or default_key)
    try:
        ca = PemPair(ca_cert.read_bytes(), ca_key.read_bytes())
    except OSError as err:
        raise CLIError(f"Error reading CA file {err.filename}: {err.strerror}") from None
    cert, key = cert_file_names(Path.cwd(), roles[0], region)
    try:
        pair = create_cert(
            ca, roles[0], region=region, datacenter=datacenter, days=days, extra_names=dns + ips
        )
        pair.write(cert, key)
    except TLSError as err:
        raise CLIError(str(err)) from None
    click.echo(f"==> Using CA file {ca_cert.name} and CA key {ca_key.name}")
    click.echo(f"==> Certificate saved to: {cert.name}")
    click.echo(f"==> Certificate key saved to: {key.name}")
