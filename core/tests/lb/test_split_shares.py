"""``caravan lb split`` shares: fractions as given, shares above 1 read as percentages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caravan.lb import parse_split
from caravan.lb.splits import SplitArgumentError, split_meta


def test_a_single_percentage_is_that_share_of_the_traffic() -> None:
    split = parse_split("demo", ["canary=10"])
    assert split.weights == {"canary": 0.1}
    assert split_meta(split) == {"lb_split": "canary=0.1", "lb_split_key": "canary"}


def test_percentages_and_fractions_agree() -> None:
    percent = parse_split("web", ["v1=90", "v2=10"], "version")
    fraction = parse_split("web", ["v1=0.9", "v2=0.1"], "version")
    assert percent.weights == pytest.approx(fraction.weights)


def test_percentages_over_100_are_normalised() -> None:
    assert parse_split("web", ["a=150", "b=50"], "v").weights == {"a": 0.75, "b": 0.25}


def test_a_canary_split_names_canary_or_stable() -> None:
    with pytest.raises(SplitArgumentError, match="canary and stable"):
        parse_split("demo", ["v2=10"])


@given(st.lists(st.floats(min_value=0, max_value=1000), min_size=1, max_size=4))
def test_stored_shares_are_fractions_summing_to_at_most_one(shares: list[float]) -> None:
    items = [f"s{i}={share}" for i, share in enumerate(shares)]
    weights = parse_split("web", items, "version").weights
    assert all(0 <= w <= 1 for w in weights.values())
    assert sum(weights.values()) <= 1 + 1e-9 or all(s <= 1 for s in shares)
