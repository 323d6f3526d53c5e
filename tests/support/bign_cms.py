"""An independent check of bign signatures and of CMS SignedData signed with bign, written for
the tests from STB 34.101.45 (7.2: bign-vfy) and RFC 5652 — not from Tanba's bign or CMS
code: plain affine arithmetic with Python integers (textbook double-and-add, modular
inverses by pow), the curve numbers re-read from the standard's tables here, asn1crypto to
parse.  belt-hash comes from tanba.crypto.belt, itself held to the standard's examples."""

from __future__ import annotations

from asn1crypto import cms
from asn1crypto import core, parser
from cryptography import x509

from tanba.crypto.belt import belt_hash


def _le(text: str) -> int:
    return int.from_bytes(bytes.fromhex(text.replace(" ", "")), "little")


# bign-curve256v1 (STB 34.101.45 table Б.1): p, a, b, q, yG, each as the standard prints it
P = _le("43ffffffffffffffffffffffffffffff ffffffffffffffffffffffffffffffff")
A = _le("40ffffffffffffffffffffffffffffff ffffffffffffffffffffffffffffffff")
B = _le("f1039cd66b7d2eb253928b976950f54c befbd8e4ab3ac1d2eda8f315156cce77")
Q = _le("07663d2699bf5a7efc4dfb0dd68e5cd9 ffffffffffffffffffffffffffffffff")
G = (0, _le("936a510418cf291e52f608c4663991785d83d651a3c9e45c9fd616fb3cfcf76b"))
CURVE_OID = "1.2.112.0.2.0.34.101.45.3.1"
BELT_HASH_OID_DER = bytes.fromhex("06092a7000020022651f51")  # 1.2.112.0.2.0.34.101.31.81
BIGN_WITH_HBELT = "1.2.112.0.2.0.34.101.45.12"
Point = tuple[int, int] | None


def _add(p1: Point, p2: Point) -> Point:
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % P == 0:
        return None
    if p1 == p2:
        slope = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (slope * slope - x1 - x2) % P
    return x3, (slope * (x1 - x3) - y1) % P


def _mul(k: int, point: Point) -> Point:
    result: Point = None
    while k:
        if k & 1:
            result = _add(result, point)
        point = _add(point, point)
        k >>= 1
    return result


def bign_verify(public: bytes, hash_value: bytes, signature: bytes) -> bool:
    """bign-vfy on bign-curve256v1 with belt-hash: public = x||y, hash 32 bytes, S = S0 (16) || S1 (32)."""
    if len(public) != 64 or len(hash_value) != 32 or len(signature) != 48:
        return False
    qx, qy = int.from_bytes(public[:32], "little"), int.from_bytes(public[32:], "little")
    if not (qx < P and qy < P and (qy * qy - qx ** 3 - A * qx - B) % P == 0):
        return False
    s0, s1 = signature[:16], int.from_bytes(signature[16:], "little")
    if s1 >= Q:
        return False
    h = int.from_bytes(hash_value, "little")
    r = _add(_mul((s1 + h) % Q, G), _mul(int.from_bytes(s0, "little") + 2 ** 128, (qx, qy)))
    if r is None:
        return False
    return belt_hash(BELT_HASH_OID_DER + r[0].to_bytes(32, "little") + hash_value)[:16] == s0


def _children(der: bytes) -> list[tuple[int, int, bytes, bytes]]:
    """The (class, tag, contents, whole encoding) of each element of a DER SEQUENCE."""
    contents = parser.parse(der)[4]
    out, offset = [], 0
    while offset < len(contents):
        cls, _, tag, header, body, trailer = parser.parse(contents[offset:])
        out.append((cls, tag, body, header + body + trailer))
        offset += len(header) + len(body) + len(trailer)
    return out


def bign_public_key(cert_der: bytes) -> bytes:
    """x||y of a bign-curve256v1 certificate key (AssertionError for any other key).
    asn1crypto refuses to parse an unknown key algorithm: the DER is walked by hand."""
    tbs = _children(_children(cert_der)[0][3])
    first = 1 if tbs[0][:2] == (2, 0) else 0  # [0] EXPLICIT version
    algorithm, bits = _children(tbs[first + 5][3])
    oids = [core.ObjectIdentifier.load(part[3]).dotted for part in _children(algorithm[3])]
    assert oids == ["1.2.112.0.2.0.34.101.45.2.1", CURVE_OID], oids
    value = bits[2]  # BIT STRING: the unused-bits byte, then x||y
    assert bits[1] == 3 and value[0] == 0 and len(value) == 65
    return bytes(value[1:])


def check_bign_signer(signer: cms.SignerInfo, cert_der: bytes, data: bytes) -> None:
    """AssertionError unless ``signer`` is a bign-with-hbelt SignerInfo over ``data`` by ``cert_der``."""
    assert signer["digest_algorithm"]["algorithm"].dotted == "1.2.112.0.2.0.34.101.31.81"
    assert signer["signature_algorithm"]["algorithm"].dotted == BIGN_WITH_HBELT
    assert signer["signature_algorithm"]["parameters"].dump() == b"\x05\x00"  # NULL, as the standard says
    attrs = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
    assert attrs["message_digest"].native == belt_hash(data), "messageDigest"
    signed_attrs = signer["signed_attrs"].untag().dump(force=True)
    assert bign_verify(bign_public_key(cert_der), belt_hash(signed_attrs), signer["signature"].native), "signature"


def check_bign_cms(signature: bytes, content: bytes | None = None) -> tuple[x509.Certificate, bytes]:
    """(signer certificate, signed content) of a one-signer bign CMS; AssertionError if it does
    not verify.  ``content`` is needed for detached signatures."""
    signed = cms.ContentInfo.load(signature)["content"]
    [signer] = list(signed["signer_infos"])
    attached = signed["encap_content_info"]["content"].native
    data = attached if attached is not None else content
    assert data is not None, "a detached CMS needs its content"
    sid = signer["sid"].chosen
    cert_der = next(c.chosen.dump() for c in signed["certificates"]
                    if c.chosen.serial_number == sid["serial_number"].native)
    check_bign_signer(signer, cert_der, data)
    return x509.load_der_x509_certificate(cert_der), data
