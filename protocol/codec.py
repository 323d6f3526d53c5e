"""Strict JSON for the wire.

Browsers and other clients are untrusted.  The standard library's ``json`` accepts things a
signing agent should not: NaN and Infinity, duplicate keys (where the last one silently
wins — a classic way to make two parsers disagree about what is signed), arbitrarily deep
nesting and arbitrarily long numbers.  :func:`decode` refuses all of those, plus invalid
UTF-8, lone surrogates and non-object top levels, with a :class:`ParseError` whose
``reason`` is ``invalid_request``.  :func:`encode` writes compact, ASCII-safe JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from tanba.protocol.errors import ParseError, TooLarge
from tanba.protocol.limits import DEFAULT_LIMITS, Limits

_SURROGATE: Final = re.compile("[\ud800-\udfff]")
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
    if isinstance(message, (bytes, bytearray, memoryview)):
        try:
            text = bytes(message).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError("message is not valid UTF-8") from exc
    else:
        text = message
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
    try:
        _check(value, 1, limits.max_depth)
    except RecursionError as exc:
        raise ParseError(f"nesting deeper than {limits.max_depth}") from exc
    return value


def encode(value: Any) -> str:
    """Serialise a response; refuses NaN so we never send what we would not accept."""
    return _ENCODER.encode(value)
