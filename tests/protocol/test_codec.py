"""The strict JSON codec: what a hostile page can send must come back as invalid_request."""

from __future__ import annotations

import pytest

from tanba.protocol.codec import decode, encode
from tanba.protocol.errors import ParseError, TooLarge
from tanba.protocol.limits import Limits

MALFORMED = {
    "invalid utf-8": b'{"a":"\xff"}',
    "truncated": '{"a":',
    "NaN": '{"a":NaN}',
    "Infinity": '{"a":Infinity}',
    "-Infinity": '{"a":-Infinity}',
    "duplicate key": '{"a":1,"a":2}',
    "duplicate nested key": '{"a":{"b":1,"b":1}}',
    "too deep": '{"a":' + "[" * 40 + "]" * 40 + "}",
    "recursion bomb": "[" * 50_000,
    "huge integer": '{"a":' + "9" * 5000 + "}",
    "long integer": '{"a":' + "1" * 41 + "}",
    "float overflow": '{"a":1e999}',
    "array top level": "[1,2]",
    "string top level": '"hello"',
    "number top level": "1",
    "lone surrogate value": '{"a":"\\ud800"}',
    "lone surrogate key": '{"\\udc00":1}',
    "trailing garbage": '{"a":1} x',
    "control character in string": '{"a":"\x01"}',
    "single quotes": "{'a':1}",
    "empty": "",
}


@pytest.mark.parametrize("message", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_messages_are_refused_as_invalid_request(message: str | bytes) -> None:
    with pytest.raises(ParseError) as info:
        decode(message)
    assert info.value.reason == "invalid_request"
    assert info.value.code == -32700


def test_accepts_ordinary_json_rpc() -> None:
    assert decode('{"jsonrpc":"2.0","id":1,"method":"m","params":{"x":[1,2.5,"é",null,true]}}') == {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "m",
        "params": {"x": [1, 2.5, "é", None, True]},
    }


def test_accepts_utf8_bytes_and_paired_surrogates() -> None:
    assert decode('{"a":"\\ud83d\\ude00"}'.encode()) == {"a": "\U0001f600"}
    assert decode('{"ф":"Қазақ"}'.encode()) == {"ф": "Қазақ"}


def test_depth_limit_is_exact() -> None:
    limits = Limits(max_depth=4)
    assert decode('{"a":[[{}]]}', limits)  # object, list, list, object: depth 4
    with pytest.raises(ParseError):
        decode('{"a":[[[{}]]]}', limits)


def test_oversized_message_is_too_large() -> None:
    with pytest.raises(TooLarge) as info:
        decode('{"a":"' + "x" * 100 + '"}', Limits(max_message=50))
    assert info.value.reason == "too_large"
    assert info.value.data["limit"] == 50


def test_a_message_of_many_tiny_values_is_too_large_before_it_is_built() -> None:
    """Three bytes of JSON (``[],``) are a 56-byte Python list: a 64 MiB message of them would
    be over a gigabyte in the agent.  The number of values is bounded instead."""
    limits = Limits(max_values=1000)
    for shape in ("[]", "{}", "0"):
        with pytest.raises(TooLarge) as info:
            decode('{"a":[' + ",".join([shape] * 1000) + "]}", limits)
        assert info.value.reason == "too_large"
        assert info.value.data["limit"] == 1000
    assert decode('{"a":[' + ",".join(["0"] * 997) + "]}", limits)  # top object, key's list, 997 items: 999


def test_commas_and_brackets_inside_strings_are_not_values() -> None:
    """An XML document on NCALayer's wire (signXml) is a JSON string that may hold any
    number of these characters."""
    text = "a, b, [c], {d}, " * 5000
    assert decode(encode({"args": [text, text]}), Limits(max_values=10)) == {"args": [text, text]}
    escaped = encode({"x": 'say \\"hi\\", [1,2,3]' * 2000})
    assert decode(escaped, Limits(max_values=10))


def test_escaped_quotes_and_backslashes_keep_strings_apart_from_structure() -> None:
    limits = Limits(max_values=10)
    # a string ending in an escaped backslash: the quote after it closes the string, and
    # the list that follows is structure
    with pytest.raises(TooLarge):
        decode('{"s":"a\\\\","n":[' + ",".join(["0"] * 20) + "]}", limits)
    # escaped quotes do not end a string: its commas are text
    assert decode('{"s":"' + '\\",' * 30 + '"}', limits) == {"s": '",' * 30}


def test_counting_stays_linear_on_escaped_quotes() -> None:
    """A string of escaped quotes and commas (over the bound at first sight) made the
    first version of the count retry from every quote: 8,000 of them took over a second,
    this many would have taken half an hour."""
    text = '{"a":"' + '\\",' * 300_000 + '"}'
    assert decode(text) == {"a": '",' * 300_000}


def test_encode_is_compact_and_refuses_nan() -> None:
    assert encode({"a": [1, "ж"]}) == '{"a":[1,"ж"]}'
    with pytest.raises(ValueError):
        encode({"a": float("nan")})


@pytest.mark.parametrize("depth", [3, 4, 5])
@pytest.mark.parametrize("leaf", ["1", '"x"', '"\\ud800"', '"\\ud83d\\ude00"', "{}"])
def test_bytes_and_text_are_judged_alike_at_the_depth_limit(depth: int, leaf: str) -> None:
    # bytes skip the walk when the text cannot nest too deep or hold a lone surrogate; a str
    # (which can hold one as such) is always walked: both must answer the same
    limits = Limits(max_depth=4)
    message = '{"a":' + "[" * (depth - 2) + leaf + "]" * (depth - 2) + "}"
    outcomes: list[object] = []
    for form in (message, message.encode()):
        try:
            outcomes.append(decode(form, limits))
        except ParseError as exc:
            outcomes.append(exc.reason)
    assert outcomes[0] == outcomes[1]


def test_a_lone_surrogate_in_a_str_is_refused_without_any_escape() -> None:
    with pytest.raises(ParseError):
        decode('{"a":"\ud800"}')
