"""``verify``: check a CMS or XML signature (no key, no prompt), and the result's wire form.

Result fields:

``signature_valid``
    the cryptography holds: the message digest matches the content, the signature over the
    signed attributes (or content) verifies with the signer certificate's key, the
    signingCertificate(V2) attribute names that certificate, and a signature timestamp, when
    present, is intact (imprint and TSA signature).
``chain_valid``
    the signer certificate chains to one of the configured trust anchors and every
    certificate of the path is within its validity period (at the trusted timestamp's time
    when there is one, else now).  It says nothing about revocation.
``revocation``
    ``good`` / ``revoked`` / ``unknown`` from OCSP, then CRL; ``unknown`` when no responder
    answered within the request's time budget (shared by all its signers), when checking is
    switched off, when no path could be built, or when the signature itself does not verify
    (nothing is fetched for it: a page cannot make the agent query responders with a
    signature it could not make).
``valid`` (overall)
    every signer has a valid signature and chain and is not revoked (and, under
    ``revocation = "require"``, is known to be good).

The wire adds two fields beyond DESIGN.md's minimum, because a client that gets
``valid: false`` needs to know why: ``signatureValid`` (bool) and ``problems`` (a list of
stable snake_case codes, see :data:`PROBLEMS`).  Human-readable details go to the log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final, Literal

from tanba.protocol.errors import InvalidParams
from tanba.protocol.times import utc_z
from tanba.protocol.validate import as_object, b64decode, exact_keys, get_str

METHOD: Final = "verify"


@dataclass(frozen=True)
class VerifyParams:
    format: Literal["cms", "xml"]
    signature: bytes
    data: bytes | None = None

    def __post_init__(self) -> None:
        if self.format not in ("cms", "xml"):
            raise InvalidParams("format must be 'cms' or 'xml'", field="format")
        if self.format == "xml" and self.data is not None:
            raise InvalidParams("an enveloped XML signature carries its data", field="data")

    @classmethod
    def from_wire(cls, params: Any) -> VerifyParams:
        obj = as_object(params, "")
        exact_keys(obj, "", required={"format", "signature"}, optional={"data"})
        return cls(
            format=get_str(obj, "format", ""),
            signature=b64decode(obj["signature"], "signature"),
            data=b64decode(obj["data"], "data") if "data" in obj else None,
        )


Revocation = Literal["good", "revoked", "unknown"]

#: The problem codes a SignerResult may carry (stable: clients branch on them).
PROBLEMS: Final[frozenset[str]] = frozenset(
    {
        "signer_certificate_missing",  # no certificate in the signature matches the signer
        "unsupported_algorithm",  # digest or signature algorithm we do not verify (also on the path)
        "weak_algorithm",  # e.g. SHA-1
        "content_type_mismatch",  # contentType attribute differs from eContentType
        "message_digest_mismatch",  # the content is not what was signed
        "content_missing",  # detached signature and no data/digest given
        "signature_invalid",  # the signature value does not verify
        "signing_certificate_mismatch",  # signingCertificate(V2) names another certificate
        "timestamp_invalid",  # signatureTimeStampToken broken or not over this signature
        "timestamp_untrusted",  # timestamp intact but the TSA does not chain to a trust anchor
        "chain_untrusted",  # no path to a configured trust anchor
        "certificate_expired",  # a path certificate is outside its validity period
        "chain_invalid",  # another path validation failure
        "revoked",
        "revocation_unknown",
    }
)


@dataclass(frozen=True)
class SignerResult:
    certificate: str  # PEM of the signer certificate ("" when it was not found)
    signing_time: dt.datetime | None
    timestamp: dt.datetime | None  # genTime of a valid, trusted signatureTimeStampToken
    chain_valid: bool
    revocation: Revocation
    signature_valid: bool
    problems: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "certificate": self.certificate,
            "signingTime": utc_z(self.signing_time) if self.signing_time else None,
            "chainValid": self.chain_valid,
            "revocation": self.revocation,
            "signatureValid": self.signature_valid,
            "problems": list(self.problems),
        }
        if self.timestamp is not None:
            wire["timestamp"] = utc_z(self.timestamp)
        return wire


@dataclass(frozen=True)
class VerifyResult:
    valid: bool
    signers: tuple[SignerResult, ...]

    def to_wire(self) -> dict[str, Any]:
        return {"valid": self.valid, "signers": [s.to_wire() for s in self.signers]}
