"""Strict readers used by every params dataclass."""

from __future__ import annotations

import pytest

from tanba.protocol.errors import InvalidParams
from tanba.protocol.validate import b64decode, exact_keys, get_bool, get_str, get_str_list


def test_exact_keys_names_the_unknown_field() -> None:
    with pytest.raises(InvalidParams) as info:
        exact_keys({"format": "cms", "pin": "1234"}, "params", required={"format"})
    assert info.value.data["field"] == "params.pin"
    with pytest.raises(InvalidParams, match="missing field params.format"):
        exact_keys({}, "params", required={"format"})


def test_types_are_exact() -> None:
    with pytest.raises(InvalidParams):
        get_bool({"detached": 1}, "detached", "params", True)
    with pytest.raises(InvalidParams):
        get_str({"s": 5}, "s", "params")
    with pytest.raises(InvalidParams):
        get_str_list({"l": ["a", 1]}, "l", "params")
    assert get_str({}, "s", "params", None) is None
    assert get_str_list({}, "l", "params") is None


@pytest.mark.parametrize("bad", ["abc", "ab=c", "YWJj\n", "YW Jj", "*YWJj", 5])
def test_base64_is_strict(bad: object) -> None:
    with pytest.raises(InvalidParams):
        b64decode(bad, "params.data")


def test_base64_decodes() -> None:
    assert b64decode("YWJj", "x") == b"abc"
