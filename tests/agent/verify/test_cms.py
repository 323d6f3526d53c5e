"""verify_cms on signatures made by real OpenSSL, the agent's own CmsBuilder and the test TSA."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path

import pytest
from asn1crypto import cms as acms
from cryptography import x509
from support.native import openssl_cms_sign
from support.ocsp_server import RevocationServer
from support.tsa_server import TsaServer
from tanba.agent.formats.cms import CmsBuilder
from tanba.agent.formats.tsa import add_signature_timestamp
from tanba.agent.setup.testpki import Manifest
from tanba.agent.verify.chain import ChainValidator
from tanba.agent.verify.cms import verify_cms
from tanba.protocol.errors import InvalidParams
from tanba.providers.pkcs12 import Pkcs12Store

DOC = "Заявление № 42: прошу выдать справку.\n".encode()


@pytest.fixture
def validator(pki: Manifest, ocsp: RevocationServer) -> ChainValidator:
    return ChainValidator([pki.root_pem], timeout=2.0)


def openssl_sign(pki: Manifest, name: str, tmp_path: Path, data: bytes = DOC, *, attached: bool = True,
                 extra: tuple[str, ...] = ()) -> bytes:
    src = tmp_path / "doc.bin"
    src.write_bytes(data)
    return openssl_cms_sign(pki, name, src, tmp_path / f"{name}.p7s", attached=attached, extra=extra).read_bytes()


async def test_attached_rsa_is_valid(pki: Manifest, validator: ChainValidator, tmp_path: Path) -> None:
    result = await verify_cms(openssl_sign(pki, "rsa-sign", tmp_path), validator)
    assert result.valid
    (signer,) = result.signers
    assert signer.signature_valid and signer.chain_valid and signer.revocation == "good"
    cert = x509.load_pem_x509_certificate(signer.certificate.encode())
    assert cert.serial_number == int(pki.identities["rsa-sign"].serial_hex, 16)
    assert signer.signing_time is not None
    assert abs(signer.signing_time - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
    wire = result.to_wire()
    assert wire["valid"] is True and "timestamp" not in wire["signers"][0]
    assert wire["signers"][0]["signingTime"].endswith("Z")
    assert {"certificate", "signingTime", "chainValid", "revocation"} <= wire["signers"][0].keys()


async def test_detached_ec_is_valid_with_data_or_digest(
    pki: Manifest, validator: ChainValidator, tmp_path: Path
) -> None:
    sig = openssl_sign(pki, "ec-sign", tmp_path, attached=False)
    assert (await verify_cms(sig, validator, data=DOC)).valid
    assert (await verify_cms(sig, validator, digest=hashlib.sha256(DOC).digest())).valid


async def test_detached_rsa_pss_sha384_in_pem_and_base64(
    pki: Manifest, validator: ChainValidator, tmp_path: Path
) -> None:
    der = openssl_sign(pki, "rsa-sign", tmp_path, attached=False,
                       extra=("-md", "sha384", "-keyopt", "rsa_padding_mode:pss"))
    assert acms.ContentInfo.load(der)["content"]["signer_infos"][0]["signature_algorithm"].signature_algo == "rsassa_pss"
    pem = b"-----BEGIN CMS-----\n" + base64.encodebytes(der) + b"-----END CMS-----\n"
    assert (await verify_cms(pem, validator, data=DOC)).valid
    assert (await verify_cms(base64.b64encode(der), validator, data=DOC)).valid


async def test_tampered_attached_content_is_invalid(
    pki: Manifest, validator: ChainValidator, tmp_path: Path
) -> None:
    sig = openssl_sign(pki, "rsa-sign", tmp_path)
    tampered = sig.replace("42".encode(), b"43")
    assert tampered != sig
    result = await verify_cms(tampered, validator)
    assert not result.valid
    assert result.signers[0].problems[0] == "message_digest_mismatch"


async def test_wrong_or_missing_detached_data_is_invalid(
    pki: Manifest, validator: ChainValidator, tmp_path: Path
) -> None:
    sig = openssl_sign(pki, "ec-sign", tmp_path, attached=False)
    wrong = await verify_cms(sig, validator, data=DOC + b" ")
    assert not wrong.valid and wrong.signers[0].problems[0] == "message_digest_mismatch"
    missing = await verify_cms(sig, validator)
    assert not missing.valid and missing.signers[0].problems[0] == "content_missing"
    bad_digest = await verify_cms(sig, validator, digest=hashlib.sha256(b"other").digest())
    assert not bad_digest.valid


async def test_tampered_signature_value_is_invalid(pki: Manifest, validator: ChainValidator, tmp_path: Path) -> None:
    sig = openssl_sign(pki, "rsa-sign", tmp_path)
    info = acms.ContentInfo.load(sig)
    value = info["content"]["signer_infos"][0]["signature"].native
    flipped = value[:-1] + bytes([value[-1] ^ 1])
    result = await verify_cms(sig.replace(value, flipped), validator)
    assert not result.valid
    assert result.signers[0].problems[0] == "signature_invalid"


async def test_untrusted_root_is_chain_invalid(pki: Manifest, ocsp: RevocationServer, tmp_path: Path) -> None:
    # The TSA certificate is not a CA: nothing chains to it.
    result = await verify_cms(openssl_sign(pki, "rsa-sign", tmp_path), ChainValidator([pki.tsa_pem]))
    assert not result.valid
    assert result.signers[0].signature_valid and not result.signers[0].chain_valid
    assert result.to_wire()["signers"][0]["chainValid"] is False


async def test_revoked_signer_via_ocsp_and_via_crl(
    pki: Manifest, validator: ChainValidator, ocsp: RevocationServer, tmp_path: Path
) -> None:
    sig = openssl_sign(pki, "rsa-sign-revoked", tmp_path)
    result = await verify_cms(sig, validator)
    assert not result.valid and result.signers[0].revocation == "revoked"
    with ocsp.modes(ocsp="down"):
        by_crl = await verify_cms(sig, validator)
        assert ocsp.hits["crl"] >= 1
    assert not by_crl.valid and by_crl.to_wire()["signers"][0]["revocation"] == "revoked"


async def test_responders_down_gives_unknown_and_policy_decides(
    pki: Manifest, ocsp: RevocationServer, tmp_path: Path
) -> None:
    sig = openssl_sign(pki, "rsa-sign", tmp_path)
    with ocsp.modes(ocsp="hang", crl="down"):
        soft = await verify_cms(sig, ChainValidator([pki.root_pem], timeout=0.6))
        strict = await verify_cms(sig, ChainValidator([pki.root_pem], revocation="require", timeout=0.6))
    assert soft.signers[0].revocation == "unknown" and soft.valid
    assert strict.signers[0].revocation == "unknown" and not strict.valid


async def test_expired_signer_is_invalid(pki: Manifest, validator: ChainValidator, tmp_path: Path) -> None:
    result = await verify_cms(openssl_sign(pki, "rsa-sign-expired", tmp_path), validator)
    assert not result.valid
    assert result.signers[0].signature_valid and not result.signers[0].chain_valid
    assert "certificate_expired" in result.signers[0].problems


def _token(stamped: bytes) -> bytes:
    attrs = acms.ContentInfo.load(stamped)["content"]["signer_infos"][0]["unsigned_attrs"]
    (attr,) = [a for a in attrs if a["type"].native == "signature_time_stamp_token"]
    der: bytes = attr["values"][0].dump()
    return der


async def test_cades_t_timestamp_is_recognised(pki: Manifest, validator: ChainValidator, tmp_path: Path) -> None:
    with TsaServer(pki.tsa_pem, pki.tsa_key_pem) as tsa:
        stamped = await add_signature_timestamp(openssl_sign(pki, "ec-sign", tmp_path), tsa.url, timeout=5)
        other = await add_signature_timestamp(openssl_sign(pki, "rsa-sign", tmp_path), tsa.url, timeout=5)
    result = await verify_cms(stamped, validator)
    assert result.valid
    ts = result.signers[0].timestamp
    assert ts is not None and abs(ts - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
    assert result.to_wire()["signers"][0]["timestamp"].endswith("Z")
    # A token taken from another signature does not count for this one.
    mine, theirs = _token(other), _token(stamped)
    assert len(mine) == len(theirs) and mine != theirs
    result = await verify_cms(other.replace(mine, theirs), validator)
    assert not result.valid
    assert result.signers[0].timestamp is None and "timestamp_invalid" in result.signers[0].problems


async def test_timestamp_from_an_untrusted_tsa_is_not_reported(
    pki: Manifest, ocsp: RevocationServer, tmp_path: Path
) -> None:
    with TsaServer(pki.tsa_pem, pki.tsa_key_pem) as tsa:
        stamped = await add_signature_timestamp(openssl_sign(pki, "ec-sign", tmp_path), tsa.url, timeout=5)
    # Trust only the signer's own certificate as an anchor: the TSA cannot chain to it.
    result = await verify_cms(stamped, ChainValidator([pki.identities["ec-sign"].cert_pem], timeout=2.0))
    signer = result.signers[0]
    assert signer.timestamp is None and "timestamp_untrusted" in signer.problems
    assert signer.signature_valid


async def test_signatures_from_the_agents_cms_builder(pki: Manifest, validator: ChainValidator) -> None:
    ident = pki.identities["ec-sign"]
    store = Pkcs12Store([ident.p12])
    await store.unlock_file(ident.p12, bytearray(ident.p12_password.encode()))
    (identity,) = await store.identities()
    signer = await store.open(identity, None)
    intermediate = x509.load_pem_x509_certificate(pki.intermediate_pem.read_bytes())
    builder = CmsBuilder(ident.certificate(), chain=[intermediate])
    attached = await builder.sign(signer, DOC, detached=False)
    detached = await builder.sign(signer, DOC)
    await store.close()
    assert (await verify_cms(attached, validator)).valid
    assert (await verify_cms(detached, validator, data=DOC)).valid
    assert not (await verify_cms(detached, validator, data=DOC[:-1])).valid


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"hello",
        b"\x30\x03\x02\x01\x01",  # a DER SEQUENCE, not a ContentInfo
        b"\x30\x82\xff\xff\x06",  # truncated DER
        base64.b64encode(b"\x00" * 64),
        b"-----BEGIN CMS-----\n!!!!\n-----END CMS-----\n",
        b"\xff" * 100,
    ],
)
async def test_garbage_is_invalid_params(garbage: bytes, validator: ChainValidator) -> None:
    with pytest.raises(InvalidParams):
        await verify_cms(garbage, validator)


async def test_truncated_and_non_signed_data_are_invalid_params(
    pki: Manifest, validator: ChainValidator, tmp_path: Path
) -> None:
    sig = openssl_sign(pki, "rsa-sign", tmp_path)
    with pytest.raises(InvalidParams):
        await verify_cms(sig[: len(sig) // 2], validator)
    data_only = acms.ContentInfo({"content_type": "data", "content": b"x"}).dump()
    with pytest.raises(InvalidParams):
        await verify_cms(data_only, validator)
    cert_pem = pki.identities["rsa-sign"].cert_pem.read_bytes()
    with pytest.raises(InvalidParams):
        await verify_cms(cert_pem, validator)


async def test_der_ending_in_a_whitespace_byte_is_read_whole(pki: Manifest, validator: ChainValidator) -> None:
    """Seen in CI: a DER signature whose last byte (signature bits) happened to be 0x0a lost it
    to a strip() and was refused as malformed."""
    from support.native import open_p12_signer
    from tanba.agent.formats.cms import CmsBuilder

    signer = await open_p12_signer(pki, "rsa-sign")
    builder = CmsBuilder(signer.identity.certificate, signer.identity.chain)
    for i in range(3000):  # about one signature in 40 ends in one of these bytes
        der = await builder.sign(signer, f"document {i}".encode(), detached=False)
        if der[-1:] in (b"\n", b"\r", b" ", b"\t", b"\x0b", b"\x0c"):
            break
    else:
        pytest.fail("no signature ended in a whitespace byte")
    await signer.close()
    assert (await verify_cms(der, validator)).valid
    with pytest.raises(InvalidParams):  # and DER with stray bytes after it is not trimmed into shape
        await verify_cms(der + b"\n", validator)


NCA = Path(__file__).resolve().parents[4] / "shared" / "testdata" / "nca"


@pytest.mark.skipif(not NCA.is_dir(), reason=f"no NCA test material at {NCA}")
async def test_national_signers_are_a_result_not_an_error() -> None:
    """Kalkan's CMS under the NCA test roots: the GOST signatures verify (2015-512 and 2004),
    and the expired certificates behind them say so; nothing becomes an exception (an
    ``internal`` answer on the wire).  More in test_cms_gost.py."""
    validator = ChainValidator([NCA / "root_test_gost_2022.cer", NCA / "nca_gost2004_test_ca.cer"],
                               intermediates=[NCA / "nca_gost2022_test.cer"], revocation="off")
    for name in ("kalkan_gost2015_rsa.p7s", "kalkan_gost2004.p7s"):
        result = await verify_cms((NCA / name).read_bytes(), validator)
        assert not result.valid
        gost = result.signers[0]
        assert gost.signature_valid and not gost.chain_valid
        assert gost.problems == ("certificate_expired",), (name, gost.problems)


def _resign_with_extra_attribute(sig: bytes, key_pem: Path, value_der: bytes) -> bytes:
    """``sig`` with one more signed attribute (an OID no one knows, holding ``value_der``),
    signed again with the signer's key, so only the attribute's content is unusual."""
    from asn1crypto import core as acore
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    info = acms.ContentInfo.load(sig)
    signer = info["content"]["signer_infos"][0]
    attrs = list(signer["signed_attrs"])
    attrs.append(acms.CMSAttribute({"type": "1.3.6.1.4.1.99999.1", "values": [acore.Any.load(value_der)]}))
    signer["signed_attrs"] = acms.CMSAttributes(attrs)
    key = serialization.load_pem_private_key(key_pem.read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    signed = b"\x31" + signer["signed_attrs"].dump()[1:]
    signer["signature"] = key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    return info.dump()


async def test_a_signed_attribute_holding_a_real_is_read_not_an_internal_error(
    pki: Manifest, validator: ChainValidator, tmp_path: Path
) -> None:
    """Found by the live fuzz: asn1crypto's REAL has no ``native``, and reading all signed
    attributes through it raised AttributeError, answered ``internal``.  An attribute Tanba
    does not know is covered by the signature and left unread; a tampered one still fails."""
    sig = openssl_sign(pki, "rsa-sign", tmp_path)
    with_real = _resign_with_extra_attribute(sig, pki.identities["rsa-sign"].key_pem, b"\x09\x03\x80\x00\x01")
    result = await verify_cms(with_real, validator)
    assert result.valid and result.signers[0].signature_valid
    tampered = with_real.replace(b"\x09\x03\x80\x00\x01", b"\x09\x03\x80\x00\x02")
    assert tampered != with_real
    assert not (await verify_cms(tampered, validator)).valid
    # a REAL where a known attribute's value must be is malformed input, said as such
    bad_time = sig.replace(b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x09\x05\x31\x0f\x17\x0d",
                           b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x09\x05\x31\x0f\x09\x0d")
    assert bad_time != sig
    with pytest.raises(InvalidParams):
        await verify_cms(bad_time, validator)
