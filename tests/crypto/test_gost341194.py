"""GOST R 34.11-94: RFC 5831 section 7, the widely published vectors for both S-box sets, the gost
engine's ``md_gost94`` as oracle, and a real Kalkan (NCA) CMS messageDigest for GOST 34.311-95.

Byte order: ``digest()`` is the engine's ``-binary`` output (H as 32 little-endian bytes); RFC 5831
prints H as a number, so its value is ``digest()[::-1]``.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

import pytest
from asn1crypto import cms

from support.gost_engine import openssl
from tanba.crypto import hashes
from tanba.crypto.gost28147 import SBox
from tanba.crypto.gost341194 import CRYPTOPRO_SBOX, TEST_SBOX, Gost341194

RFC_32 = b"This is message, length=32 bytes"
RFC_50 = b"Suppose the original message has length = 50 bytes"
KALKAN = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "nca" / "kalkan_gost2004.p7s"


def h(sbox: SBox, data: bytes) -> str:
    return Gost341194(sbox, data).hexdigest()


def test_rfc5831_section7_test_parameters() -> None:
    """RFC 5831 7.3.1 / 7.3.2: the hash values as the RFC prints them (H as a number)."""
    assert Gost341194(TEST_SBOX, RFC_32).digest()[::-1].hex().upper() == (
        "FAFF37A615A816691CFF3EF8B68CA247E09525F39F8119832EB81975D366C4B1")
    assert Gost341194(TEST_SBOX, RFC_50).digest()[::-1].hex().upper() == (
        "0852F5623B89DD57AEB4781FE54DF14EEAFBC1350613763A0D770AA657BA1A47")


# Test parameter set: the vectors of Wikipedia's "GOST (hash function)" article (also in RHash,
# PyGOST, Digest::GOST), byte strings as the engine prints them.
TEST_VECTORS = [
    (b"", "ce85b99cc46752fffee35cab9a7b0278abb4c2d2055cff685af4912c49490f8d"),
    (b"a", "d42c539e367c66e9c88a801f6649349c21871b4344c6a573f849fdce62f314dd"),
    (b"abc", "f3134348c44fb1b2a277729e2285ebb5cb5e0f29c975bc753b70497c06a4d51d"),
    (b"message digest", "ad4434ecb18f2c99b60cbe59ec3d2469582b65273f48de72db2fde16a4889a4d"),
    (b"The quick brown fox jumps over the lazy dog",
     "77b7fa410c9ac58a25f49bca7d0468c9296529315eaca76bd1a10f376d1f4294"),
    (b"The quick brown fox jumps over the lazy cog",
     "a3ebc4daaab78b0be131dab5737a7f67e602670d543521319150d2e14eeec445"),
    (RFC_32, "b1c466d37519b82e8319819ff32595e047a28cb6f83eff1c6916a815a637fffa"),
    (RFC_50, "471aba57a60a770d3a76130635c1fbea4ef14de51f78b4ae57dd893b62f55208"),
    (b"U" * 128, "53a3a3ed25180cef0c1d85a074273e551c25660a87062a52d926a9e8fe5733a4"),
    (b"a" * 1_000_000, "5c00ccc2734cdd3332d3d4749576e3c1a7dbaf0e7ea74e9fa602413c90a129fa"),
]

# CryptoPro parameter set: the same article's CryptoPro values (also PyGOST, BouncyCastle).
CRYPTOPRO_VECTORS = [
    (b"", "981e5f3ca30c841487830f84fb433e13ac1101569b9c13584ac483234cd656c0"),
    (b"a", "e74c52dd282183bf37af0079c9f78055715a103f17e3133ceff1aacf2f403011"),
    (b"abc", "b285056dbf18d7392d7677369524dd14747459ed8143997e163b2986f92fd42c"),
    (b"message digest", "bc6041dd2aa401ebfa6e9886734174febdb4729aa972d60f549ac39b29721ba0"),
    (b"The quick brown fox jumps over the lazy dog",
     "9004294a361a508c586fe53d1f1b02746765e71b765472786e4770d565830a76"),
    (RFC_32, "2cefc2f7b7bdc514e18ea57fa74ff357e7fa17d652c75f69cb1be7893ede48eb"),
    (RFC_50, "c3730c5cbccacf915ac292676f21e8bd4ef75331d9405e5f1a61dc3130a65011"),
    (b"U" * 128, "1c4ac7614691bbf427fa2316216be8f10d92edfd37cd1027514c1008f649c4e8"),
    (b"a" * 1_000_000, "8693287aa62f9478f7cb312ec0866b6c4e4a0f11160441e8f4ffcd2715dd554f"),
]


@pytest.mark.parametrize("data, expected", TEST_VECTORS, ids=lambda v: repr(v)[:20])
def test_test_parameter_set_vectors(data: bytes, expected: str) -> None:
    assert h(TEST_SBOX, data) == expected


@pytest.mark.parametrize("data, expected", CRYPTOPRO_VECTORS, ids=lambda v: repr(v)[:20])
def test_cryptopro_parameter_set_vectors(data: bytes, expected: str) -> None:
    assert h(CRYPTOPRO_SBOX, data) == expected


def test_the_sbox_set_matters() -> None:
    assert h(TEST_SBOX, b"abc") != h(CRYPTOPRO_SBOX, b"abc")


# gost-engine test/01-digest.t (md_gost94 = CryptoPro S-boxes)
ENGINE_SUITE = [
    (b"12345670" * 128, "f7fc6d16a6a5c12ac4f7d320e0fd0d8354908699125e09727a4ef929122b1cae"),
    (b"\x00\x01\x02\x15\x84\x67\x45\x31" * 128, "69f529aa82d9344ab0fa550cdf4a70ecfd92a38b5520b1906329763e09105196"),
    ((b"12345670" * 128)[:539], "bd5f1e4b539c7b00f0866afdbc8ed452503a18436061747a343f43efe888aac9"),
    ((b"121345678" * 7 + b"1234567\n") * 4096 + b"12345\n",
     "e5d3ac4ea3f67896c51ff919cedb9405ad771e39f0f2eab103624f9a758e506f"),
]


@pytest.mark.parametrize("data, expected", ENGINE_SUITE, ids=["1K ascii", "1K binary", "539 bytes", "128K"])
def test_engine_suite(data: bytes, expected: str) -> None:
    assert h(CRYPTOPRO_SBOX, data) == expected


def test_against_engine_md_gost94(tmp_path: Path) -> None:
    """Random messages: ``openssl dgst -md_gost94 -binary`` equals digest() byte for byte (not
    reversed); for the empty message the engine hashes one zero block (``pad_empty=True``)."""
    for n in (0, 1, 31, 32, 33, 1000, 100_000):
        data = secrets.token_bytes(n)
        theirs = openssl(tmp_path, "dgst", "-md_gost94", "-binary", input=data).stdout
        assert Gost341194(CRYPTOPRO_SBOX, data, pad_empty=True).digest() == theirs, n
        if n:
            assert Gost341194(CRYPTOPRO_SBOX, data).digest() == theirs, n
            assert theirs[::-1] != theirs
        else:
            assert theirs.hex() == "3f25bc1fbbce27ca10fb1958f319473ae7e17482c3b53ecf47a7e2de8aabe4c8"
            assert Gost341194(CRYPTOPRO_SBOX, data).hexdigest() == CRYPTOPRO_VECTORS[0][1]


def test_pad_empty_only_changes_the_empty_message() -> None:
    e = Gost341194(TEST_SBOX, pad_empty=True)
    assert e.hexdigest() != TEST_VECTORS[0][1]
    assert e.copy().hexdigest() == e.hexdigest()
    e.update(b"abc")
    assert e.hexdigest() == TEST_VECTORS[2][1]


@pytest.mark.skipif(not KALKAN.exists(), reason=f"NCA test data not found at {KALKAN}")
def test_kalkan_cms_message_digest_is_gost34311_95_in_digest_byte_order() -> None:
    """NCA Kalkan's CMS (GOST 34.310-2004 signer, content "asdasd"): the signed messageDigest is
    GOST 34.311-95 (the test S-boxes) of the content, in digest() order (not reversed)."""
    signed = cms.ContentInfo.load(KALKAN.read_bytes())["content"]
    content = signed["encap_content_info"]["content"].native
    assert content == b"asdasd"
    [signer] = signed["signer_infos"]
    assert signer["digest_algorithm"]["algorithm"].dotted == "1.2.398.3.10.1.3.1"  # GOST 34.311-95
    [md] = [a["values"][0].native for a in signer["signed_attrs"] if a["type"].dotted == "1.2.840.113549.1.9.4"]
    ours = Gost341194(TEST_SBOX, content).digest()
    assert md == ours
    assert md != ours[::-1]
    assert md != Gost341194(CRYPTOPRO_SBOX, content).digest()


def test_hashlib_style_api() -> None:
    data = secrets.token_bytes(1000)
    one = Gost341194(TEST_SBOX, data, name="gost34311-95")
    assert (one.name, one.digest_size, one.block_size) == ("gost34311-95", 32, 32)
    pieces = Gost341194(TEST_SBOX)
    for i in range(0, 1000, 37):
        pieces.update(memoryview(data)[i:i + 37])
    assert pieces.digest() == one.digest() == one.digest()  # digest() does not finalise
    c = one.copy()
    c.update(b"more")
    assert one.digest() == pieces.digest() != c.digest()
    assert c.digest() == Gost341194(TEST_SBOX, data + b"more").digest()
    assert one.hexdigest() == one.digest().hex()
    one.update(bytearray(b"more"))
    assert one.digest() == c.digest()


def test_registry_in_hashes() -> None:
    assert hashes.new("gost34311-95", b"abc").hexdigest() == TEST_VECTORS[2][1]
    assert hashes.new("gost3411-94", b"abc").hexdigest() == CRYPTOPRO_VECTORS[2][1]
    assert hashes.new("gost34311-95").name == "gost34311-95"
    assert hashes.DIGEST_SIZES["gost34311-95"] == len(hashes.digest("gost34311-95", b""))


def test_hmac_and_pbkdf2_gost94() -> None:
    """PBKDF2-HMAC-GOST R 34.11-94 (CryptoPro S-boxes): TC26 "Addition to PKCS#5 v1.0" vectors."""
    def prf(key: bytes, msg: bytes) -> bytes:
        return hmac.new(key, msg, lambda d=b"": Gost341194(CRYPTOPRO_SBOX, d)).digest()

    def pbkdf2(password: bytes, salt: bytes, iterations: int) -> bytes:
        u = prf(password, salt + b"\0\0\0\1")
        acc = int.from_bytes(u, "big")
        for _ in range(iterations - 1):
            u = prf(password, u)
            acc ^= int.from_bytes(u, "big")
        return acc.to_bytes(32, "big")

    assert pbkdf2(b"password", b"salt", 1).hex() == "7314e7c04fb2e662c543674253f68bd0b73445d07f241bed872882da21662d58"
    assert pbkdf2(b"password", b"salt", 2).hex() == "990dfa2bd965639ba48b07b792775df79f2db34fef25f274378872fed7ed1bb3"
