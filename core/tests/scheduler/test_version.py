"""The ``version`` and ``semver`` constraint operators."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caravan.scheduler.feasible.version import (
    parse_semver,
    parse_version,
    semver_matches,
    version_matches,
)


@pytest.mark.parametrize(
    ("version", "constraint", "expected"),
    [
        ("1.2.3", ">= 1.0", True),
        ("1.2.3", ">= 1.0, < 1.2", False),
        ("0.1.5", ">= 0.1.0, < 0.2", True),
        ("v1.2", "= 1.2.0", True),
        ("1.2.3", "!= 1.2.3", False),
        ("1.2.3", "1.2.3", True),
        # pessimistic: ~> 1.2.3 means >= 1.2.3 and < 1.3
        ("1.2.9", "~> 1.2.3", True),
        ("1.3.0", "~> 1.2.3", False),
        ("1.2.2", "~> 1.2.3", False),
        # ~> 1.2 means >= 1.2 and < 2
        ("1.9.0", "~> 1.2", True),
        ("2.0.0", "~> 1.2", False),
        # prereleases only satisfy constraints on a prerelease of the same release
        ("1.3.0-beta1", ">= 1.0", False),
        ("1.3.0-beta2", ">= 1.3.0-beta1", True),
        ("1.4.0-beta2", ">= 1.3.0-beta1", False),
        ("1.3.0-beta1", "= 1.3.0-beta1", True),
        # build metadata is ignored
        ("1.3.0+abc", "= 1.3.0", True),
        # four segments are fine for go-version
        ("1.2.3.4", "> 1.2.3", True),
        ("not-a-version", ">= 1.0", False),
        ("1.0", "garbage", False),
    ],
)
def test_version_operator(version: str, constraint: str, expected: bool) -> None:
    assert version_matches(version, constraint) is expected


@pytest.mark.parametrize(
    ("version", "constraint", "expected"),
    [
        ("1.2.3", ">= 1.0.0", True),
        # prereleases take part in comparisons under semver
        ("1.3.0-beta1", ">= 1.0.0", True),
        ("1.3.0-beta1", "< 1.3.0", True),
        ("1.3.0-alpha", "< 1.3.0-beta", True),
        ("1.3.0-alpha.1", "< 1.3.0-alpha.beta", True),
        ("1.3.0-2", "< 1.3.0-11", True),
        ("1.3.0-rc.1", "> 1.3.0-beta.11", True),
        ("1.0.0+build.5", "= 1.0.0", True),
        # no pessimistic operator and no fourth segment under semver
        ("1.2.3", "~> 1.2", False),
        ("1.2.3.4", ">= 1.0.0", False),
    ],
)
def test_semver_operator(version: str, constraint: str, expected: bool) -> None:
    assert semver_matches(version, constraint) is expected


_versions = st.tuples(*(st.integers(0, 30) for _ in range(3))).map(lambda t: ".".join(map(str, t)))


@settings(deadline=None)  # timing depends on the machine's load, not on the code
@given(_versions, _versions)
def test_version_ordering_is_consistent(a: str, b: str) -> None:
    va, vb = parse_version(a), parse_version(b)
    assert va is not None and vb is not None
    assert va.compare(vb) == -vb.compare(va)
    assert version_matches(a, f">= {b}") == (not version_matches(a, f"< {b}"))
    assert semver_matches(a, f"= {b}") == (a == b)


@settings(deadline=None)
@given(_versions, st.sampled_from(["alpha", "beta.1", "rc.2", "1"]))
def test_prerelease_is_below_its_release(release: str, pre: str) -> None:
    v = parse_semver(f"{release}-{pre}")
    r = parse_semver(release)
    assert v is not None and r is not None
    assert v.compare(r) == -1
    assert semver_matches(f"{release}-{pre}", f"< {release}")
    assert not version_matches(f"{release}-{pre}", ">= 0.0.0")
