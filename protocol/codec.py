"""Strict JSON for the wire.

Browsers and other clients are untrusted.  The standard library's ``json`` accepts things a
signing agent should not: NaN and Infinity, duplicate keys (where the last one silently
wins — a classic way to make two parsers disagree about what is signed), arbitrarily deep
nesting and arbitrarily long numbers.  :func:`decode` refuses all of those, plus invalid
UTF-8, lone surrogates and non-object top levels, with a :class:`ParseError` whose
``reason`` is ``invalid_request``; a message over the size bound, or one that would parse
into more values than the bound allows, is :class:`TooLarge` before anything is built.
:func:`encode` writes compact, ASCII-safe JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from tanba.protocol.errors import ParseError, TooLarge
from tanba.protocol.limits import DEFAULT_LIMITS, Limits

_SURROGATE: Final = re.compile("[\ud800-\udfff]")
#: a JSON string once its escapes are gone (see :func:`_check_values`)
_BARE_STRING: Final = re.compile(r'"[^"]*"')
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _reject_constant(name: str) -> Any:
    raise ParseError(f"{name} is not JSON")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ParseError(f"duplicate key {key!r}")
            seen.add(key)
    return obj


def _make_decoder(limits: Limits) -> json.JSONDecoder:
    max_digits = limits.max_number_digits

    def parse_int(text: str) -> int:
        if len(text) > max_digits:
            raise ParseError(f"number longer than {max_digits} digits")
        return int(text)

    def parse_float(text: str) -> float:
        if len(text) > max_digits:
            raise ParseError(f"number longer than {max_digits} digits")
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise ParseError("number out of range")
        return value

    return json.JSONDecoder(
        object_pairs_hook=_pairs,
        parse_constant=_reject_constant,
        parse_int=parse_int,
        parse_float=parse_float,
        strict=True,
    )


_DECODERS: dict[Limits, json.JSONDecoder] = {}


def _structure_count(text: str) -> int:
    """At least the number of JSON values in ``text`` (exactly, when every array and object
    in it holds something): the top value, plus one per comma, plus one per container."""
    return text.count(",") + text.count("[") + text.count("{") + 1


def _check_values(text: str, max_values: int) -> None:
    """Refuse, before parsing, a text that would make more than ``max_values`` values."""
    if _structure_count(text) <= max_values:
        return
    # Over at first sight; commas and brackets inside strings (an XML document on
    # NCALayer's wire) are not values: count again without the strings.  Escapes go
    # first (\\ pairs, then \"), so that every quote left delimits a string and a
    # plain pattern finds them in one pass: a pattern that handles escapes itself
    # retries from every quote and is quadratic on a text like "\",\",\",...
    bare = text.replace("\\\\", "").replace('\\"', "") if "\\" in text else text
    count = _structure_count(_BARE_STRING.sub("", bare))
    if count > max_values:
        raise TooLarge(f"message of {count} JSON values", limit=max_values)


def _check(value: Any, depth: int, max_depth: int) -> None:
    """Walk the decoded value: depth bound and no lone surrogates in strings or keys."""
    if depth > max_depth:
        raise ParseError(f"nesting deeper than {max_depth}")
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise ParseError("string holds a lone surrogate")
    elif isinstance(value, dict):
        for key, item in value.items():
            if _SURROGATE.search(key):
                raise ParseError("key holds a lone surrogate")
            if isinstance(item, (dict, list, str)):
                _check(item, depth + 1, max_depth)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list, str)):
                _check(item, depth + 1, max_depth)


def decode(message: str | bytes, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Parse one message into a JSON object, strictly."""
    if len(message) > limits.max_message:
        raise TooLarge(f"message of {len(message)} bytes", limit=limits.max_message)
    from_bytes = isinstance(message, (bytes, bytearray, memoryview))
    if isinstance(message, (bytes, bytearray, memoryview)):
        try:
            text = bytes(message).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError("message is not valid UTF-8") from exc
    else:
        text = message
    _check_values(text, limits.max_values)
    decoder = _DECODERS.get(limits)
    if decoder is None:
        decoder = _DECODERS.setdefault(limits, _make_decoder(limits))
    try:
        value = decoder.decode(text)
    except ParseError:
        raise
    except RecursionError as exc:
        raise ParseError(f"nesting deeper than {limits.max_depth}") from exc
    except ValueError as exc:  # json.JSONDecodeError, int() limits
        raise ParseError(f"not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ParseError("top level must be a JSON object")
    # The walk can only find something when the text could nest that deep (a value sits at
    # most one level below its container) or could hold a lone surrogate: from a \u escape,
    # or in a str handed in as such (decoding UTF-8 never makes one).
    if from_bytes and text.count("[") + text.count("{") < limits.max_depth and "\\u" not in text:
        return value
    try:
        _check(value, 1, limits.max_depth)
    except RecursionError as exc:
        raise ParseError(f"nesting deeper than {limits.max_depth}") from exc
    return value


def encode(value: Any) -> str:
    """Serialise a response; refuses NaN so we never send what we would not accept."""
    return _ENCODER.encode(value)
