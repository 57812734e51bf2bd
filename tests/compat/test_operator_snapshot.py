"""``caravan operator snapshot save`` / ``restore`` against a real dev agent: the state after
a restore is the saved one, whatever changed in between."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from .conftest import DevAgent

pytestmark = pytest.mark.integration


def batch_job(job_id: str) -> dict:
    task = {
        "Name": "t",
        "Driver": "raw_exec",
        "Config": {"command": "/bin/true"},
        "Resources": {"CPU": 50, "MemoryMB": 32},
    }
    group = {"Name": "g", "Count": 1, "Tasks": [task]}
    return {"Job": {"ID": job_id, "Type": "batch", "Datacenters": ["dc1"], "TaskGroups": [group]}}


def jobs(agent: DevAgent) -> dict[str, int]:
    return {j["ID"]: j["JobModifyIndex"] for j in agent.get("/v1/jobs")}


def test_snapshot_save_and_restore_with_the_cli(dev_agent: DevAgent, tmp_path: Path) -> None:
    for job_id in ("kept", "removed"):
        resp = requests.put(f"{dev_agent.address}/v1/jobs", json=batch_job(job_id), timeout=10)
        assert resp.status_code == 200, resp.text
    saved = jobs(dev_agent)
    archive = tmp_path / "state.snap"
    assert (
        "State file written to"
        in dev_agent.cli("operator", "snapshot", "save", str(archive)).stdout
    )

    resp = requests.delete(f"{dev_agent.address}/v1/job/removed?purge=true", timeout=10)
    assert resp.status_code == 200
    resp = requests.put(f"{dev_agent.address}/v1/jobs", json=batch_job("added"), timeout=10)
    assert resp.status_code == 200
    assert set(jobs(dev_agent)) == {"kept", "added"}

    assert (
        "Snapshot Restored" in dev_agent.cli("operator", "snapshot", "restore", str(archive)).stdout
    )
    assert jobs(dev_agent) == saved

    broken = tmp_path / "broken.snap"
    broken.write_bytes(archive.read_bytes()[:100])
    done = dev_agent.cli_failing("operator", "snapshot", "restore", str(broken))
    assert "truncated" in done.stderr + done.stdout
    assert jobs(dev_agent) == saved
