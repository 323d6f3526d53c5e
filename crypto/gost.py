"""GOST keys as the rest of Tanba sees them: a family, a public key that verifies, a private
key that signs a digest.  Whatever the family (Kazakhstan's 2004 and 2015 keys, Russia's
2012 keys), callers ask :meth:`PrivateKey.sign` / :meth:`PublicKey.verify` with the digest as
the hash produced it; the family decides the byte order (DESIGN.md, "National algorithms").

The facts per family (OIDs, hash, XML URIs, the names NCALayer and Web eID use) live in one
table, :data:`FAMILIES`.  Parsing certificates and key containers is not done here (that
is :mod:`tanba.providers.gost_asn1`): this module is math and facts only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from tanba.crypto import gost3410
from tanba.crypto.curves import Curve, by_oid
from tanba.crypto.hashes import DIGEST_SIZES


class ByteOrder(enum.Enum):
    """NCA: signature r_LE || s_LE.  RFC (4491/9215, the gost engine): s || r, big-endian."""

    NCA = "nca"
    RFC = "rfc"


@dataclass(frozen=True)
class Family:
    """One kind of GOST key: what it is called and how it signs."""

    name: str  #: the certificate model's ``algorithm`` (``certs.list``, ``tanba certs``)
    key_oid: str  #: SubjectPublicKeyInfo algorithm
    signature_oid: str  #: signatureAlgorithm of certificates and CMS
    hash: str  #: a :mod:`tanba.crypto.hashes` name, also the /v1 ``digestAlgorithm``
    hash_oid: str  #: the digest AlgorithmIdentifier in CMS
    order: ByteOrder
    size: int  #: bytes per coordinate and per r / s
    xml_signature_uri: str
    xml_digest_uri: str
    ncalayer_name: str  #: ``getKeyInfo.algorithm`` (Kalkan's names for KZ keys)
    webeid_name: str  #: Web eID token ``algorithm``
    #: curves a key of this family names in its parameters (first: the one Tanba writes)
    curve_oids: tuple[str, ...] = field(default=())
    #: hash parameter OID written beside the curve in the key's parameters (KZ keys carry one)
    hash_param_oid: str | None = None

    @property
    def signature_size(self) -> int:
        return 2 * self.size


_KZ_XML = "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:"
_RU_XML = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:"

KZ_2004 = Family(
    "GOST34310-2004", "1.2.398.3.10.1.1.1.1", "1.2.398.3.10.1.1.1.2", "gost34311-95",
    "1.2.398.3.10.1.3.1", ByteOrder.NCA, 32,
    "http://www.w3.org/2001/04/xmldsig-more#gost34310-gost34311",
    "http://www.w3.org/2001/04/xmldsig-more#gost34311",
    "ECGOST34310", "GOST34310-2004",
    ("1.2.398.3.10.1.1.1.1.1",), "1.2.398.3.10.1.3.1.1.0",
)
KZ_2015_512 = Family(
    "GOST3410-2015-512", "1.2.398.3.10.1.1.2.2", "1.2.398.3.10.1.1.2.3.2", "streebog512",
    "1.2.398.3.10.1.3.3", ByteOrder.NCA, 64,
    _KZ_XML + "gostr34102015-gostr34112015-512", _KZ_XML + "gostr34112015-512",
    "ECGOST3410-2015", "GOST3410-2012-512",
    ("1.2.398.3.10.1.1.2.2.1",), "1.2.398.3.10.1.3.3",
)
KZ_2015_256 = Family(  # no public sample: NCA issues the 512-bit keys; URIs by analogy
    "GOST3410-2015-256", "1.2.398.3.10.1.1.2.1", "1.2.398.3.10.1.1.2.3.1", "streebog256",
    "1.2.398.3.10.1.3.2", ByteOrder.NCA, 32,
    _KZ_XML + "gostr34102015-gostr34112015-256", _KZ_XML + "gostr34112015-256",
    "ECGOST3410-2015", "GOST3410-2012-256",
    (), "1.2.398.3.10.1.3.2",
)
RU_2012_256 = Family(
    "GOST3410-2012-256", "1.2.643.7.1.1.1.1", "1.2.643.7.1.1.3.2", "streebog256",
    "1.2.643.7.1.1.2.2", ByteOrder.RFC, 32,
    _RU_XML + "gostr34102012-gostr34112012-256", _RU_XML + "gostr34112012-256",
    "GOST3410-2012-256", "GOST3410-2012-256",
    ("1.2.643.7.1.2.1.1.1", "1.2.643.2.2.35.1", "1.2.643.2.2.35.2", "1.2.643.2.2.35.3",
     "1.2.643.2.2.36.0", "1.2.643.2.2.36.1", "1.2.643.7.1.2.1.1.2", "1.2.643.7.1.2.1.1.3",
     "1.2.643.7.1.2.1.1.4"),
    "1.2.643.7.1.1.2.2",
)
RU_2012_512 = Family(
    "GOST3410-2012-512", "1.2.643.7.1.1.1.2", "1.2.643.7.1.1.3.3", "streebog512",
    "1.2.643.7.1.1.2.3", ByteOrder.RFC, 64,
    _RU_XML + "gostr34102012-gostr34112012-512", _RU_XML + "gostr34112012-512",
    "GOST3410-2012-512", "GOST3410-2012-512",
    ("1.2.643.7.1.2.1.2.1", "1.2.643.7.1.2.1.2.2", "1.2.643.7.1.2.1.2.3"),
    "1.2.643.7.1.1.2.3",  # RFC 9215 lets 512-bit keys omit it; the gost engine writes it
)

FAMILIES: tuple[Family, ...] = (KZ_2004, KZ_2015_512, KZ_2015_256, RU_2012_256, RU_2012_512)
_BY_KEY = {f.key_oid: f for f in FAMILIES}
#: CMS SignerInfos name the signature OID, or (gost engine, Rutoken) the key OID: both accepted
_BY_SIGNATURE = {**_BY_KEY, **{f.signature_oid: f for f in FAMILIES}}
_BY_HASH_OID = {f.hash_oid: f.hash for f in FAMILIES}
_BY_XML = {f.xml_signature_uri: f for f in FAMILIES}
_BY_XML_DIGEST = {f.xml_digest_uri: f.hash for f in FAMILIES}

assert all(DIGEST_SIZES[f.hash] in (32, 64) for f in FAMILIES)


class UnsupportedKey(ValueError):
    """A key, curve or algorithm this module does not know (never a bad signature)."""


def by_key_oid(oid: str) -> Family | None:
    return _BY_KEY.get(oid)


def by_signature_oid(oid: str) -> Family | None:
    """The family a signatureAlgorithm OID (or, as some signers write, the key OID) names."""
    return _BY_SIGNATURE.get(oid)


def hash_of_oid(oid: str) -> str | None:
    """A :mod:`tanba.crypto.hashes` name for a digest AlgorithmIdentifier OID."""
    return _BY_HASH_OID.get(oid)


def by_xml_signature_uri(uri: str) -> Family | None:
    return _BY_XML.get(uri)


def hash_of_xml_digest_uri(uri: str) -> str | None:
    return _BY_XML_DIGEST.get(uri)


def curve_for(family: Family, curve_oid: str) -> Curve:
    """The curve a key of ``family`` names; ``UnsupportedKey`` if unknown or of the wrong size."""
    try:
        curve = by_oid(curve_oid)
    except KeyError:
        raise UnsupportedKey(f"unknown GOST curve {curve_oid}") from None
    if curve.size != family.size:
        raise UnsupportedKey(f"curve {curve.name} does not fit a {family.name} key")
    return curve


@dataclass(frozen=True)
class PublicKey:
    family: Family
    curve: Curve
    point: gost3410.Point
    curve_oid: str

    @classmethod
    def from_bytes(cls, family: Family, curve_oid: str, data: bytes) -> PublicKey:
        """From x_LE || y_LE (both conventions store the point so); checks it is on the curve."""
        curve = curve_for(family, curve_oid)
        try:
            point = gost3410.decode_public_key(curve, data)
        except gost3410.SignatureError as exc:
            raise UnsupportedKey(f"not a {family.name} public key: {exc}") from None
        return cls(family, curve, point, curve_oid)

    def to_bytes(self) -> bytes:
        return gost3410.encode_public_key(self.curve, self.point)

    def verify(self, digest: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (in the family's byte order) signs ``digest``."""
        if len(digest) != DIGEST_SIZES[self.family.hash] or len(signature) != self.family.signature_size:
            return False
        check = gost3410.verify_nca if self.family.order is ByteOrder.NCA else gost3410.verify_rfc
        return check(self.curve, self.to_bytes(), digest, signature)


class PrivateKey:
    """A GOST private key, held as little-endian bytes in a bytearray wiped by :meth:`wipe`.

    Python integers made from it for the arithmetic cannot be wiped; they live only for the
    duration of one :meth:`sign` call.
    """

    def __init__(self, family: Family, curve_oid: str, secret: bytes | bytearray) -> None:
        self.family = family
        self.curve = curve_for(family, curve_oid)
        self.curve_oid = curve_oid
        d = int.from_bytes(secret, "little")
        if not 0 < d < self.curve.q:
            raise UnsupportedKey(f"{family.name} private key out of range")
        self._d = bytearray(d.to_bytes(self.curve.size, "little"))
        self._public = PublicKey(family, self.curve, gost3410.public_key(self.curve, d), curve_oid)

    def __repr__(self) -> str:
        return f"<PrivateKey {self.family.name} on {self.curve.name}>"

    @property
    def public_key(self) -> PublicKey:
        return self._public

    def secret_bytes(self) -> bytes:
        """The private value, little-endian (to write a key file; callers wipe what they make)."""
        self._check()
        return bytes(self._d)

    def _check(self) -> None:
        if not any(self._d):
            raise UnsupportedKey("the private key was wiped")

    def sign(self, digest: bytes) -> bytes:
        """Sign ``digest`` (as the family's hash produced it) with a random k from the OS."""
        self._check()
        if len(digest) != DIGEST_SIZES[self.family.hash]:
            raise ValueError(f"a {self.family.hash} digest is {DIGEST_SIZES[self.family.hash]} bytes")
        d = int.from_bytes(self._d, "little")
        r, s = gost3410.sign(self.curve, d, digest)
        n = self.curve.size
        if self.family.order is ByteOrder.NCA:
            return r.to_bytes(n, "little") + s.to_bytes(n, "little")
        return s.to_bytes(n, "big") + r.to_bytes(n, "big")

    def wipe(self) -> None:
        for i in range(len(self._d)):
            self._d[i] = 0
