"""GOST 28147-89: published vectors (RFC 8891 Magma, the gost engine's own test suite) and the
gost engine as an oracle, both directions, in every mode it exposes, across the 1024-byte
key-meshing boundary."""

from __future__ import annotations

import hmac
import os
import secrets
import struct
from pathlib import Path

import pytest
from asn1crypto import core, pem, pkcs12

from support.gost_engine import openssl
from tanba.crypto import gost28147 as g
from tanba.crypto.gost341194 import CRYPTOPRO_SBOX, Gost341194

LENGTHS = [1, 8, 1023, 1024, 1025, 5000]
CIPHER_SETS = [g.GOST28147_TEST, g.CRYPTOPRO_A, g.CRYPTOPRO_B, g.CRYPTOPRO_C, g.CRYPTOPRO_D, g.TC26_Z]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gost28147")


def engine_enc(workdir: Path, alg: str, key: bytes, iv: bytes, data: bytes, *, decrypt: bool = False,
               params: str | None = None, pad: bool = False) -> bytes:
    """``openssl enc -<alg>`` with the gost engine; ``params`` goes to the engine's CRYPT_PARAMS."""
    old = os.environ.get("CRYPT_PARAMS")
    if params is not None:
        os.environ["CRYPT_PARAMS"] = params
    try:
        args = ["enc", "-d" if decrypt else "-e", f"-{alg}", "-K", key.hex(), "-iv", iv.hex()]
        if not pad:
            args.append("-nopad")
        return openssl(workdir, *args, input=data).stdout
    finally:
        if old is None:
            os.environ.pop("CRYPT_PARAMS", None)
        else:
            os.environ["CRYPT_PARAMS"] = old


def agree_until_meshing(a: bytes, b: bytes) -> bool:
    """Equal over the first 1024 bytes (or all of them, when shorter) and, past them, apart in
    the first 8-byte block. Only a whole block is compared: a lone byte past 1024 (n = 1025)
    still matches by chance 1 time in 256, a whole block never in practice."""
    if len(a) <= 1024:
        return a == b
    if len(a) < 1032:
        return a[:1024] == b[:1024]
    return a[:1024] == b[:1024] and a[1024:1032] != b[1024:1032]


# -- the S-box objects ---------------------------------------------------------------------------

def test_sbox_sets_are_named_by_their_oids() -> None:
    assert {s.oid: s.name for s in g.SBOXES.values()} == {
        "1.2.643.2.2.30.0": "id-GostR3411-94-TestParamSet",
        "1.2.643.2.2.30.1": "id-GostR3411-94-CryptoProParamSet",
        "1.2.643.2.2.31.0": "id-Gost28147-89-TestParamSet",
        "1.2.643.2.2.31.1": "id-Gost28147-89-CryptoPro-A-ParamSet",
        "1.2.643.2.2.31.2": "id-Gost28147-89-CryptoPro-B-ParamSet",
        "1.2.643.2.2.31.3": "id-Gost28147-89-CryptoPro-C-ParamSet",
        "1.2.643.2.2.31.4": "id-Gost28147-89-CryptoPro-D-ParamSet",
        "1.2.643.7.1.2.5.1.1": "id-tc26-gost-28147-param-Z",
    }
    assert g.sbox_by_oid("1.2.643.7.1.2.5.1.1") is g.TC26_Z
    with pytest.raises(KeyError):
        g.sbox_by_oid("1.2.643.2.2.31.5")
    with pytest.raises(AttributeError):
        g.TC26_Z.name = "x"  # type: ignore[misc]


def test_an_sbox_row_must_be_a_permutation() -> None:
    rows = tuple(tuple(range(16)) for _ in range(8))
    g.SBox("identity", "0.0", rows)
    with pytest.raises(ValueError):
        g.SBox("bad", "0.0", rows[:7] + ((0,) * 16,))


def test_fused_tables_match_the_sboxes_and_rotation() -> None:
    for sbox in g.SBOXES.values():
        t = sbox.tables
        assert [len(x) for x in t] == [256, 256, 256, 512]
        for x in (0, 0x12345678, 0xFFFFFFFF, secrets.randbits(32)):
            s = sum(sbox.rows[i][x >> (4 * i) & 15] << (4 * i) for i in range(8))
            rotated = ((s << 11) | (s >> 21)) & 0xFFFFFFFF
            assert t[0][x & 255] ^ t[1][x >> 8 & 255] ^ t[2][x >> 16 & 255] ^ t[3][x >> 24] == rotated


# -- RFC 8891 (GOST R 34.12-2015 Magma = GOST 28147-89 with param-Z, big-endian) -------------------

def _round(x: int) -> int:
    t0, t1, t2, t3 = g.TC26_Z.tables
    return t0[x & 255] ^ t1[x >> 8 & 255] ^ t2[x >> 16 & 255] ^ t3[x >> 24]


def test_rfc8891_a1_t_and_g_transformations() -> None:
    # t = the S-box layer alone: our fused round with the rotation undone
    for a, b in [(0xFDB97531, 0x2A196F34), (0x2A196F34, 0xEBD9F03A), (0xEBD9F03A, 0xB039BB3D),
                 (0xB039BB3D, 0x68695433)]:
        v = _round(a)
        assert ((v >> 11) | (v << 21)) & 0xFFFFFFFF == b
    # g[k](a) = t(a + k mod 2^32) <<< 11
    for k, a, b in [(0x87654321, 0xFEDCBA98, 0xFDCBC20C), (0xFDCBC20C, 0x87654321, 0x7E791A4B),
                    (0x7E791A4B, 0xFDCBC20C, 0xC76549EC), (0xC76549EC, 0x7E791A4B, 0x9791C849)]:
        assert _round((a + k) & 0xFFFFFFFF) == b


def magma_key(k: bytes) -> bytes:
    """A Magma key (RFC 8891, big-endian words K1..K8) as a GOST 28147-89 key (little-endian words)."""
    return b"".join(k[i:i + 4][::-1] for i in range(0, 32, 4))


def test_rfc8891_a3_block_with_byte_reversal() -> None:
    key = magma_key(bytes.fromhex("ffeeddccbbaa99887766554433221100f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"))
    plain, cipher = bytes.fromhex("fedcba9876543210"), bytes.fromhex("4ee901e5c2d8ca3d")
    c = g.Gost28147(key, g.TC26_Z)
    assert c.encrypt_block(plain[::-1]) == cipher[::-1]
    assert c.decrypt_block(cipher[::-1]) == plain[::-1]
    assert c.ecb_encrypt(plain[::-1] * 3) == cipher[::-1] * 3
    # the wrong S-boxes or a one-bit key change give something else
    assert g.Gost28147(key, g.CRYPTOPRO_A).encrypt_block(plain[::-1]) != cipher[::-1]
    key2 = bytes([key[0] ^ 1]) + key[1:]
    assert g.Gost28147(key2, g.TC26_Z).decrypt_block(cipher[::-1]) != plain[::-1]


# -- the gost engine's published vectors (gost-engine test/03-encrypt.t, test/02-mac.t) ------------

FOX = b"The quick brown fox jumps over the lazy dog\n"
ENGINE_KEY = bytes.fromhex("0123456789ABCDEF" * 4)


@pytest.mark.parametrize("sbox, expected", [
    (g.CRYPTOPRO_A, "07f4102c6185c4a09e676e269bfa4bc9c5df6575916b879bd13a893a2285ee6690107cdeef7a315d2eb54bfa"),
    (g.CRYPTOPRO_B, "11465c1c9708033e784fbb5536f2719c38353cb488b01f195c20d4c027022e8300d98bb66c138afbe878c88b"),
    (g.CRYPTOPRO_C, "2f213b390c9b6ceb18de479686d23f4f03c76644a0aab8894b50b71a3bbb3c027ec4c2d569ba0e6a873bd46e"),
    (g.CRYPTOPRO_D, "e835f59a7fdfd84764efe1e987660327f5d0de187afea72f9cd040983a5e5bbeb4fe1aa5ff85d623ebc4d435"),
])
def test_engine_suite_cfb(sbox: g.SBox, expected: str) -> None:
    c = g.Gost28147(ENGINE_KEY, sbox)
    assert c.cfb_encrypt(bytes(8), FOX, meshing=True).hex() == expected
    assert c.cfb_decrypt(bytes(8), bytes.fromhex(expected), meshing=True) == FOX


@pytest.mark.parametrize("sbox, expected", [
    (g.CRYPTOPRO_A, "bcb821452e459f10f92019171e7c3b27b87f24b174306667f67704812c07b70b5e7420f74a9d54feb4897df8"),
    (g.TC26_Z, "cf3f5f713b3d10abd0c6f7bafb6aaffe13dfc12ef5c844f84873aeaaf6eb443a9747c9311b86f97ba3cdb5c4"),
])
def test_engine_suite_cnt(sbox: g.SBox, expected: str) -> None:
    c = g.Gost28147(ENGINE_KEY, sbox)
    assert c.cnt(bytes(8), FOX).hex() == expected
    assert c.cnt(bytes(8), bytes.fromhex(expected)) == FOX


@pytest.mark.parametrize("sbox, expected", [
    (g.CRYPTOPRO_A, "3a3293e75089376572da44966cd1759c29d2f1e5e1c3fa9674909a63026da3dc51a4266bff37fb74a3a07155c9ca8fcf"),
    (g.CRYPTOPRO_B, "af2a2167b75852378af176ac9950e3c4bffc94d3d4355191707adbb16d6c8e3f3a07868c4702babef18393edfac60a6d"),
    (g.CRYPTOPRO_C, "987c0fb3d84530467a1973791e0a25e33c5d14591976f8c1573bdb9d056eb7b353f66fef3ffe2e3524583b3997123c8a"),
    (g.CRYPTOPRO_D, "e076b09822d4786a2863125d16594d765d8acd0f360e52df42e9d52c8e6c0e6595b5f6bbecb04a22c8ae5f4f87c1523b"),
])
def test_engine_suite_cbc_with_pkcs7_padding(sbox: g.SBox, expected: str) -> None:
    padded = FOX + bytes([4]) * 4  # openssl enc pads to the 8-byte block, PKCS#7
    c = g.Gost28147(ENGINE_KEY, sbox)
    assert c.cbc_encrypt(bytes(8), padded).hex() == expected
    assert c.cbc_decrypt(bytes(8), bytes.fromhex(expected)) == padded


MAC_KEY = b"0123456789abcdef" * 2  # `-macopt key:` takes the 32 characters as the key bytes


def test_engine_suite_mac() -> None:
    data = b"12345670" * 128
    a = g.Gost28147(MAC_KEY, g.CRYPTOPRO_A)
    z = g.Gost28147(MAC_KEY, g.TC26_Z)
    assert a.mac(data, meshing=True).hex() == "2ee8d13d"
    for size in range(1, 9):
        assert a.mac(data, size=size, meshing=True).hex() == "2ee8d13dff7f037d"[:2 * size]
        assert z.mac(data, size=size, meshing=True).hex() == "be4453ec1ec327be"[:2 * size]
    big = (b"12345670" * 8 + b"\n") * 4096  # 266240 bytes: meshing matters
    assert a.mac(big, meshing=True).hex() == "5efab81f"
    assert a.mac(big).hex() != "5efab81f"
    with pytest.raises(ValueError):
        a.mac(data, size=9)


# -- the gost engine as oracle -------------------------------------------------------------------

@pytest.mark.parametrize("sbox", CIPHER_SETS, ids=lambda s: s.name)
def test_cfb_against_engine_gost89(workdir: Path, sbox: g.SBox) -> None:
    """``gost89`` is CFB with CryptoPro meshing, whatever the parameter set (CRYPT_PARAMS)."""
    for n in LENGTHS:
        key, iv, data = secrets.token_bytes(32), secrets.token_bytes(8), secrets.token_bytes(n)
        c = g.Gost28147(key, sbox)
        theirs = engine_enc(workdir, "gost89", key, iv, data, params=sbox.oid)
        assert c.cfb_encrypt(iv, data, meshing=True) == theirs, n
        assert c.cfb_decrypt(iv, theirs, meshing=True) == data, n
        ours = c.cfb_encrypt(iv, data, meshing=True)
        assert engine_enc(workdir, "gost89", key, iv, ours, decrypt=True, params=sbox.oid) == data, n
        # without meshing only the first 1024 bytes agree
        plain_cfb = c.cfb_encrypt(iv, data)
        assert agree_until_meshing(plain_cfb, theirs), n


@pytest.mark.parametrize("sbox", [g.TC26_Z, g.CRYPTOPRO_A], ids=lambda s: s.name)
def test_decryption_with_a_wrong_key_or_iv_fails(workdir: Path, sbox: g.SBox) -> None:
    key, iv, data = secrets.token_bytes(32), secrets.token_bytes(8), secrets.token_bytes(1500)
    theirs = engine_enc(workdir, "gost89", key, iv, data, params=sbox.oid)
    bad_key = bytes([key[0] ^ 0x80]) + key[1:]
    bad_iv = iv[:7] + bytes([iv[7] ^ 1])
    assert g.Gost28147(bad_key, sbox).cfb_decrypt(iv, theirs, meshing=True) != data
    assert g.Gost28147(key, sbox).cfb_decrypt(bad_iv, theirs, meshing=True)[:8] != data[:8]
    other = g.TC26_Z if sbox is g.CRYPTOPRO_A else g.CRYPTOPRO_A
    assert g.Gost28147(key, other).cfb_decrypt(iv, theirs, meshing=True) != data
    assert g.Gost28147(bad_key, sbox).cnt(iv, g.Gost28147(key, sbox).cnt(iv, data)) != data
    assert g.Gost28147(key, sbox).cnt(bad_iv, g.Gost28147(key, sbox).cnt(iv, data)) != data


def test_engine_default_paramset_is_z(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key, iv, data = secrets.token_bytes(32), secrets.token_bytes(8), secrets.token_bytes(2000)
    monkeypatch.delenv("CRYPT_PARAMS", raising=False)
    theirs = openssl(workdir, "enc", "-gost89", "-K", key.hex(), "-iv", iv.hex(), "-nopad", input=data).stdout
    assert g.Gost28147(key, g.TC26_Z).cfb_encrypt(iv, data, meshing=True) == theirs


@pytest.mark.parametrize("alg, sbox", [("gost89-cnt", g.CRYPTOPRO_A), ("gost89-cnt-12", g.TC26_Z)])
def test_cnt_against_engine(workdir: Path, alg: str, sbox: g.SBox) -> None:
    """``gost89-cnt`` (CryptoPro-A) and ``gost89-cnt-12`` (param-Z): CNT with meshing."""
    for n in LENGTHS:
        key, iv, data = secrets.token_bytes(32), secrets.token_bytes(8), secrets.token_bytes(n)
        c = g.Gost28147(key, sbox)
        # CRYPT_PARAMS is set to another set on purpose: these two ciphers ignore it
        theirs = engine_enc(workdir, alg, key, iv, data, params=g.CRYPTOPRO_B.oid)
        assert c.cnt(iv, data, meshing=True) == theirs, n
        assert c.cnt(iv, theirs, meshing=True) == data, n
        assert engine_enc(workdir, alg, key, iv, c.cnt(iv, data, meshing=True), decrypt=True) == data, n
        assert agree_until_meshing(c.cnt(iv, data), theirs), n


def test_cnt_counter_edges_against_engine(workdir: Path) -> None:
    """N4 is added mod 2^32 - 1 (N4 + C1 = 2^32 gives 1, not 0), N3 mod 2^32: IVs chosen so that the
    first counter step (state E(IV)) lands on each edge."""
    key = secrets.token_bytes(32)
    c = g.Gost28147(key, g.CRYPTOPRO_A)
    for n3, n4 in [(0xFFFFFFFF, 2**32 - 0x01010104), (0, 2**32 - 0x01010104 - 1), (1, 2**32 - 0x01010104 + 1),
                   (0xFEFEFEFF, 0xFFFFFFFF), (0, 0)]:
        iv = c.decrypt_block(struct.pack("<2I", n3, n4))
        data = secrets.token_bytes(24)
        assert c.cnt(iv, data) == engine_enc(workdir, "gost89-cnt", key, iv, data), (n3, n4)


@pytest.mark.parametrize("sbox", [g.CRYPTOPRO_A, g.TC26_Z], ids=lambda s: s.name)
def test_cbc_and_ecb_against_engine(workdir: Path, sbox: g.SBox) -> None:
    """``gost89-cbc``: CBC without meshing; ECB is checked through CBC with a zero IV, block by block."""
    for n in (8, 1024, 5000):
        key, iv, data = secrets.token_bytes(32), secrets.token_bytes(8), secrets.token_bytes(n)
        c = g.Gost28147(key, sbox)
        theirs = engine_enc(workdir, "gost89-cbc", key, iv, data, params=sbox.oid)
        assert c.cbc_encrypt(iv, data) == theirs, n
        assert c.cbc_decrypt(iv, theirs) == data, n
        assert engine_enc(workdir, "gost89-cbc", key, iv, c.cbc_encrypt(iv, data), decrypt=True,
                          params=sbox.oid) == data, n
    key, data = secrets.token_bytes(32), secrets.token_bytes(64)
    c = g.Gost28147(key, sbox)
    blocks = b"".join(engine_enc(workdir, "gost89-cbc", key, bytes(8), data[i:i + 8], params=sbox.oid)
                      for i in range(0, 64, 8))
    assert c.ecb_encrypt(data) == blocks
    assert c.ecb_decrypt(blocks) == data
    assert b"".join(c.encrypt_block(data[i:i + 8]) for i in range(0, 64, 8)) == blocks


@pytest.mark.parametrize("alg, sbox", [("gost-mac", g.CRYPTOPRO_A), ("gost-mac-12", g.TC26_Z)])
def test_mac_against_engine(workdir: Path, alg: str, sbox: g.SBox) -> None:
    for n in [0, 1, 7, 8, 9, 16, 1023, 1024, 1025, 1032, 5000]:
        key, data = secrets.token_bytes(32), secrets.token_bytes(n)
        theirs = openssl(workdir, "dgst", "-mac", alg, "-macopt", f"hexkey:{key.hex()}", "-macopt", "size:8",
                         "-binary", input=data).stdout
        assert g.Gost28147(key, sbox).mac(data, size=8, meshing=True) == theirs, n
        assert g.Gost28147(key, sbox).mac(data, meshing=True) == theirs[:4], n


# -- PBES2 with id-Gost28147-89 (1.2.643.2.2.21) and paramset Z, as the engine writes it ------------

class GostCipherParams(core.Sequence):
    """Gost28147-89-Parameters (RFC 4357 section 10.3)."""

    _fields = [("iv", core.OctetString), ("encryption_param_set", core.ObjectIdentifier)]


def _pbkdf2_hmac_gost94(password: bytes, salt: bytes, iterations: int) -> bytes:
    """PBKDF2 (one 32-byte block) with HMAC GOST R 34.11-94 (CryptoPro S-boxes), OID 1.2.643.2.2.10."""
    def prf(msg: bytes) -> bytes:
        return hmac.new(password, msg, lambda d=b"": Gost341194(CRYPTOPRO_SBOX, d)).digest()
    u = prf(salt + b"\0\0\0\1")
    out = int.from_bytes(u, "big")
    for _ in range(iterations - 1):
        u = prf(u)
        out ^= int.from_bytes(u, "big")
    return out.to_bytes(32, "big")


def test_engine_pkcs12_pbes2_gost89_paramset_z_is_cfb_with_meshing(workdir: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine-made PKCS#12 (certificates > 1024 bytes, encrypted with PBES2 / gost89): its
    encryptionParamSet is param-Z and it decrypts with CFB + CryptoPro meshing, not without."""
    d = workdir / "p12"
    d.mkdir()
    openssl(d, "genpkey", "-algorithm", "gost2012_256", "-pkeyopt", "paramset:A", "-out", "k.pem")
    certs = []
    for i in range(3):
        openssl(d, "req", "-x509", "-new", "-key", "k.pem", "-md_gost12_256", "-days", "1",
                "-subj", f"/CN=tanba test {i}/O={secrets.token_hex(24)}", "-out", f"c{i}.pem")
        certs.append(pem.unarmor((d / f"c{i}.pem").read_bytes())[2])
    (d / "extra.pem").write_bytes((d / "c1.pem").read_bytes() + (d / "c2.pem").read_bytes())
    monkeypatch.setenv("GOST_PBE_HMAC", "md_gost94")  # the engine's PBKDF2 PRF: HMAC GOST R 34.11-94
    monkeypatch.delenv("CRYPT_PARAMS", raising=False)  # the engine's default cipher parameters: param-Z
    openssl(d, "pkcs12", "-export", "-inkey", "k.pem", "-in", "c0.pem", "-certfile", "extra.pem",
            "-keypbe", "gost89", "-certpbe", "gost89", "-macalg", "md_gost94", "-iter", "20",
            "-passout", "pass:secret", "-out", "t.p12")
    pfx = pkcs12.Pfx.load((d / "t.p12").read_bytes())
    auth = pkcs12.AuthenticatedSafe.load(pfx["auth_safe"]["content"].native)
    [eci] = [ci["content"]["encrypted_content_info"] for ci in auth if ci["content_type"].native == "encrypted_data"]
    alg = eci["content_encryption_algorithm"]
    assert alg["algorithm"].native == "pbes2"
    kdf = alg["parameters"]["key_derivation_func"]["parameters"].native
    assert kdf["prf"]["algorithm"] == "1.2.643.2.2.10"
    scheme = alg["parameters"]["encryption_scheme"]
    assert scheme["algorithm"].dotted == "1.2.643.2.2.21"
    params = GostCipherParams.load(scheme["parameters"].dump())
    assert params["encryption_param_set"].dotted == g.TC26_Z.oid
    ciphertext = eci["encrypted_content"].native
    assert len(ciphertext) > 1024
    key = _pbkdf2_hmac_gost94(b"secret", kdf["salt"], kdf["iteration_count"])
    cipher = g.Gost28147(key, g.sbox_by_oid(params["encryption_param_set"].dotted))
    plain = cipher.cfb_decrypt(params["iv"].native, ciphertext, meshing=True)
    bags = pkcs12.SafeContents.load(plain)
    assert sorted(bytes(bag["bag_value"]["cert_value"]) for bag in bags) == sorted(certs)
    unmeshed = cipher.cfb_decrypt(params["iv"].native, ciphertext)
    assert agree_until_meshing(unmeshed, plain)


# -- API edges -----------------------------------------------------------------------------------

def test_round_trips_and_partial_blocks() -> None:
    key, iv = secrets.token_bytes(32), secrets.token_bytes(8)
    for sbox in CIPHER_SETS:
        c = g.Gost28147(key, sbox)
        for n in (0, 1, 7, 8, 9, 1031, 2049):
            data = secrets.token_bytes(n)
            for mesh in (False, True):
                ct = c.cfb_encrypt(iv, data, meshing=mesh)
                assert len(ct) == n and c.cfb_decrypt(iv, ct, meshing=mesh) == data
                assert c.cnt(iv, c.cnt(iv, data, meshing=mesh), meshing=mesh) == data
            # a partial last block is a prefix of the whole block's output
            assert c.cfb_encrypt(iv, data) == c.cfb_encrypt(iv, data + bytes(8 - n % 8))[:n]
        block = secrets.token_bytes(8)
        assert c.decrypt_block(c.encrypt_block(block)) == block
        assert c.encrypt_block(block) != block


def test_meshing_changes_the_key_as_rfc4357_says() -> None:
    key = secrets.token_bytes(32)
    c = g.Gost28147(key, g.CRYPTOPRO_A)
    m = c.meshed()
    assert m.encrypt_block(bytes(8)) == g.Gost28147(c.ecb_decrypt(g.MESHING_CONSTANT), g.CRYPTOPRO_A).encrypt_block(bytes(8))
    assert m.encrypt_block(bytes(8)) != c.encrypt_block(bytes(8))
    # CFB block 129 (bytes 1024..1031) with meshing: gamma = E_K'(E_K'(C_128))
    iv, data = secrets.token_bytes(8), bytes(1032)
    ct = c.cfb_encrypt(iv, data, meshing=True)
    assert ct[1024:] == m.encrypt_block(m.encrypt_block(ct[1016:1024]))
    assert repr(c) == "Gost28147(<key>, id-Gost28147-89-CryptoPro-A-ParamSet)"
    assert key.hex() not in repr(c)


def test_bad_lengths_are_refused() -> None:
    with pytest.raises(ValueError):
        g.Gost28147(bytes(31), g.TC26_Z)
    c = g.Gost28147(bytes(32), g.TC26_Z)
    with pytest.raises(ValueError):
        c.encrypt_block(bytes(7))
    with pytest.raises(ValueError):
        c.ecb_encrypt(bytes(9))
    with pytest.raises(ValueError):
        c.cbc_decrypt(bytes(8), bytes(12))
    with pytest.raises(ValueError):
        c.cfb_encrypt(bytes(16), b"x")
