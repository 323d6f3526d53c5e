"""``certs.list``: the user's certificates, after the user agreed to show them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from tanba.protocol.methods.filter import CertFilter
from tanba.protocol.times import utc_z
from tanba.protocol.validate import as_object, exact_keys

METHOD: Final = "certs.list"


@dataclass(frozen=True)
class CertsListParams:
    filter: CertFilter = field(default_factory=CertFilter)

    @classmethod
    def from_wire(cls, params: Any) -> CertsListParams:
        obj = as_object(params, "")
        exact_keys(obj, "", optional={"filter"})
        return cls(CertFilter.from_wire(obj["filter"], "filter") if "filter" in obj else CertFilter())


@dataclass(frozen=True)
class Unavailable:
    """A source a listing could not read while others could: its storage name, the key
    file's name (never its folder; None for a whole store, e.g. a token whose module
    failed), the error's stable reason and, for a key file in its backoff, the seconds
    before the next password try."""

    storage: str
    reason: str
    location: str | None = None
    retry_after: int | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"storage": self.storage}
        if self.location is not None:
            out["location"] = self.location
        out["reason"] = self.reason
        if self.retry_after is not None:
            out["retryAfter"] = self.retry_after
        return out


@dataclass(frozen=True)
class CertsListResult:
    """``unavailable`` is on the wire only when some source failed and another was read."""

    certificates: tuple[dict[str, Any], ...]
    unavailable: tuple[Unavailable, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"certificates": list(self.certificates)}
        if self.unavailable:
            out["unavailable"] = [u.to_wire() for u in self.unavailable]
        return out


class CertFields(Protocol):
    """What the wires show of a certificate — ``/v1``'s CertInfo and NCALayer's getKeyInfo
    (``tanba.providers.certificate.CertInfo`` has it all)."""

    @property
    def id(self) -> str: ...
    @property
    def storage(self) -> str: ...
    @property
    def subject(self) -> Mapping[str, str]: ...
    @property
    def iin(self) -> str | None: ...
    @property
    def personal_number(self) -> str | None: ...
    @property
    def unp(self) -> str | None: ...
    @property
    def bin(self) -> str | None: ...
    @property
    def issuer(self) -> str: ...
    @property
    def serial_number(self) -> str: ...
    @property
    def not_before(self) -> dt.datetime: ...
    @property
    def not_after(self) -> dt.datetime: ...
    @property
    def key_usage(self) -> tuple[str, ...]: ...
    @property
    def ext_key_usage(self) -> tuple[str, ...]: ...
    @property
    def algorithm(self) -> str: ...
    @property
    def ncalayer_algorithm(self) -> str: ...
    @property
    def fingerprint_sha256(self) -> str: ...
    @property
    def pem(self) -> str: ...
    @property
    def subject_cn(self) -> str | None: ...
    @property
    def subject_dn_forward(self) -> str: ...
    @property
    def issuer_cn(self) -> str | None: ...
    @property
    def issuer_dn_forward(self) -> str: ...
    @property
    def subject_key_id(self) -> str | None: ...
    @property
    def authority_key_id(self) -> str | None: ...


def cert_wire(c: CertFields) -> dict[str, Any]:
    """The DESIGN.md ``CertInfo`` object (times ISO-8601 UTC with ``Z``; ``iin``/``bin`` only
    when the certificate has them)."""
    out: dict[str, Any] = {"id": c.id, "storage": c.storage, "subject": dict(c.subject)}
    if c.iin is not None:
        out["iin"] = c.iin
    if c.bin is not None:
        out["bin"] = c.bin
    if c.personal_number is not None:
        out["personalNumber"] = c.personal_number
    if c.unp is not None:
        out["unp"] = c.unp
    out.update(
        issuer=c.issuer,
        serialNumber=c.serial_number,
        notBefore=utc_z(c.not_before),
        notAfter=utc_z(c.not_after),
        keyUsage=list(c.key_usage),
        extKeyUsage=list(c.ext_key_usage),
        algorithm=c.algorithm,
        fingerprintSha256=c.fingerprint_sha256,
        pem=c.pem,
    )
    return out
