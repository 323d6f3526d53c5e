"""JSON-RPC envelopes."""

from __future__ import annotations

from typing import Any

import pytest

from tanba.protocol.errors import InternalError, InvalidParams, InvalidRequest, StoreError, WrongPin
from tanba.protocol.messages import Request, error_message, notification, parse_request, result_message, salvage_id


def test_parses_a_request() -> None:
    assert parse_request({"jsonrpc": "2.0", "id": "a1", "method": "sign", "params": {"x": 1}}) == Request(
        "a1", "sign", {"x": 1}
    )
    assert parse_request({"jsonrpc": "2.0", "id": 7, "method": "agent.hello"}).params == {}


BAD: dict[str, dict[str, Any]] = {
    "no version": {"id": 1, "method": "m"},
    "wrong version": {"jsonrpc": "1.0", "id": 1, "method": "m"},
    "notification": {"jsonrpc": "2.0", "method": "m"},
    "null id": {"jsonrpc": "2.0", "id": None, "method": "m"},
    "bool id": {"jsonrpc": "2.0", "id": True, "method": "m"},
    "float id": {"jsonrpc": "2.0", "id": 1.5, "method": "m"},
    "huge id": {"jsonrpc": "2.0", "id": 2**60, "method": "m"},
    "long id": {"jsonrpc": "2.0", "id": "x" * 129, "method": "m"},
    "no method": {"jsonrpc": "2.0", "id": 1},
    "method not a string": {"jsonrpc": "2.0", "id": 1, "method": 5},
    "positional params": {"jsonrpc": "2.0", "id": 1, "method": "m", "params": [1]},
    "unknown member": {"jsonrpc": "2.0", "id": 1, "method": "m", "pin": "1234"},
}


@pytest.mark.parametrize("obj", BAD.values(), ids=BAD.keys())
def test_bad_envelopes_are_invalid_request(obj: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        parse_request(obj)


def test_salvage_id_only_returns_usable_ids() -> None:
    assert salvage_id({"id": 3}) == 3
    assert salvage_id({"id": "x"}) == "x"
    assert salvage_id({"id": [1]}) is None
    assert salvage_id([1]) is None


def test_error_message_carries_reason_and_public_data() -> None:
    msg = error_message(4, WrongPin("login failed", retries_left=2), "Wrong PIN: 2 tries left.")
    assert msg == {
        "jsonrpc": "2.0",
        "id": 4,
        "error": {"code": -32005, "message": "Wrong PIN: 2 tries left.", "data": {"reason": "wrong_pin", "retriesLeft": 2}},
    }


def test_client_errors_explain_the_field() -> None:
    msg = error_message(1, InvalidParams("unknown field params.pin", field="params.pin"), "bad")
    assert msg["error"]["data"] == {"reason": "invalid_params", "field": "params.pin", "detail": "unknown field params.pin"}


def test_internal_and_store_details_stay_in_the_log() -> None:
    internal = error_message(1, InternalError("/home/user/secret path exploded", path="/x"), "see log")
    assert internal["error"]["data"] == {"reason": "internal"}
    store = error_message(1, StoreError("cannot read /home/user/keys/RSA256.p12"), "store")
    assert "detail" not in store["error"]["data"]


def test_result_and_notification_shapes() -> None:
    assert result_message(1, {"a": 1}) == {"jsonrpc": "2.0", "id": 1, "result": {"a": 1}}
    assert notification("progress", {"done": 1}) == {"jsonrpc": "2.0", "method": "progress", "params": {"done": 1}}
