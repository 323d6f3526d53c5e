"""The limits: their defaults, and what a Limits refuses to be."""

from __future__ import annotations

import math

import pytest

from tanba.protocol.limits import COUNTS, SECONDS, Limits


def test_connection_defaults_keep_one_page_below_the_global_cap() -> None:
    limits = Limits()
    assert (limits.max_connections, limits.max_per_origin, limits.max_local_programs) == (64, 16, 16)
    assert limits.max_per_origin < limits.max_connections and limits.max_local_programs < limits.max_connections
    assert (limits.max_pending, limits.header_timeout, limits.handshake_timeout) == (128, 2.0, 10.0)


@pytest.mark.parametrize("name", COUNTS)
@pytest.mark.parametrize("value", [0, -1, 1.5, 2.0, True, "8"])
def test_counts_are_whole_and_positive(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=name):
        Limits(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", SECONDS)
@pytest.mark.parametrize("value", [0, -0.5, math.nan, math.inf, True, "2"])
def test_timeouts_are_positive_seconds(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=name):
        Limits(**{name: value})  # type: ignore[arg-type]


def test_whole_seconds_and_ones_are_fine() -> None:
    limits = Limits(header_timeout=1, handshake_timeout=3, max_pending=1, max_per_origin=1, max_local_programs=1)
    assert limits.header_deadline == 1


def test_the_header_deadline_is_never_past_the_handshake_timeout() -> None:
    assert Limits().header_deadline == 2.0
    assert Limits(header_timeout=5, handshake_timeout=0.3).header_deadline == 0.3
