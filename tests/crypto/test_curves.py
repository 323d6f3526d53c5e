"""Every curve in the table: G on it, q prime, q*G = infinity, #E plausible, sizes, OIDs."""

from __future__ import annotations

from math import isqrt

import pytest

from tanba.crypto import curves
from tanba.crypto.gost3410 import multiply, on_curve

_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53)


def is_probable_prime(n: int) -> bool:
    if n < 2:
        return False
    for b in _BASES:
        if n % b == 0:
            return n == b
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for b in _BASES:
        x = pow(b, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def test_miller_rabin_rejects_composites() -> None:
    assert not is_probable_prime(3215031751)  # strong pseudoprime to bases 2, 3, 5, 7
    assert not is_probable_prime(curves.CRYPTOPRO_A.q + 2)
    assert is_probable_prime(2**127 - 1)


@pytest.mark.parametrize("curve", curves.CURVES, ids=lambda c: c.name)
def test_curve_is_sound(curve: curves.Curve) -> None:
    assert is_probable_prime(curve.p) and is_probable_prime(curve.q)
    assert on_curve(curve, (curve.x, curve.y))
    assert multiply(curve, curve.q, (curve.x, curve.y)) is None
    assert multiply(curve, curve.q - 1, (curve.x, curve.y)) == (curve.x, (-curve.y) % curve.p)
    assert abs(curve.cofactor * curve.q - (curve.p + 1)) <= 2 * isqrt(curve.p) + 2  # Hasse
    assert (4 * curve.a**3 + 27 * curve.b**2) % curve.p != 0
    assert curve.size == (32 if curve.p.bit_length() <= 256 else 64)


def test_oids_map_to_the_right_curves() -> None:
    want = {
        "1.2.643.7.1.2.1.1.1": curves.TC26_256_A, "1.2.643.7.1.2.1.1.2": curves.CRYPTOPRO_A,
        "1.2.643.7.1.2.1.1.3": curves.CRYPTOPRO_B, "1.2.643.7.1.2.1.1.4": curves.CRYPTOPRO_C,
        "1.2.643.7.1.2.1.2.1": curves.TC26_512_A, "1.2.643.7.1.2.1.2.2": curves.TC26_512_B,
        "1.2.643.7.1.2.1.2.3": curves.TC26_512_C, "1.2.643.2.2.35.1": curves.CRYPTOPRO_A,
        "1.2.643.2.2.35.2": curves.CRYPTOPRO_B, "1.2.643.2.2.35.3": curves.CRYPTOPRO_C,
        "1.2.643.2.2.36.0": curves.CRYPTOPRO_A, "1.2.643.2.2.36.1": curves.CRYPTOPRO_C,
        "1.2.398.3.10.1.1.1.1.1": curves.CRYPTOPRO_A, "1.2.398.3.10.1.1.2.2.1": curves.TC26_512_A,
        "1.2.643.2.2.35.0": curves.TEST_256,
    }
    for oid, curve in want.items():
        assert curves.by_oid(oid) is curve, oid
    assert len(curves.BY_OID) == sum(len(c.oids) for c in curves.CURVES)
