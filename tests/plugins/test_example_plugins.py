"""The example third-party plugins are complete distributions and their tests are collected."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples" / "plugins").iterdir() if p.is_dir())


def test_the_three_examples_exist() -> None:
    assert [p.name for p in EXAMPLES] == [
        "caravan-driver-pycall",
        "caravan-notify-webhook",
        "caravan-policy-owner",
    ]


def test_pytest_collects_the_examples_tests() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "examples/plugins" in config["tool"]["pytest"]["ini_options"]["testpaths"]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_is_an_installable_distribution(example: Path) -> None:
    project = tomllib.loads((example / "pyproject.toml").read_text())
    assert project["project"]["name"] == example.name
    assert project["build-system"]["build-backend"] == "hatchling.build"
    assert "caravan-plugins" in project["project"]["dependencies"]
    entry_points = project["project"]["entry-points"]
    assert entry_points.keys() <= {"caravan", "caravan.drivers"}
    package = example.name.replace("-", "_")
    for target in (t for group in entry_points.values() for t in group.values()):
        module = target.split(":")[0]
        assert module.split(".")[0] == package
        assert (example / "src" / Path(*module.split("."))).with_suffix(".py").is_file()
    assert (example / "README.md").is_file()
    assert list((example / "tests").glob("test_*.py"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_imports_only_the_sdk(example: Path) -> None:
    for source in (example / "src").rglob("*.py"):
        text = source.read_text()
        assert "import caravan\n" not in text and "from caravan." not in text, source
