"""The connection rules of both wires, fed frames by hand (no sockets)."""

from __future__ import annotations

import pytest

from tanba.protocol.connection import Echo, InFlight, Message, NcaLayerInbox, Refuse
from tanba.protocol.errors import InvalidRequest


def test_a_request_id_in_flight_cannot_be_reused_until_released() -> None:
    ids = InFlight()
    ids.claim(7)
    ids.claim("7")  # another id: JSON tells 7 and "7" apart
    with pytest.raises(InvalidRequest, match="already in flight"):
        ids.claim(7)
    ids.release(7)
    ids.claim(7)
    assert len(ids) == 2


def test_the_heartbeat_is_echoed_at_once_even_while_a_request_is_served() -> None:
    inbox = NcaLayerInbox(bound=2)
    assert inbox.receive(True, b'{"module":"a"}') is None
    assert inbox.next() == Message(True, b'{"module":"a"}')
    assert inbox.receive(True, b"--heartbeat--") == Echo("--heartbeat--")
    assert inbox.receive(False, b"--heartbeat--") is None  # a binary frame is a (bad) request


def test_requests_are_served_one_at_a_time_in_arrival_order() -> None:
    inbox = NcaLayerInbox(bound=8)
    for i in range(3):
        assert inbox.receive(True, str(i).encode()) is None
    assert inbox.next() == Message(True, b"0")
    assert inbox.next() is None  # the first is still being answered
    inbox.done()
    assert inbox.next() == Message(True, b"1")
    inbox.done()
    assert inbox.next() == Message(True, b"2")
    inbox.done()
    assert inbox.next() is None


def test_one_request_more_than_the_bound_is_refused_busy() -> None:
    inbox = NcaLayerInbox(bound=2)
    assert inbox.receive(True, b"a") is None
    assert inbox.next() is not None  # served: no longer waiting
    assert inbox.receive(True, b"b") is None
    assert inbox.receive(True, b"c") is None
    refused = inbox.receive(True, b"d")
    assert isinstance(refused, Refuse) and refused.error.reason == "busy"
    assert inbox.waiting == 2
