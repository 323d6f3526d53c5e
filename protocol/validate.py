"""Small, strict readers for decoded JSON values.

Params dataclasses use these in ``from_wire`` so every method checks its input the same
way: exact keys (unknown keys are an error), exact types (``True`` is not an integer),
strict base64.  Each failure is an :class:`~tanba.protocol.errors.InvalidParams` naming
the offending field.

Field names are relative to the value being read (``where`` "" is the value itself):
``CertFilter`` says ``iin``, ``SignParams`` says ``digests[1]``.  Each wire parser puts its
own path in front with :func:`within` — ``/v1`` says ``params.filter.iin``, NCALayer's
basics ``signerParams.iin`` and ``data[1]`` — so a value never knows which wire it came on.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping, Set
from contextlib import contextmanager
from typing import Any

from tanba.protocol.errors import InvalidParams

_MISSING = object()


def join(where: str, key: str) -> str:
    """``where.key`` (``key`` alone at the root; ``where[0]`` for an index)."""
    if not where:
        return key
    return f"{where}{key}" if key.startswith("[") else f"{where}.{key}"


def _rename(field: str, prefix: str, rename: Mapping[str, str]) -> str:
    if field in rename:  # the whole name: "digests[0]" -> "args[2]"
        return join(prefix, rename[field])
    cut = min((i for i in (field.find("."), field.find("[")) if i >= 0), default=len(field))
    head, rest = field[:cut], field[cut:]
    if head in rename:
        head = rename[head]
        if not head:  # renamed to the prefix itself: "digests[0]" -> "args[2]"
            rest = rest.lstrip(".")
    return join(prefix, head + rest) if head else (prefix + rest if rest.startswith("[") else join(prefix, rest))


@contextmanager
def within(prefix: str, rename: Mapping[str, str] | None = None) -> Iterator[None]:
    """Re-raise an ``InvalidParams`` of the value read inside with its field (and the field
    at the start of its detail) put under ``prefix``, the value's own names first renamed
    to the wire's (``{"digests": "data"}``)."""
    try:
        yield
    except InvalidParams as exc:
        field = exc.data.get("field")
        if not isinstance(field, str):
            raise
        new = _rename(field, prefix, rename or {}) if field else prefix
        detail = exc.detail
        if field and (detail.startswith(field) or f"field {field}" in detail):
            # the detail names the field where it starts ("iin must be …", "unknown field iin")
            detail = re.sub(rf"(?<![\w.\[]){re.escape(field)}(?![\w\[])", lambda _: new, detail, count=1)
        elif detail.startswith("the value"):
            detail = new + detail[len("the value"):]
        raise InvalidParams(detail, **{**exc.data, "field": new}) from None


def as_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InvalidParams(f"{where or 'the value'} must be an object", field=where)
    return value


def exact_keys(
    obj: Mapping[str, Any], where: str, required: Set[str] = frozenset(), optional: Set[str] = frozenset()
) -> None:
    """Refuse unknown keys and missing required ones."""
    unknown = obj.keys() - required - optional
    if unknown:
        name = join(where, sorted(unknown)[0])
        raise InvalidParams(f"unknown field {name}", field=name)
    missing = required - obj.keys()
    if missing:
        name = join(where, sorted(missing)[0])
        raise InvalidParams(f"missing field {name}", field=name)


def get_str(obj: Mapping[str, Any], key: str, where: str, default: Any = _MISSING, *, max_len: int | None = None) -> Any:
    name = join(where, key)
    value = obj.get(key, default)
    if value is _MISSING:
        raise InvalidParams(f"missing field {name}", field=name)
    if value is default and key not in obj:
        return value
    if not isinstance(value, str):
        raise InvalidParams(f"{name} must be a string", field=name)
    if max_len is not None and len(value) > max_len:
        raise InvalidParams(f"{name} is longer than {max_len}", field=name)
    return value


def get_bool(obj: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise InvalidParams(f"{join(where, key)} must be true or false", field=join(where, key))
    return value


def get_str_list(obj: Mapping[str, Any], key: str, where: str, *, max_items: int = 1000) -> tuple[str, ...] | None:
    if key not in obj:
        return None
    value = obj[key]
    name = join(where, key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParams(f"{name} must be a list of strings", field=name)
    if len(value) > max_items:
        raise InvalidParams(f"{name} has more than {max_items} items", field=name)
    return tuple(value)


def b64decode(value: Any, where: str) -> bytes:
    """Decode standard base64 strictly: wrong alphabet or padding is an error."""
    if not isinstance(value, str):
        raise InvalidParams(f"{where} must be a base64 string", field=where)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParams(f"{where} is not valid base64", field=where) from exc
