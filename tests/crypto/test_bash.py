"""bash (STB 34.101.77): bash-f and bash-hash against the standard's examples.

The examples of appendix A of STB 34.101.77 take their inputs from belt's table H (STB
34.101.31): bash-f runs on S = H[0..191] (A.2), and bash-hash hashes prefixes of H (A.3.1 ..
A.3.11).  The numbers below are as the standard prints them, read from bee2's
test/crypto/bash_test.c (agievich/bee2), which numbers its checks by the appendix.  Hex reads
as byte strings, first byte first.
"""

from __future__ import annotations

import hmac
import random

import pytest

from tanba.crypto import bign, hashes, kdf
from tanba.crypto.bash import LEVELS, OIDS, ROUND_CONSTANTS, BashHash, bash_f, bash_hash
from tanba.crypto.belt import H

M64 = (1 << 64) - 1


def unhex(text: str) -> bytes:
    return bytes.fromhex(text)


# ---------------------------------------------------------------------------------------------
# bash-f

A2 = unhex(
    "8FE727775EA7F140B95BB6A200CBB28C7F0809C0C0BC68B7DC5AEDC841BD94E4"
    "03630C301FC255DF5B67DB53EF65E376E8A4D797A6172F2271BA48093173D329"
    "C3502AC946767326A2891971392D3F7089959F5D61621238655975E00E2132A0"
    "D5018CEEDB17731CCD88FC50151D37C0D4A3359506AEDC2E6109511E7703AFBB"
    "014642348D8568AA1A5D9868C4C7E6DFA756B1690C7C2608A2DC136F5997AB8F"
    "BB3F4D9F033C87CA6070E117F099C4094972ACD9D976214B7CED8E3F8B6E058E"
)


def reference_bash_f(state: bytes) -> bytes:
    """bash-f written as the standard states it (loops, a permutation table), independently of
    the unrolled module code: words little-endian, RotHi towards the high end."""

    def rot_hi(x: int, r: int) -> int:
        return ((x << r) | (x >> (64 - r))) & M64

    def bash_s(w0: int, w1: int, w2: int, m1: int, n1: int, m2: int, n2: int) -> tuple[int, int, int]:
        t0 = rot_hi(w0, m1)
        w0 = w0 ^ w1 ^ w2
        t1 = w1 ^ rot_hi(w0, n1)
        w1 = t0 ^ t1
        w2 = w2 ^ rot_hi(w2, m2) ^ rot_hi(t1, n2)
        t0 = (~w2 & M64) | w1
        t1 = w0 | w2
        t2 = w0 & w1
        return w0 ^ t0, w1 ^ t1, w2 ^ t2

    p = [15, 10, 9, 12, 11, 14, 13, 8, 17, 16, 19, 18, 21, 20, 23, 22, 6, 3, 0, 5, 2, 7, 4, 1]
    s = [int.from_bytes(state[8 * i:8 * i + 8], "little") for i in range(24)]
    for i in range(24):
        m1, n1, m2, n2 = 8, 53, 14, 1
        for j in range(8):
            s[j], s[8 + j], s[16 + j] = bash_s(s[j], s[8 + j], s[16 + j], m1, n1, m2, n2)
            m1, n1, m2, n2 = 7 * m1 % 64, 7 * n1 % 64, 7 * m2 % 64, 7 * n2 % 64
        s = [s[p[x]] for x in range(24)]
        s[23] ^= ROUND_CONSTANTS[i]
    return b"".join(w.to_bytes(8, "little") for w in s)


def test_round_constants_follow_their_rule() -> None:
    # STB 34.101.77: C_1 = 0x3BF5080AC8BA94B1, C_{i+1} = ShLo(C_i) ^ (0xDC2BE1997FE0D8AE if C_i is odd)
    constants = [0x3BF5080AC8BA94B1]
    while len(constants) < 24:
        c = constants[-1]
        constants.append((c >> 1) ^ (0xDC2BE1997FE0D8AE if c & 1 else 0))
    assert tuple(constants) == ROUND_CONSTANTS
    assert ROUND_CONSTANTS[23] == 0xDE8082CD72DEBC78


def test_a2_bash_f() -> None:
    assert bash_f(H[:192]) == A2
    assert bash_f(bytearray(H[:192])) == A2
    assert bash_f(memoryview(H)[:192]) == A2


def test_a2_reference_form_agrees() -> None:
    assert reference_bash_f(H[:192]) == A2


def test_bash_f_matches_the_reference_form_on_random_states() -> None:
    rng = random.Random(77)
    states = [bytes(192), b"\xff" * 192] + [rng.randbytes(192) for _ in range(30)]
    for state in states:
        assert bash_f(state) == reference_bash_f(state), state.hex()


def test_bash_f_checks_its_size() -> None:
    for size in (0, 191, 193):
        with pytest.raises(ValueError):
            bash_f(bytes(size))


# ---------------------------------------------------------------------------------------------
# bash-hash

#: (example, level, length of the H prefix, digest)
A3 = [
    ("A.3.1", 128, 0, "114C3DFAE373D9BCBC3602D6386F2D6A2059BA1BF9048DBAA5146A6CB775709D"),
    ("A.3.2", 128, 127, "3D7F4EFA00E9BA33FEED259986567DCF5C6D12D51057A968F14F06CC0F905961"),
    ("A.3.3", 128, 128, "D7F428311254B8B2D00F7F9EEFBD8F3025FA87C4BABD1BDDBE87E35B7AC80DD6"),
    ("A.3.4", 128, 135, "1393FA1B65172F2D18946AEAE576FA1CF54FDD354A0CB2974A997DC4865D3100"),
    ("A.3.5", 192, 95,
     "64334AF830D33F63E9ACDFA184E32522103FFF5C6860110A2CD369EDBC04387C501D8F92F749AE4DE15A8305C353D64D"),
    ("A.3.6", 192, 96,
     "D06EFBC16FD6C0880CBFC6A4E3D65AB101FA82826934190FAABEBFBFFEDE93B22B85EA72A7FB3147A133A5A8FEBD8320"),
    ("A.3.7", 192, 108,
     "FF763296571E2377E71A1538070CC0DE88888606F32EEE6B082788D246686B00FC05A17405C5517699DA44B7EF5F55AB"),
    ("A.3.8", 256, 63,
     "2A66C87C189C12E255239406123BDEDBF19955EAF0808B2AD705E249220845E2"
     "0F4786FB6765D0B5C48984B1B16556EF19EA8192B985E4233D9C09508D6339E7"),
    ("A.3.9", 256, 64,
     "07ABBF8580E7E5A321E9B940F667AE209E2952CEF557978AE743DB086BAB4885"
     "B708233C3F5541DF8AAFC3611482FDE498E58B3379A6622DAC2664C9C118A162"),
    ("A.3.10", 256, 127,
     "526073918F97928E9D15508385F42F03ADE3211A23900A30131F8A1E3E1EE21C"
     "C09D13CFF6981101235D895746A4643F0AA62B0A7BC98A269E4507A257F0D4EE"),
    ("A.3.11", 256, 192,
     "8724C7FF8A2A83F22E38CB9763777B96A70ABA3444F214C763D93CD6D19FCFDE"
     "6C3D3931857C4FF6CCCD49BD99852FE9EAA7495ECCDD96B571E0EDCF47F89768"),
]
CASES = [case[1:] for case in A3]
IDS = [case[0] for case in A3]


def by_example(example: str) -> tuple[int, int, bytes]:
    level, length, digest = next(case[1:] for case in A3 if case[0] == example)
    return level, length, unhex(digest)


@pytest.mark.parametrize(("level", "length", "digest"), CASES, ids=IDS)
def test_a3_bash_hash(level: int, length: int, digest: str) -> None:
    message = H[:length]
    assert bash_hash(level, message) == unhex(digest)
    assert BashHash(level, message).digest() == unhex(digest)
    assert BashHash(level, message).hexdigest() == digest.lower()
    assert hashes.digest(LEVELS[level], message) == unhex(digest)


def test_a3_covers_every_level_and_the_block_boundaries() -> None:
    # each level has an example one byte short of a block, on a block and (but bash512) past one
    rates = {level: BashHash(level).block_size for level in LEVELS}
    lengths = {level: {length for lv, length, _ in CASES if lv == level} for level in LEVELS}
    for level, rate in rates.items():
        assert {rate - 1, rate} <= lengths[level]


@pytest.mark.parametrize(("level", "name", "size", "rate"),
                         [(128, "bash256", 32, 128), (192, "bash384", 48, 96), (256, "bash512", 64, 64)])
def test_hashlib_attributes(level: int, name: str, size: int, rate: int) -> None:
    h = BashHash(level)
    assert (h.name, h.digest_size, h.block_size) == (name, size, rate)
    assert len(h.digest()) == size
    assert h.digest() == bash_hash(level, b"") == BashHash(level, b"").digest()
    registered = hashes.new(name)
    assert (registered.name, registered.digest_size, registered.block_size) == (name, size, rate)
    assert hashes.DIGEST_SIZES[name] == size


def test_levels_other_than_the_three_are_refused() -> None:
    for level in (0, 64, 127, 129, 255, 320):
        with pytest.raises(ValueError):
            BashHash(level)


@pytest.mark.parametrize(("level", "length", "digest"), CASES, ids=IDS)
def test_incremental_equals_one_shot_at_every_split(level: int, length: int, digest: str) -> None:
    message = H[:length]
    for split in range(length + 1):
        h = BashHash(level, message[:split])
        h.update(message[split:])
        assert h.digest() == unhex(digest), split


@pytest.mark.parametrize("level", list(LEVELS))
def test_incremental_updates_in_odd_sized_chunks(level: int) -> None:
    rng = random.Random(f"chunks-{level}")
    rate = BashHash(level).block_size
    for size in (0, 1, rate - 1, rate, rate + 1, 2 * rate - 1, 2 * rate, 2 * rate + 3, 500):
        message = rng.randbytes(size)
        expected = bash_hash(level, message)
        one_by_one = BashHash(level)
        for i in range(size):
            one_by_one.update(message[i:i + 1])
        assert one_by_one.digest() == expected
        for chunk in (3, 7, 13, 61, 97, 191):
            h = BashHash(level)
            for start in range(0, size, chunk):
                h.update(bytearray(message[start:start + chunk]))
            assert h.digest() == expected, (size, chunk)
        for _ in range(10):
            cuts = sorted(rng.randrange(size + 1) for _ in range(rng.randrange(1, 5)))
            h = BashHash(level)
            previous = 0
            for cut in [*cuts, size]:
                h.update(memoryview(message)[previous:cut])
                previous = cut
            assert h.digest() == expected, (size, cuts)


def test_digest_does_not_finalise() -> None:
    level, length, digest = by_example("A.3.4")
    h = BashHash(level, H[:50])
    first = h.digest()
    assert h.digest() == first == bash_hash(level, H[:50])
    h.update(H[50:length])
    assert h.digest() == h.digest() == digest
    assert h.hexdigest() == digest.hex()


def test_copy_is_independent() -> None:
    level, length, digest = by_example("A.3.7")
    _, short_length, short_digest = by_example("A.3.5")
    h = BashHash(level, H[:11])
    c = h.copy()
    assert (c.name, c.digest_size, c.block_size) == (h.name, h.digest_size, h.block_size)
    c.update(H[11:length])
    assert c.digest() == digest
    assert h.digest() == bash_hash(level, H[:11])
    h.update(H[11:short_length])
    assert h.digest() == short_digest
    assert c.digest() == digest


def test_padding_separates_zero_tails() -> None:
    # a message and the same message with zero bytes appended must differ (the 0x40 pad byte)
    for level in LEVELS:
        digests = {bash_hash(level, bytes(n)) for n in range(0, 200)}
        assert len(digests) == 200


def test_one_byte_change_changes_the_digest() -> None:
    rng = random.Random(101)
    for level in LEVELS:
        message = rng.randbytes(150)
        reference = bash_hash(level, message)
        for i in range(len(message)):
            changed = bytearray(message)
            changed[i] ^= 1 << rng.randrange(8)
            assert bash_hash(level, changed) != reference, (level, i)
        assert bash_hash(level, message + b"\x00") != reference
        assert bash_hash(level, message[:-1]) != reference


def test_the_levels_give_unrelated_digests() -> None:
    # bash384 is not a prefix of bash512 (the initial S23 = l/4 separates them)
    assert not bash_hash(256, b"abc").startswith(bash_hash(192, b"abc"))
    assert not bash_hash(192, b"abc").startswith(bash_hash(128, b"abc"))


def test_hmac_accepts_it_as_digestmod() -> None:
    key, message = H[:40], H[40:100]
    block = key.ljust(128, b"\x00")  # the rate, 128 bytes, is hmac's block size
    inner = bash_hash(128, bytes(b ^ 0x36 for b in block) + message)
    expected = bash_hash(128, bytes(b ^ 0x5C for b in block) + inner)
    assert hmac.new(key, message, digestmod=lambda: hashes.new("bash256")).digest() == expected
    assert kdf.hmac_digest("bash256", key, message) == expected


def test_oids() -> None:
    assert OIDS == {
        "bash256": "1.2.112.0.2.0.34.101.77.11",
        "bash384": "1.2.112.0.2.0.34.101.77.12",
        "bash512": "1.2.112.0.2.0.34.101.77.13",
    }
    assert (OIDS["bash256"], OIDS["bash384"], OIDS["bash512"]) == (bign.BASH256, bign.BASH384, bign.BASH512)
    assert sorted(OIDS) == sorted(LEVELS.values())
