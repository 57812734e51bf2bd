"""Every constraint operator, evaluated against a node the way the scheduler does."""

from __future__ import annotations

import pytest

from caravan.scheduler.feasible.constraints import NodeConstraint
from caravan.scheduler.feasible.targets import escapes_class

from .conftest import make_node

NODE = make_node(
    "n1",
    name="worker-1",
    datacenter="dc2",
    node_class="large",
    node_pool="gpu",
    attributes={
        "kernel.name": "linux",
        "cpu.numcores": "8",
        "os.version": "22.04",
        "nomad.version": "1.7.3",
        "driver.docker.version": "24.0.7-beta.1",
        "unique.hostname": "worker-1.example",
        "tags": "ssd, fast,  gpu",
    },
    meta={"rack": "r7", "zone": "b"},
)


def holds(ltarget: str, operand: str, rtarget: str = "") -> bool:
    return NodeConstraint(ltarget, rtarget, operand, "", escapes_class(ltarget)).matches(NODE)


@pytest.mark.parametrize("op", ["=", "==", "is"])
def test_equality_aliases(op: str) -> None:
    assert holds("${attr.kernel.name}", op, "linux")
    assert not holds("${attr.kernel.name}", op, "windows")
    # a missing attribute never equals anything
    assert not holds("${attr.nope}", op, "linux")


@pytest.mark.parametrize("op", ["!=", "not"])
def test_inequality_matches_missing_attribute(op: str) -> None:
    assert holds("${attr.kernel.name}", op, "windows")
    assert not holds("${attr.kernel.name}", op, "linux")
    assert holds("${attr.nope}", op, "linux")


@pytest.mark.parametrize(
    ("ltarget", "op", "rtarget", "expected"),
    [
        ("${attr.cpu.numcores}", ">", "4", True),
        ("${attr.cpu.numcores}", ">", "10", False),  # numeric, not lexical ("8" > "10")
        ("${attr.cpu.numcores}", ">=", "8", True),
        ("${attr.cpu.numcores}", "<", "8.5", True),
        ("${attr.cpu.numcores}", "<=", "7", False),
        ("${meta.zone}", "<", "c", True),  # lexical when not numbers
        ("${meta.zone}", ">", "c", False),
        ("${attr.nope}", "<", "3", False),
    ],
)
def test_ordering(ltarget: str, op: str, rtarget: str, expected: bool) -> None:
    assert holds(ltarget, op, rtarget) is expected


def test_regexp_searches_anywhere() -> None:
    assert holds("${attr.unique.hostname}", "regexp", r"^worker-\d+")
    assert holds("${attr.unique.hostname}", "regexp", "example")
    assert not holds("${attr.unique.hostname}", "regexp", "^db")
    assert not holds("${attr.unique.hostname}", "regexp", "([")  # invalid pattern never matches


@pytest.mark.parametrize("op", ["set_contains", "set_contains_all"])
def test_set_contains_all(op: str) -> None:
    assert holds("${attr.tags}", op, "gpu,ssd")
    assert not holds("${attr.tags}", op, "gpu,hdd")


def test_set_contains_any() -> None:
    assert holds("${attr.tags}", "set_contains_any", "hdd, fast")
    assert not holds("${attr.tags}", "set_contains_any", "hdd,nvme")


def test_version_and_semver_on_attributes() -> None:
    assert holds("${attr.nomad.version}", "version", ">= 1.6, < 1.8")
    assert holds("${attr.nomad.version}", "version", "~> 1.7.0")
    assert not holds("${attr.driver.docker.version}", "version", ">= 20.0")
    assert holds("${attr.driver.docker.version}", "semver", ">= 20.0.0")


def test_is_set_and_is_not_set() -> None:
    assert holds("${meta.rack}", "is_set")
    assert not holds("${meta.nope}", "is_set")
    assert holds("${meta.nope}", "is_not_set")
    assert not holds("${meta.rack}", "is_not_set")


@pytest.mark.parametrize(
    ("target", "value"),
    [
        ("${node.unique.id}", "n1"),
        ("${node.unique.name}", "worker-1"),
        ("${node.datacenter}", "dc2"),
        ("${node.region}", "global"),
        ("${node.class}", "large"),
        ("${node.pool}", "gpu"),
        ("${meta.rack}", "r7"),
    ],
)
def test_node_variables(target: str, value: str) -> None:
    assert holds(target, "=", value)


def test_literal_targets_and_unknown_operator() -> None:
    assert holds("linux", "=", "${attr.kernel.name}")
    assert not holds("${attr.kernel.name}", "resembles", "linux")


def test_unique_targets_escape_the_class_cache() -> None:
    assert escapes_class("${attr.unique.hostname}")
    assert escapes_class("${node.unique.id}")
    assert not escapes_class("${attr.kernel.name}")
