"""Small, strict readers for decoded JSON values.

Params dataclasses use these in ``from_wire`` so every method checks its input the same
way: exact keys (unknown keys are an error), exact types (``True`` is not an integer),
strict base64.  Each failure is an :class:`~tanba.protocol.errors.InvalidParams` naming
the offending field.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Set
from typing import Any

from tanba.protocol.errors import InvalidParams

_MISSING = object()


def as_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InvalidParams(f"{where} must be an object", field=where)
    return value


def exact_keys(
    obj: Mapping[str, Any], where: str, required: Set[str] = frozenset(), optional: Set[str] = frozenset()
) -> None:
    """Refuse unknown keys and missing required ones."""
    unknown = obj.keys() - required - optional
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidParams(f"unknown field {where}.{name}", field=f"{where}.{name}")
    missing = required - obj.keys()
    if missing:
        name = sorted(missing)[0]
        raise InvalidParams(f"missing field {where}.{name}", field=f"{where}.{name}")


def get_str(obj: Mapping[str, Any], key: str, where: str, default: Any = _MISSING, *, max_len: int | None = None) -> Any:
    value = obj.get(key, default)
    if value is _MISSING:
        raise InvalidParams(f"missing field {where}.{key}", field=f"{where}.{key}")
    if value is default and key not in obj:
        return value
    if not isinstance(value, str):
        raise InvalidParams(f"{where}.{key} must be a string", field=f"{where}.{key}")
    if max_len is not None and len(value) > max_len:
        raise InvalidParams(f"{where}.{key} is longer than {max_len}", field=f"{where}.{key}")
    return value


def get_bool(obj: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise InvalidParams(f"{where}.{key} must be true or false", field=f"{where}.{key}")
    return value


def get_str_list(obj: Mapping[str, Any], key: str, where: str, *, max_items: int = 1000) -> tuple[str, ...] | None:
    if key not in obj:
        return None
    value = obj[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParams(f"{where}.{key} must be a list of strings", field=f"{where}.{key}")
    if len(value) > max_items:
        raise InvalidParams(f"{where}.{key} has more than {max_items} items", field=f"{where}.{key}")
    return tuple(value)


def b64decode(value: Any, where: str) -> bytes:
    """Decode standard base64 strictly: wrong alphabet or padding is an error."""
    if not isinstance(value, str):
        raise InvalidParams(f"{where} must be a base64 string", field=where)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParams(f"{where} is not valid base64", field=where) from exc
