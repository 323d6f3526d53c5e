"""``certs.list``: the user's certificates, after the user agreed to show them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from tanba.protocol.methods.filter import CertFilter
from tanba.protocol.validate import as_object, exact_keys

METHOD: Final = "certs.list"


@dataclass(frozen=True)
class CertsListParams:
    filter: CertFilter = field(default_factory=CertFilter)

    @classmethod
    def from_wire(cls, params: Any) -> CertsListParams:
        obj = as_object(params, "params")
        exact_keys(obj, "params", optional={"filter"})
        return cls(CertFilter.from_wire(obj["filter"], "params.filter") if "filter" in obj else CertFilter())


@dataclass(frozen=True)
class CertsListResult:
    certificates: tuple[dict[str, Any], ...]

    def to_wire(self) -> dict[str, Any]:
        return {"certificates": list(self.certificates)}
