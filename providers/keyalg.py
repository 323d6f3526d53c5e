"""Which algorithm a certificate's key signs with: the one place formats and the key chooser ask.

RSA and EC keys sign with the hash the request names (SHA-256 unless it names another);
a national key signs only with its family's own hash (DESIGN.md, "National algorithms"):
a request that names another hash for it is ``invalid_params`` saying why.
"""

from __future__ import annotations

import functools

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from tanba.crypto.gost import Family, Kind, PublicKey, UnsupportedKey, by_key_oid, is_national_key_oid
from tanba.protocol.errors import InvalidParams
from tanba.providers.base import HashAlgorithm, SignatureScheme
from tanba.providers.gost_asn1 import family_of_spki, public_key_of_certificate, spki_of_certificate


def key_family(certificate: x509.Certificate) -> Family | None:
    """The national family (GOST or bign) of the certificate's key, or None for any other key
    (and for a bign key on a curve Tanba does not know: it is then no key Tanba signs with)."""
    oid = certificate.public_key_algorithm_oid.dotted_string
    if not is_national_key_oid(oid):
        return None
    family = by_key_oid(oid)
    return family if family is not None else _family_by_curve(certificate)


@functools.lru_cache(maxsize=256)
def _family_by_curve(certificate: x509.Certificate) -> Family | None:
    """bign: the one key OID for three families, told apart by the curve."""
    try:
        return family_of_spki(spki_of_certificate(certificate.public_bytes(Encoding.DER)))
    except UnsupportedKey:
        return None


@functools.lru_cache(maxsize=256)
def gost_public_key(certificate: x509.Certificate) -> PublicKey:
    """The certificate's GOST public key; ``invalid_params`` when it is not one Tanba reads."""
    try:
        return public_key_of_certificate(certificate.public_bytes(Encoding.DER))
    except UnsupportedKey as exc:
        raise InvalidParams(f"the certificate's key cannot be used: {exc}") from exc


def national_scheme(family: Family) -> SignatureScheme:
    """The scheme a national key signs with: bign for bign keys, GOST R 34.10 for the rest."""
    return SignatureScheme.BIGN if family.kind is Kind.BIGN else SignatureScheme.GOST3410


def default_scheme(certificate: x509.Certificate) -> SignatureScheme:
    """PKCS#1 v1.5 for RSA keys, ECDSA for EC keys, GOST R 34.10 or bign for national keys."""
    family = key_family(certificate)
    if family is not None:
        return national_scheme(family)
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return SignatureScheme.RSA_PKCS1V15
    if isinstance(key, ec.EllipticCurvePublicKey):
        return SignatureScheme.ECDSA
    raise InvalidParams(f"unsupported key type {type(key).__name__}")


def signing_hash(certificate: x509.Certificate, requested: HashAlgorithm | None) -> HashAlgorithm:
    """The hash this key signs with for a request naming ``requested`` (None: the default)."""
    family = key_family(certificate)
    if family is None:
        if requested is not None and requested.national:
            raise InvalidParams(
                f"digestAlgorithm {requested.value} is for {_kind_of_hash(requested)} keys; "
                "this certificate's key is not one",
                field="digestAlgorithm",
            )
        return requested or HashAlgorithm.SHA256
    own = HashAlgorithm(family.hash)
    if requested is not None and requested is not own:
        raise InvalidParams(
            f"a {family.name} key signs only with {own.value}; digestAlgorithm {requested.value} does not fit it",
            field="digestAlgorithm",
        )
    return own


def _kind_of_hash(alg: HashAlgorithm) -> str:
    return "bign" if alg in (HashAlgorithm.BELT_HASH, HashAlgorithm.BASH384, HashAlgorithm.BASH512) else "GOST"


def hash_for_digest_size(certificate: x509.Certificate, size: int) -> HashAlgorithm:
    """The hash of a page-computed digest of ``size`` bytes (NCALayer's ``…Hash`` methods,
    which do not name it): the family's own for a national key, else SHA-2 by length."""
    family = key_family(certificate)
    if family is not None:
        own = HashAlgorithm(family.hash)
        if own.digest_size != size:
            raise InvalidParams(f"a {family.name} key signs {own.value} digests of {own.digest_size} bytes, "
                                f"got {size}")
        return own
    by_size = {32: HashAlgorithm.SHA256, 48: HashAlgorithm.SHA384, 64: HashAlgorithm.SHA512}
    if size not in by_size:
        raise InvalidParams(f"a {size}-byte digest is not SHA-256, SHA-384 or SHA-512")
    return by_size[size]
