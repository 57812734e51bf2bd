"""Fixtures for CLI tests: run ``caravan`` in-process and capture what a user would see."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from caravan.cli.main import main

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"


@pytest.fixture
def examples_dir() -> Path:
    """The repository's ``examples/`` folder (the walkthrough's job files)."""
    return EXAMPLES


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run ``caravan ARGS...`` in this process; returns its exit code, stdout and stderr."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def fake_agent(monkeypatch: pytest.MonkeyPatch):
    """A canned agent; ``CARAVAN_ADDR`` points at it for the test."""
    from .fake_agent import FakeAgent

    agent = FakeAgent()
    monkeypatch.setenv("CARAVAN_ADDR", agent.address)
    monkeypatch.delenv("NOMAD_ADDR", raising=False)
    monkeypatch.delenv("CARAVAN_TOKEN", raising=False)
    monkeypatch.delenv("NOMAD_TOKEN", raising=False)
    yield from agent.serve()
