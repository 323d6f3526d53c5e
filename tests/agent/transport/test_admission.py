"""The admission books on their own: who is dropped for a newcomer, who is over a cap,
and that every connection leaves the books as it entered them."""

from __future__ import annotations

import logging

import pytest

from tanba.agent.transport.admission import Admission, Refusal, Stage, Throttled
from tanba.protocol.limits import Limits


def books(**limits: int) -> Admission[str]:
    fixed = Limits(**limits)
    return Admission(lambda: fixed)


def test_a_newcomer_pushes_out_the_oldest_waiting_one() -> None:
    a = books(max_pending=3)
    assert [a.arrive(c) for c in "abc"] == [[], [], []]
    assert a.arrive("d") == ["a"]
    assert a.arrive("e") == ["b"]
    assert a.pending == 3 and a.stage("a") is None and a.stage("e") is Stage.WAITING


def test_a_handshake_under_way_is_never_pushed_out() -> None:
    a = books(max_pending=2)
    a.arrive("asked")
    a.headers("asked")  # its origin question is open, say
    a.arrive("b")
    assert a.arrive("c") == ["b"]
    assert a.stage("asked") is Stage.WORKING


def test_with_every_slot_under_way_the_newcomer_is_the_one_dropped() -> None:
    a = books(max_pending=1)
    a.arrive("asked")
    a.headers("asked")
    assert a.arrive("new") == ["new"]
    assert a.pending == 1 and a.stage("new") is None


def test_a_refused_connection_closing_goes_before_a_waiting_one() -> None:
    a = books(max_pending=3, max_per_origin=1)
    for c in ("open", "over"):
        a.arrive(c)
        a.headers(c)
    assert a.upgrade("open", "https://a.test") is None
    assert a.upgrade("over", "https://a.test") == Refusal("max-per-origin", 1)
    a.arrive("w1")
    a.arrive("w2")
    assert a.arrive("w3") == ["over"]  # older waiting ones stay; the closing one goes first
    assert a.arrive("w4") == ["w1"]


def test_caps_per_origin_for_local_programs_and_in_all() -> None:
    a = books(max_connections=4, max_per_origin=2, max_local_programs=1)
    results = []
    for name, origin in [("a1", "https://a.test"), ("a2", "https://a.test"), ("a3", "https://a.test"),
                         ("p1", None), ("p2", None), ("b1", "https://b.test"), ("c1", "https://c.test")]:
        a.arrive(name)
        a.headers(name)
        results.append(a.upgrade(name, origin))
    assert results == [None, None, Refusal("max-per-origin", 2), None, Refusal("max-local-programs", 1), None,
                       Refusal("max-connections", 4)]
    assert a.open == 4 and a.open_by_origin() == {"https://a.test": 2, None: 1, "https://b.test": 1}
    assert a.pending == 3  # the refused ones, closing


def test_the_reasons_a_page_reads() -> None:
    assert Refusal("max-per-origin", 16).reason == "too many connections from this origin (max-per-origin = 16)"
    assert Refusal("max-local-programs", 16).reason == "too many connections from local programs (max-local-programs = 16)"
    assert Refusal("max-connections", 64).reason == "too many connections (max-connections = 64)"
    assert all(len(Refusal(cap, 10**9).reason.encode()) <= 123 for cap in ("max-per-origin", "max-connections"))


@pytest.mark.parametrize("path", ["dropped", "waiting", "working", "refused", "open", "unknown"])
def test_leave_takes_a_connection_off_every_book_once(path: str) -> None:
    a = books(max_pending=1, max_per_origin=1)
    if path == "refused":
        a.arrive("first")
        a.headers("first")
        a.upgrade("first", "https://a.test")
    if path != "unknown":
        a.arrive("c")
    if path == "dropped":
        a.arrive("newer")  # pushes c out
    if path in ("working", "refused", "open"):
        a.headers("c")
    if path in ("refused", "open"):
        a.upgrade("c", "https://a.test")
    a.leave("c")
    a.leave("c")
    a.leave("first")
    a.leave("newer")
    assert (a.pending, a.open, a.open_by_origin()) == (0, 0, {})


def test_upgrade_of_a_connection_dropped_on_its_way_counts_nothing() -> None:
    a = books(max_pending=1)
    a.arrive("c")
    a.arrive("d")  # c dropped
    assert a.upgrade("c", "https://a.test") == Refusal("max-connections", 64)
    assert (a.open, a.pending) == (0, 1)


def test_new_limits_apply_to_the_next_connection() -> None:
    current = [Limits(max_pending=4)]
    a: Admission[str] = Admission(lambda: current[0])
    for c in "abcd":
        a.arrive(c)
    current[0] = Limits(max_pending=2)
    assert a.arrive("e") == ["a", "b", "c"]


def test_throttled_writes_the_first_then_one_per_interval_with_the_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = [100.0]
    say = Throttled(logging.getLogger("t"), logging.WARNING, interval=10, clock=lambda: clock[0])
    with caplog.at_level(logging.WARNING, "t"):
        for i in range(50):
            clock[0] = 100.0 + i * 0.5  # 50 in 25 s
            say("cap reached for %s", "x")
    assert [r.getMessage() for r in caplog.records] == [
        "cap reached for x",
        "cap reached for x (and 19 more like it in the last 10 s)",
        "cap reached for x (and 19 more like it in the last 10 s)",
    ]
