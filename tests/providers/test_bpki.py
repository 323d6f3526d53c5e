"""STB 34.101.78 (bpki) private-key containers: bee2's form, read and written.

Sources:

* ``ZED_SK``: the EncryptedPrivateKeyInfo of bee2evp's test/bign_test.c (bcrypto/bee2evp,
  by bee2's authors): password "zed", salt 0C7F910EBB684785, 10,000 iterations, holding the
  private key d = 1 on bign-curve256v1 (its public key printed there is G = (0, yG)).  Its
  structure is the one bee2's src/crypto/bpki.c writes and requires (bpkiEdataEnc /
  bpkiEdataDec, bpkiPrivkeyEnc): PBKDF2 {salt, iterations, {hmac-hbelt, NULL}} and
  {belt-kwp256, NULL}, so Tanba's writer must give the same bytes for the same salt.
* bee2's test/crypto/bpki_test.c (bpkiContTest) has no fixed output: it wraps H[0..l/4) on
  each curve under "zed" with the salt H[l/4..l/4+8) and 10,000 + j iterations and unwraps
  it again; the same round trips are made here with Tanba's writer and reader.
"""

from __future__ import annotations

import pytest
from asn1crypto import cms, keys
from asn1crypto import pkcs12 as asn1_pkcs12

from tanba.crypto import bign
from tanba.crypto.belt import H
from tanba.protocol.errors import StoreError, WrongPin
from tanba.providers import bpki, pkcs12_decode
from tanba.providers.pkcs12_decode import decrypt_encrypted_private_key_info


def unhex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


ZED_SK = unhex(
    "30819D304806092A864886F70D01050D303B302A06092A864886F70D01050C30"
    "1D04080C7F910EBB68478502022710300D06092A7000020022652F0C0500300D"
    "06092A7000020022651F4905000451A3F18C851870081760A74C01D34581E45E"
    "9DD333CDA723FED51E4525D81EB91B02742E8CE72906E3DAFB40E450B6E989BC"
    "832DAA0BDD9B50128A10CCA5E052D4BB4383EF9B96D6AF48830820FEFE7CDC58")
ZED_PASSWORD = b"zed"
ZED_SALT = unhex("0C7F910EBB684785")
ZED_PUBKEY = unhex(
    "0000000000000000000000000000000000000000000000000000000000000000"
    "936A510418CF291E52F608C4663991785D83D651A3C9E45C9FD616FB3CFCF76B")
CURVE256 = "1.2.112.0.2.0.34.101.45.3.1"
D_ONE = (1).to_bytes(32, "little")
#: bee2's PrivateKeyInfo of d = 1 on bign-curve256v1 (bpkiPrivkeyEnc)
PKI_ONE = unhex(
    "303F020100 3018 060A2A7000020022652D0201 060A2A7000020022652D0301"
    "0420 0100000000000000000000000000000000000000000000000000000000000000")
#: the EncryptionAlgorithmIdentifier of a bpki container up to the salt, and after it up to
#: the encrypted data (iterations 10,000)
PBES2_HEAD = unhex("304806092A864886F70D01050D303B302A06092A864886F70D01050C301D0408")
PBES2_TAIL = unhex("020227 10 300D06092A7000020022652F0C0500 300D06092A7000020022651F490500")


# --- reading ---------------------------------------------------------------------------------

def test_bee2evp_container_opens_with_its_password() -> None:
    plain = decrypt_encrypted_private_key_info(ZED_SK, ZED_PASSWORD)
    assert plain == PKI_ONE
    curve, key = bpki.read_private_key_info(plain)
    assert (curve, key) == (CURVE256, D_ONE)
    c = bign.curve_by_oid(curve)
    d = bign.decode_private_key(c, key)
    assert bign.encode_public_key(c, bign.public_key(c, d)) == ZED_PUBKEY


@pytest.mark.parametrize("password", [b"zee", b"Zed", b"zed ", b""])
def test_wrong_password_is_wrong_pin(password: bytes) -> None:
    with pytest.raises(WrongPin):
        decrypt_encrypted_private_key_info(ZED_SK, password)


def _flip(data: bytes, position: int) -> bytes:
    out = bytearray(data)
    out[position] ^= 0x01
    return bytes(out)


@pytest.mark.parametrize("position", [len(ZED_SK) - 81, len(ZED_SK) - 40, len(ZED_SK) - 1],
                         ids=["first", "middle", "last"])
def test_tampered_ciphertext_fails(position: int) -> None:
    with pytest.raises(WrongPin):
        decrypt_encrypted_private_key_info(_flip(ZED_SK, position), ZED_PASSWORD)


def test_tampered_salt_fails() -> None:
    at = ZED_SK.index(ZED_SALT)
    with pytest.raises(WrongPin):
        decrypt_encrypted_private_key_info(_flip(ZED_SK, at), ZED_PASSWORD)


def test_unusable_schemes_are_store_errors() -> None:
    kwp = unhex("06092A7000020022651F49")
    # belt-kwp256 with parameters other than NULL (an empty OCTET STRING in NULL's place)
    bad_params = ZED_SK.replace(kwp + unhex("0500"), kwp + unhex("0400"))
    # an unknown PRF (hmac-hbelt's last arc changed)
    bad_prf = ZED_SK.replace(unhex("06092A7000020022652F0C"), unhex("06092A7000020022652F0D"))
    # an unknown cipher (belt-kwp's last arc changed)
    bad_cipher = ZED_SK.replace(kwp, unhex("06092A7000020022651F48"))
    for der in (bad_params, bad_prf, bad_cipher):
        assert der != ZED_SK
        with pytest.raises(StoreError):
            decrypt_encrypted_private_key_info(der, ZED_PASSWORD)
    for der in (b"", ZED_SK[:-1], ZED_SK + b"\x00", PKI_ONE):
        with pytest.raises(StoreError):
            decrypt_encrypted_private_key_info(der, ZED_PASSWORD)


def _pfx_with_shrouded_key(epki: bytes) -> bytes:
    """A PKCS#12 file without a MAC whose one bag is ``epki`` as a shrouded key bag."""
    bag = asn1_pkcs12.SafeBag({"bag_id": "pkcs8_shrouded_key_bag",
                               "bag_value": keys.EncryptedPrivateKeyInfo.load(epki)})
    contents = asn1_pkcs12.SafeContents([bag])
    safe = asn1_pkcs12.AuthenticatedSafe([cms.ContentInfo({"content_type": "data", "content": contents.dump()})])
    return bytes(asn1_pkcs12.Pfx({"version": 3, "auth_safe": {"content_type": "data",
                                                               "content": safe.dump()}}).dump())


def test_bpki_key_in_a_pkcs12_shrouded_bag() -> None:
    pfx = _pfx_with_shrouded_key(ZED_SK)
    assert pkcs12_decode.decode(pfx, ZED_PASSWORD, "zed.p12").keys == [(PKI_ONE, b"")]
    with pytest.raises(WrongPin):
        pkcs12_decode.decode(pfx, b"zee", "zed.p12")


# --- writing ---------------------------------------------------------------------------------

def test_writer_reproduces_bee2evp_container() -> None:
    der = bpki.encrypt_private_key_info(PKI_ONE, ZED_PASSWORD, iterations=10000, salt=ZED_SALT)
    assert der == ZED_SK
    assert der[3:3 + len(PBES2_HEAD)] == PBES2_HEAD
    assert der[3 + len(PBES2_HEAD) + 8:][:len(PBES2_TAIL)] == PBES2_TAIL


def test_writer_output_round_trips_with_a_random_salt() -> None:
    plain = bpki.plain_private_key_info(CURVE256, H[:32])
    one = bpki.encrypt_private_key_info(plain, ZED_PASSWORD)
    two = bpki.encrypt_private_key_info(plain, ZED_PASSWORD)
    assert one != two  # fresh salts
    assert one[3:3 + len(PBES2_HEAD)] == PBES2_HEAD and len(one) == len(ZED_SK)
    assert decrypt_encrypted_private_key_info(one, ZED_PASSWORD) == plain
    with pytest.raises(WrongPin):
        decrypt_encrypted_private_key_info(one, b"zee")


def test_writer_with_bpki_test_parameters() -> None:
    # bpki_test.c, l = 128: H[0..32) under "zed", salt H[32..40), 10,001 iterations
    plain = bpki.plain_private_key_info(CURVE256, H[:32])
    der = bpki.encrypt_private_key_info(plain, ZED_PASSWORD, iterations=10001, salt=H[32:40])
    assert H[32:40] + unhex("02022711") in der  # salt, then INTEGER 10001
    assert bpki.read_private_key_info(decrypt_encrypted_private_key_info(der, ZED_PASSWORD)) == (CURVE256, H[:32])


def test_writer_argument_checks() -> None:
    with pytest.raises(ValueError, match="10000 iterations or more"):
        bpki.encrypt_private_key_info(PKI_ONE, ZED_PASSWORD, iterations=9999, salt=ZED_SALT)
    with pytest.raises(ValueError, match="salt"):
        bpki.encrypt_private_key_info(PKI_ONE, ZED_PASSWORD, salt=ZED_SALT[:7])
    with pytest.raises(ValueError, match="salt"):
        bpki.encrypt_private_key_info(PKI_ONE, ZED_PASSWORD, salt=ZED_SALT + b"\x00")
    for junk in (b"", b"\x04\x00", PKI_ONE + b"\x00"):
        with pytest.raises(ValueError, match="not a PrivateKeyInfo"):
            bpki.encrypt_private_key_info(junk, ZED_PASSWORD, salt=ZED_SALT)


# --- the plain PrivateKeyInfo ----------------------------------------------------------------

def test_plain_private_key_info_matches_bee2() -> None:
    assert bpki.plain_private_key_info(CURVE256, D_ONE) == PKI_ONE
    assert bpki.read_private_key_info(PKI_ONE) == (CURVE256, D_ONE)


@pytest.mark.parametrize(("curve", "size"), sorted(bpki.CURVE_KEY_SIZES.items()))
def test_plain_private_key_info_round_trips_on_every_curve(curve: str, size: int) -> None:
    # bpki_test.c's keys: H[0 .. l/4)
    der = bpki.plain_private_key_info(curve, H[:size])
    assert bpki.read_private_key_info(der) == (curve, H[:size])
    assert der.startswith(unhex("3082") if len(der) > 129 else bytes([0x30, len(der) - 2]))


def test_plain_private_key_info_refuses_bad_keys() -> None:
    with pytest.raises(ValueError, match="not a bign curve"):
        bpki.plain_private_key_info("1.2.643.7.1.2.1.1.1", D_ONE)
    with pytest.raises(ValueError, match="32 bytes, not 31"):
        bpki.plain_private_key_info(CURVE256, D_ONE[:31])
    with pytest.raises(ValueError, match="48 bytes, not 32"):
        bpki.plain_private_key_info("1.2.112.0.2.0.34.101.45.3.2", D_ONE)


@pytest.mark.parametrize("der", [
    b"",
    PKI_ONE + b"\x00",  # trailing data
    PKI_ONE[:-1],  # truncated
    PKI_ONE.replace(unhex("020100"), unhex("020101")),  # version 1
    PKI_ONE.replace(unhex("2D0201"), unhex("2D0202")),  # not bign-pubkey
    PKI_ONE.replace(unhex("2D0301"), unhex("2D0304")),  # unknown curve
    PKI_ONE.replace(unhex("2D0301"), unhex("2D0302")),  # bign-curve384v1 with a 32-byte key
    unhex("3041020100 3018 060A2A7000020022652D0201 060A2A7000020022652D0301"
          "0422 0100000000000000000000000000000000000000000000000000000000000000 0000"),  # 34 bytes
    unhex("3041020100 3018 060A2A7000020022652D0201 060A2A7000020022652D0301"
          "0420 0100000000000000000000000000000000000000000000000000000000000000 A000"),  # attributes
    unhex("30800201003018060A2A7000020022652D0201060A2A7000020022652D03010420") + D_ONE + b"\0\0",  # BER
], ids=["empty", "trailing", "truncated", "version", "algorithm", "curve", "length", "long key",
        "attributes", "indefinite"])
def test_read_private_key_info_refuses_anything_else(der: bytes) -> None:
    with pytest.raises(ValueError):
        bpki.read_private_key_info(der)
