"""A throwaway PKI for the TLS tests: one CA with server, client and CLI certificates, and a
second ("rogue") CA with its own server certificate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from caravan.tlsutil import create_ca, create_cert
from caravan.tlsutil.certs import ca_file_names, cert_file_names


@dataclass(frozen=True)
class Files:
    ca: str
    cert: str
    key: str


@dataclass(frozen=True)
class PKI:
    server: Files
    client: Files
    cli: Files
    rogue_server: Files


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    made: dict[str, Files] = {}
    for authority in ("good", "rogue"):
        directory = Path(tmp_path_factory.mktemp(authority))
        ca = create_ca()
        ca_cert, ca_key = ca_file_names(directory)
        ca.write(ca_cert, ca_key)
        for role in ("server", "client", "cli"):
            cert, key = cert_file_names(directory, role)
            create_cert(ca, role).write(cert, key)
            made[f"{authority}-{role}"] = Files(str(ca_cert), str(cert), str(key))
    return PKI(made["good-server"], made["good-client"], made["good-cli"], made["rogue-server"])
