"""The optional curve extension (crypto/_ecspeed.c) against the pure-Python reference in gost3410.

The pure functions (``_mul_base``, ``_mul``, ``_add``) are called directly as the reference;
``sign_int``/``verify_int`` run once with ``accel.use_pure(True)`` and once with the C path.
Under CI the extension must have been built (a missing compiler there is a failure, not a skip).
"""

from __future__ import annotations

import os
import random
import secrets
import threading
from collections.abc import Iterator

import pytest

from tanba.crypto import accel, curves, gost3410 as g

from .test_gost3410 import VECTORS


def test_the_extension_is_built_under_ci() -> None:
    if os.environ.get("CI"):
        assert accel.ec_available(), "tanba.crypto._ecspeed did not import: was it built (pip install -e .)?"
    elif not accel.ec_available():
        pytest.skip("the curve extension is not built here")


@pytest.fixture
def ec() -> Iterator[accel.EcSpeed]:
    """The extension, with the C path switched on for the test; the session's choice is put back."""
    if not accel.ec_available():
        pytest.skip("the curve extension is not built here")
    previous = accel.use_pure(False)
    module = accel.ecspeed()
    assert module is not None
    yield module
    accel.use_pure(previous)


def engine(c: curves.Curve) -> accel.EcCurve:
    found = g._engine(c)
    assert found is not None, c.name
    return found


def pure_base(c: curves.Curve, k: int) -> g.Point | None:
    return g._to_affine(c, g._mul_base(c, k))


def scalars(c: curves.Curve, rng: random.Random) -> list[int]:
    """Edges, short scalars (leading zero bytes), digits at their maximum, and random ones."""
    size = c.q.bit_length()
    return [1, 2, 3, 63, 64, 65, 255, 256, c.q - 1, c.q - 2, (c.q - 1) // 2, (c.q + 1) // 2,
            rng.getrandbits(8), rng.getrandbits(64), rng.getrandbits(size - 17),
            rng.getrandbits(size - 64), (1 << (size - 1)) - 1, 1 << (size - 2),
            *(1 + rng.randrange(c.q - 1) for _ in range(12))]


@pytest.mark.parametrize("c", curves.CURVES, ids=lambda c: c.name)
def test_mul_base_matches_pure(ec: accel.EcSpeed, c: curves.Curve) -> None:
    rng = random.Random(c.name)
    e = engine(c)
    for k in scalars(c, rng):
        assert e.mul_base(k) == pure_base(c, k), hex(k)
    assert e.mul_base(0) is None


@pytest.mark.parametrize("c", curves.CURVES, ids=lambda c: c.name)
def test_mul2_and_mul_match_pure(ec: accel.EcSpeed, c: curves.Curve) -> None:
    rng = random.Random("mul2 " + c.name)
    e = engine(c)
    q_pt = pure_base(c, 1 + rng.randrange(c.q - 1))
    assert q_pt is not None
    pairs = [(1, 1), (0, 1), (1, 0), (c.q - 1, 1), (1, c.q - 1), (c.q - 1, c.q - 1)]
    pairs += [(rng.choice(scalars(c, rng)), rng.choice(scalars(c, rng))) for _ in range(10)]
    for u1, u2 in pairs:
        want = g._to_affine(c, g._add(c, g._mul_base(c, u1), g._mul(c, u2, q_pt)))
        assert e.mul2(u1, u2, *q_pt) == want, (hex(u1), hex(u2))
        assert e.mul(u2, *q_pt) == g._to_affine(c, g._mul(c, u2, q_pt))
    # G + (-G) and G + G through the variable-time additions
    neg = (c.x, c.p - c.y)
    assert e.mul2(1, 1, *neg) is None
    assert e.mul2(1, 1, c.x, c.y) == pure_base(c, 2)
    assert e.mul(c.q, *q_pt) is None
    assert e.mul(c.q + 1, *q_pt) == q_pt


@pytest.mark.parametrize("c", curves.CURVES, ids=lambda c: c.name)
def test_sign_and_verify_identical_on_both_paths(ec: accel.EcSpeed, c: curves.Curve) -> None:
    rng = random.Random("sign " + c.name)
    d, k, e = 1 + rng.randrange(c.q - 1), 1 + rng.randrange(c.q - 1), rng.getrandbits(8 * c.size)
    digest = e.to_bytes(c.size, "little")
    results = []
    for pure in (True, False):
        accel.use_pure(pure)
        q_pt = g.public_key(c, d)
        signature = g.sign_rfc(c, d, digest, k=k)
        results.append((q_pt, g.sign_int(c, d, e, k), signature, g.sign_nca(c, d, digest, k=k)))
        pub = g.encode_public_key(c, q_pt)
        assert g.verify_rfc(c, pub, digest, signature)
        assert not g.verify_rfc(c, pub, bytes([digest[0] ^ 1]) + digest[1:], signature)
    assert results[0] == results[1]


@pytest.mark.parametrize("v", VECTORS, ids=["A.1-256", "A.2-512"])
def test_rfc_7091_vectors_through_the_c_path(ec: accel.EcSpeed, v: dict) -> None:  # type: ignore[type-arg]
    c = v["curve"]
    e = engine(c)
    q_pt = (v["qx"], v["qy"])
    assert e.mul_base(v["d"]) == q_pt
    r_pt = e.mul_base(v["k"])
    assert r_pt is not None and r_pt[0] % c.q == v["r"]
    assert g.public_key(c, v["d"]) == q_pt
    assert g.sign_int(c, v["d"], v["e"], v["k"]) == (v["r"], v["s"])
    assert g.verify_int(c, q_pt, v["e"], v["r"], v["s"])
    assert not g.verify_int(c, q_pt, v["e"] + 1, v["r"], v["s"])
    assert not g.verify_int(c, q_pt, v["e"], v["r"], v["s"] ^ 1)


def test_points_outside_the_subgroup_are_refused_on_both_paths(ec: accel.EcSpeed) -> None:
    c = curves.TC26_256_A  # cofactor 4: find a point of order 4q, as an attacker's public key
    rng = random.Random(4)
    while True:
        x = rng.randrange(c.p)
        rhs = (x * x * x + c.a * x + c.b) % c.p
        y = pow(rhs, (c.p + 1) // 4, c.p)  # p = 3 mod 4
        if y * y % c.p == rhs and g._to_affine(c, g._mul(c, c.q, (x, y))) is not None:
            break
    assert engine(c).mul(c.q, x, y) == g._to_affine(c, g._mul(c, c.q, (x, y)))
    d, e, k = 12345, 678, 9
    r, s = g.sign_int(c, d, e, k)
    for pure in (True, False):
        accel.use_pure(pure)
        assert not g.verify_int(c, (x, y), e, r, s)


def test_invalid_arguments_raise_value_error(ec: accel.EcSpeed) -> None:
    c = curves.CRYPTOPRO_A
    e = engine(c)
    for k in (-1, c.q, c.q + 1, 1 << 600, -(1 << 600)):
        with pytest.raises(ValueError):
            e.mul_base(k)
    with pytest.raises(TypeError):
        e.mul_base(1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        e.mul_base(b"\x01")  # type: ignore[arg-type]
    for bad in ((1 << 512, c.x, c.y), (-1, c.x, c.y), (1, c.x, c.y ^ 1), (1, c.p, c.y), (1, c.x, -c.y)):
        with pytest.raises(ValueError):
            e.mul(*bad)
    for u1, u2, x, y in ((c.q, 1, c.x, c.y), (1, -1, c.x, c.y), (1, 1, c.x + 1, c.y)):
        with pytest.raises(ValueError):
            e.mul2(u1, u2, x, y)
    with pytest.raises(TypeError):
        e.mul(1, c.x)  # type: ignore[call-arg]
    good = (c.p, c.a, c.b, c.q, c.x, c.y)
    for index, value in ((0, c.p + 1), (0, 1 << 520), (0, 3), (0, -c.p), (1, c.p), (2, c.p + c.b),
                         (3, 5), (3, c.q + 1), (3, c.q + 2), (3, 1 << 512), (5, c.y + 1)):
        args = list(good)
        args[index] = value
        with pytest.raises(ValueError):
            ec.Curve(*args)


def test_a_curve_the_extension_refuses_runs_pure(ec: accel.EcSpeed) -> None:
    tiny = curves.Curve("tiny", (), 23, 1, 1, 7, 3, 10, 4, 1)  # #E = 28, G = (3, 10) of order 7
    assert g._engine(tiny) is None
    assert g.multiply(tiny, 3) == pure_base(tiny, 3)


def test_use_pure_switches_the_curve_path(ec: accel.EcSpeed) -> None:
    accel.use_pure(True)
    assert accel.ecspeed() is None and g._engine(curves.CRYPTOPRO_A) is None
    accel.use_pure(False)
    assert accel.ecspeed() is ec and g._engine(curves.CRYPTOPRO_A) is not None


def test_threads_share_one_curve(ec: accel.EcSpeed) -> None:
    c = curves.TC26_512_A
    e = engine(c)
    ks = [secrets.randbelow(c.q) for _ in range(8)]
    want = [pure_base(c, k) for k in ks]
    got: dict[int, list[g.Point | None]] = {}

    def work(i: int) -> None:
        got[i] = [e.mul_base(k) for k in ks for _ in range(5)][::5]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(v == want for v in got.values()) and len(got) == 4
