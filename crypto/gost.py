"""National keys as the rest of Tanba sees them: a family, a public key that verifies, a
private key that signs a digest.  Whatever the family (Kazakhstan's 2004 and 2015 GOST keys,
Russia's GOST 2012 keys, Belarus's bign keys), callers ask :meth:`PrivateKey.sign` /
:meth:`PublicKey.verify` with the digest as the hash produced it; the family decides the
algorithm and the byte order (DESIGN.md, "National algorithms").

The facts per family (OIDs, hash, XML URIs, the names NCALayer and Web eID use) live in one
table, :data:`FAMILIES`.  The three bign families share one key OID (bign-pubkey) and differ
by curve, so a key's family is found from both (:func:`by_key`).  Parsing certificates and
key containers is not done here (that is :mod:`tanba.providers.gost_asn1`): this module is
math and facts only.

bign signatures use the standard's deterministic k (:func:`tanba.crypto.bign.genk`): the
same key and hash always give the same signature, and no randomness can leak the key.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from tanba.crypto import bign, gost3410
from tanba.crypto.curves import Curve, by_oid
from tanba.crypto.hashes import DIGEST_SIZES


class ByteOrder(enum.Enum):
    """NCA: signature r_LE || s_LE.  RFC (4491/9215, the gost engine): s || r, big-endian.
    STB: bign's S0 || S1 as STB 34.101.45 defines it (little-endian throughout)."""

    NCA = "nca"
    RFC = "rfc"
    STB = "stb"


class Kind(enum.Enum):
    """The signature algorithm of a family."""

    GOST = "gost3410"  #: GOST R 34.10 / KZ 34.310
    BIGN = "bign"  #: STB 34.101.45


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
    kind: Kind = Kind.GOST
    #: the parameters of the signature AlgorithmIdentifier: None is NULL; bign-with-hspec
    #: carries its hash's OID
    signature_params_oid: str | None = None
    #: further SignatureMethod URIs read on verification (other implementations' spelling)
    xml_signature_aliases: tuple[str, ...] = ()
    xml_digest_aliases: tuple[str, ...] = ()

    @property
    def signature_size(self) -> int:
        """GOST: r and s of ``size`` bytes each; bign: S0 (l/8 bytes) and S1 (l/4 bytes)."""
        return self.size + self.size // 2 if self.kind is Kind.BIGN else 2 * self.size


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

#: XML-DSig URIs for bign: the ones of bee2j (by the authors of bee2 and of the standards);
#: jbelt (BSU) writes the same names under xmldsig-more, accepted on verification
_BY_XML11 = "http://www.w3.org/2009/xmldsig11#"
_BY_XML_MORE = "http://www.w3.org/2001/04/xmldsig-more#"

BIGN_256 = Family(
    "BIGN-256", bign.BIGN_PUBKEY, bign.BIGN_WITH_HBELT, "belt-hash", bign.BELT_HASH, ByteOrder.STB, 32,
    _BY_XML11 + "bign-with-hbelt", _BY_XML11 + "belt-hash256",
    "BIGN", "BIGN-HBELT",
    (bign.CURVE256V1.oids[0],), None, Kind.BIGN, None,
    (_BY_XML_MORE + "bign-with-hbelt",), (_BY_XML_MORE + "belt-hash256",),
)
BIGN_384 = Family(  # bign-with-hspec: the hash (bash384) is named in the signature's parameters
    "BIGN-384", bign.BIGN_PUBKEY, bign.BIGN_WITH_HSPEC, "bash384", bign.BASH384, ByteOrder.STB, 48,
    _BY_XML11 + "bign-with-bash384", _BY_XML11 + "bash384",
    "BIGN", "BIGN-BASH384",
    (bign.CURVE384V1.oids[0],), None, Kind.BIGN, bign.BASH384,
)
BIGN_512 = Family(
    "BIGN-512", bign.BIGN_PUBKEY, bign.BIGN_WITH_HSPEC, "bash512", bign.BASH512, ByteOrder.STB, 64,
    _BY_XML11 + "bign-with-bash512", _BY_XML11 + "bash512",
    "BIGN", "BIGN-BASH512",
    (bign.CURVE512V1.oids[0],), None, Kind.BIGN, bign.BASH512,
)

FAMILIES: tuple[Family, ...] = (KZ_2004, KZ_2015_512, KZ_2015_256, RU_2012_256, RU_2012_512,
                                BIGN_256, BIGN_384, BIGN_512)
_BY_KEY: dict[str, tuple[Family, ...]] = {}
for _f in FAMILIES:
    _BY_KEY[_f.key_oid] = (*_BY_KEY.get(_f.key_oid, ()), _f)
#: CMS SignerInfos name the signature OID, or (gost engine, Rutoken) the key OID: both accepted
#: for GOST; bign signatures name bign-with-hbelt or bign-with-hspec
_BY_SIGNATURE: dict[str, tuple[Family, ...]] = {}
for _f in FAMILIES:
    for _oid in (_f.signature_oid, _f.key_oid) if _f.kind is Kind.GOST else (_f.signature_oid,):
        if _f not in _BY_SIGNATURE.get(_oid, ()):
            _BY_SIGNATURE[_oid] = (*_BY_SIGNATURE.get(_oid, ()), _f)
_BY_HASH_OID = {f.hash_oid: f.hash for f in FAMILIES}
_BY_XML = {uri: f for f in FAMILIES for uri in (f.xml_signature_uri, *f.xml_signature_aliases)}
_BY_XML_DIGEST = {uri: f.hash for f in FAMILIES for uri in (f.xml_digest_uri, *f.xml_digest_aliases)}

assert all(DIGEST_SIZES[f.hash] in (32, 64) for f in FAMILIES if f.kind is Kind.GOST)


class UnsupportedKey(ValueError):
    """A key, curve or algorithm this module does not know (never a bad signature)."""


def is_national_key_oid(oid: str) -> bool:
    """Whether a SubjectPublicKeyInfo algorithm OID is one of a family here."""
    return oid in _BY_KEY


def by_key_oid(oid: str) -> Family | None:
    """The family of a key OID that names exactly one (every GOST one); None for bign-pubkey,
    whose family depends on the curve (:func:`by_key`)."""
    found = _BY_KEY.get(oid, ())
    return found[0] if len(found) == 1 else None


def by_key(oid: str, curve_oid: str | None) -> Family | None:
    """The family of a key with algorithm ``oid`` on the curve ``curve_oid``."""
    found = _BY_KEY.get(oid, ())
    if len(found) == 1:
        return found[0]
    return next((f for f in found if curve_oid in f.curve_oids), None)


def by_signature_oid(oid: str) -> Family | None:
    """A family a signatureAlgorithm OID (or, as some GOST signers write, the key OID) names;
    for OIDs several families share (bign-with-hspec), the first: check a key with
    :meth:`Family.signs_with`, not by identity."""
    found = _BY_SIGNATURE.get(oid, ())
    return found[0] if found else None


def signs_with(family: Family, signature_oid: str) -> bool:
    """Whether a signature of a ``family`` key may name ``signature_oid``."""
    return family in _BY_SIGNATURE.get(signature_oid, ())


def hash_of_oid(oid: str) -> str | None:
    """A :mod:`tanba.crypto.hashes` name for a digest AlgorithmIdentifier OID."""
    return _BY_HASH_OID.get(oid)


def by_xml_signature_uri(uri: str) -> Family | None:
    return _BY_XML.get(uri)


def hash_of_xml_digest_uri(uri: str) -> str | None:
    return _BY_XML_DIGEST.get(uri)


def curve_for(family: Family, curve_oid: str) -> Curve:
    """The curve a key of ``family`` names; ``UnsupportedKey`` if unknown or of the wrong size."""
    if family.kind is Kind.BIGN:
        if curve_oid not in family.curve_oids:
            raise UnsupportedKey(f"curve {curve_oid} does not fit a {family.name} key")
        return bign.curve_by_oid(curve_oid)
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
        if self.family.kind is Kind.BIGN:
            return bign.verify(self.curve, self.point, digest, signature, self.family.hash_oid)
        check = gost3410.verify_nca if self.family.order is ByteOrder.NCA else gost3410.verify_rfc
        return check(self.curve, self.to_bytes(), digest, signature)


class PrivateKey:
    """A national private key, held as little-endian bytes in a bytearray wiped by :meth:`wipe`.

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
        """Sign ``digest`` (as the family's hash produced it): GOST with a random k from the
        OS, bign with the standard's deterministic k."""
        self._check()
        if len(digest) != DIGEST_SIZES[self.family.hash]:
            raise ValueError(f"a {self.family.hash} digest is {DIGEST_SIZES[self.family.hash]} bytes")
        d = int.from_bytes(self._d, "little")
        if self.family.kind is Kind.BIGN:
            return bign.sign(self.curve, d, digest, self.family.hash_oid)
        r, s = gost3410.sign(self.curve, d, digest)
        n = self.curve.size
        if self.family.order is ByteOrder.NCA:
            return r.to_bytes(n, "little") + s.to_bytes(n, "little")
        return s.to_bytes(n, "big") + r.to_bytes(n, "big")

    def wipe(self) -> None:
        for i in range(len(self._d)):
            self._d[i] = 0
