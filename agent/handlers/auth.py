"""``auth``: the Web eID token ``web-eid:1.0`` over hash(hash(origin) ‖ hash(challenge)).

Algorithm by key: RSA keys answer RS256 (PKCS#1 v1.5, SHA-256); EC keys ES256 / ES384 /
ES512 by curve, with the signature as r ‖ s (the JWS form, RFC 7518) rather than DER.  GOST
keys answer their family's name (``GOST3410-2012-512`` for NCA's 2015 keys and Russian 512-bit
keys, ``GOST3410-2012-256``, ``GOST34310-2004``): every hash in the formula is the family's
own, and the signature is in the family's byte order (NCA: r_LE ‖ s_LE; RFC: s ‖ r).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from tanba.agent.consent.base import DocumentSummary
from tanba.agent.dispatch import Method, RequestContext
from tanba.agent.formats.digest import hash_bytes
from tanba.protocol.errors import OriginDenied, StoreError
from tanba.protocol.methods.auth import METHOD, AuthParams, AuthToken
from tanba.providers.base import HashAlgorithm, SignatureScheme
from tanba.providers.keyalg import key_family, national_scheme

_EC_ALGORITHMS = {256: ("ES256", HashAlgorithm.SHA256), 384: ("ES384", HashAlgorithm.SHA384), 521: ("ES512", HashAlgorithm.SHA512)}


def signed_digest(origin: str, challenge: str, hash_alg: HashAlgorithm) -> bytes:
    def h(data: bytes) -> bytes:
        return hash_bytes(data, hash_alg)

    return h(h(origin.encode("utf-8")) + h(challenge.encode("utf-8")))


def _raw_ecdsa(der: bytes, key_size: int) -> bytes:
    r, s = decode_dss_signature(der)
    width = (key_size + 7) // 8
    return r.to_bytes(width, "big") + s.to_bytes(width, "big")


async def handle(ctx: RequestContext, params: AuthParams) -> AuthToken:
    if ctx.origin is None:
        raise OriginDenied("auth binds the token to a web origin; a local program has none")
    challenge_summary = DocumentSummary(
        len(params.challenge), "sha256", hashlib.sha256(params.challenge.encode()).hexdigest()
    )
    access = ctx.key_access()
    async with access.signer(params.filter, "auth", (challenge_summary,)) as signer:
        certificate = signer.identity.certificate
        family = key_family(certificate)
        public_key = certificate.public_key() if family is None else None
        if family is not None:
            algorithm, hash_alg, scheme = family.webeid_name, HashAlgorithm(family.hash), national_scheme(family)
        elif isinstance(public_key, rsa.RSAPublicKey):
            algorithm, hash_alg, scheme = "RS256", HashAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.key_size in _EC_ALGORITHMS:
            algorithm, hash_alg = _EC_ALGORITHMS[public_key.curve.key_size]
            scheme = SignatureScheme.ECDSA
        else:
            raise StoreError(f"unsupported key type for auth: {type(public_key).__name__}")
        signature = await signer.sign_digest(signed_digest(ctx.origin, params.challenge, hash_alg), hash_alg, scheme)
    if scheme is SignatureScheme.ECDSA:
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        signature = _raw_ecdsa(signature, public_key.curve.key_size)
    return AuthToken(
        unverified_certificate=base64.b64encode(certificate.public_bytes(Encoding.DER)).decode("ascii"),
        algorithm=algorithm,
        signature=base64.b64encode(signature).decode("ascii"),
        app_version=f"https://tanba.kz/releases/{ctx.services.version}",
    )


method = Method(METHOD, AuthParams.from_wire, handle)
