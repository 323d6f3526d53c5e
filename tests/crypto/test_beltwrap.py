"""belt-wblock and belt-kwp (STB 34.101.31), hmac-hbelt and PBKDF2 over it (STB 34.101.47).

Sources of the vectors (hex reads as byte strings, first byte first; inputs are slices of
the table H, as in the standard's appendices):

* belt-wblock: STB 34.101.31 tables A.6 (encryption, 48 and 47 bytes) and A.7 (decryption,
  48 and 36 bytes), and belt-kwp: tables A.21 / A.22, as bee2's test/crypto/belt_test.c
  (agievich/bee2) carries them; its "special" loop (every length 32..128 round-trips) too.
* hmac-hbelt: STB 34.101.47 tables Б.1 (keys of 29, 32 and 42 bytes), belt_test.c again.
* PBKDF2 over hmac-hbelt and a belt-kwp with the zero header: "test E.5" of bee2's
  test/crypto/bign_test.c (password "B194BAC80A08F53B", salt H[192..199], 10,000
  iterations, then the key of example Г.1 wrapped under the result), the same PBKDF2 number
  in bee2's cmd/cmd_pwd.c self-test; and the two "vs OpenSSL" PBKDF2 checks of that
  bign_test.c (password "zed", 2,048 and 10,000 iterations).
"""

from __future__ import annotations

import pytest

from tanba.crypto import beltwrap, bign
from tanba.crypto.belt import H
from tanba.crypto.kdf import hmac_digest, pbkdf2_hmac


def unhex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


K1 = H[128:160]  # the key of the encryption examples
K2 = H[160:192]  # the key of the decryption examples

# --- belt-wblock -----------------------------------------------------------------------------

# A.6: (plaintext, ciphertext) under K1
A6 = [
    (H[:48], unhex("49A38EE108D6C742E52B774F00A6EF98 B106CBD13EA4FB0680323051BC04DF76"
                   "E487B055C69BCF541176169F1DC9F6C8")),
    (H[:47], unhex("F08EF22DCAA06C81FB12721974221CA7 AB82C62856FCF2F9FCA006E019A28F16"
                   "E5821A51F573594625DBAB8F6A5C94")),
]
# A.7: (ciphertext, plaintext) under K2
A7 = [
    (H[64:112], unhex("92632EE0C21AD9E09A39343E5C07DAA4 889B03F2E6847EB152EC99F7A4D9F154"
                      "B5EF68D8E4A39E567153DE13D72254EE")),
    (H[64:100], unhex("DF3F882230BAAFFC92F0566032117231 0E3CB2182681EF43102E67175E177BD7"
                      "5E93E4E8")),
]


@pytest.mark.parametrize(("plain", "cipher"), A6, ids=["A.6-1 (48 bytes)", "A.6-2 (47 bytes)"])
def test_wblock_encryption_a6(plain: bytes, cipher: bytes) -> None:
    assert beltwrap.wblock_encrypt(K1, plain) == cipher
    assert beltwrap.wblock_decrypt(K1, cipher) == plain


@pytest.mark.parametrize(("cipher", "plain"), A7, ids=["A.7-1 (48 bytes)", "A.7-2 (36 bytes)"])
def test_wblock_decryption_a7(cipher: bytes, plain: bytes) -> None:
    assert beltwrap.wblock_decrypt(K2, cipher) == plain
    assert beltwrap.wblock_encrypt(K2, plain) == cipher


def test_wblock_round_trips_every_length_32_to_128() -> None:
    # belt_test.c "belt-wblock: special": H[0..count) for count = 32..128 under K1
    for count in range(32, 129):
        cipher = beltwrap.wblock_encrypt(K1, H[:count])
        assert len(cipher) == count and cipher != H[:count]
        assert beltwrap.wblock_decrypt(K1, cipher) == H[:count]


def test_wblock_takes_bytearray_and_memoryview() -> None:
    plain, cipher = A6[1]
    assert beltwrap.wblock_encrypt(bytearray(K1), memoryview(plain)) == cipher
    assert beltwrap.wblock_decrypt(memoryview(K1), bytearray(cipher)) == plain


def test_wblock_first_round_shifts_the_counter() -> None:
    # two passes with the counter running on (bign-genk's use) differ from two fresh passes
    x = H[:32]
    once = beltwrap.wblock_encrypt(K1, x)
    assert beltwrap.wblock_encrypt(K1, x, first_round=1) == once
    assert beltwrap.wblock_encrypt(K1, once, first_round=5) != beltwrap.wblock_encrypt(K1, once)


def test_bign_keeps_its_wblock_name() -> None:
    assert bign.wblock_encrypt(H[:48], K1) == A6[0][1]


@pytest.mark.parametrize("size", [0, 16, 31])
def test_wblock_refuses_short_words(size: int) -> None:
    with pytest.raises(ValueError, match="32 bytes or more"):
        beltwrap.wblock_encrypt(K1, H[:size])
    with pytest.raises(ValueError, match="32 bytes or more"):
        beltwrap.wblock_decrypt(K1, H[:size])


@pytest.mark.parametrize("size", [16, 24, 31, 33])
def test_wblock_takes_256_bit_keys_only(size: int) -> None:
    with pytest.raises(ValueError, match="32-byte key"):
        beltwrap.wblock_encrypt(H[:size], H[:32])


# --- belt-kwp --------------------------------------------------------------------------------

def test_kwp_wrap_a21() -> None:
    # X = H[0..31], header I = H[32..47], K = K1: Y = belt-wblock(X || I) = A.6-1's output
    y = beltwrap.kwp_wrap(K1, H[:32], H[32:48])
    assert y == A6[0][1]
    assert beltwrap.kwp_unwrap(K1, y, H[32:48]) == H[:32]


def test_kwp_unwrap_a22() -> None:
    # Y = H[64..111] under K2 unwraps to X = 92632EE0...F154 with header I = B5EF68D8...54EE
    x = unhex("92632EE0C21AD9E09A39343E5C07DAA4 889B03F2E6847EB152EC99F7A4D9F154")
    header = unhex("B5EF68D8E4A39E567153DE13D72254EE")
    assert beltwrap.kwp_unwrap(K2, H[64:112], header) == x
    assert beltwrap.kwp_wrap(K2, x, header) == H[64:112]


def test_kwp_unwrap_with_a_wrong_header_fails() -> None:
    y = A6[0][1]
    for header in (None, bytes(16), H[33:49]):
        with pytest.raises(ValueError, match="header"):
            beltwrap.kwp_unwrap(K1, y, header)


def test_kwp_unwrap_of_altered_data_or_under_another_key_fails() -> None:
    y = A6[0][1]
    for position in (0, 17, len(y) - 1):
        tampered = bytearray(y)
        tampered[position] ^= 0x01
        with pytest.raises(ValueError, match="header"):
            beltwrap.kwp_unwrap(K1, bytes(tampered), H[32:48])
    with pytest.raises(ValueError, match="header"):
        beltwrap.kwp_unwrap(K2, y, H[32:48])


def test_kwp_argument_checks() -> None:
    with pytest.raises(ValueError, match="16 bytes or more"):
        beltwrap.kwp_wrap(K1, H[:15])
    with pytest.raises(ValueError, match="32 bytes or more"):
        beltwrap.kwp_unwrap(K1, H[:31])
    with pytest.raises(ValueError, match="header must be 16 bytes"):
        beltwrap.kwp_wrap(K1, H[:32], H[:15])


def test_kwp_wraps_odd_lengths() -> None:
    for size in (16, 17, 33, 47, 65):
        y = beltwrap.kwp_wrap(K1, H[:size])
        assert len(y) == size + 16
        assert beltwrap.kwp_unwrap(K1, y) == H[:size]


# --- hmac-hbelt, PBKDF2 ----------------------------------------------------------------------

# Б.1: key H[128 .. 128 + size), data H[192..223]
HMAC_B1 = [
    (29, "D4828E6312B08BB83C9FA6535A463554 9E411FD11C0D8289359A1130E930676B"),
    (32, "41FFE8645AEC0612E952D2CDF8DD508F 3E4A1D9B53F6A1DB293B19FE76B1879F"),
    (42, "7D01B84D2315C332277B3653D7EC6470 7EBA7CDFF7FF70077B1DECBD68F2A144"),
]


@pytest.mark.parametrize(("size", "mac"), HMAC_B1, ids=["Б.1-1", "Б.1-2", "Б.1-3"])
def test_hmac_hbelt_b1(size: int, mac: str) -> None:
    assert hmac_digest("belt-hash", H[128:128 + size], H[192:224]) == unhex(mac)


PASSWORD_E5 = b"B194BAC80A08F53B"
THETA_E5 = unhex("3D331BBBB1FBBB40E4BF22F6CB9A689E F13A77DC09ECF93291BFE42439A72E7D")
#: the private key of STB 34.101.45 example Г.1
D_G1 = unhex("1F66B5B84B7339674533F0329C74F218 34281FED0732429E0C79235FC273E269")
TOKEN_E5 = unhex("4EA289D5F718087DD8EDB305BA1CE898 0E5EC3E0B56C8BF9D5C3E909CF4C14F0"
                 "7B8204E67841A165E924945CD07F37E7")


def test_pbkdf2_hbelt_and_kwp_e5() -> None:
    theta = pbkdf2_hmac("belt-hash", PASSWORD_E5, H[192:200], 10000, 32)
    assert theta == THETA_E5
    assert beltwrap.kwp_wrap(theta, D_G1) == TOKEN_E5  # no header: 16 zero bytes
    assert beltwrap.kwp_unwrap(THETA_E5, TOKEN_E5) == D_G1


@pytest.mark.parametrize(("salt", "iterations", "key"), [
    ("49FEFF8076CD9480", 2048, "7249B4785FE68B1586D189A23E3842E4 8705C080A3248D8F0E8C3D63A93B2670"),
    ("C65017E4F108BCF0", 10000, "E48329259BC1211DDAC2EF1DADFFC993 2702A92F1DD66C14A9BA1D7300C8713C"),
], ids=["2048", "10000"])
def test_pbkdf2_hbelt_zed(salt: str, iterations: int, key: str) -> None:
    assert pbkdf2_hmac("belt-hash", b"zed", unhex(salt), iterations, 32) == unhex(key)
