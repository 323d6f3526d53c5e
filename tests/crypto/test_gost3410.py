"""GOST R 34.10-2012 appendix A (RFC 7091 section 7) and round trips on every curve."""

from __future__ import annotations

import hashlib
import secrets
import subprocess
from pathlib import Path

import pytest

from support.gost_engine import openssl
from tanba.crypto import curves, gost3410 as g


def h(s: str) -> int:
    return int(s, 16)


A1 = dict(
    curve=curves.TEST_256,
    d=h("7A929ADE789BB9BE10ED359DD39A72C11B60961F49397EEE1D19CE9891EC3B28"),
    e=h("2DFBC1B372D89A1188C09C52E0EEC61FCE52032AB1022E8E67ECE6672B043EE5"),
    k=h("77105C9B20BCD3122823C8CF6FCC7B956DE33814E95B7FE64FED924594DCEAB3"),
    qx=h("7F2B49E270DB6D90D8595BEC458B50C58585BA1D4E9B788F6689DBD8E56FD80B"),
    qy=h("26F1B489D6701DD185C8413A977B3CBBAF64D1C593D26627DFFB101A87FF77DA"),
    r=h("41AA28D2F1AB148280CD9ED56FEDA41974053554A42767B83AD043FD39DC0493"),
    s=h("01456C64BA4642A1653C235A98A60249BCD6D3F746B631DF928014F6C5BF9C40"),
)
A2 = dict(
    curve=curves.TEST_512,
    d=h("0BA6048AADAE241BA40936D47756D7C93091A0E8514669700EE7508E508B1020"
        "72E8123B2200A0563322DAD2827E2714A2636B7BFD18AADFC62967821FA18DD4"),
    e=h("3754F3CFACC9E0615C4F4A7C4D8DAB531B09B6F9C170C533A71D147035B0C591"
        "7184EE536593F4414339976C647C5D5A407ADEDB1D560C4FC6777D2972075B8C"),
    k=h("0359E7F4B1410FEACC570456C6801496946312120B39D019D455986E364F3658"
        "86748ED7A44B3E794434006011842286212273A6D14CF70EA3AF71BB1AE679F1"),
    qx=h("115DC5BC96760C7B48598D8AB9E740D4C4A85A65BE33C1815B5C320C854621DD"
         "5A515856D13314AF69BC5B924C8B4DDFF75C45415C1D9DD9DD33612CD530EFE1"),
    qy=h("37C7C90CD40B0F5621DC3AC1B751CFA0E2634FA0503B3D52639F5D7FB72AFD61"
         "EA199441D943FFE7F0C70A2759A3CDB84C114E1F9339FDF27F35ECA93677BEEC"),
    r=h("2F86FA60A081091A23DD795E1E3C689EE512A3C82EE0DCC2643C78EEA8FCACD3"
        "5492558486B20F1C9EC197C90699850260C93BCBCD9C5C3317E19344E173AE36"),
    s=h("1081B394696FFE8E6585E7A9362D26B6325F56778AADBC081C0BFBE933D52FF5"
        "823CE288E8C4F362526080DF7F70CE406A6EEB1F56919CB92A9853BDE73E5B4A"),
)
VECTORS = [A1, A2]


@pytest.mark.parametrize("v", VECTORS, ids=["A.1-256", "A.2-512"])
def test_appendix_a(v: dict) -> None:  # type: ignore[type-arg]
    c = v["curve"]
    assert g.public_key(c, v["d"]) == (v["qx"], v["qy"])
    assert g.sign_int(c, v["d"], v["e"], v["k"]) == (v["r"], v["s"])
    q_pt = (v["qx"], v["qy"])
    assert g.verify_int(c, q_pt, v["e"], v["r"], v["s"])
    assert not g.verify_int(c, q_pt, v["e"] + 1, v["r"], v["s"])
    assert not g.verify_int(c, q_pt, v["e"], v["r"] ^ 1, v["s"])
    assert not g.verify_int(c, q_pt, v["e"], v["r"], v["s"] ^ 1)
    assert not g.verify_int(c, q_pt, v["e"], v["s"], v["r"])
    other = g.public_key(c, v["d"] + 1)
    assert not g.verify_int(c, other, v["e"], v["r"], v["s"])
    assert not g.verify_int(c, (v["qx"], v["qy"] ^ 1), v["e"], v["r"], v["s"])  # off curve
    for bad in (0, c.q):
        assert not g.verify_int(c, q_pt, v["e"], bad, v["s"])
        assert not g.verify_int(c, q_pt, v["e"], v["r"], bad)


def test_rfc_and_nca_byte_orders() -> None:
    v = A1
    c = curves.TEST_256
    digest = v["e"].to_bytes(32, "little")
    rfc = g.sign_rfc(c, v["d"], digest, k=v["k"])
    assert rfc == v["s"].to_bytes(32, "big") + v["r"].to_bytes(32, "big")
    nca = g.sign_nca(c, v["d"], digest, k=v["k"])
    assert nca == v["r"].to_bytes(32, "little") + v["s"].to_bytes(32, "little")
    pub = g.encode_public_key(c, (v["qx"], v["qy"]))
    assert pub[:32] == v["qx"].to_bytes(32, "little")
    assert g.decode_public_key(c, pub) == (v["qx"], v["qy"])
    assert g.verify_rfc(c, pub, digest, rfc) and g.verify_nca(c, pub, digest, nca)
    assert not g.verify_rfc(c, pub, digest, nca) and not g.verify_nca(c, pub, digest, rfc)
    assert not g.verify_rfc(c, pub, digest[::-1], rfc)
    assert not g.verify_rfc(c, pub[:-1], digest, rfc)
    assert not g.verify_nca(c, pub, digest, nca[:-1])


def test_e_zero_is_one_and_k_in_range() -> None:
    c = curves.CRYPTOPRO_A
    d = 12345
    assert g.sign_int(c, d, 0, 777) == g.sign_int(c, d, 1, 777) == g.sign_int(c, d, c.q, 777)
    with pytest.raises(g.SignatureError):
        g.sign_int(c, 0, 1)
    with pytest.raises(g.SignatureError):
        g.sign_int(c, d, 1, c.q)


def test_private_key_not_in_errors() -> None:
    c = curves.CRYPTOPRO_A
    d = c.q + 987654321
    with pytest.raises(g.SignatureError) as info:
        g.public_key(c, d)
    assert str(d) not in str(info.value) and hex(d)[2:] not in str(info.value)


def test_base_comb_matches_generic_ladder() -> None:
    for c in (curves.CRYPTOPRO_A, curves.TC26_512_C):
        for k in (1, 2, 15, 16, 17, c.q - 1, secrets.randbelow(c.q)):
            assert g.multiply(c, k) == g.multiply(c, k, (c.x, c.y))


@pytest.mark.parametrize("curve", curves.CURVES, ids=lambda c: c.name)
def test_round_trip(curve: curves.Curve) -> None:
    d = 1 + secrets.randbelow(curve.q - 1)
    pub = g.encode_public_key(curve, g.public_key(curve, d))
    other = g.encode_public_key(curve, g.public_key(curve, 1 + secrets.randbelow(curve.q - 1)))
    digest = hashlib.sha512(secrets.token_bytes(16)).digest()[:curve.size]
    sig = g.sign_rfc(curve, d, digest)
    assert g.verify_rfc(curve, pub, digest, sig)
    assert not g.verify_rfc(curve, other, digest, sig)
    assert not g.verify_rfc(curve, pub, bytes([digest[0] ^ 1]) + digest[1:], sig)
    nca = g.sign_nca(curve, d, digest)
    assert g.verify_nca(curve, pub, digest, nca)
    assert not g.verify_nca(curve, other, digest, nca)


@pytest.mark.parametrize(("algorithm", "curve"), [("gost2012_256", curves.CRYPTOPRO_A),
                                                  ("gost2012_512", curves.TC26_512_A)])
def test_against_openssl_gost_engine(tmp_path: Path, algorithm: str,
                                     curve: curves.Curve) -> None:
    def ossl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = openssl(tmp_path, *args, check=check)
        return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())

    ossl("genpkey", "-algorithm", algorithm, "-pkeyopt", "paramset:A", "-out", "key.pem")
    text = ossl("pkey", "-in", "key.pem", "-text", "-noout").stdout
    vals = {}
    for line in text.splitlines():
        for label in ("Private key:", "X:", "Y:"):
            if line.strip().startswith(label):
                vals[label] = int(line.strip()[len(label):].strip(), 16)
    d, q_pt = vals["Private key:"], (vals["X:"], vals["Y:"])
    assert g.public_key(curve, d) == q_pt
    pub = g.encode_public_key(curve, q_pt)
    digest = secrets.token_bytes(curve.size)
    (tmp_path / "dig").write_bytes(digest)
    ossl("pkeyutl", "-sign", "-inkey", "key.pem", "-in", "dig", "-out", "sig")
    theirs = (tmp_path / "sig").read_bytes()
    assert g.verify_rfc(curve, pub, digest, theirs)  # s||r big-endian, digest little-endian
    assert not g.verify_rfc(curve, pub, digest[::-1], theirs)
    (tmp_path / "mine").write_bytes(g.sign_rfc(curve, d, digest))
    assert ossl("pkeyutl", "-verify", "-inkey", "key.pem", "-in", "dig",
                "-sigfile", "mine", check=False).returncode == 0
    (tmp_path / "bad").write_bytes(g.sign_rfc(curve, d, bytes([digest[0] ^ 1]) + digest[1:]))
    assert ossl("pkeyutl", "-verify", "-inkey", "key.pem", "-in", "dig",
                "-sigfile", "bad", check=False).returncode != 0
