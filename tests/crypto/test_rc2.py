"""RC2 as NCA's PKCS#12 files use it (RC2-40-CBC certificate bags): RFC 2268 and OpenSSL."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from tanba.crypto import rc2

# RFC 2268 section 5: (key, effective key bits, plaintext, ciphertext)
VECTORS = [
    ("0000000000000000", 63, "0000000000000000", "ebb773f993278eff"),
    ("ffffffffffffffff", 64, "ffffffffffffffff", "278b27e42e2f0d49"),
    ("3000000000000000", 64, "1000000000000001", "30649edf9be7d2c2"),
    ("88", 64, "0000000000000000", "61a8a244adacccf0"),
    ("88bca90e90875a", 64, "0000000000000000", "6ccf4308974c267f"),
    ("88bca90e90875a7f0f79c384627bafb2", 64, "0000000000000000", "1a807d272bbe5db1"),
    ("88bca90e90875a7f0f79c384627bafb2", 128, "0000000000000000", "2269552ab0f85ca6"),
]


@pytest.mark.parametrize(("key", "bits", "plain", "cipher"), VECTORS)
def test_rfc_2268_vectors(key: str, bits: int, plain: str, cipher: str) -> None:
    k = rc2.expand_key(bytes.fromhex(key), bits)
    assert rc2.encrypt_block(k, bytes.fromhex(plain)).hex() == cipher
    assert rc2.decrypt_block(k, bytes.fromhex(cipher)).hex() == plain


@pytest.mark.parametrize("size", [8, 64, 1000])
def test_rc2_40_cbc_matches_openssl_both_ways(tmp_path: Path, size: int) -> None:
    key, iv = secrets.token_bytes(5), secrets.token_bytes(8)
    plain = secrets.token_bytes(size)
    (tmp_path / "p").write_bytes(plain)
    subprocess.run(["openssl", "enc", "-rc2-40-cbc", "-K", key.hex(), "-iv", iv.hex(), "-nopad", "-in", "p",
                    "-out", "c", "-provider", "legacy", "-provider", "default"],
                   cwd=tmp_path, check=True, capture_output=True, timeout=20)
    theirs = (tmp_path / "c").read_bytes()
    assert rc2.cbc_encrypt(key, 40, iv, plain) == theirs
    assert rc2.cbc_decrypt(key, 40, iv, theirs) == plain
    other = bytes([key[0] ^ 1]) + key[1:]
    assert rc2.cbc_decrypt(other, 40, iv, theirs) != plain


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError):
        rc2.cbc_decrypt(b"12345", 40, b"short", b"12345678")
    with pytest.raises(ValueError):
        rc2.cbc_decrypt(b"12345", 40, bytes(8), b"123")
    with pytest.raises(ValueError):
        rc2.expand_key(b"", 40)
