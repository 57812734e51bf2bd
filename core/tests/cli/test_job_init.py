"""``caravan job init``: the example job a new user starts from."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_init_writes_example_nomad(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    res = run_cli("job", "init")
    assert res.code == 0
    assert res.out.strip() == "Example job file written to example.nomad"
    assert 'job "example"' in (tmp_path / "example.nomad").read_text()


def test_init_refuses_to_overwrite(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "example.nomad").write_text("keep me")
    res = run_cli("job", "init")
    assert res.code == 1
    assert res.err.strip() == "Job 'example.nomad' already exists"
    assert (tmp_path / "example.nomad").read_text() == "keep me"


def test_init_output_submits_what_the_walkthrough_example_submits(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, examples_dir: Path
):
    """The generated file is the walkthrough's example job plus comments and a job-level migrate
    block holding Nomad's defaults: every group ends up with the same job either way."""
    monkeypatch.chdir(tmp_path)
    assert run_cli("job", "init").code == 0
    generated = run_cli("job", "run", "-output", "example.nomad").json()
    walkthrough = run_cli("job", "run", "-output", str(examples_dir / "example.nomad")).json()
    assert generated["Job"].pop("Migrate") == {
        "MaxParallel": 1,
        "HealthCheck": "checks",
        "MinHealthyTime": 10_000_000_000,
        "HealthyDeadline": 300_000_000_000,
    }
    assert walkthrough["Job"].pop("Migrate") is None
    assert generated == walkthrough


def test_init_short_is_a_valid_minimal_job(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    assert run_cli("job", "init", "-short").code == 0
    text = (tmp_path / "example.nomad").read_text()
    assert "#" not in text and "update" not in text
    res = run_cli("job", "validate", "example.nomad")
    assert (res.code, res.out.strip()) == (0, "Job validation successful")
