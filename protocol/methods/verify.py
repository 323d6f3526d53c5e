"""``verify``: check a CMS or XML signature (no key, no prompt)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from tanba.protocol.errors import InvalidParams
from tanba.protocol.validate import as_object, b64decode, exact_keys, get_str

METHOD: Final = "verify"


@dataclass(frozen=True)
class VerifyParams:
    format: Literal["cms", "xml"]
    signature: bytes
    data: bytes | None = None

    def __post_init__(self) -> None:
        if self.format not in ("cms", "xml"):
            raise InvalidParams("params.format must be 'cms' or 'xml'", field="params.format")
        if self.format == "xml" and self.data is not None:
            raise InvalidParams("an enveloped XML signature carries its data", field="params.data")

    @classmethod
    def from_wire(cls, params: Any) -> VerifyParams:
        obj = as_object(params, "params")
        exact_keys(obj, "params", required={"format", "signature"}, optional={"data"})
        return cls(
            format=get_str(obj, "format", "params"),
            signature=b64decode(obj["signature"], "params.signature"),
            data=b64decode(obj["data"], "params.data") if "data" in obj else None,
        )
