"""National keys in their ASN.1 containers: SubjectPublicKeyInfo and PKCS#8 PrivateKeyInfo.

cryptography and asn1crypto refuse GOST public keys (asn1crypto raises on the unknown
algorithm OID as soon as the key is touched), so the two structures are read here with
plain asn1crypto sequences, and the key objects come from :mod:`tanba.crypto.gost`.

Encodings met in real files (DESIGN.md, "National algorithms"):

* SubjectPublicKeyInfo: algorithm {key OID, SEQUENCE {curve OID, hash OID?, ...}} and a BIT
  STRING holding an OCTET STRING x_LE || y_LE — NCA and the gost engine alike.
* PrivateKeyInfo privateKey OCTET STRING holding: the little-endian value itself (gost
  engine), an OCTET STRING of it (NCA's 2015 keys), or a DER INTEGER (NCA's 2004 keys).

bign keys (STB 34.101.45, bee2's bpki): the algorithm is {bign-pubkey, curve OID} — the
curve named by a bare OID, not a SEQUENCE — the BIT STRING holds x_LE || y_LE itself, and
PrivateKeyInfo's privateKey is the little-endian value itself.

Everything that goes wrong is :class:`~tanba.crypto.gost.UnsupportedKey` (a ValueError):
callers translate it at their boundary.
"""

from __future__ import annotations

from asn1crypto import core
from asn1crypto import x509 as ax509

from tanba.crypto.gost import Family, Kind, PrivateKey, PublicKey, UnsupportedKey, by_key, is_national_key_oid


class _Algorithm(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class _Spki(core.Sequence):  # type: ignore[misc]
    _fields = [("algorithm", _Algorithm), ("public_key", core.OctetBitString)]


class _PrivateKeyInfo(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("version", core.Integer),
        ("private_key_algorithm", _Algorithm),
        ("private_key", core.OctetString),
        ("attributes", core.Any, {"implicit": 0, "optional": True}),
    ]


class _ObjectIds(core.SequenceOf):  # type: ignore[misc]
    _child_spec = core.ObjectIdentifier


def _curve_oid(params: core.Any) -> str | None:
    """The curve the key parameters name: GOST writes SEQUENCE {curve, hash?, ...}, bign
    (ECParameters' namedCurve choice) the curve's OID alone."""
    if params.native is None:
        return None
    der = params.dump()
    if der[:1] == b"\x06":
        return str(core.ObjectIdentifier.load(der).dotted)
    oids = _ObjectIds.load(der)
    return oids[0].dotted if len(oids) else None


def _family_and_curve(algorithm: _Algorithm) -> tuple[Family, str]:
    oid = algorithm["algorithm"].dotted
    if not is_national_key_oid(oid):
        raise UnsupportedKey(f"not a GOST or bign key algorithm: {oid}")
    try:
        curve_oid = _curve_oid(algorithm["parameters"])
    except (ValueError, TypeError) as exc:
        raise UnsupportedKey(f"key parameters of {oid} cannot be read: {exc}") from exc
    family = by_key(oid, curve_oid)
    if family is None:
        raise UnsupportedKey(f"no {oid} key on curve {curve_oid} is known")
    if curve_oid is None:
        raise UnsupportedKey(f"{family.name} key names no curve")
    return family, curve_oid


def is_gost_spki(spki_der: bytes) -> bool:
    """Whether the key is a national one (GOST or bign), readable or not."""
    try:
        return is_national_key_oid(_Spki.load(spki_der)["algorithm"]["algorithm"].dotted)
    except (ValueError, TypeError):
        return False


def family_of_spki(spki_der: bytes) -> Family | None:
    """The family of a national key (None for any other key); ``UnsupportedKey`` for a
    national key Tanba cannot place (a bign key on an unknown curve)."""
    try:
        algorithm = _Spki.load(spki_der)["algorithm"]
        oid = algorithm["algorithm"].dotted
    except (ValueError, TypeError):
        return None
    if not is_national_key_oid(oid):
        return None
    return _family_and_curve(algorithm)[0]


def spki_of_certificate(cert_der: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo of a certificate, whatever its key algorithm."""
    try:
        cert = ax509.Certificate.load(cert_der)
        return bytes(cert["tbs_certificate"]["subject_public_key_info"].dump())
    except (ValueError, TypeError, KeyError) as exc:
        raise UnsupportedKey(f"not a certificate: {exc}") from exc


def public_key_from_spki(spki_der: bytes) -> PublicKey:
    try:
        spki = _Spki.load(spki_der)
        algorithm = spki["algorithm"]
        bits = spki["public_key"].native
    except (ValueError, TypeError) as exc:
        raise UnsupportedKey(f"SubjectPublicKeyInfo cannot be read: {exc}") from exc
    family, curve_oid = _family_and_curve(algorithm)
    if family.kind is Kind.BIGN:
        return PublicKey.from_bytes(family, curve_oid, bits)
    try:
        point = core.OctetString.load(bits, strict=True).native
    except (ValueError, TypeError) as exc:
        raise UnsupportedKey(f"{family.name} public key is not an OCTET STRING: {exc}") from exc
    return PublicKey.from_bytes(family, curve_oid, point)


def public_key_of_certificate(cert_der: bytes) -> PublicKey:
    return public_key_from_spki(spki_of_certificate(cert_der))


def _algorithm(family: Family, curve_oid: str) -> _Algorithm:
    """{key OID, {curve OID, hash OID?}}, as both containers name a GOST key; {bign-pubkey,
    curve OID} for bign."""
    if family.kind is Kind.BIGN:
        return _Algorithm({"algorithm": family.key_oid, "parameters": core.Any.load(core.ObjectIdentifier(curve_oid).dump())})
    ids = [core.ObjectIdentifier(curve_oid)]
    if family.hash_param_oid:
        ids.append(core.ObjectIdentifier(family.hash_param_oid))
    return _Algorithm({"algorithm": family.key_oid, "parameters": core.Any.load(_ObjectIds(ids).dump())})


def encode_spki(key: PublicKey) -> bytes:
    algorithm = _algorithm(key.family, key.curve_oid)
    bits = key.to_bytes() if key.family.kind is Kind.BIGN else core.OctetString(key.to_bytes()).dump()
    return bytes(_Spki({"algorithm": algorithm, "public_key": bits}).dump())


def private_key_from_pkcs8(der: bytes) -> PrivateKey:
    """A GOST private key from a DER PrivateKeyInfo, in any of the three encodings."""
    try:
        info = _PrivateKeyInfo.load(der)
        algorithm = info["private_key_algorithm"]
        body = info["private_key"].native
    except (ValueError, TypeError) as exc:
        raise UnsupportedKey(f"PrivateKeyInfo cannot be read: {exc}") from exc
    family, curve_oid = _family_and_curve(algorithm)
    size = family.size
    secret: bytes
    if len(body) == size:
        secret = body
    else:
        try:
            inner = core.Asn1Value.load(body, strict=True)
        except (ValueError, TypeError) as exc:
            raise UnsupportedKey(f"{family.name} private key encoding not recognised") from exc
        if inner.tag == 4 and len(inner.contents) == size:  # OCTET STRING, little-endian
            secret = inner.contents
        elif inner.tag == 2:  # INTEGER
            value = core.Integer.load(body).native
            if not 0 < value < 1 << (8 * size):
                raise UnsupportedKey(f"{family.name} private key out of range")
            secret = value.to_bytes(size, "little")
        else:
            raise UnsupportedKey(f"{family.name} private key encoding not recognised")
    return PrivateKey(family, curve_oid, secret)


def encode_pkcs8(key: PrivateKey, *, style: str = "nca") -> bytes:
    """PrivateKeyInfo for ``key``: ``nca`` nests an OCTET STRING (NCA's 2015 files) or an
    INTEGER for 2004 keys; ``raw`` holds the little-endian value itself (the gost engine)."""
    secret = key.secret_bytes()
    if style == "raw" or key.family.kind is Kind.BIGN:  # bign: always the value itself
        body = secret
    elif key.family.key_oid == "1.2.398.3.10.1.1.1.1":
        body = core.Integer(int.from_bytes(secret, "little")).dump()
    else:
        body = core.OctetString(secret).dump()
    algorithm = _algorithm(key.family, key.curve_oid)
    return bytes(_PrivateKeyInfo({"version": 0, "private_key_algorithm": algorithm,
                                  "private_key": body}).dump())
