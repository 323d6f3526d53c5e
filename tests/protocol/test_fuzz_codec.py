"""Property tests of the strict JSON codec: whatever bytes arrive, ``decode`` returns a
JSON object or raises the protocol's own error — never anything else — and what we encode
we read back unchanged."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tanba.protocol import codec
from tanba.protocol.errors import InvalidRequest, TanbaError, TooLarge
from tanba.protocol.limits import Limits

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMITS = Limits()

# JSON values the codec must accept: finite numbers, strings without lone surrogates.
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
scalars = st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=False, allow_infinity=False) | text
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(text, inner, max_size=5), max_leaves=30)
objects = st.dictionaries(text, values, max_size=8)


def decode_or_protocol_error(message: str | bytes, limits: Limits = LIMITS) -> dict[str, Any] | None:
    try:
        value = codec.decode(message, limits)
    except TanbaError as exc:
        assert exc.reason in ("invalid_request", "too_large"), exc
        return None
    assert isinstance(value, dict)
    return value


@FUZZ
@given(st.binary(max_size=512))
@example(b"\xff")
@example(b'{"a":"\xed\xa0\x80"}')
@example(b"[" * 5000)
@example(b'{"a":1e400}')
def test_any_bytes_decode_or_are_invalid_request(data: bytes) -> None:
    decode_or_protocol_error(data)


@FUZZ
@given(st.text(max_size=512))
@example('{"a":"\\ud800"}')
@example('{"a":NaN}')
@example('{"a":1,"a":1}')
def test_any_text_decodes_or_is_invalid_request(message: str) -> None:
    value = decode_or_protocol_error(message)
    if value is not None:  # what was accepted is plain, strict JSON
        assert json.loads(codec.encode(value)) == value


@FUZZ
@given(objects)
def test_encode_then_decode_is_identity(obj: dict[str, Any]) -> None:
    wire = codec.encode(obj)
    assert codec.decode(wire) == obj
    assert codec.decode(wire.encode("utf-8")) == obj


@FUZZ
@given(objects, st.data())
def test_a_mutated_message_never_escapes_the_error_tree(obj: dict[str, Any], data: st.DataObject) -> None:
    wire = bytearray(codec.encode(obj).encode("utf-8"))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        at = data.draw(st.integers(0, len(wire)))
        if op == "flip" and at < len(wire):
            wire[at] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "insert":
            wire[at:at] = data.draw(st.sampled_from([b"NaN", b"\xff", b"{", b"]", b'"', b"\\ud800", b",", b"1e999", b"\x00"]))
        elif at < len(wire):
            del wire[at]
    decode_or_protocol_error(bytes(wire))


@FUZZ
@given(st.integers(1, 200), st.sampled_from(["[", '{"a":']))
def test_nesting_beyond_the_limit_is_refused(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    inner = opener * depth + "1" + closer * depth
    message = '{"x":' + inner + "}"
    value = decode_or_protocol_error(message, Limits(max_depth=32))
    assert (value is not None) == (depth + 1 <= 32)


@FUZZ
@given(st.integers(1, 100))
def test_number_length_bound(digits: int) -> None:
    value = decode_or_protocol_error('{"n":' + "7" * digits + "}")
    assert (value is not None) == (digits <= LIMITS.max_number_digits)


@FUZZ
@given(st.dictionaries(text, values, min_size=1, max_size=4), st.data())
def test_duplicate_keys_are_always_refused(obj: dict[str, Any], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(obj)))
    body = codec.encode(obj)[1:-1]
    duplicated = "{" + body + "," + json.dumps(key) + ":" + codec.encode(obj[key]) + "}"
    with pytest.raises(InvalidRequest):
        codec.decode(duplicated)


@FUZZ
@given(st.integers(0, 10_000))
def test_size_bound(extra: int) -> None:
    limits = Limits(max_message=1000)
    message = '{"a":"' + "x" * extra + '"}'
    if len(message) > 1000:
        with pytest.raises(TooLarge):
            codec.decode(message, limits)
    else:
        assert codec.decode(message, limits) == {"a": "x" * extra}


@FUZZ
@given(st.sampled_from([math.nan, math.inf, -math.inf]), values)
def test_encode_refuses_what_decode_would_refuse(number: float, around: Any) -> None:
    with pytest.raises(ValueError):
        codec.encode({"x": [around, {"y": number}]})
