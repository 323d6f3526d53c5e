"""Streebog (GOST R 34.11-2012): RFC 6986 examples, streaming behaviour, and the gost engine.

Byte order of the RFC 6986 examples (section 10): the RFC writes messages and digests as
numbers, most significant byte first, and a byte string is that number little-endian.  The hex
below is copied as the RFC prints it and reversed (:func:`rfc`) into the byte strings that
``digest()`` returns and ``openssl dgst`` prints.  M1 prints as ``3231...3130`` and is the
ASCII string ``"0123...012"``; its 512-bit digest prints as ``486f64c1...1ad0541b`` and, as
bytes, starts ``1b54d01a4af5`` and ends ``1c1646f48``.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from support.gost_engine import openssl
from tanba.crypto import hashes
from tanba.crypto.streebog import Streebog


def rfc(printed: str) -> bytes:
    """A byte string from RFC 6986's printed (most-significant-first) hex."""
    return bytes.fromhex(printed)[::-1]


# RFC 6986 section 10.1: M1, 63 bytes.
M1 = rfc("323130393837363534333231303938373635343332313039383736353433323130"
         "393837363534333231303938373635343332313039383736353433323130")
H512_M1 = rfc("486f64c1917879417fef082b3381a4e211c324f074654c38823a7b76f830ad00"
              "fa1fbae42b1285c0352f227524bc9ab16254288dd6863dccd5b9f54a1ad0541b")
H256_M1 = rfc("00557be5e584fd52a449b16b0251d05d27f94ab76cbaa6da890b59d8ef1e159d")

# RFC 6986 section 10.2: M2, 72 bytes (Cyrillic text in CP1251): a full block and 8 bytes.
M2 = rfc("fbe2e5f0eee3c820fbeafaebef20fffbf0e1e0f0f520e0ed20e8ece0ebe5f0f2"
         "f120fff0eeec20f120faf2fee5e2202ce8f6f3ede220e8e6eee1e8f0f2d1202c"
         "e8f0f2e5e220e5d1")
H512_M2 = rfc("28fbc9bada033b1460642bdcddb90c3fb3e56c497ccd0f62b8a2ad4935e85f03"
              "7613966de4ee00531ae60f3b5a47f8dae06915d5f2f194996fcabf2622e6881e")
H256_M2 = rfc("508f7e553c06501d749a66fc28c6cac0b005746d97537fa85d9e40904efed29d")

SIZES = [32, 64]


def test_rfc_byte_order() -> None:
    """The reversal above is the right one: M1 is ASCII digits, its digest the known bytes."""
    assert M1 == b"012345678901234567890123456789012345678901234567890123456789012"
    assert len(M1) == 63 and len(M2) == 72
    assert H512_M1.hex().startswith("1b54d01a4af5") and H512_M1.hex().endswith("1c1646f48")
    assert M2.decode("cp1251").startswith("Се ветри")


@pytest.mark.parametrize(("size", "message", "want"), [
    (64, M1, H512_M1), (32, M1, H256_M1), (64, M2, H512_M2), (32, M2, H256_M2),
], ids=["512-M1", "256-M1", "512-M2", "256-M2"])
def test_rfc6986_examples(size: int, message: bytes, want: bytes) -> None:
    h = Streebog(size, message)
    assert h.digest() == want
    assert h.hexdigest() == want.hex()
    assert len(want) == size == h.digest_size


def test_empty_message() -> None:
    # Values of the gost engine (`openssl dgst -md_gost12_*` of an empty file); also checked live below.
    assert Streebog(32).hexdigest() == "3f539a213e97c802cc229d474c6aa32a825a360b2a933a949fd925208d9ce1bb"
    assert Streebog(64).hexdigest() == (
        "8e945da209aa869f0455928529bcae4679e9873ab707b55315f56ceb98bef0a7"
        "362f715528356ee83cda5f2aac4c6ad2ba3a715c1bcd81cb8e9f90bf4c1c1a8a")
    assert Streebog(64, b"").digest() == Streebog(64).digest()


def test_attributes_and_bad_size() -> None:
    a, b = Streebog(32), Streebog()
    assert (a.name, a.digest_size, a.block_size) == ("streebog256", 32, 64)
    assert (b.name, b.digest_size, b.block_size) == ("streebog512", 64, 64)
    for bad in (0, 16, 48, 128, -64):
        with pytest.raises(ValueError):
            Streebog(bad)


def test_hashes_registry_builds_streebog() -> None:
    assert hashes.digest("streebog512", M1) == H512_M1
    assert hashes.digest("streebog256", M2) == H256_M2
    assert hashes.new("streebog256").name == "streebog256"
    assert hashes.DIGEST_SIZES["streebog512"] == hashes.new("streebog512").digest_size


def test_256_is_not_a_truncated_512() -> None:
    # Different IV: the 256-bit digest is not half of the 512-bit one.
    assert H256_M1 not in (H512_M1[:32], H512_M1[32:])


SPLITS = [0, 1, 2, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 191, 192, 193, 255, 256, 257]


@pytest.mark.parametrize("size", SIZES)
def test_incremental_updates_equal_one_shot(size: int) -> None:
    data = random.Random(6986).randbytes(300)
    for length in (0, 1, 63, 64, 65, 127, 128, 129, 200, 300):
        message = data[:length]
        want = Streebog(size, message).digest()
        for cut in (c for c in SPLITS if c <= length):
            h = Streebog(size)
            h.update(message[:cut])
            h.update(message[cut:])
            assert h.digest() == want, (length, cut)
        for cut1, cut2 in [(1, 64), (63, 65), (64, 128), (65, 127), (10, 11)]:
            if cut2 <= length:
                h = Streebog(size, message[:cut1])
                h.update(message[cut1:cut2])
                h.update(memoryview(message)[cut2:])
                assert h.digest() == want, (length, cut1, cut2)
        h = Streebog(size)
        for i in range(length):
            h.update(message[i:i + 1])
        assert h.digest() == want


def test_buffer_types() -> None:
    message = bytes(range(200))
    want = Streebog(64, message).digest()
    assert Streebog(64, bytearray(message)).digest() == want
    assert Streebog(64, memoryview(message)).digest() == want
    # a non-byte memoryview is hashed as its raw bytes, as hashlib does
    words = memoryview(message).cast("H")
    assert Streebog(64, words).digest() == want
    assert Streebog(64, memoryview(b"x" + message)[1:]).digest() == want


@pytest.mark.parametrize("size", SIZES)
def test_digest_is_idempotent_and_does_not_finalise(size: int) -> None:
    h = Streebog(size, M2[:40])
    first = h.digest()
    assert h.digest() == first
    assert h.hexdigest() == first.hex()
    h.update(M2[40:])
    assert h.digest() == Streebog(size, M2).digest()
    assert h.digest() != first


@pytest.mark.parametrize("size", SIZES)
def test_copy_is_independent(size: int) -> None:
    h = Streebog(size, M2[:70])
    c = h.copy()
    assert (c.name, c.digest_size, c.block_size) == (h.name, h.digest_size, h.block_size)
    assert c.digest() == h.digest()
    c.update(M2[70:])
    assert c.digest() == Streebog(size, M2).digest()
    assert h.digest() == Streebog(size, M2[:70]).digest()
    h.update(b"different")
    assert c.digest() == Streebog(size, M2).digest()
    # a copy after whole blocks carries the counters along
    big = Streebog(size, M1 * 5)
    assert big.copy().digest() == Streebog(size, M1 * 5).digest()


def test_one_bit_changes_the_digest() -> None:
    flipped = bytes([M1[0] ^ 1]) + M1[1:]
    assert Streebog(64, flipped).digest() != H512_M1
    assert Streebog(32, M1 + b"\x00").digest() != H256_M1
    # a trailing zero byte is not absorbed by the padding
    assert Streebog(64, b"\x00").digest() != Streebog(64).digest()
    assert Streebog(64, bytes(64)).digest() != Streebog(64, bytes(63)).digest()


@pytest.mark.parametrize("length", [0, 1, 63, 64, 65, 1000, 100000])
@pytest.mark.parametrize("size", SIZES)
def test_gost_engine_agrees(tmp_path: Path, size: int, length: int) -> None:
    data = random.Random(length * 1000 + size).randbytes(length)
    result = openssl(tmp_path, "dgst", f"-md_gost12_{size * 8}", "-binary", input=data)
    assert len(result.stdout) == size
    assert Streebog(size, data).digest() == result.stdout


def test_gost_engine_agrees_on_the_rfc_examples(tmp_path: Path) -> None:
    for message, h256, h512 in [(M1, H256_M1, H512_M1), (M2, H256_M2, H512_M2)]:
        assert openssl(tmp_path, "dgst", "-md_gost12_256", "-binary", input=message).stdout == h256
        assert openssl(tmp_path, "dgst", "-md_gost12_512", "-binary", input=message).stdout == h512

