"""The error tree: stable reasons and distinct codes."""

from __future__ import annotations

from tanba.protocol.errors import ALL_ERRORS, BY_REASON, ParseError, WrongPin

DESIGN_REASONS = {
    "invalid_request", "invalid_params", "method_not_found", "origin_denied", "user_cancelled", "busy",
    "no_certificate", "wrong_pin", "pin_locked", "token_removed", "store_error", "timestamp_failed",
    "too_large", "internal",
}


def test_every_design_reason_has_exactly_one_class() -> None:
    assert set(BY_REASON) == DESIGN_REASONS


def test_codes_are_distinct_and_json_rpc_shaped() -> None:
    codes = [cls.code for cls in ALL_ERRORS]
    assert len(codes) == len(set(codes))
    assert all(-32768 <= code <= -32000 for code in codes)
    assert ParseError.reason == "invalid_request" and ParseError.code == -32700


def test_wrong_pin_carries_retries() -> None:
    assert WrongPin(retries_left=1).data == {"retriesLeft": 1}
    assert WrongPin().data == {}
