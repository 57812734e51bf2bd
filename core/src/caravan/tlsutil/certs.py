"""Creating a private CA and the certificates agents and the CLI present to each other.

The names follow Nomad's scheme with caravan's domain: the CA is written to
``caravan-agent-ca.pem`` / ``caravan-agent-ca-key.pem``; a server certificate for region
``global`` to ``global-server-caravan.pem`` / ``global-server-caravan-key.pem`` with the names
``server.global.caravan`` and ``server.global.nomad`` (so configs written for Nomad's names
verify too), ``localhost`` and ``127.0.0.1``. Client and CLI certificates are alike with
``client`` and ``cli``. Keys are ECDSA P-256, as Nomad's ``tls`` commands make them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from caravan.errors import CaravanError

DOMAIN = "caravan"
#: The other domain a certificate's role names are written for, so either name verifies.
ALT_DOMAIN = "nomad"
ROLES = ("server", "client", "cli")


class TLSError(CaravanError):
    """A CA, certificate or key that cannot be created, read or used; names the file."""


@dataclass(frozen=True)
class PemPair:
    """A certificate and its private key, PEM encoded."""

    cert: bytes
    key: bytes

    def write(self, cert_path: Path, key_path: Path) -> None:
        """Write both files (the key readable by its owner only); refuses to overwrite."""
        for path in (cert_path, key_path):
            if path.exists():
                raise TLSError(f"{path} already exists; remove it or choose another directory")
        cert_path.write_bytes(self.cert)
        key_path.touch(mode=0o600)
        key_path.write_bytes(self.key)


def role_names(role: str, region: str = "global") -> list[str]:
    """The DNS names a ``role`` certificate carries for ``region`` (both domains)."""
    return [f"{role}.{region}.{DOMAIN}", f"{role}.{region}.{ALT_DOMAIN}"]


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _validity(builder: x509.CertificateBuilder, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return builder.not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(
        now + dt.timedelta(days=days)
    )


def create_ca(days: int = 1825, common_name: str = "Caravan Agent CA") -> PemPair:
    """A self-signed CA certificate and key, valid for ``days``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    cert = _validity(builder, days).sign(key, hashes.SHA256())
    return PemPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def create_cert(
    ca: PemPair,
    role: str,
    *,
    region: str = "global",
    datacenter: str = "dc1",
    days: int = 365,
    extra_names: tuple[str, ...] = (),
) -> PemPair:
    """A certificate for ``role`` (``server``, ``client`` or ``cli``) signed by ``ca``.

    Servers and clients also get ``localhost`` and ``127.0.0.1``; ``extra_names`` adds DNS
    names or IP addresses. Servers and clients may act as both TLS server and TLS client
    (they dial each other); the CLI only as a client.

    :raises TLSError: an unknown role, or a CA that cannot be read.
    """
    if role not in ROLES:
        raise TLSError(f"certificate role must be one of {', '.join(ROLES)}, not {role!r}")
    try:
        ca_cert = x509.load_pem_x509_certificate(ca.cert)
        ca_key = serialization.load_pem_private_key(ca.key, password=None)
    except ValueError as err:
        raise TLSError(f"cannot read the CA certificate or key: {err}") from None
    key = ec.generate_private_key(ec.SECP256R1())
    names = role_names(role, region)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    hosts = list(extra_names) + ([] if role == "cli" else ["localhost", "127.0.0.1"])
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if role != "cli":
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, datacenter),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
            critical=False,
        )
    )
    cert = _validity(builder, days).sign(ca_key, hashes.SHA256())
    return PemPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def ca_file_names(directory: Path) -> tuple[Path, Path]:
    """Where ``caravan tls ca create`` writes the CA certificate and key."""
    return directory / f"{DOMAIN}-agent-ca.pem", directory / f"{DOMAIN}-agent-ca-key.pem"


def cert_file_names(directory: Path, role: str, region: str = "global") -> tuple[Path, Path]:
    """Where ``caravan tls cert create`` writes a role's certificate and key."""
    stem = f"{region}-{role}-{DOMAIN}"
    return directory / f"{stem}.pem", directory / f"{stem}-key.pem"
