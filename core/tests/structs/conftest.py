"""Shared fixtures: the walkthrough jobs' API JSON (``fixtures/<name>.json``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def load_fixture() -> Callable[[str], dict[str, Any]]:
    """A loader: ``load_fixture("example")`` is the API JSON of ``examples/example.nomad``."""

    def load(name: str) -> dict[str, Any]:
        return json.loads((FIXTURES / f"{name}.json").read_text())

    return load


@pytest.fixture
def example_json(load_fixture: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    return load_fixture("example")
