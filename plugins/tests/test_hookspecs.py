"""The hook specs are the contract: every docstring must say when, what and what back."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from caravan_plugins import hookspecs
from caravan_plugins.plugins import hook_names

HOOKS = hook_names()


def test_every_hook_is_prefixed_and_specced() -> None:
    assert len(HOOKS) == 8
    for name in HOOKS:
        assert name.startswith("caravan_")
        assert hasattr(getattr(hookspecs, name), "caravan_spec")


@pytest.mark.parametrize("name", HOOKS)
def test_docstring_shape(name: str) -> None:
    func = getattr(hookspecs, name)
    doc = inspect.getdoc(func) or ""
    params = list(inspect.signature(func).parameters)
    assert params, f"{name} takes no arguments"
    for param in params:
        assert f":param {param}:" in doc, f"{name} does not document {param}"
    documented = re.findall(r":param (\w+):", doc)
    assert documented == params, f"{name} documents {documented}, takes {params}"
    assert ":returns:" in doc
    assert "Called" in doc, f"{name} does not say when it is called"
    assert "loop" in doc or "thread" in doc, f"{name} does not say where it runs"
    if func.caravan_spec.get("firstresult"):
        assert "Stops at first non-None result" in doc


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_test(name: str) -> None:
    tests = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    assert f"def test_hook_{name.removeprefix('caravan_')}" in tests
