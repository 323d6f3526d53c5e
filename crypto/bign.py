"""STB 34.101.45 "bign": the standard curves, keys and digital signatures.

Numbers and byte order follow the standard (every integer is little-endian, the "[u]" of the
text): a curve of security level l has p, q < 2^(2l); a private key d is l/4 bytes, a public
key Q = d*G is x||y (l/4 bytes each), a hash value H is l/4 bytes, and a signature is
S0 || S1 with S0 of l/8 bytes and S1 of l/4 bytes (3l bits in all):

    S0 = the first l bits of belt-hash(OID(h) || <x(R)>_{2l} || H),  R = k*G
    S1 = (k - [H] - ([S0] + 2^l) * d) mod q

Verification recomputes R = (([S1] + [H]) mod q)*G + ([S0] + 2^l)*Q and compares S0.
The one-time key k is random (:mod:`secrets`) or, by default, the deterministic bign-genk of
section 6.3.3 (bee2's ``bignSign2``): theta = belt-hash(OID(h) || <d>_{2l} || t), then H is
encrypted with belt-wblock under theta (one pass is 2n belt-block rounds over the n 128-bit
blocks of H) until the result read as an integer lies in 1..q-1.  The text (and the
belt/bign/bake Internet-Draft that restates it) lets the round counter run on across passes,
and so does this code; an implementation restarting it would differ only after a first pass
lands in [q, 2^(2l)) or on 0, an event of probability below 2^-128 on the three standard
curves (the standard's examples cannot tell the two apart).

The curve numbers are STB 34.101.45 appendix Б (tables Б.1-Б.3), as bee2's
src/crypto/bign/bign_params.c carries them; G = (0, yG).  Point arithmetic is the one of
:mod:`tanba.crypto.gost3410` (short Weierstrass, any :class:`~tanba.crypto.curves.Curve`),
including its optional C path.  belt (STB 34.101.31) comes from :mod:`tanba.crypto.belt` and
belt-wblock from :mod:`tanba.crypto.beltwrap`, imported where they are needed.
"""

from __future__ import annotations

import secrets
from tanba.crypto import gost3410
from tanba.crypto.curves import Curve

Point = tuple[int, int]

__all__ = [
    "BASH256", "BASH384", "BASH512", "BELT_HASH", "BIGN_PUBKEY", "BIGN_WITH_HBELT", "BIGN_WITH_HSPEC",
    "CURVE256V1", "CURVE384V1", "CURVE512V1", "CURVES", "SEEDS", "SignatureError", "curve_by_oid",
    "decode_private_key", "decode_public_key", "encode_private_key", "encode_public_key",
    "generate_private_key", "genk", "level", "oid_to_der", "public_key", "sign", "validate_public_key",
    "verify", "wblock_encrypt",
]

SignatureError = gost3410.SignatureError

#: object identifiers (STB 34.101.45 appendix Б / DESIGN.md "National algorithms")
BIGN_PUBKEY = "1.2.112.0.2.0.34.101.45.2.1"
BIGN_WITH_HSPEC = "1.2.112.0.2.0.34.101.45.11"
BIGN_WITH_HBELT = "1.2.112.0.2.0.34.101.45.12"
BELT_HASH = "1.2.112.0.2.0.34.101.31.81"
BASH256 = "1.2.112.0.2.0.34.101.77.11"
BASH384 = "1.2.112.0.2.0.34.101.77.12"
BASH512 = "1.2.112.0.2.0.34.101.77.13"


def _le(hexstr: str) -> int:
    """An integer from the standard's notation: octets in order, least significant first."""
    return int.from_bytes(bytes.fromhex(hexstr.replace(" ", "")), "little")


def _bign_curve(name: str, oid: str, p: str, a: str, b: str, q: str, y: str) -> Curve:
    pi = _le(p)
    return Curve(name, (oid,), pi, _le(a), _le(b), _le(q), 0, _le(y), 1, (pi.bit_length() + 7) // 8)


_FF16 = "ff" * 16

CURVE256V1 = _bign_curve(
    "bign-curve256v1", "1.2.112.0.2.0.34.101.45.3.1",
    "43ffffffffffffffffffffffffffffff" + _FF16,
    "40ffffffffffffffffffffffffffffff" + _FF16,
    "f1039cd66b7d2eb253928b976950f54c befbd8e4ab3ac1d2eda8f315156cce77",
    "07663d2699bf5a7efc4dfb0dd68e5cd9" + _FF16,
    "936a510418cf291e52f608c4663991785d83d651a3c9e45c9fd616fb3cfcf76b")

CURVE384V1 = _bign_curve(
    "bign-curve384v1", "1.2.112.0.2.0.34.101.45.3.2",
    "c3feffffffffffffffffffffffffffff" + _FF16 * 2,
    "c0feffffffffffffffffffffffffffff" + _FF16 * 2,
    "64bf736823fca7bc7cbdcef3f0e2bd14 3a2e71e9f96a21a696b1fb0fbb482771 d2345d65ab5a073320ef9c95e1df753c",
    "b7a70cf33fdcb73d0affa4a6e7da4680 bb7baf7303c4cc6cfeffffffffffffff" + _FF16,
    "51c433f731cb5eeaf9422a6b273e4084 55d3b1669ee74905a0ff86dc119a723a 89bf2d437e1130639e9e2ea82482435d")

CURVE512V1 = _bign_curve(
    "bign-curve512v1", "1.2.112.0.2.0.34.101.45.3.3",
    "c7fdffffffffffffffffffffffffffff" + _FF16 * 3,
    "c4fdffffffffffffffffffffffffffff" + _FF16 * 3,
    "909c13d6986934097aa2493a272286ea 43a2ac878c003329955e24c4b5dc1127"
    "88b0addae313ce1751255dddeea9c65b 8958fd606a5d8cd8438c3b934459b46c",
    "f18e060d49adffdc32df5695e5ca1b36 f413212eb0eb6bf24e0098012c09c0b2" + _FF16 * 2,
    "bdedefce6fae92b7040d4cc9b983aa67 6122e8ee957377ffd26ffa0ee2dd7369"
    "dacacc001bf8edd2e2bc61b3b341abb0 ab8fd1a0f7e682b1817603e47aff26a8")

CURVES: tuple[Curve, ...] = (CURVE256V1, CURVE384V1, CURVE512V1)

#: the 8-octet seed each curve's b was generated from (b = belt-hash(p || a || seed) ||
#: belt-hash(p || a || seed + 1) mod p, standard 6.1.4; tests/crypto/test_bign.py checks it)
SEEDS: dict[str, bytes] = {
    CURVE256V1.name: bytes.fromhex("5e38010000000000"),
    CURVE384V1.name: bytes.fromhex("23af000000000000"),
    CURVE512V1.name: bytes.fromhex("ae17020000000000"),
}


def curve_by_oid(oid: str) -> Curve:
    for c in CURVES:
        if oid in c.oids:
            return c
    raise SignatureError(f"unknown bign curve {oid}")


def level(c: Curve) -> int:
    """The security level l: 128, 192 or 256 (p < 2^(2l))."""
    return c.size * 4


# --- object identifiers -------------------------------------------------------------------

def oid_to_der(oid: str) -> bytes:
    """The DER of an OBJECT IDENTIFIER, tag and length included (what the standard hashes)."""
    try:
        arcs = [int(part) for part in oid.split(".")]
    except ValueError:
        raise SignatureError(f"bad object identifier {oid!r}") from None
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39) or min(arcs) < 0:
        raise SignatureError(f"bad object identifier {oid!r}")
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    if len(body) > 127:
        raise SignatureError("object identifier too long")
    return bytes([0x06, len(body)]) + bytes(body)


# --- keys ---------------------------------------------------------------------------------

def generate_private_key(c: Curve) -> int:
    return 1 + secrets.randbelow(c.q - 1)


def encode_private_key(c: Curve, d: int) -> bytes:
    if not 0 < d < c.q:
        raise SignatureError("private key out of range")
    return d.to_bytes(c.size, "little")


def decode_private_key(c: Curve, data: bytes) -> int:
    if len(data) != c.size:
        raise SignatureError("private key has the wrong length")
    d = int.from_bytes(data, "little")
    if not 0 < d < c.q:
        raise SignatureError("private key out of range")
    return d


def public_key(c: Curve, d: int) -> Point:
    return gost3410.public_key(c, d)


def encode_public_key(c: Curve, pt: Point) -> bytes:
    """<x>_{2l} || <y>_{2l}."""
    return gost3410.encode_public_key(c, pt)


def validate_public_key(c: Curve, pt: Point) -> bool:
    """bign-valpubkey: 0 <= x, y < p and y^2 = x^3 + ax + b (the cofactor is 1, and the encoding
    cannot name the point at infinity, so this is membership of the group of order q)."""
    return gost3410.on_curve(c, pt)


def decode_public_key(c: Curve, data: bytes) -> Point:
    """Parse and validate x||y; SignatureError unless it is a valid public key."""
    if len(data) != 2 * c.size:
        raise SignatureError("public key has the wrong length")
    pt = (int.from_bytes(data[:c.size], "little"), int.from_bytes(data[c.size:], "little"))
    if not validate_public_key(c, pt):
        raise SignatureError("public key is not a point of the curve")
    return pt


# --- belt helpers -------------------------------------------------------------------------

def _belt_hash(*parts: bytes) -> bytes:
    from tanba.crypto.belt import BeltHash

    h = BeltHash()
    for part in parts:
        h.update(part)
    return h.digest()


def wblock_encrypt(data: bytes, key: bytes) -> bytes:
    """belt-wblock of ``data`` (32 bytes or more) under the 256-bit ``key``: this module's
    argument order; the cipher is :func:`tanba.crypto.beltwrap.wblock_encrypt` (key first)."""
    from tanba.crypto.beltwrap import wblock_encrypt as encrypt

    return encrypt(key, data)


# --- signatures ---------------------------------------------------------------------------

def _check_hash(c: Curve, h: bytes) -> None:
    if len(h) != c.size:
        raise SignatureError(f"bign on {c.name} signs a {c.size}-byte hash value, not {len(h)} bytes")


def genk(c: Curve, d: int, h: bytes, hash_oid: str = BELT_HASH, t: bytes = b"") -> int:
    """bign-genk (6.3.3): the deterministic one-time key for private key d and hash value h."""
    _check_hash(c, h)
    from tanba.crypto.beltwrap import wblock_encrypt as encrypt

    theta = _belt_hash(oid_to_der(hash_oid), encode_private_key(c, d), t)
    n = len(h) // 16  # 2, 3 or 4 whole blocks
    word, i = h, 1
    while True:
        word = encrypt(theta, word, first_round=i)  # rounds i .. i + 2n - 1
        i += 2 * n  # the counter runs on across passes (module docstring)
        k = int.from_bytes(word, "little")
        if 0 < k < c.q:
            return k


def sign(c: Curve, d: int, h: bytes, hash_oid: str = BELT_HASH, *, k: int | None = None,
         randomized: bool = False, t: bytes = b"") -> bytes:
    """The signature S0 || S1 of hash value h (l/4 bytes) under private key d.

    k: deterministic bign-genk (with the optional extra word t) unless ``randomized`` (k from
    :mod:`secrets`) or k is given (tests).
    """
    if not 0 < d < c.q:
        raise SignatureError("private key out of range")
    _check_hash(c, h)
    oid_der = oid_to_der(hash_oid)
    if k is None:
        k = generate_private_key(c) if randomized else genk(c, d, h, hash_oid, t)
    elif not 0 < k < c.q:
        raise SignatureError("k out of range")
    r = gost3410.multiply(c, k)
    assert r is not None  # 0 < k < q and G has order q
    half = c.size // 2
    s0 = _belt_hash(oid_der, r[0].to_bytes(c.size, "little"), h)[:half]
    big_l = 1 << level(c)
    s1 = (k - int.from_bytes(h, "little") - (int.from_bytes(s0, "little") + big_l) * d) % c.q
    return s0 + s1.to_bytes(c.size, "little")


def _add_affine(c: Curve, p1: Point | None, p2: Point | None) -> Point | None:
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    p = c.p
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2:
        if (y1 + y2) % p == 0:
            return None
        lam = (3 * x1 * x1 + c.a) * pow(2 * y1, -1, p) % p
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, p) % p
    x3 = (lam * lam - x1 - x2) % p
    return x3, (lam * (x1 - x3) - y1) % p


def verify(c: Curve, public: bytes | Point, h: bytes, signature: bytes, hash_oid: str = BELT_HASH) -> bool:
    """bign-vfy: True when signature is S0 || S1 of hash value h under public key ``public``
    (x||y bytes or a point); False for any bad input (wrong lengths, key off the curve, ...)."""
    try:
        q_pt = decode_public_key(c, public) if isinstance(public, (bytes, bytearray)) else public
        oid_der = oid_to_der(hash_oid)
    except SignatureError:
        return False
    if not validate_public_key(c, q_pt) or len(h) != c.size:
        return False
    half = c.size // 2
    if len(signature) != half + c.size:
        return False
    s0 = signature[:half]
    s1 = int.from_bytes(signature[half:], "little")
    if s1 >= c.q:
        return False
    u = (s1 + int.from_bytes(h, "little")) % c.q
    v = int.from_bytes(s0, "little") + (1 << level(c))
    r = _add_affine(c, gost3410.multiply(c, u) if u else None, gost3410.multiply(c, v, q_pt))
    if r is None:
        return False
    t = _belt_hash(oid_der, r[0].to_bytes(c.size, "little"), h)[:half]
    return secrets.compare_digest(t, s0)
