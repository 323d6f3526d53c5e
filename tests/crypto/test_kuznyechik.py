"""Kuznyechik (GOST R 34.12-2015) and its CTR, CTR-ACPKM and OMAC modes: the standards' examples
and the gost engine (``openssl enc -kuznyechik-ctr`` / ``-kuznyechik-ctr-acpkm``,
``openssl dgst -mac kuznyechik-mac``) as an independent implementation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.gost_engine import openssl
from tanba.crypto import kuznyechik as kz

h = bytes.fromhex

# The key of every example in GOST R 34.12-2015 appendix A.1 / RFC 7801 section 5 and
# GOST R 34.13-2015 appendix A.1 (also RFC 8645 appendix A.2).
KEY = h("8899aabbccddeeff0011223344556677fedcba98765432100123456789abcdef")

# GOST R 34.13-2015 appendix A.1: the four plaintext blocks P1..P4; RFC 8645 appendix A.2
# extends them to seven blocks for CTR-ACPKM.
PLAIN = h("1122334455667700ffeeddccbbaa9988" "00112233445566778899aabbcceeff0a"
          "112233445566778899aabbcceeff0a00" "2233445566778899aabbcceeff0a0011")
PLAIN_ACPKM = PLAIN + h("33445566778899aabbcceeff0a001122" "445566778899aabbcceeff0a00112233"
                        "5566778899aabbcceeff0a0011223344")
IV = h("1234567890abcef0")


# RFC 7801 section 5.1 (GOST R 34.12-2015 A.1.1): S applied four times.
def test_s_examples() -> None:
    chain = ["ffeeddccbbaa99881122334455667700", "b66cd8887d38e8d77765aeea0c9a7efc",
             "559d8dd7bd06cbfe7e7b262523280d39", "0c3322fed531e4630d80ef5c5a81c50b",
             "23ae65633f842d29c5df529c13f5acda"]
    for a, b in zip(chain, chain[1:]):
        assert kz.substitute(h(a)).hex() == b


# RFC 7801 section 5.3 (GOST R 34.12-2015 A.1.3): L applied four times, and back.
def test_l_examples() -> None:
    chain = ["64a59400000000000000000000000000", "d456584dd0e3e84cc3166e4b7fa2890d",
             "79d26221b87b584cd42fbc4ffea5de9a", "0e93691a0cfc60408b7b68f66b513c13",
             "e6a8094fee0aa204fd97bcb0b44b8580"]
    for a, b in zip(chain, chain[1:]):
        assert kz.linear(h(a)).hex() == b
        assert kz.linear_inverse(h(b)).hex() == a


# RFC 7801 section 5.4 (GOST R 34.12-2015 A.1.4): the round keys K1..K10.
def test_key_schedule() -> None:
    assert [k.hex() for k in kz.Kuznyechik(KEY).round_keys] == [
        "8899aabbccddeeff0011223344556677", "fedcba98765432100123456789abcdef",
        "db31485315694343228d6aef8cc78c44", "3d4553d8e9cfec6815ebadc40a9ffd04",
        "57646468c44a5e28d3e59246f429f1ac", "bd079435165c6432b532e82834da581b",
        "51e640757e8745de705727265a0098b1", "5a7925017b9fdd3ed72a91a22286f984",
        "bb44e25378c73123a5f32f73cdb6e517", "72e9dd7416bcf45b755dbaa88e4a4043"]


# RFC 7801 section 5.5-5.6 (GOST R 34.12-2015 A.1.5-A.1.6), and the ECB blocks of
# GOST R 34.13-2015 A.1.1.
def test_encrypt_and_decrypt_the_examples() -> None:
    cipher = kz.Kuznyechik(KEY)
    ecb = ["7f679d90bebc24305a468d42b9d4edcd", "b429912c6e0032f9285452d76718d08b",
           "f0ca33549d247ceef3f5a5313bd4b157", "d0b09ccde830b9eb3a02c4c5aa8ada98"]
    for i, expected in enumerate(ecb):
        block = PLAIN[16 * i:16 * i + 16]
        assert cipher.encrypt_block(block).hex() == expected
        assert cipher.decrypt_block(h(expected)) == block


def test_block_round_trip_and_sizes() -> None:
    for _ in range(50):
        cipher = kz.Kuznyechik(os.urandom(32))
        block = os.urandom(16)
        assert cipher.decrypt_block(cipher.encrypt_block(block)) == block
        assert cipher.encrypt_block(block) != block
    with pytest.raises(ValueError):
        kz.Kuznyechik(KEY[:16])
    with pytest.raises(ValueError):
        kz.Kuznyechik(KEY).encrypt_block(b"\x00" * 15)
    with pytest.raises(ValueError):
        kz.Kuznyechik(KEY).decrypt_block(b"\x00" * 17)


# GOST R 34.13-2015 A.1.2: CTR with IV = 1234567890abcef0 (gost-engine's test_grasshopper.c
# carries the same numbers as E_ctr).
CTR = h("f195d8bec10ed1dbd57b5fa240bda1b8" "85eee733f6a13e5df33ce4b33c45dee4"
        "a5eae88be6356ed3d5e877f13564a3a5" "cb91fab1f20cbab6d1c6d15820bdba73")


def test_ctr_example() -> None:
    assert kz.ctr(KEY, IV, PLAIN) == CTR
    assert kz.ctr(KEY, IV, CTR) == PLAIN
    # CTR is a stream: a cut message is the cut ciphertext (GOST R 34.13-2015 5.2.1, MSB_u).
    assert kz.ctr(KEY, IV, PLAIN[:37]) == CTR[:37]
    assert kz.ctr(KEY, IV, b"") == b""
    with pytest.raises(ValueError):
        kz.ctr(KEY, IV + b"\x00", PLAIN)


def test_ctr_counter_is_iv_then_zeros_counting_up() -> None:
    cipher = kz.Kuznyechik(KEY)
    iv = b"\xff" * 8
    stream = kz.ctr(KEY, iv, bytes(48))
    for i in range(3):
        assert stream[16 * i:16 * i + 16] == cipher.encrypt_block(iv + i.to_bytes(8, "big"))


# RFC 8645 appendix A.2: CTR-ACPKM with Kuznyechik, N = 256 bits (two blocks) a section;
# the same numbers are E_acpkm in gost-engine's test_grasshopper.c.
CTR_ACPKM = h("f195d8bec10ed1dbd57b5fa240bda1b8" "85eee733f6a13e5df33ce4b33c45dee4"
              "4bceeb8f646f4c55001706275e85e800" "587c4df568d094393e4834afd0805046"
              "cf30f57686aeece11cfc6c316b8a896e" "dffd07ec813636460c4f3b743423163e"
              "6409a9c282fac8d469d221e7fbd6de5d")


def test_ctr_acpkm_example() -> None:
    assert kz.ctr_acpkm(KEY, IV, PLAIN_ACPKM, section_size=32) == CTR_ACPKM
    assert kz.ctr_acpkm(KEY, IV, CTR_ACPKM, section_size=32) == PLAIN_ACPKM
    assert kz.ctr_acpkm(KEY, IV, PLAIN_ACPKM[:40], section_size=32) == CTR_ACPKM[:40]
    # the first section is plain CTR
    assert CTR_ACPKM[:32] == CTR[:32]
    for bad in (0, 8, 33):
        with pytest.raises(ValueError):
            kz.ctr_acpkm(KEY, IV, PLAIN, section_size=bad)


# RFC 8645 appendix A.2: the section keys K^2, K^3, K^4 (ACPKM applied to the example key).
def test_acpkm_section_keys() -> None:
    k2 = kz.acpkm(KEY)
    k3 = kz.acpkm(k2)
    assert k2.hex() == "2666ed40ae687811745ca0b448f57a7b390adb5780307e8e9659ac403ae60c60"
    assert k3.hex() == "bb3dd5402e999b7a3debb0db45448ec530f07365dfee3aba8415f77ac8f34ce8"
    assert kz.acpkm(k3).hex() == "23362fd553cad2178299a5b5a2d4722e3bb83c730a8bf57ce2dd004017f8c565"
    assert kz.ACPKM_D == h("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")


# GOST R 34.13-2015 A.1.6: OMAC with s = 64 bits, and its subkeys K1, K2.
def test_omac_example() -> None:
    k1, k2 = kz.omac_subkeys(KEY)
    assert k1.hex() == "297d82bc4d39e3ca0de0573298151dc7"
    assert k2.hex() == "52fb05789a73c7941bc0ae65302a3b8e"
    assert kz.omac(KEY, PLAIN, 8).hex() == "336f4d296059fbe3"
    with pytest.raises(ValueError):
        kz.omac(KEY, PLAIN, 17)


LENGTHS = [1, 16, 4096, 5000, 300000]


def engine_enc(tmp_path: Path, cipher: str, key: bytes, iv: bytes, data: bytes, decrypt: bool = False) -> bytes:
    args = ["enc", f"-{cipher}", "-K", key.hex(), "-iv", iv.hex()] + (["-d"] if decrypt else [])
    return openssl(tmp_path, *args, input=data).stdout


@pytest.mark.parametrize("length", LENGTHS)
def test_ctr_against_the_engine(tmp_path: Path, length: int) -> None:
    key, iv, data = os.urandom(32), os.urandom(8), os.urandom(length)
    theirs = engine_enc(tmp_path, "kuznyechik-ctr", key, iv, data)
    assert len(theirs) == length
    assert kz.ctr(key, iv, theirs) == data
    mine = kz.ctr(key, iv, data)
    assert mine == theirs
    assert engine_enc(tmp_path, "kuznyechik-ctr", key, iv, mine, decrypt=True) == data
    wrong = bytes([key[0] ^ 1]) + key[1:]
    assert kz.ctr(wrong, iv, theirs) != data
    assert kz.ctr(key, bytes([iv[0] ^ 1]) + iv[1:], theirs) != data


@pytest.mark.parametrize("length", LENGTHS)
def test_ctr_acpkm_against_the_engine(tmp_path: Path, length: int) -> None:
    key, iv, data = os.urandom(32), os.urandom(8), os.urandom(length)
    theirs = engine_enc(tmp_path, "kuznyechik-ctr-acpkm", key, iv, data)
    assert len(theirs) == length
    assert kz.ctr_acpkm(key, iv, theirs) == data
    mine = kz.ctr_acpkm(key, iv, data)
    assert mine == theirs
    assert engine_enc(tmp_path, "kuznyechik-ctr-acpkm", key, iv, mine, decrypt=True) == data
    wrong = bytes([key[0] ^ 1]) + key[1:]
    assert kz.ctr_acpkm(wrong, iv, theirs) != data
    engine_section = kz.ENGINE_SECTION_SIZE
    if length > engine_section:
        # the re-keying happened: past the first section this is not plain CTR, nor 256 KiB sections
        plain_ctr = kz.ctr(key, iv, data)
        assert plain_ctr[:engine_section] == theirs[:engine_section]
        assert plain_ctr[engine_section:] != theirs[engine_section:]
        assert kz.ctr_acpkm(key, iv, data, section_size=256 * 1024) != theirs
    else:
        assert theirs == kz.ctr(key, iv, data)


@pytest.mark.parametrize("length", [1, 15, 16, 17, 64, 1000])
def test_omac_against_the_engine(tmp_path: Path, length: int) -> None:
    key, data = os.urandom(32), os.urandom(length)
    out = openssl(tmp_path, "dgst", "-mac", "kuznyechik-mac", "-macopt", f"hexkey:{key.hex()}",
                  input=data).stdout.decode()
    assert out.strip().rsplit("= ", 1)[1] == kz.omac(key, data).hex()
    assert kz.omac(bytes([key[0] ^ 1]) + key[1:], data).hex() not in out
