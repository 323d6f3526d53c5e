"""The certificate ``filter`` of DESIGN.md, as a validated value.

Matching a certificate against it lives with the certificate model in
:mod:`tanba.providers.filter`; this module only reads it off the wire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from tanba.protocol.errors import InvalidParams
from tanba.protocol.validate import as_object, exact_keys, get_bool, get_str, get_str_list

_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*)){1,30}$")
_DIGITS12 = re.compile(r"^[0-9]{12}$")

KeyUsage = Literal["sign", "auth"]


@dataclass(frozen=True)
class CertFilter:
    key_usage: KeyUsage | None = None
    ext_key_usage: tuple[str, ...] | None = None
    iin: str | None = None
    bin: str | None = None
    serial_number: str | None = None
    issuer: str | None = None
    valid_only: bool = True
    storages: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.key_usage not in (None, "sign", "auth"):
            raise InvalidParams("filter.keyUsage must be 'sign' or 'auth'", field="filter.keyUsage")
        for oid in self.ext_key_usage or ():
            if not _OID.match(oid):
                raise InvalidParams(f"filter.extKeyUsage: {oid!r} is not an OID", field="filter.extKeyUsage")
        for name, value in (("iin", self.iin), ("bin", self.bin)):
            if value is not None and not _DIGITS12.match(value):
                raise InvalidParams(f"filter.{name} must be 12 digits", field=f"filter.{name}")
        if self.serial_number is not None and not re.fullmatch(r"[0-9a-fA-F]{1,64}", self.serial_number):
            raise InvalidParams("filter.serialNumber must be hexadecimal", field="filter.serialNumber")

    @classmethod
    def from_wire(cls, value: Any, where: str = "filter") -> CertFilter:
        obj = as_object(value, where)
        exact_keys(
            obj,
            where,
            optional={"keyUsage", "extKeyUsage", "iin", "bin", "serialNumber", "issuer", "validOnly", "storages"},
        )
        return cls(
            key_usage=get_str(obj, "keyUsage", where, None),
            ext_key_usage=get_str_list(obj, "extKeyUsage", where, max_items=32),
            iin=get_str(obj, "iin", where, None),
            bin=get_str(obj, "bin", where, None),
            serial_number=get_str(obj, "serialNumber", where, None, max_len=64),
            issuer=get_str(obj, "issuer", where, None, max_len=1024),
            valid_only=get_bool(obj, "validOnly", where, True),
            storages=get_str_list(obj, "storages", where, max_items=32),
        )
