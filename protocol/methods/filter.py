"""The certificate ``filter`` of DESIGN.md, as a validated value.

Matching a certificate against it lives with the certificate model in
:mod:`tanba.providers.filter`; this module only reads it off the wire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from tanba.protocol.errors import InvalidParams
from tanba.protocol.validate import as_object, exact_keys, get_bool, get_str, get_str_list, within

_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*)){1,30}$")
_DIGITS12 = re.compile(r"^[0-9]{12}$")
#: Belarus: a personal number is 14 letters and digits (3010176A001PB5), an УНП 9
_PERSONAL_NUMBER = re.compile(r"^[0-9A-Za-z]{14}$")
_UNP = re.compile(r"^[0-9A-Za-z]{9}$")

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
    #: Belarus (kept last: the fields above are also given by position)
    personal_number: str | None = None
    unp: str | None = None

    def __post_init__(self) -> None:
        if self.key_usage not in (None, "sign", "auth"):
            raise InvalidParams("keyUsage must be 'sign' or 'auth'", field="keyUsage")
        for oid in self.ext_key_usage or ():
            if not _OID.match(oid):
                raise InvalidParams(f"extKeyUsage: {oid!r} is not an OID", field="extKeyUsage")
        for name, value in (("iin", self.iin), ("bin", self.bin)):
            if value is not None and not _DIGITS12.match(value):
                raise InvalidParams(f"{name} must be 12 digits", field=name)
        if self.personal_number is not None and not _PERSONAL_NUMBER.match(self.personal_number):
            raise InvalidParams("personalNumber must be 14 letters and digits", field="personalNumber")
        if self.unp is not None and not _UNP.match(self.unp):
            raise InvalidParams("unp must be 9 letters and digits", field="unp")
        if self.serial_number is not None and not re.fullmatch(r"[0-9a-fA-F]{1,64}", self.serial_number):
            raise InvalidParams("serialNumber must be hexadecimal", field="serialNumber")

    @classmethod
    def from_wire(cls, value: Any, where: str = "") -> CertFilter:
        """Read the filter; errors name its fields under ``where`` (the caller's name for it)."""
        with within(where):
            obj = as_object(value, "")
            exact_keys(
                obj,
                "",
                optional={"keyUsage", "extKeyUsage", "iin", "bin", "personalNumber", "unp", "serialNumber", "issuer",
                          "validOnly", "storages"},
            )
            return cls(
                key_usage=get_str(obj, "keyUsage", "", None),
                ext_key_usage=get_str_list(obj, "extKeyUsage", "", max_items=32),
                iin=get_str(obj, "iin", "", None),
                bin=get_str(obj, "bin", "", None),
                personal_number=get_str(obj, "personalNumber", "", None, max_len=14),
                unp=get_str(obj, "unp", "", None, max_len=9),
                serial_number=get_str(obj, "serialNumber", "", None, max_len=64),
                issuer=get_str(obj, "issuer", "", None, max_len=1024),
                valid_only=get_bool(obj, "validOnly", "", True),
                storages=get_str_list(obj, "storages", "", max_items=32),
            )
