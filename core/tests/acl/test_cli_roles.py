"""``caravan acl role`` and ``caravan acl token create -role-name`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from .conftest import auth
from .test_cli import _run


def _value(out: str, key: str) -> str:
    return next(line.split("= ", 1)[1] for line in out.splitlines() if line.startswith(key))


async def test_role_commands(
    api: TestClient,
    root: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CARAVAN_ADDR", str(api.make_url("")).rstrip("/"))
    monkeypatch.setenv("CARAVAN_TOKEN", root)
    monkeypatch.delenv("NOMAD_TOKEN", raising=False)
    for name, rules in (
        ("jobs-read", 'namespace "default" { policy = "read" }'),
        ("nodes-read", 'node { policy = "read" }'),
    ):
        resp = await api.put(f"/v1/acl/policy/{name}", json={"Rules": rules}, headers=auth(root))
        assert resp.status == 200

    code, out, _ = await _run(capsys, "acl", "role", "list")
    assert code == 0 and out.strip() == "No ACL roles found"
    code, out, err = await _run(
        capsys, "acl", "role", "create", "-name", "readers", "-policy", "jobs-read"
    )
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split("=")[0].strip() for line in lines] == [
        "ID",
        "Name",
        "Description",
        "Policies",
        "Create Index",
        "Modify Index",
    ]
    assert "Description  = <none>" in out and "Policies     = jobs-read" in out
    role_id = _value(out, "ID")

    code, out, _ = await _run(capsys, "acl", "role", "list")
    header, row = out.splitlines()
    assert header.split() == ["ID", "Name", "Description", "Policies"]
    assert row.split() == [role_id, "readers", "<none>", "jobs-read"]
    code, out, _ = await _run(capsys, "acl", "role", "info", "-by-name", "readers")
    assert _value(out, "ID") == role_id
    code, out, _ = await _run(capsys, "acl", "role", "info", "-json", role_id)
    assert json.loads(out)["Policies"] == [{"Name": "jobs-read"}]

    code, out, _ = await _run(
        capsys, "acl", "token", "create", "-name", "ci", "-role-name", "readers"
    )
    assert code == 0 and _value(out, "Roles") == "readers"
    assert _value(out, "Policies") == "n/a"

    code, out, _ = await _run(
        capsys,
        "acl",
        "role",
        "update",
        "-description",
        "see nodes",
        "-policy",
        "nodes-read",
        role_id,
    )
    assert code == 0 and _value(out, "Name") == "readers"
    assert _value(out, "Description") == "see nodes" and _value(out, "Policies") == "nodes-read"
    code, _, err = await _run(capsys, "acl", "role", "update", "-no-merge", role_id)
    assert code == 1 and "-name" in err

    code, _, err = await _run(capsys, "acl", "role", "create", "-name", "x", "-policy", "nope")
    assert code == 1 and "ACL policy not found: nope" in err
    code, _, err = await _run(capsys, "acl", "role", "create", "-name", "x")
    assert code == 1 and "-policy" in err
    code, _, err = await _run(
        capsys, "acl", "token", "create", "-name", "ci", "-role-id", "missing"
    )
    assert code == 1 and "cannot find role missing" in err

    code, out, _ = await _run(capsys, "acl", "role", "delete", role_id)
    assert out.strip() == f"ACL role {role_id} successfully deleted"
    code, _, err = await _run(capsys, "acl", "role", "info", role_id)
    assert code == 1 and "ACL role not found" in err
