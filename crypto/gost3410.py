"""GOST R 34.10-2012 (and -2001: the same math) signatures over the curves in curves.py.

The core works on integers (`sign_int`, `verify_int`); `sign`/`verify` take the digest as
bytes in one of the two byte conventions (RFC / NCA, see DESIGN.md "National algorithms").

Two implementations of the scalar multiplications: the optional C extension
(crypto/_ecspeed.c, through :func:`tanba.crypto.accel.ecspeed`) when it is built and not
switched off, else the pure-Python code below, which is the reference: both give the same
points, so a signature for a given k is the same bytes on either path (tests/crypto/
test_ecspeed.py).

Side channels: the C k*G (signing, public keys) is written to be constant time in k (its header
says what that covers).  Python integers are not constant time, so nothing in the pure path is.
Its scalar multiplications use fixed windows that do the same sequence of point operations
whatever the scalar's digits are (no early exit, no skipped zero windows), which removes the
coarsest timing leak; the private key never appears in an exception or repr.
"""

from __future__ import annotations

import secrets

from tanba.crypto import accel
from tanba.crypto.curves import Curve

Point = tuple[int, int]
_Jac = tuple[int, int, int]  # (X, Y, Z), x = X/Z^2, y = Y/Z^3; Z = 0 is infinity
_INF: _Jac = (1, 1, 0)
_W = 4  # window width in bits


class SignatureError(ValueError):
    """A bad key, signature or argument (never carries the private key)."""


def _double(c: Curve, pt: _Jac) -> _Jac:
    x1, y1, z1 = pt
    if z1 == 0 or y1 == 0:
        return _INF
    p = c.p
    yy = y1 * y1 % p
    s = 4 * x1 * yy % p
    zz = z1 * z1 % p
    m = (3 * x1 * x1 + c.a * zz * zz) % p
    x3 = (m * m - 2 * s) % p
    y3 = (m * (s - x3) - 8 * yy * yy) % p
    z3 = 2 * y1 * z1 % p
    return (x3, y3, z3)


def _add(c: Curve, p1: _Jac, p2: _Jac) -> _Jac:
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    p = c.p
    z1z1 = z1 * z1 % p
    z2z2 = z2 * z2 % p
    u1 = x1 * z2z2 % p
    u2 = x2 * z1z1 % p
    s1 = y1 * z2 * z2z2 % p
    s2 = y2 * z1 * z1z1 % p
    h = (u2 - u1) % p
    r = (s2 - s1) % p
    if h == 0:
        return _double(c, p1) if r == 0 else _INF
    hh = h * h % p
    hhh = h * hh % p
    v = u1 * hh % p
    x3 = (r * r - hhh - 2 * v) % p
    y3 = (r * (v - x3) - s1 * hhh) % p
    z3 = h * z1 * z2 % p
    return (x3, y3, z3)


def _add_affine(c: Curve, p1: _Jac, p2: Point | None) -> _Jac:
    """Mixed addition: Jacobian + affine (None = infinity)."""
    if p2 is None:
        return p1
    x1, y1, z1 = p1
    if z1 == 0:
        return (p2[0], p2[1], 1)
    p = c.p
    z1z1 = z1 * z1 % p
    u2 = p2[0] * z1z1 % p
    s2 = p2[1] * z1 * z1z1 % p
    h = (u2 - x1) % p
    r = (s2 - y1) % p
    if h == 0:
        return _double(c, p1) if r == 0 else _INF
    hh = h * h % p
    hhh = h * hh % p
    v = x1 * hh % p
    x3 = (r * r - hhh - 2 * v) % p
    y3 = (r * (v - x3) - y1 * hhh) % p
    return (x3, y3, h * z1 % p)


def _to_affine(c: Curve, pt: _Jac) -> Point | None:
    x, y, z = pt
    if z == 0:
        return None
    zi = pow(z, -1, c.p)
    zi2 = zi * zi % c.p
    return (x * zi2 % c.p, y * zi2 * zi % c.p)


def _digits(k: int, count: int, width: int = _W) -> list[int]:
    mask = (1 << width) - 1
    return [(k >> (width * i)) & mask for i in range(count)]


#: window width of the fixed-base comb: 8 bits halves the additions of a signature against 4
#: bits, for a table of 255 points per window (about 2 MiB for a 512-bit curve), built once
_COMB_W = 8
_COMBS: dict[Curve, list[list[Point | None]]] = {}


def _batch_affine(c: Curve, points: list[_Jac]) -> list[Point | None]:
    """Jacobian points to affine with one inversion (Montgomery's trick)."""
    p = c.p
    prefix = [1]
    for _, _, z in points:
        prefix.append(prefix[-1] * (z or 1) % p)
    inv = pow(prefix[-1], -1, p)
    out: list[Point | None] = [None] * len(points)
    for i in range(len(points) - 1, -1, -1):
        x, y, z = points[i]
        if z == 0:
            continue
        zi = inv * prefix[i] % p
        inv = inv * z % p
        zi2 = zi * zi % p
        out[i] = (x * zi2 % p, y * zi2 * zi % p)
    return out


def _comb(c: Curve) -> list[list[Point | None]]:
    """table[i][j] = j * 2^(8i) * G, affine, for every 8-bit window i of a scalar below q."""
    table = _COMBS.get(c)
    if table is None:
        table = []
        base: Point | None = (c.x, c.y)
        for _ in range((c.q.bit_length() + _COMB_W - 1) // _COMB_W):
            assert base is not None
            jacobian: list[_Jac] = []
            acc = _INF
            for _ in range((1 << _COMB_W) - 1):
                acc = _add_affine(c, acc, base)
                jacobian.append(acc)
            row: list[Point | None] = [None, *_batch_affine(c, jacobian)]
            table.append(row)
            nxt: _Jac = (base[0], base[1], 1)
            for _ in range(_COMB_W):
                nxt = _double(c, nxt)
            base = _to_affine(c, nxt)
        _COMBS[c] = table
    return table


def _mul_base(c: Curve, k: int) -> _Jac:
    """k*G with the comb table: one mixed addition per window, no doublings."""
    table = _comb(c)
    acc = _INF
    for row, digit in zip(table, _digits(k, len(table), _COMB_W)):
        acc = _add_affine(c, acc, row[digit])
    return acc


def _mul(c: Curve, k: int, pt: Point) -> _Jac:
    """k*P, fixed 4-bit window, most significant window first."""
    jp: _Jac = (pt[0], pt[1], 1)
    table: list[_Jac] = [_INF, jp]
    for _ in range((1 << _W) - 2):
        table.append(_add(c, table[-1], jp))
    count = max(1, (k.bit_length() + _W - 1) // _W)
    acc = _INF
    for digit in reversed(_digits(k, count)):
        for _ in range(_W):
            acc = _double(c, acc)
        acc = _add(c, acc, table[digit])
    return acc


# --- the C path ---------------------------------------------------------------------------

#: the extension's object per curve (its comb table is built once); None: the extension refused
#: the curve's numbers (a hand-made test curve), which then runs on the pure path
_ENGINES: dict[Curve, accel.EcCurve | None] = {}


def _engine(c: Curve) -> accel.EcCurve | None:
    """The C implementation of ``c`` if the extension is in use, else None."""
    module = accel.ecspeed()
    if module is None:
        return None
    if c not in _ENGINES:
        try:
            engine: accel.EcCurve | None = module.Curve(c.p, c.a, c.b, c.q, c.x, c.y)
        except ValueError:
            engine = None
        _ENGINES.setdefault(c, engine)
    return _ENGINES[c]


def _base(c: Curve, k: int) -> Point | None:
    """k*G for 0 <= k < q, affine."""
    engine = _engine(c)
    if engine is not None:
        return engine.mul_base(k)
    return _to_affine(c, _mul_base(c, k))


def on_curve(c: Curve, pt: Point) -> bool:
    x, y = pt
    return 0 <= x < c.p and 0 <= y < c.p and (y * y - x * x * x - c.a * x - c.b) % c.p == 0


def multiply(c: Curve, k: int, pt: Point | None = None) -> Point | None:
    """k*P (P = the base point when None); None is the point at infinity."""
    if pt is None:
        return _base(c, k % c.q)
    engine = _engine(c)
    if engine is not None and 0 <= k and k.bit_length() <= 512 and on_curve(c, pt):
        return engine.mul(k, *pt)
    return _to_affine(c, _mul(c, k, pt))


def public_key(c: Curve, d: int) -> Point:
    if not 0 < d < c.q:
        raise SignatureError("private key out of range")
    q = _base(c, d)
    assert q is not None
    return q


def sign_int(c: Curve, d: int, e: int, k: int | None = None) -> tuple[int, int]:
    """GOST R 34.10 signature (r, s) of the digest integer e; k random unless given (tests)."""
    if not 0 < d < c.q:
        raise SignatureError("private key out of range")
    e %= c.q
    if e == 0:
        e = 1
    while True:
        kk = k if k is not None else 1 + secrets.randbelow(c.q - 1)
        if not 0 < kk < c.q:
            raise SignatureError("k out of range")
        pt = _base(c, kk)
        r = pt[0] % c.q if pt is not None else 0
        s = (r * d + kk * e) % c.q
        if r != 0 and s != 0:
            return r, s
        if k is not None:
            raise SignatureError("the given k yields r = 0 or s = 0")


def verify_int(c: Curve, q_pt: Point, e: int, r: int, s: int) -> bool:
    if not (0 < r < c.q and 0 < s < c.q) or not on_curve(c, q_pt):
        return False
    e %= c.q
    if e == 0:
        e = 1
    v = pow(e, -1, c.q)
    z1 = s * v % c.q
    z2 = (c.q - r) * v % c.q
    engine = _engine(c)
    if engine is not None:
        if c.cofactor != 1 and engine.mul(c.q, *q_pt) is not None:
            return False  # Q outside the prime-order subgroup
        pt = engine.mul2(z1, z2, *q_pt)
        return pt is not None and pt[0] % c.q == r
    if c.cofactor != 1 and _to_affine(c, _mul(c, c.q, q_pt)) is not None:
        return False
    pt = _to_affine(c, _add(c, _mul_base(c, z1), _mul(c, z2, q_pt)))
    return pt is not None and pt[0] % c.q == r


# --- byte conventions -------------------------------------------------------------------

def digest_to_int(digest: bytes) -> int:
    """Both conventions read the digest as a little-endian integer."""
    return int.from_bytes(digest, "little")


def encode_public_key(c: Curve, pt: Point) -> bytes:
    """x_LE || y_LE (RFC 4491 / 9215 and NCA alike)."""
    return pt[0].to_bytes(c.size, "little") + pt[1].to_bytes(c.size, "little")


def decode_public_key(c: Curve, data: bytes) -> Point:
    if len(data) != 2 * c.size:
        raise SignatureError("public key has the wrong length")
    pt = (int.from_bytes(data[:c.size], "little"), int.from_bytes(data[c.size:], "little"))
    if not on_curve(c, pt):
        raise SignatureError("public key is not on the curve")
    return pt


def sign_rfc(c: Curve, d: int, digest: bytes, *, k: int | None = None) -> bytes:
    """RFC order: s || r, each big-endian."""
    r, s = sign_int(c, d, digest_to_int(digest), k)
    return s.to_bytes(c.size, "big") + r.to_bytes(c.size, "big")


def _verify_bytes(c: Curve, public: bytes, digest: bytes, signature: bytes, rs: tuple[int, int]) -> bool:
    if len(signature) != 2 * c.size:
        return False
    try:
        q_pt = decode_public_key(c, public)
    except SignatureError:
        return False
    return verify_int(c, q_pt, digest_to_int(digest), *rs)


def verify_rfc(c: Curve, public: bytes, digest: bytes, signature: bytes) -> bool:
    """RFC order: the signature is s || r, each big-endian."""
    n = c.size
    rs = (int.from_bytes(signature[n:], "big"), int.from_bytes(signature[:n], "big"))
    return _verify_bytes(c, public, digest, signature, rs)


def sign_nca(c: Curve, d: int, digest: bytes, *, k: int | None = None) -> bytes:
    """NCA order: r_LE || s_LE."""
    r, s = sign_int(c, d, digest_to_int(digest), k)
    return r.to_bytes(c.size, "little") + s.to_bytes(c.size, "little")


def verify_nca(c: Curve, public: bytes, digest: bytes, signature: bytes) -> bool:
    """NCA order: the signature is r_LE || s_LE."""
    n = c.size
    rs = (int.from_bytes(signature[:n], "little"), int.from_bytes(signature[n:], "little"))
    return _verify_bytes(c, public, digest, signature, rs)


def sign(c: Curve, d: int, e_bytes: bytes, *, k: int | None = None) -> tuple[int, int]:
    """(r, s) over the digest bytes read little-endian (both conventions' reading)."""
    return sign_int(c, d, digest_to_int(e_bytes), k)
