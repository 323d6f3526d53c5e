"""Server-side check of a Web eID ``auth`` token, as a portal's back end does it.

The token (``web-eid:1.0``) carries the certificate, the algorithm and a signature over
hash(hash(origin) ‖ hash(challenge)).  The back end supplies the origin it serves and the
challenge it issued — never values taken from the token or the page — so a token made for
another site, or for another challenge, fails.  Then the certificate's purpose (it must
serve ``auth``: clientAuth, or a national dual-use key) and its chain are checked against
the portal's trust anchors.

This is the engine of the public API :mod:`tanba.verify` (which adds challenge bookkeeping);
the demo portal uses it too.  Error codes (:class:`TokenError`) are stable: ``malformed``,
``unsupported_algorithm``, ``signature_invalid``, ``not_auth_certificate``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from tanba.agent.verify.chain import ChainValidator
from tanba.crypto import gost
from tanba.crypto import hashes as national_hashes
from tanba.protocol.errors import InvalidParams
from tanba.providers.certificate import CertInfo
from tanba.providers.keyalg import gost_public_key, key_family
from tanba.protocol.methods.verify import Revocation

TOKEN_FORMAT = "web-eid:1.0"
#: algorithm -> (hash name, hash, key kind, EC curve bits)
_ALGORITHMS: dict[str, tuple[str, hashes.HashAlgorithm, str, int]] = {
    "RS256": ("sha256", hashes.SHA256(), "rsa", 0),
    "ES256": ("sha256", hashes.SHA256(), "ec", 256),
    "ES384": ("sha384", hashes.SHA384(), "ec", 384),
    "ES512": ("sha512", hashes.SHA512(), "ec", 521),
}


#: the token algorithm names of GOST keys (DESIGN.md, "National algorithms")
_GOST_NAMES = frozenset(f.webeid_name for f in gost.FAMILIES)


class TokenError(Exception):
    """The token is not acceptable; ``code`` is stable, the message readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class AuthResult:
    name: str  # the person (and organisation) as the certificate names them
    iin: str | None
    bin: str | None
    algorithm: str
    issuer: str
    chain_valid: bool
    revocation: Revocation
    problems: tuple[str, ...]
    accepted: bool  # signature good, chain valid, not revoked (and "good" when revocation is required)
    #: Belarus's personal number and УНП, when the certificate has them
    personal_number: str | None = None
    unp: str | None = None
    #: the certificate the token was signed with (its signature, purpose and chain checked)
    certificate: x509.Certificate | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "name": self.name,
            "iin": self.iin,
            "bin": self.bin,
            "algorithm": self.algorithm,
            "issuer": self.issuer,
            "chainValid": self.chain_valid,
            "revocation": self.revocation,
            "problems": list(self.problems),
            "personalNumber": self.personal_number,
            "unp": self.unp,
        }


def _b64(token: Mapping[str, Any], key: str) -> bytes:
    value = token.get(key)
    if not isinstance(value, str):
        raise TokenError("malformed", f"token.{key} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TokenError("malformed", f"token.{key} is not base64") from exc


def check_signature(token: Mapping[str, Any], origin: str, challenge: str) -> x509.Certificate:
    """The token's certificate, once its signature over (origin, challenge) holds."""
    if token.get("format") != TOKEN_FORMAT:
        raise TokenError("malformed", f"token.format must be {TOKEN_FORMAT}")
    algorithm = token.get("algorithm")
    if not isinstance(algorithm, str) or (algorithm not in _ALGORITHMS and algorithm not in _GOST_NAMES):
        raise TokenError("unsupported_algorithm", f"algorithm {algorithm!r} is not accepted")
    try:
        cert = x509.load_der_x509_certificate(_b64(token, "unverifiedCertificate"))
    except ValueError as exc:
        raise TokenError("malformed", "token.unverifiedCertificate is not a DER certificate") from exc
    signature = _b64(token, "signature")
    family = key_family(cert)
    if family is not None or algorithm in _GOST_NAMES:
        _check_gost(cert, algorithm, signature, origin, challenge)
    else:
        _check_rsa_ec(cert, algorithm, signature, origin, challenge)
    if not CertInfo.from_certificate(cert, id="token", storage="").serves("auth"):
        raise TokenError("not_auth_certificate", "the certificate is not for authentication")
    return cert


def _check_gost(cert: x509.Certificate, algorithm: str, signature: bytes, origin: str, challenge: str) -> None:
    family = key_family(cert)
    if family is None or family.webeid_name != algorithm:
        raise TokenError("unsupported_algorithm", f"{algorithm} does not fit the certificate's key")
    try:
        public = gost_public_key(cert)
    except InvalidParams as exc:
        raise TokenError("unsupported_algorithm", str(exc)) from exc

    def h(data: bytes) -> bytes:
        return national_hashes.digest(family.hash, data)

    signed = h(h(origin.encode("utf-8")) + h(challenge.encode("utf-8")))
    if not public.verify(signed, signature):
        raise TokenError("signature_invalid", "the signature does not match this site and challenge")


def _check_rsa_ec(cert: x509.Certificate, algorithm: str, signature: bytes, origin: str, challenge: str) -> None:
    hash_name, hash_alg, kind, bits = _ALGORITHMS[algorithm]

    def h(data: bytes) -> bytes:
        return hashlib.new(hash_name, data).digest()

    signed = h(origin.encode("utf-8")) + h(challenge.encode("utf-8"))
    key = cert.public_key()
    try:
        if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), hash_alg)
        elif kind == "ec" and isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size == bits:
            width = (bits + 7) // 8
            if len(signature) != 2 * width:
                raise TokenError("signature_invalid", f"{algorithm} signatures are {2 * width} bytes (r ‖ s)")
            r, s = int.from_bytes(signature[:width], "big"), int.from_bytes(signature[width:], "big")
            key.verify(encode_dss_signature(r, s), signed, ec.ECDSA(hash_alg))
        else:
            raise TokenError("unsupported_algorithm", f"{algorithm} does not fit the certificate's key")
    except InvalidSignature as exc:
        raise TokenError("signature_invalid", "the signature does not match this site and challenge") from exc


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    value = values[0].value if values else None
    return value if isinstance(value, str) else None


def _number(cert: x509.Certificate, oid: x509.ObjectIdentifier, prefix: str) -> str | None:
    value = _attr(cert.subject, oid)
    return value[len(prefix):] if value and value.startswith(prefix) else None


def describe(cert: x509.Certificate) -> dict[str, Any]:
    """What a page shows about a certificate: owner, IIN/BIN, issuer, validity."""
    name = _attr(cert.subject, NameOID.COMMON_NAME) or cert.subject.rfc4514_string()
    organisation = _attr(cert.subject, NameOID.ORGANIZATION_NAME)
    return {
        "name": f"{name} / {organisation}" if organisation else name,
        "iin": _number(cert, NameOID.SERIAL_NUMBER, "IIN"),
        "bin": _number(cert, NameOID.ORGANIZATIONAL_UNIT_NAME, "BIN"),
        "issuer": _attr(cert.issuer, NameOID.COMMON_NAME) or cert.issuer.rfc4514_string(),
        "notBefore": cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "notAfter": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


async def verify_token(
    token: Mapping[str, Any], origin: str, challenge: str, validator: ChainValidator
) -> AuthResult:
    cert = check_signature(token, origin, challenge)
    status = await validator.validate(cert)
    about = describe(cert)
    info = CertInfo.from_certificate(cert, id="token", storage="")
    return AuthResult(
        name=about["name"],
        iin=about["iin"],
        bin=about["bin"],
        algorithm=str(token["algorithm"]),
        issuer=about["issuer"],
        chain_valid=status.chain_valid,
        revocation=status.revocation,
        problems=status.problems,
        accepted=validator.acceptable(status),
        personal_number=info.personal_number,
        unp=info.unp,
        certificate=cert,
    )
