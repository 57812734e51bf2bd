"""docs/cli.md documents every command and flag the CLI has."""

from __future__ import annotations

from pathlib import Path

from caravan.cli.docs import BEGIN, END, render_reference
from caravan.cli.main import cli

DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"


def test_reference_is_in_sync_with_the_commands():
    text = DOC.read_text()
    generated = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert generated.strip() == render_reference(cli).strip(), (
        "docs/cli.md is stale: run `python -m caravan.cli.docs docs/cli.md`"
    )


def test_every_command_is_in_the_reference():
    text = DOC.read_text()
    for verb in (
        "agent",
        "job run",
        "job plan",
        "job status",
        "alloc logs",
        "node drain",
        "server members",
        "eval list",
        "deployment promote",
        "operator snapshot save",
    ):
        assert f"### `caravan {verb}`" in text
