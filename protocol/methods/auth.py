"""``auth``: a Web eID authentication token over the site's challenge.

The signed value is hash(hash(origin) ‖ hash(challenge)); the origin comes from the
WebSocket handshake, never from params, so a token made for one site is useless to another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from tanba.protocol.errors import InvalidParams
from tanba.protocol.methods.filter import CertFilter
from tanba.protocol.validate import as_object, exact_keys, get_str

METHOD: Final = "auth"
TOKEN_FORMAT: Final = "web-eid:1.0"
CHALLENGE_MIN: Final = 44
CHALLENGE_MAX: Final = 128


@dataclass(frozen=True)
class AuthParams:
    challenge: str
    filter: CertFilter = field(default_factory=CertFilter)

    def __post_init__(self) -> None:
        if not CHALLENGE_MIN <= len(self.challenge) <= CHALLENGE_MAX or not self.challenge.isascii():
            raise InvalidParams(
                f"challenge must be {CHALLENGE_MIN}-{CHALLENGE_MAX} ASCII characters", field="challenge"
            )
        if self.filter.key_usage == "sign":
            raise InvalidParams("auth answers with authentication keys only", field="filter.keyUsage")

    @classmethod
    def from_wire(cls, params: Any) -> AuthParams:
        obj = as_object(params, "")
        exact_keys(obj, "", required={"challenge"}, optional={"filter"})
        return cls(
            challenge=get_str(obj, "challenge", "", max_len=CHALLENGE_MAX),
            filter=CertFilter.from_wire(obj["filter"], "filter") if "filter" in obj else CertFilter(),
        )


@dataclass(frozen=True)
class AuthToken:
    unverified_certificate: str  # base64 DER
    algorithm: str  # RS256, PS256, ES256, ES384 ...
    signature: str  # base64
    app_version: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "format": TOKEN_FORMAT,
            "unverifiedCertificate": self.unverified_certificate,
            "algorithm": self.algorithm,
            "signature": self.signature,
            "appVersion": self.app_version,
        }
