"""Shared helpers for the job file tests."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def examples_dir() -> Path:
    """The walkthrough's job files (they must parse unchanged)."""
    return EXAMPLES
