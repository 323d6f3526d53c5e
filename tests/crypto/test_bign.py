"""STB 34.101.45 (bign): the curves, keys and signatures of tanba.crypto.bign.

Sources of the numbers (facts, no code):
- curves: STB 34.101.45 appendix Б, tables Б.1-Б.3, as bee2 carries them in
  src/crypto/bign/bign_params.c (github.com/agievich/bee2);
- examples: STB 34.101.45 appendix Г as bee2's test/crypto/bign_test.c checks them (Г.1 keys,
  Г.2 / Г.3 signatures, Г.6 / Г.7 deterministic k), and the "Test vectors for Bign algorithms"
  and belt-wblock sections of the Belt/Bign/Bake Internet-Draft by S. Agievich and N. Kalosha
  (draft-belt-bign-bake), which lists H, k, R and the genk key theta for the same examples.
  Messages are prefixes / slices of the belt S-box H ("BeltH(u, n)" = H[u:u+n]).
"""

from __future__ import annotations

import secrets

import pytest

from tanba.crypto import bign
from tanba.crypto import gost3410
from tanba.crypto.belt import H as BELT_H
from tanba.crypto.belt import belt_hash
from tanba.crypto.curves import Curve


def le(hexstr: str) -> int:
    return int.from_bytes(bytes.fromhex(hexstr), "little")


C = bign.CURVE256V1
# Г.1 (bign_test.c "тест Г.1"; draft "Settings")
D = le("1F66B5B84B7339674533F0329C74F218" "34281FED0732429E0C79235FC273E269")
Q_BYTES = bytes.fromhex("BD1A5650179D79E03FCEE49D4C2BD5DD" "F54CE46D0CF11E4FF87BF7A890857FD0"
                        "7AC6A60361E8C8173491686D461B2826" "190C2EDA5909054A9AB84D2AB9D99A90")
# Г.2: X = BeltH(0, 13)
H2 = bytes.fromhex("ABEF9725D4C5A83597A367D14494CC25" "42F20F659DDFECC961A3EC550CBA8C75")
K2 = le("4C0E74B2CD5811AD21F23DE7E0FA742C" "3ED6EC483C461CE15C33A77AA308B7D2")  # draft bign-sign <k>
S2 = bytes.fromhex("E36B7F0377AE4C524027C387FADF1B20" "CE72F1530B71F2B5FD3A8C584FE2E1AE"
                   "D20082E30C8AF65011F4FB54649DFD3D")
# Г.3: X = BeltH(0, 48)
H3 = bytes.fromhex("9D02EE446FB6A29FE5C982D4B13AF9D3" "E90861BC4CEF27CF306BFB0B174A154A")
S3 = bytes.fromhex("47A63C8B9C936E94B5FAB3D9CBD78366" "290F3210E163EEC8DB4E921E8479D413"
                   "8F112CC23E6DCE65EC5FF21DF4231C28")
R3 = bytes.fromhex("1D5A382B962D4ED06193258CA6DE535D" "8FD7FACB853171E932EF93B5EE800120"
                   "03DBB7B5BD07036380BAFA47FCA7E6CA" "3F179EDDD1AE5086647909183628EDDC")  # draft bign-vfy <R>
# the k behind S3: the draft's bake examples use the same generator, and their u_A is the
# scalar of that R (V_A = R3); checked below as k*G = R3 before it is used
K3 = le("0A4E8298BE0839E46F19409F637F4415" "572251DD0D39284F0F0390D93BBCE9EC")
# Г.6 / Г.7 (bign_test.c; draft "Test vectors for bign-genk")
THETA6 = bytes.fromhex("D61E3A910550E3BCAD5BF4F526FB8DAA" "DEA9C132E0BAEE03169DF4DF9BD6C20C")
K6 = bytes.fromhex("829614D8411DBBC4E1F2471A40045864" "40FD8C9553FAB6A1A45CE417AE97111E")
T7 = BELT_H[192:215]
THETA7 = bytes.fromhex("AE44316332A85C3B9F6B31EEEADFF088" "D30FE507021AC86A3EC8E0874ED33648")
K7 = bytes.fromhex("7ADC8713283EBFA547A2AD9CDFB245AE" "0F7B968DF0F91CB785D1F932A3583107")


# --- the curves ---------------------------------------------------------------------------

def is_probable_prime(n: int, rounds: int = 40) -> bool:
    """Miller-Rabin with random bases (error below 4^-rounds for a composite)."""
    if n < 2:
        return False
    for small in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % small == 0:
            return n == small
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        x = pow(2 + secrets.randbelow(n - 3), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def test_miller_rabin_itself() -> None:
    assert is_probable_prime(2**127 - 1) and not is_probable_prime(2**128 + 1)
    assert not is_probable_prime(3215031751)  # strong pseudoprime to bases 2, 3, 5, 7


@pytest.mark.parametrize("c", bign.CURVES, ids=lambda c: c.name)
def test_curve_is_as_the_standard_requires(c: Curve) -> None:
    l = bign.level(c)
    assert l in (128, 192, 256) and c.size == l // 4
    assert 2 ** (2 * l - 1) < c.p < 2 ** (2 * l) and 2 ** (2 * l - 1) < c.q < 2 ** (2 * l)
    assert is_probable_prime(c.p) and is_probable_prime(c.q) and c.p != c.q
    assert c.p % 4 == 3 and c.a == c.p - 3 and 0 < c.b < c.p
    assert (4 * c.a**3 + 27 * c.b**2) % c.p != 0
    assert pow(c.b, (c.p - 1) // 2, c.p) == 1  # b is a square
    assert (c.x, c.y) == (0, pow(c.b, (c.p + 1) // 4, c.p))  # G = (0, b^((p+1)/4))
    assert gost3410.on_curve(c, (c.x, c.y))
    assert gost3410.multiply(c, c.q, (c.x, c.y)) is None  # q*G = O
    assert gost3410.multiply(c, c.q - 1) == (0, c.p - c.y)  # (q-1)*G = -G
    assert (c.q - (c.p + 1)) ** 2 <= 4 * c.p  # #E = q is within the Hasse bound
    assert all(pow(c.p, m, c.q) != 1 for m in range(1, 51))  # MOV condition, m <= 50


@pytest.mark.parametrize("c", bign.CURVES, ids=lambda c: c.name)
def test_b_is_generated_from_the_seed(c: Curve) -> None:
    seed = bign.SEEDS[c.name]
    seed1 = ((int.from_bytes(seed, "little") + 1) % 2**64).to_bytes(8, "little")
    prefix = c.p.to_bytes(c.size, "little") + c.a.to_bytes(c.size, "little")
    big_b = int.from_bytes(belt_hash(prefix + seed) + belt_hash(prefix + seed1), "little")
    assert big_b % c.p == c.b


def test_curves_by_oid() -> None:
    assert [bign.curve_by_oid(f"1.2.112.0.2.0.34.101.45.3.{i}") for i in (1, 2, 3)] == list(bign.CURVES)
    with pytest.raises(bign.SignatureError):
        bign.curve_by_oid("1.2.643.7.1.2.1.1.1")


def test_oid_der() -> None:
    # bign_test.c: the DER of belt-hash's OID is 11 octets; the draft spells it out
    assert bign.oid_to_der(bign.BELT_HASH) == bytes.fromhex("06092A7000020022651F51")
    assert bign.oid_to_der("1.2.840.113549") == bytes.fromhex("06062A864886F70D")
    with pytest.raises(bign.SignatureError):
        bign.oid_to_der("nonsense")


# --- keys ---------------------------------------------------------------------------------

def test_public_key_example_g1() -> None:
    q_pt = bign.public_key(C, D)
    assert bign.encode_public_key(C, q_pt) == Q_BYTES
    assert bign.decode_public_key(C, Q_BYTES) == q_pt
    assert bign.decode_private_key(C, bign.encode_private_key(C, D)) == D


def test_key_validation() -> None:
    bad = bytes([Q_BYTES[0] ^ 1]) + Q_BYTES[1:]
    with pytest.raises(bign.SignatureError):
        bign.decode_public_key(C, bad)
    with pytest.raises(bign.SignatureError):
        bign.decode_public_key(C, Q_BYTES[:-1])
    x_big = (C.p + 5).to_bytes(C.size, "little") + Q_BYTES[C.size:]
    with pytest.raises(bign.SignatureError):
        bign.decode_public_key(C, x_big)
    q_pt = bign.decode_public_key(C, Q_BYTES)
    assert not bign.validate_public_key(C, (q_pt[0] + C.p, q_pt[1]))  # same point mod p, out of range
    for d in (0, C.q, -1):
        with pytest.raises(bign.SignatureError):
            bign.encode_private_key(C, d)
        with pytest.raises(bign.SignatureError):
            bign.public_key(C, d)
    with pytest.raises(bign.SignatureError):
        bign.decode_private_key(C, C.q.to_bytes(C.size, "little"))


# --- belt-wblock, genk --------------------------------------------------------------------

def test_belt_wblock_vector() -> None:
    # draft "Test vectors for belt-wblock": X = BeltH(0, 48), K = BeltH(128, 32)
    assert bign.wblock_encrypt(BELT_H[:48], BELT_H[128:160]) == bytes.fromhex(
        "49A38EE108D6C742E52B774F00A6EF98" "B106CBD13EA4FB0680323051BC04DF76"
        "E487B055C69BCF541176169F1DC9F6C8")


def test_example_hashes() -> None:
    assert belt_hash(BELT_H[:13]) == H2 and belt_hash(BELT_H[:48]) == H3


def test_genk_key_theta() -> None:
    oid = bign.oid_to_der(bign.BELT_HASH)
    d_bytes = bign.encode_private_key(C, D)
    assert belt_hash(oid + d_bytes) == THETA6
    assert belt_hash(oid + d_bytes + T7) == THETA7


def test_genk_examples_g6_g7() -> None:
    assert bign.genk(C, D, H2).to_bytes(32, "little") == K6
    assert bign.genk(C, D, H3, t=T7).to_bytes(32, "little") == K7


def recovered_k(c: Curve, d: int, h: bytes, sig: bytes) -> int:
    """k = (S1 + H + (S0 + 2^l) d) mod q, the check bign_test.c makes on bignSign2's output."""
    half = c.size // 2
    s0, s1 = int.from_bytes(sig[:half], "little"), int.from_bytes(sig[half:], "little")
    return (s1 + int.from_bytes(h, "little") + (s0 + (1 << bign.level(c))) * d) % c.q


def test_deterministic_signatures_g6_g7() -> None:
    q_pt = bign.public_key(C, D)
    sig6 = bign.sign(C, D, H2)
    assert recovered_k(C, D, H2, sig6).to_bytes(32, "little") == K6
    assert bign.verify(C, q_pt, H2, sig6)
    assert bign.sign(C, D, H2) == sig6  # reproducible
    sig7 = bign.sign(C, D, H3, t=T7)
    assert recovered_k(C, D, H3, sig7).to_bytes(32, "little") == K7
    assert bign.verify(C, Q_BYTES, H3, sig7)
    assert bign.sign(C, D, H3) != sig7  # t enters k


# --- the examples with a given k ------------------------------------------------------------

def test_sign_example_g2() -> None:
    r = gost3410.multiply(C, K2)
    assert r is not None and bign.encode_public_key(C, r) == bytes.fromhex(
        "CCEEF1A313A406649D15DA0A851D486A" "695B641B20611776252FFDCE39C71060"
        "7C9EA1F33C23D20DFCB8485A88BE6523" "A28ECC3215B47FA289D6C9BE1CE837C0")  # draft <R>
    assert bign.sign(C, D, H2, k=K2) == S2
    assert bign.verify(C, Q_BYTES, H2, S2)


def test_verify_and_sign_example_g3() -> None:
    assert bign.verify(C, Q_BYTES, H3, S3)
    r = gost3410.multiply(C, K3)
    assert r is not None and bign.encode_public_key(C, r) == R3
    assert bign.sign(C, D, H3, k=K3) == S3


# --- failures ------------------------------------------------------------------------------

def flip(data: bytes, i: int, bit: int = 1) -> bytes:
    return data[:i] + bytes([data[i] ^ bit]) + data[i + 1:]


@pytest.mark.parametrize("i", [0, 15, 16, 47])
def test_tampered_signature_fails(i: int) -> None:
    assert not bign.verify(C, Q_BYTES, H2, flip(S2, i))


@pytest.mark.parametrize("i", [0, 31])
def test_tampered_hash_fails(i: int) -> None:
    assert not bign.verify(C, Q_BYTES, flip(H2, i), S2)


def test_tampered_or_other_key_fails() -> None:
    assert not bign.verify(C, flip(Q_BYTES, 0), H2, S2)  # off the curve
    other = bign.public_key(C, D + 1)
    assert not bign.verify(C, other, H2, S2)
    assert not bign.verify(C, (Q_BYTES[0], 5), H2, S2)


def test_malformed_inputs_fail() -> None:
    assert not bign.verify(C, Q_BYTES, H2, S2[:-1])
    assert not bign.verify(C, Q_BYTES, H2, S2 + b"\0")
    assert not bign.verify(C, Q_BYTES, H2[:-1], S2)
    assert not bign.verify(C, Q_BYTES[:-1], H2, S2)
    assert not bign.verify(C, Q_BYTES, H2, S2, hash_oid=bign.BASH256)  # another hash's OID
    for s1 in (C.q, 2**256 - 1):
        assert not bign.verify(C, Q_BYTES, H2, S2[:16] + s1.to_bytes(32, "little"))  # S1 >= q
    with pytest.raises(bign.SignatureError):
        bign.sign(C, D, H2[:31])
    with pytest.raises(bign.SignatureError):
        bign.sign(C, D, H2, k=C.q)
    with pytest.raises(bign.SignatureError):
        bign.sign(C, C.q, H2)


# --- round trips ----------------------------------------------------------------------------

@pytest.mark.parametrize("c", bign.CURVES, ids=lambda c: c.name)
def test_round_trips(c: Curve) -> None:
    d = bign.generate_private_key(c)
    pub = bign.encode_public_key(c, bign.public_key(c, d))
    assert bign.decode_public_key(c, pub) == bign.public_key(c, d)
    h = secrets.token_bytes(c.size)
    for oid in (bign.BELT_HASH, {48: bign.BASH384, 64: bign.BASH512}.get(c.size, bign.BASH256)):
        det = bign.sign(c, d, h, oid)
        assert len(det) == c.size * 3 // 2 and det == bign.sign(c, d, h, oid)
        rnd = bign.sign(c, d, h, oid, randomized=True)
        assert rnd != det
        for sig in (det, rnd):
            assert bign.verify(c, pub, h, sig, oid)
            assert not bign.verify(c, pub, flip(h, c.size - 1, 0x80), sig, oid)
            assert not bign.verify(c, pub, h, flip(sig, len(sig) - 1, 0x80), oid)
        assert not bign.verify(c, pub, h, det, bign.BELT_HASH if oid != bign.BELT_HASH else bign.BASH256)
    with pytest.raises(bign.SignatureError):
        bign.sign(c, d, h + b"\0")
