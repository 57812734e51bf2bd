from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caravan.structs import format_duration, new_id, now_ns, parse_duration


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("10s", 10_000_000_000),
        ("1m30s", 90_000_000_000),
        ("300ms", 300_000_000),
        ("1h", 3_600_000_000_000),
        ("1.5h", 5_400_000_000_000),
        ("2us", 2_000),
        ("2µs", 2_000),
        ("5ns", 5),
        ("0", 0),
        ("-1s", -1_000_000_000),
        ("1.1s", 1_100_000_000),
        ("24h", 86_400_000_000_000),
    ],
)
def test_parse_duration(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "10", "s", "1x", "1m30", "abc", "1..5s", "-"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (90_000_000_000, "1m30s"),
        (300_000_000, "300ms"),
        (3_600_000_000_000, "1h0m0s"),
        (1_500_000_000, "1.5s"),
        (2_000, "2µs"),
        (5, "5ns"),
        (-2_000_000_000, "-2s"),
        (300_000_000_000, "5m0s"),
    ],
)
def test_format_duration_matches_go(ns: int, text: str) -> None:
    assert format_duration(ns) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_then_parse_round_trips(ns: int) -> None:
    assert parse_duration(format_duration(ns)) == ns


def test_ids_and_clock() -> None:
    a, b = new_id(), new_id()
    assert a != b and len(a) == 36 and a[14] == "4"
    assert now_ns() > 1_600_000_000 * 10**9
