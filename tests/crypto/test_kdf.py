"""HMAC and PBKDF2 over Streebog: the published vectors, and the gost engine as oracle.

Sources of the vectors (all given as byte strings, no reversal):

* HMAC_GOSTR3411_2012_256 / _512: R 50.1.113-2016 section 4.1.1 / 4.1.2, repeated in
  RFC 7836 section 4.1.1 / 4.1.2 (key 00..1f, data 0126bdb87800af214341456563780100).
* PBKDF2 with HMAC_GOSTR3411_2012_512: R 50.1.111-2016 appendix A (the same vectors are in
  RustCrypto's ``pbkdf2`` tests and in pygost's ``test_gost34112012.py``, both citing it).
  The 2**24-iteration vector is left out (hours in pure Python).
"""

from __future__ import annotations

import hmac
import importlib.util
from pathlib import Path

import pytest

from support.gost_engine import openssl
from tanba.crypto import hashes
from tanba.crypto.kdf import hmac_digest, pbkdf2_hmac

KEY = bytes(range(32))
DATA = bytes.fromhex("0126bdb87800af214341456563780100")

# R 50.1.113-2016 4.1.1 / RFC 7836 4.1.1
HMAC_256 = bytes.fromhex("a1aa5f7de402d7b3d323f2991c8d4534013137010a83754fd0af6d7cd4922ed9")
# R 50.1.113-2016 4.1.2 / RFC 7836 4.1.2
HMAC_512 = bytes.fromhex(
    "a59bab22ecae19c65fbde6e5f4e9f5d8549d31f037f9df9b905500e171923a77"
    "3d5f1530f2ed7e964cb2eedc29e9ad2f3afe93b2814f79f5000ffc0366c251e6")

# R 50.1.111-2016 appendix A: (password, salt, c, dkLen, DK)
PBKDF2_FAST = [
    (b"password", b"salt", 1, 64,
     "64770af7f748c3b1c9ac831dbcfd85c26111b30a8a657ddc3056b80ca73e040d"
     "2854fd36811f6d825cc4ab66ec0a68a490a9e5cf5156b3a2b7eecddbf9a16b47"),
    (b"password", b"salt", 2, 64,
     "5a585bafdfbb6e8830d6d68aa3b43ac00d2e4aebce01c9b31c2caed56f0236d4"
     "d34b2b8fbd2c4e89d54d46f50e47d45bbac301571743119e8d3c42ba66d348de"),
]
PBKDF2_SLOW = [
    (b"password", b"salt", 4096, 64,
     "e52deb9a2d2aaff4e2ac9d47a41f34c20376591c67807f0477e32549dc341bc7"
     "867c09841b6d58e29d0347c996301d55df0d34e47cf68f4e3c2cdaf1d9ab86c3"),
    (b"passwordPASSWORDpassword", b"saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 100,
     "b2d8f1245fc4d29274802057e4b54e0a0753aa22fc53760b301cf008679e58fe"
     "4bee9addcae99ba2b0b20f431a9c5e50f395c89387d0945aedeca6eb4015dfc2"
     "bd2421ee9bb71183ba882ceebfef259f33f9e27dc6178cb89dc37428cf9cc52a"
     "2baa2d3a"),
    (b"pass\x00word", b"sa\x00lt", 4096, 64,
     "50df062885b69801a3c10248eb0a27ab6e522ffeb20c991c660f001475d73a4e"
     "167f782c18e97e92976d9c1d970831ea78ccb879f67068cdac1910740844e830"),
]


def test_hmac_vectors() -> None:
    assert hmac_digest("streebog256", KEY, DATA) == HMAC_256
    assert hmac_digest("streebog512", KEY, DATA) == HMAC_512


def test_hmac_tampering_changes_the_output() -> None:
    assert hmac_digest("streebog256", KEY[:-1] + b"\x1e", DATA) != HMAC_256
    assert hmac_digest("streebog512", KEY, DATA[:-1] + b"\x01") != HMAC_512
    # zero-padding of a short key is part of HMAC, not a free extension of the key
    assert hmac_digest("streebog256", KEY + b"\x00", DATA) == HMAC_256
    assert hmac_digest("streebog256", KEY + b"\x01", DATA) != HMAC_256


def test_hmac_agrees_with_the_stdlib_hmac_module() -> None:
    for name in ("streebog256", "streebog512"):
        for key in (b"", KEY, bytes(range(64)), bytes(range(65)), bytes(range(200))):
            for data in (b"", DATA, bytes(range(256)) * 3):
                want = hmac.new(key, data, lambda d=b"", n=name: hashes.new(n, d)).digest()
                assert hmac_digest(name, key, data) == want, (name, len(key), len(data))


@pytest.mark.parametrize("bits", [256, 512])
@pytest.mark.parametrize("key_length", [0, 1, 32, 63, 64, 65, 150])
def test_hmac_gost_engine_agrees(tmp_path: Path, bits: int, key_length: int) -> None:
    key = bytes((7 * i + key_length) & 0xFF for i in range(key_length))
    data = bytes(range(256)) * 2 + b"tail"
    result = openssl(tmp_path, "mac", "-binary", "-digest", f"md_gost12_{bits}",
                     "-macopt", "hexkey:" + key.hex(), "HMAC", input=data)
    assert hmac_digest(f"streebog{bits}", key, data) == result.stdout
    assert len(result.stdout) == bits // 8


def test_hmac_over_gost_r_34_11_94(tmp_path: Path) -> None:
    """HMAC is generic: over GOST R 34.11-94 (CryptoPro S-boxes) it matches the engine's md_gost94."""
    if importlib.util.find_spec("tanba.crypto.gost341194") is None:
        pytest.skip("tanba.crypto.gost341194 is not there yet")
    for key in (KEY, bytes(range(40))):  # the 40-byte key is longer than the 32-byte block
        result = openssl(tmp_path, "mac", "-binary", "-digest", "md_gost94",
                         "-macopt", "hexkey:" + key.hex(), "HMAC", input=DATA)
        assert hmac_digest("gost3411-94", key, DATA) == result.stdout


def test_unknown_hash_name() -> None:
    with pytest.raises(KeyError):
        hmac_digest("sha256", KEY, DATA)
    with pytest.raises(KeyError):
        pbkdf2_hmac("md5", b"p", b"s", 1, 16)


@pytest.mark.parametrize(("password", "salt", "iterations", "dklen", "want"), PBKDF2_FAST,
                         ids=["c=1", "c=2"])
def test_pbkdf2_vectors(password: bytes, salt: bytes, iterations: int, dklen: int, want: str) -> None:
    assert pbkdf2_hmac("streebog512", password, salt, iterations, dklen).hex() == want


@pytest.mark.slow
@pytest.mark.parametrize(("password", "salt", "iterations", "dklen", "want"), PBKDF2_SLOW,
                         ids=["c=4096", "c=4096-dklen100", "c=4096-nul"])
def test_pbkdf2_vectors_4096(password: bytes, salt: bytes, iterations: int, dklen: int,
                             want: str) -> None:
    assert pbkdf2_hmac("streebog512", password, salt, iterations, dklen).hex() == want


def test_pbkdf2_is_hmac_chained() -> None:
    # c=1 is a single HMAC of salt || INT(1); a prefix of a longer output is the shorter output
    assert pbkdf2_hmac("streebog256", b"pw", b"na", 1, 32) == hmac_digest(
        "streebog256", b"pw", b"na\x00\x00\x00\x01")
    long = pbkdf2_hmac("streebog256", b"pw", b"na", 3, 80)
    assert len(long) == 80
    assert pbkdf2_hmac("streebog256", b"pw", b"na", 3, 20) == long[:20]


def test_pbkdf2_tampering_changes_the_output() -> None:
    want = bytes.fromhex(PBKDF2_FAST[1][4])
    assert pbkdf2_hmac("streebog512", b"passwore", b"salt", 2, 64) != want
    assert pbkdf2_hmac("streebog512", b"password", b"salu", 2, 64) != want
    assert pbkdf2_hmac("streebog512", b"password", b"salt", 3, 64) != want
    assert pbkdf2_hmac("streebog256", b"password", b"salt", 2, 64) != want


def test_pbkdf2_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        pbkdf2_hmac("streebog512", b"p", b"s", 0, 64)
    with pytest.raises(ValueError):
        pbkdf2_hmac("streebog512", b"p", b"s", 1, 0)


@pytest.mark.parametrize(("bits", "iterations", "dklen"), [(512, 1, 64), (512, 3, 100), (256, 2, 32),
                                                           (256, 5, 70)])
def test_pbkdf2_gost_engine_agrees(tmp_path: Path, bits: int, iterations: int, dklen: int) -> None:
    password, salt = b"pass\x00\xffword", bytes(range(20))
    result = openssl(tmp_path, "kdf", "-binary", "-keylen", str(dklen),
                     "-kdfopt", f"digest:md_gost12_{bits}", "-kdfopt", "hexpass:" + password.hex(),
                     "-kdfopt", "hexsalt:" + salt.hex(), "-kdfopt", f"iter:{iterations}", "PBKDF2",
                     input=b"")
    assert len(result.stdout) == dklen
    assert pbkdf2_hmac(f"streebog{bits}", password, salt, iterations, dklen) == result.stdout
