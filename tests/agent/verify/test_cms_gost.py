"""Verifying GOST CMS: what the gost engine and Kalkan make, and what Tanba makes.

Independent material: CMS signed by ``openssl cms -sign`` with the gost engine over keys and
certificates the engine made (Russian GOST R 34.10-2012), and Kalkan's CMS from the NCA test
data (Kazakh 2015-512 and 2004 keys, one message with a GOST and an RSA signer).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from asn1crypto import cms as acms
from asn1crypto import core, keys
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from support.gost_engine import openssl
from support.gost_xml import GostSigner, issue_certificate, new_key

from tanba.agent.formats.cms import CmsBuilder
from tanba.agent.verify.chain import ChainValidator
from tanba.agent.verify.cms import check_signer_info, decode_cms, verify_cms
from tanba.crypto import gost
from tanba.protocol.methods.verify import VerifyResult
from tanba.providers.gost_asn1 import private_key_from_pkcs8
from tanba.providers.pkcs12 import Pkcs12Store

NCA = Path(__file__).resolve().parents[3] / "../shared/testdata/nca"
needs_nca = pytest.mark.skipif(not NCA.exists(), reason=f"no NCA test material at {NCA}")
DOC = "Өтініш № 7\n".encode() * 40




def ru_pki(directory: Path, bits: int) -> Path:
    """Engine-made CA (ca.pem) and leaf (leaf.pem, leaf.key) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        openssl(directory, *args)

    run("genpkey", "-algorithm", "gost2012_512", "-pkeyopt", "paramset:A", "-out", "ca.key")
    run("req", "-new", "-x509", "-key", "ca.key", "-md_gost12_512", "-days", "30", "-subj", "/C=RU/CN=Tanba RU CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-out", "ca.pem")
    run("genpkey", "-algorithm", f"gost2012_{bits}", "-pkeyopt", "paramset:A", "-out", "leaf.key")
    run("req", "-new", "-key", "leaf.key", f"-md_gost12_{bits}", "-subj", f"/C=RU/CN=Tanba RU {bits}", "-out", "leaf.csr")
    (directory / "leaf.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n"
        "extendedKeyUsage=emailProtection\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-md_gost12_512",
        "-days", "10", "-extfile", "leaf.ext", "-out", "leaf.pem")
    (directory / "doc").write_bytes(DOC)
    return directory


@pytest.fixture(scope="module", params=[256, 512])
def ru(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    return ru_pki(tmp_path_factory.mktemp(f"ru{request.param}"), request.param), request.param


def engine_sign(directory: Path, bits: int, *, detached: bool = False) -> bytes:
    args = ["cms", "-sign", "-binary", "-md", f"md_gost12_{bits}", "-signer", "leaf.pem", "-inkey", "leaf.key",
            "-in", "doc", "-outform", "DER", "-out", "engine.p7s"]
    openssl(directory, *args, *([] if detached else ["-nodetach"]))
    return (directory / "engine.p7s").read_bytes()


def flip(der: bytes, part: bytes, offset: int = 0) -> bytes:
    """``der`` with one byte of the first occurrence of ``part`` changed."""
    at = der.index(part) + offset
    return der[:at] + bytes([der[at] ^ 0x01]) + der[at + 1:]


def signature_value(der: bytes, index: int = 0) -> bytes:
    value: bytes = acms.ContentInfo.load(der)["content"]["signer_infos"][index]["signature"].native
    return value


def with_signer_algorithm(der: bytes, index: int, field: str, oid: str) -> bytes:
    """The CMS with SignerInfo ``index``'s ``field`` algorithm OID replaced (parameters NULL)."""
    info = acms.ContentInfo.load(der)
    signer = info["content"]["signer_infos"][index]
    signer[field] = {"algorithm": oid, "parameters": core.Null()}
    return bytes(info.dump(force=True))


def problems(result: VerifyResult) -> list[tuple[str, ...]]:
    return [s.problems for s in result.signers]


# ---------------------------------------------------------------- Russian: the engine's CMS


async def test_engine_cms_verifies_with_its_chain(ru: tuple[Path, int]) -> None:
    directory, bits = ru
    validator = ChainValidator([directory / "ca.pem"], revocation="off")
    attached = engine_sign(directory, bits)
    result = await verify_cms(attached, validator)
    assert result.valid, problems(result)
    [signer] = result.signers
    assert signer.signature_valid and signer.chain_valid and signer.problems == ()
    assert signer.signing_time is not None

    content_changed = await verify_cms(flip(attached, DOC[:16]), validator)
    assert not content_changed.valid and problems(content_changed) == [("message_digest_mismatch",)]
    broken = await verify_cms(flip(attached, signature_value(attached), 5), validator)
    assert not broken.valid and problems(broken) == [("signature_invalid",)]


async def test_engine_detached_cms_needs_its_content(ru: tuple[Path, int]) -> None:
    directory, bits = ru
    validator = ChainValidator([directory / "ca.pem"], revocation="off")
    detached = engine_sign(directory, bits, detached=True)
    assert (await verify_cms(detached, validator, data=DOC)).valid
    other = await verify_cms(detached, validator, data=DOC + b" ")
    assert not other.valid and problems(other) == [("message_digest_mismatch",)]
    missing = await verify_cms(detached, validator)
    assert not missing.valid and problems(missing) == [("content_missing",)]


async def test_engine_cms_under_another_anchor_is_untrusted(ru: tuple[Path, int], tmp_path: Path) -> None:
    directory, bits = ru
    other = ru_pki(tmp_path / "other", 256)
    result = await verify_cms(engine_sign(directory, bits), ChainValidator([other / "ca.pem"], revocation="off"))
    [signer] = result.signers
    assert not result.valid and signer.signature_valid and not signer.chain_valid
    assert signer.problems == ("chain_untrusted",)


async def test_tanba_ru_cms_verifies_with_either_signature_oid(ru: tuple[Path, int]) -> None:
    """Tanba writes the key OID (as the engine does); the signature OID is accepted too."""
    directory, bits = ru
    der_key = openssl(directory, "pkey", "-in", "leaf.key", "-outform", "DER").stdout
    cert = x509.load_pem_x509_certificate((directory / "leaf.pem").read_bytes())
    signed = await CmsBuilder(cert).sign(GostSigner(private_key_from_pkcs8(der_key), cert), DOC, detached=False)
    validator = ChainValidator([directory / "ca.pem"], revocation="off")
    assert (await verify_cms(signed, validator)).valid
    family = gost.RU_2012_256 if bits == 256 else gost.RU_2012_512
    by_signature_oid = with_signer_algorithm(signed, 0, "signature_algorithm", family.signature_oid)
    assert by_signature_oid != signed and (await verify_cms(by_signature_oid, validator)).valid
    other_size = gost.RU_2012_512 if bits == 256 else gost.RU_2012_256
    mismatch = with_signer_algorithm(signed, 0, "signature_algorithm", other_size.key_oid)
    assert problems(await verify_cms(mismatch, validator)) == [("unsupported_algorithm",)]  # hash does not fit


# ---------------------------------------------------------------- Kazakhstan: Kalkan's CMS


def nca_validator() -> ChainValidator:
    return ChainValidator([NCA / "root_test_gost_2022.cer"], intermediates=[NCA / "nca_gost2022_test.cer"],
                          revocation="off")


@needs_nca
async def test_kalkan_gost_and_rsa_signers_are_each_reported() -> None:
    result = await verify_cms((NCA / "kalkan_gost2015_rsa.p7s").read_bytes(), nca_validator())
    gost_signer, rsa_signer = result.signers
    assert gost_signer.signature_valid
    assert gost_signer.signing_time == dt.datetime(2022, 9, 27, 21, 17, 59, tzinfo=dt.timezone.utc)
    # its certificate ran 2022-07-28 .. 2023-07-28: the path is checked now, without a timestamp
    assert not gost_signer.chain_valid and gost_signer.problems == ("certificate_expired",)
    assert rsa_signer.signature_valid  # the NCA RSA root is not configured here
    assert not rsa_signer.chain_valid and rsa_signer.problems == ("chain_untrusted",)
    assert not result.valid


@needs_nca
async def test_kalkan_detached_cms_verifies_only_with_its_content() -> None:
    der = (NCA / "kalkan_gost2015_rsa_detached.p7s").read_bytes()
    good = await verify_cms(der, nca_validator(), data=b"test123")
    assert [s.signature_valid for s in good.signers] == [True, True]
    bad = await verify_cms(der, nca_validator(), data=b"test124")
    assert [s.signature_valid for s in bad.signers] == [False, False]
    assert all("message_digest_mismatch" in p for p in problems(bad))


@needs_nca
async def test_kalkan_gost2004_signature_is_valid_its_certificate_expired() -> None:
    der = (NCA / "kalkan_gost2004.p7s").read_bytes()
    [untrusted] = (await verify_cms(der, nca_validator())).signers
    assert untrusted.signature_valid and untrusted.problems == ("chain_untrusted",)
    anchored = ChainValidator([NCA / "nca_gost2004_test_ca.cer"], revocation="off")
    [expired] = (await verify_cms(der, anchored)).signers
    assert expired.signature_valid and expired.problems == ("certificate_expired",)
    tampered = await verify_cms(flip(der, b"asdasd"), anchored)
    assert tampered.signers[0].problems[0] == "message_digest_mismatch"


@needs_nca
async def test_kalkan_signer_naming_the_key_oid_or_an_unknown_algorithm() -> None:
    der = (NCA / "kalkan_gost2015_rsa.p7s").read_bytes()
    key_oid = with_signer_algorithm(der, 0, "signature_algorithm", gost.KZ_2015_512.key_oid)
    assert (await verify_cms(key_oid, nca_validator())).signers[0].signature_valid

    for field, oid in (("signature_algorithm", "1.2.398.3.10.1.1.2.3.9"), ("digest_algorithm", "1.2.398.3.10.1.3.9"),
                       ("signature_algorithm", "1.2.643.7.1.1.3.3")):
        result = await verify_cms(with_signer_algorithm(der, 0, field, oid), nca_validator())
        gost_signer, rsa_signer = result.signers  # an answer for each, no exception
        assert not gost_signer.signature_valid, (field, oid)
        assert gost_signer.problems[0] in ("unsupported_algorithm", "signature_invalid"), (field, oid)
        assert rsa_signer.signature_valid
    unknown = await verify_cms(with_signer_algorithm(der, 0, "signature_algorithm", "1.2.398.3.10.1.1.2.3.9"),
                               nca_validator())
    assert unknown.signers[0].problems[0] == "unsupported_algorithm"
    russian_for_kazakh_key = await verify_cms(with_signer_algorithm(der, 0, "signature_algorithm",
                                                                    "1.2.643.7.1.1.3.3"), nca_validator())
    assert russian_for_kazakh_key.signers[0].problems[0] == "signature_invalid"  # the key is not of that family


@needs_nca
def test_signer_certificates_are_read_without_asn1crypto_touching_the_gost_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """asn1crypto's own PublicKeyInfo raises KeyError on a GOST key (pyhanko-certvalidator
    softens that when imported); the offline signer check never needs it."""
    strict = {"public_key": keys.PublicKeyInfo._public_key_spec}
    monkeypatch.setattr(keys.PublicKeyInfo, "_spec_callbacks", strict)
    signed = decode_cms((NCA / "kalkan_gost2015_rsa.p7s").read_bytes())["content"]
    info = signed["signer_infos"][0]
    checked = check_signer_info(signed, info, b"test123", None)
    assert checked.cert is not None and checked.problems == ()
    with pytest.raises(KeyError):  # the patch is in force
        checked.cert.public_key["public_key"].parsed


# ---------------------------------------------------------------- Kazakhstan: Tanba's CMS


@needs_nca
async def test_tanba_cms_with_a_real_nca_key_verifies_under_the_nca_chain() -> None:
    path = NCA / "individual_valid.p12"
    store = Pkcs12Store([path])
    try:
        [identity] = await store.unlock_file(path, bytearray(b"Qwerty12"))
        signer = await store.open(identity, None)
        async with signer:
            builder = CmsBuilder(identity.certificate)
            attached = await builder.sign(signer, DOC, detached=False)
            detached = await builder.sign(signer, DOC, detached=True)
    finally:
        await store.close()
    result = await verify_cms(attached, nca_validator())
    assert result.valid, problems(result)
    assert result.signers[0].chain_valid and result.signers[0].problems == ()
    assert (await verify_cms(detached, nca_validator(), data=DOC)).valid
    assert problems(await verify_cms(detached, nca_validator(), data=DOC[1:])) == [("message_digest_mismatch",)]
    broken = await verify_cms(flip(attached, signature_value(attached)), nca_validator())
    assert problems(broken) == [("signature_invalid",)]


@pytest.mark.parametrize("family", [gost.KZ_2015_512, gost.KZ_2004], ids=lambda f: f.name)
async def test_tanba_kz_cms_verifies_and_fails_when_tampered(family: gost.Family, tmp_path: Path) -> None:
    ca_key = new_key(family)
    ca = issue_certificate(ca_key, "TANBA KZ TEST CA")
    key = new_key(family)
    cert = issue_certificate(key, "ТЕСТОВ ТЕСТ", issuer=(ca_key, ca))
    (tmp_path / "ca.der").write_bytes(ca.public_bytes(Encoding.DER))
    validator = ChainValidator([tmp_path / "ca.der"], revocation="off")
    signed = await CmsBuilder(cert, [ca]).sign(GostSigner(key, cert), DOC, detached=False)
    result = await verify_cms(signed, validator)
    assert result.valid, problems(result)
    assert problems(await verify_cms(flip(signed, DOC[:16]), validator)) == [("message_digest_mismatch",)]
    assert problems(await verify_cms(flip(signed, signature_value(signed), 1), validator)) == [("signature_invalid",)]
    stranger = issue_certificate(new_key(family), "TANBA OTHER CA")
    (tmp_path / "other.der").write_bytes(stranger.public_bytes(Encoding.DER))
    [untrusted] = (await verify_cms(signed, ChainValidator([tmp_path / "other.der"], revocation="off"))).signers
    assert untrusted.signature_valid and untrusted.problems == ("chain_untrusted",)


async def test_a_big_gost_content_is_checked_off_the_event_loop(ru: tuple[Path, int]) -> None:
    """On the pure-Python path (no C extension) Streebog is slow: a GOST signer is checked in
    a worker thread, so the event loop keeps answering meanwhile."""
    from tanba.crypto import accel

    previous = accel.use_pure(True)
    try:
        await _check_off_loop(ru)
    finally:
        accel.use_pure(previous)


async def _check_off_loop(ru: tuple[Path, int]) -> None:
    directory, bits = ru
    (directory / "doc").write_bytes(DOC * 200)  # ~90 KB
    try:
        attached = engine_sign(directory, bits)
    finally:
        (directory / "doc").write_bytes(DOC)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    result = await verify_cms(attached, ChainValidator([directory / "ca.pem"], revocation="off"))
    ticker.cancel()
    assert result.valid
    assert ticks > 5  # the loop ran while the content was hashed
