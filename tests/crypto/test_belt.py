"""belt (STB 34.101.31): the block cipher and belt-hash against the standard's examples.

The examples of appendix A of STB 34.101.31 (2018 edition) take their inputs from the table H
itself: a block X = H[0..15], a key θ = H[128..159], and so on.  The numbers below are as the
standard prints them, read from bee2's test/crypto/belt_test.c (agievich/bee2), which numbers
its tests by the appendix's tables.  Hex reads as byte strings, first byte first.
"""

from __future__ import annotations

import random

import pytest

from tanba.crypto.belt import H, BeltHash, belt_hash, compress, decrypt_block, encrypt_block, g


def unhex(text: str) -> bytes:
    return bytes.fromhex(text)


# ---------------------------------------------------------------------------------------------
# The table H


def test_h_starts_as_the_standard_prints_it() -> None:
    # STB 34.101.31's table H (also belt-hash's initial value, section 6.9): H[0..15]; the key of
    # examples A.1 begins with H[128..131] = E9DEE72C.
    assert H[:16] == unhex("B194BAC80A08F53B366D008E584A5DE4")
    assert H[128:132] == unhex("E9DEE72C")
    assert sorted(H) == list(range(256))


def test_h_follows_its_generating_rule() -> None:
    # The rule stated in bee2 test/crypto/belt_test.c (beltGenH): H[10] = 0, H[11] = 0x8E, and
    # each next entry is the previous one after 116 steps of an 8-bit linear feedback shift
    # register moving towards the low bit with feedback taps 0x63 (characteristic polynomial
    # 0x163).  Written here independently of the module, as a cross-check of its table.
    def shift(state: int) -> int:
        feedback = bin(state & 0x63).count("1") & 1
        return state >> 1 | feedback << 7

    table = [0] * 256
    value = 0x8E
    table[11] = value
    for index in range(12, 11 + 255):
        for _ in range(116):
            value = shift(value)
        table[index % 256] = value
    assert bytes(table) == H


def test_g_is_substitution_then_rotation() -> None:
    rng = random.Random(31)
    for _ in range(500):
        u = rng.getrandbits(32)
        substituted = int.from_bytes(bytes(H[b] for b in u.to_bytes(4, "little")), "little")
        for r in (5, 13, 21):
            expected = (substituted << r | substituted >> (32 - r)) & 0xFFFFFFFF
            assert g(r, u) == expected


# ---------------------------------------------------------------------------------------------
# belt-block

# STB 34.101.31 table A.1 (bee2 belt_test.c "тест A.1"): encryption of X = H[0..15] under
# θ = H[128..159].
A1_KEY = unhex("E9DEE72C8F0C0FA62DDB49F46F73964706075316ED247A3739CBA38303A98BF6")
A1_X = unhex("B194BAC80A08F53B366D008E584A5DE4")
A1_Y = unhex("69CCA1C93557C9E3D66BC3E0FA88FA6E")

# STB 34.101.31 table A.4 (bee2 belt_test.c "тест A.4"): decryption of Y = H[64..79] under
# θ = H[160..191].
A4_KEY = unhex("92BD9B1CE5D141015445FBC95E4D0EF2682080AA227D642F2687F93490405511")
A4_Y = unhex("E12BDC1AE28257EC703FCCF095EE8DF1")
A4_X = unhex("0DC5300600CAB840B38448E5E993F421")


def test_vector_inputs_are_the_h_slices_the_standard_names() -> None:
    assert (A1_KEY, A1_X) == (H[128:160], H[:16])
    assert (A4_KEY, A4_Y) == (H[160:192], H[64:80])


def test_a1_encryption() -> None:
    assert encrypt_block(A1_KEY, A1_X) == A1_Y
    assert decrypt_block(A1_KEY, A1_Y) == A1_X


def test_a4_decryption() -> None:
    assert decrypt_block(A4_KEY, A4_Y) == A4_X
    assert encrypt_block(A4_KEY, A4_X) == A4_Y


# bee2 belt_test.c, "Zerosum" (after the problem at apmi.bsu.by/resources/tasks#60): 128 blocks
# X_i = <n_i>_128 with X_0 ^ ... ^ X_127 ^ belt(X_0) ^ ... ^ belt(X_127) = 0 under the zero key.
ZEROSUM = (
    15014, 124106, 166335, 206478, 313245, 366839, 455597, 502723, 535141, 625112,
    659461, 752253, 801048, 897899, 943850, 1041695, 1101266, 1170856, 1217537,
    1248520, 1366084, 1421171, 1448429, 1514215, 1573855, 1701341, 1738016, 1781705,
    1837300, 1948449, 1999650, 2089289, 2117830, 2175758, 2249930, 2358928, 2404262,
    2447467, 2552783, 2556713, 2678348, 2705770, 2808011, 2827994, 2948039, 2995213,
    3029188, 3096649, 3170243, 3230306, 3285991, 3350691, 3457162, 3500592, 3539783,
    3636611, 3735543, 3752463, 3814136, 3875630, 3935109, 4002291, 4088401, 4129247,
    4257830, 4266427, 4352389, 4397389, 4470348, 4531932, 4598961, 4691323, 4747531,
    4839756, 4900773, 4958368, 5021928, 5099836, 5164752, 5214964, 5269476, 5356247,
    5391667, 5496861, 5561223, 5601750, 5700311, 5761736, 5812345, 5856838, 5956987,
    5966502, 6059392, 6104328, 6193021, 6233226, 6311341, 6369016, 6475468, 6540894,
    6598453, 6666092, 6711620, 6804478, 6834201, 6932158, 6971325, 7059579, 7089192,
    7188715, 7245095, 7325355, 7367748, 7426778, 7475903, 7599231, 7643174, 7722266,
    7747291, 7832837, 7887591, 7942192, 8043937, 8108261, 8169299, 8233361, 8305861,
    8367181,
)


def test_zerosum() -> None:
    assert len(ZEROSUM) == 128
    total = 0
    for n in ZEROSUM:
        x = n.to_bytes(16, "little")
        total ^= int.from_bytes(x, "little") ^ int.from_bytes(encrypt_block(bytes(32), x), "little")
    assert total == 0


def test_decrypt_inverts_encrypt_for_random_keys() -> None:
    rng = random.Random(3410131)
    for _ in range(200):
        key, block = rng.randbytes(32), rng.randbytes(16)
        ciphertext = encrypt_block(key, block)
        assert decrypt_block(key, ciphertext) == block
        assert encrypt_block(key, decrypt_block(key, block)) == block


def test_one_byte_change_changes_the_ciphertext() -> None:
    rng = random.Random(16)
    key, block = rng.randbytes(32), rng.randbytes(16)
    reference = encrypt_block(key, block)
    for i in range(16):
        changed = bytearray(block)
        changed[i] ^= 1 << rng.randrange(8)
        assert encrypt_block(key, changed) != reference
    for i in range(32):
        changed = bytearray(key)
        changed[i] ^= 1 << rng.randrange(8)
        assert encrypt_block(changed, block) != reference


def test_block_functions_take_buffers_and_check_sizes() -> None:
    assert encrypt_block(bytearray(A1_KEY), memoryview(A1_X)) == A1_Y
    with pytest.raises(ValueError):
        encrypt_block(A1_KEY[:31], A1_X)
    with pytest.raises(ValueError):
        encrypt_block(A1_KEY, A1_X + b"\x00")
    with pytest.raises(ValueError):
        decrypt_block(A1_KEY, A1_Y[:15])


# ---------------------------------------------------------------------------------------------
# belt-compress and belt-hash


def test_a8_compress() -> None:
    # STB 34.101.31 table A.8 (bee2 belt_test.c "тест A.8"): belt-compress of X = H[0..63],
    # S = sigma1(X) and Y = sigma2(X).
    s, y = compress(H[:64])
    assert s == unhex("46FE7425C9B181EB41DFEE3E72163D5A")
    assert y == unhex("ED2F5481D593F40D87FCE37D6BC1A2E1B7D1A2CC975C82D3C0497488C90D99D8")


# STB 34.101.31 table A.23 (bee2 belt_test.c "тест A.23-1/2/3"): belt-hash of X = H[0..n-1].
A23 = [
    (13, "ABEF9725D4C5A83597A367D14494CC2542F20F659DDFECC961A3EC550CBA8C75"),
    (32, "749E4C3653AECE5E48DB4761227742EB6DBE13F4A80F7BEFF1A9CF8D10EE7786"),
    (48, "9D02EE446FB6A29FE5C982D4B13AF9D3E90861BC4CEF27CF306BFB0B174A154A"),
]


@pytest.mark.parametrize(("length", "digest"), A23, ids=[f"A.23-{i}" for i in (1, 2, 3)])
def test_a23_belt_hash(length: int, digest: str) -> None:
    message = H[:length]
    assert BeltHash(message).digest() == unhex(digest)
    assert BeltHash(message).hexdigest() == digest.lower()
    assert belt_hash(message) == unhex(digest)


def test_a23_1_message_is_the_13_bytes_the_standard_prints() -> None:
    assert H[:13] == unhex("B194BAC80A08F53B366D008E58")


def test_hashlib_attributes() -> None:
    h = BeltHash()
    assert (h.name, h.digest_size, h.block_size) == ("belt-hash", 32, 32)
    assert len(h.digest()) == 32
    assert h.digest() == belt_hash(b"") == BeltHash(b"").digest()


@pytest.mark.parametrize(("length", "digest"), A23, ids=[f"A.23-{i}" for i in (1, 2, 3)])
def test_incremental_equals_one_shot_at_every_split(length: int, digest: str) -> None:
    message = H[:length]
    for split in range(length + 1):
        h = BeltHash(message[:split])
        h.update(message[split:])
        assert h.digest() == unhex(digest), split


def test_incremental_updates_at_many_split_points() -> None:
    rng = random.Random(6)
    for size in (0, 1, 31, 32, 33, 63, 64, 65, 100, 257):
        message = rng.randbytes(size)
        expected = belt_hash(message)
        one_by_one = BeltHash()
        for i in range(size):
            one_by_one.update(message[i:i + 1])
        assert one_by_one.digest() == expected
        for _ in range(20):
            cuts = sorted(rng.randrange(size + 1) for _ in range(rng.randrange(1, 5)))
            h = BeltHash()
            previous = 0
            for cut in [*cuts, size]:
                h.update(memoryview(message)[previous:cut])
                previous = cut
            assert h.digest() == expected, (size, cuts)


def test_digest_does_not_finalise() -> None:
    message = H[:48]
    h = BeltHash(message[:20])
    first = h.digest()
    assert h.digest() == first == belt_hash(message[:20])
    h.update(message[20:])
    assert h.digest() == h.digest() == unhex(A23[2][1])


def test_copy_is_independent() -> None:
    h = BeltHash(H[:11])
    c = h.copy()
    c.update(H[11:48])
    assert c.digest() == unhex(A23[2][1])
    assert h.digest() == belt_hash(H[:11])
    h.update(H[11:32])
    assert h.digest() == unhex(A23[1][1])
    assert c.digest() == unhex(A23[2][1])


def test_lengths_are_hashed() -> None:
    # zero padding alone would make these collide; the 128-bit length counter separates them
    digests = {belt_hash(bytes(n)) for n in range(0, 70)}
    assert len(digests) == 70


def test_one_byte_change_changes_the_digest() -> None:
    rng = random.Random(9)
    message = rng.randbytes(80)
    reference = belt_hash(message)
    for i in range(len(message)):
        changed = bytearray(message)
        changed[i] ^= 1 << rng.randrange(8)
        assert belt_hash(changed) != reference, i
    assert belt_hash(message + b"\x00") != reference
    assert belt_hash(message[:-1]) != reference


def test_compress_checks_its_size() -> None:
    with pytest.raises(ValueError):
        compress(H[:63])
