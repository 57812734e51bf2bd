"""``caravan acl`` and ``caravan tls`` as a user runs them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from cryptography import x509

from caravan.cli.main import main


async def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


async def test_acl_commands_against_an_agent(
    api: TestClient, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("CARAVAN_ADDR", str(api.make_url("")).rstrip("/"))
    for name in ("CARAVAN_TOKEN", "NOMAD_TOKEN", "NOMAD_ADDR"):
        monkeypatch.delenv(name, raising=False)
    code, out, _ = await _run(capsys, "acl", "bootstrap")
    assert code == 0 and "Type         = management" in out
    secret = next(line.split("= ")[1] for line in out.splitlines() if "Secret ID" in line)
    code, _, err = await _run(capsys, "acl", "bootstrap")
    assert code == 1 and "ACL bootstrap already done" in err

    monkeypatch.setenv("CARAVAN_TOKEN", secret)
    rules = tmp_path / "readonly.hcl"
    rules.write_text('namespace "default" { policy = "read" }\n')
    code, out, _ = await _run(capsys, "acl", "policy", "apply", "readonly", str(rules))
    assert out.strip() == 'Successfully wrote "readonly" ACL policy!'
    code, out, _ = await _run(capsys, "acl", "policy", "list")
    assert "readonly" in out
    code, out, _ = await _run(
        capsys, "acl", "token", "create", "-name", "ci", "-policy", "readonly"
    )
    assert code == 0 and "Policies     = readonly" in out
    accessor = next(line.split("= ")[1] for line in out.splitlines() if "Accessor ID" in line)
    code, out, _ = await _run(capsys, "acl", "token", "list")
    assert accessor in out and "Accessor ID" in out
    code, out, _ = await _run(capsys, "acl", "token", "self")
    assert "Bootstrap Token" in out
    code, out, _ = await _run(capsys, "acl", "token", "delete", accessor)
    assert out.strip() == f"Token {accessor} successfully deleted"
    code, out, _ = await _run(capsys, "acl", "policy", "delete", "readonly")
    assert code == 0

    monkeypatch.setenv("CARAVAN_TOKEN", "00000000-0000-4000-8000-000000000000")
    code, _, err = await _run(capsys, "job", "status")
    assert code == 1 and "403 (ACL token not found)" in err


def test_tls_ca_and_cert_create(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["tls", "ca", "create"]) == 0
    assert main(["tls", "cert", "create", "-server", "-region", "east"]) == 0
    assert main(["tls", "cert", "create", "-client"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "caravan-agent-ca-key.pem",
        "caravan-agent-ca.pem",
        "east-server-caravan-key.pem",
        "east-server-caravan.pem",
        "global-client-caravan-key.pem",
        "global-client-caravan.pem",
    ]
    cert = x509.load_pem_x509_certificate((tmp_path / "east-server-caravan.pem").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == {
        "server.east.caravan",
        "server.east.nomad",
        "localhost",
    }
    assert (tmp_path / "east-server-caravan-key.pem").stat().st_mode & 0o077 == 0
    capsys.readouterr()
    assert main(["tls", "cert", "create", "-server", "-client"]) == 1
    assert "Exactly one of" in capsys.readouterr().err
