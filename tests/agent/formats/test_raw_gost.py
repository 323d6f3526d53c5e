"""Bare GOST signatures: the value as the family's CMS holds it, checked by the gost engine
(``openssl dgst -verify``) for Russian keys; login-capable keys refused as for RSA/EC."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from support.gost_engine import openssl
from support.gost_xml import GostSigner, issue_certificate, new_key

from tanba.agent.formats.cms import PrecomputedDigest
from tanba.agent.formats.raw import sign_raw, sign_raw_batch
from tanba.crypto import gost, hashes
from tanba.protocol.errors import InvalidParams
from tanba.protocol.methods.sign import RAW_WITH_LOGIN_KEY
from tanba.providers.base import HashAlgorithm, SignatureScheme
from tanba.providers.gost_asn1 import private_key_from_pkcs8




def engine_signing_key(directory: Path, bits: int) -> GostSigner:
    """A self-signed gost engine key whose certificate allows signing only (EKU emailProtection)."""
    openssl(directory, "genpkey", "-algorithm", f"gost2012_{bits}", "-pkeyopt", "paramset:A", "-out", "key.pem")
    openssl(directory, "pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem")
    openssl(directory, "req", "-new", "-x509", "-key", "key.pem", f"-md_gost12_{bits}", "-days", "5",
            "-subj", "/C=RU/CN=Tanba raw", "-addext", "keyUsage=critical,nonRepudiation",
            "-addext", "extendedKeyUsage=emailProtection", "-out", "cert.pem")
    der = openssl(directory, "pkey", "-in", "key.pem", "-outform", "DER").stdout
    cert = x509.load_pem_x509_certificate((directory / "cert.pem").read_bytes())
    return GostSigner(private_key_from_pkcs8(der), cert)


def engine_accepts(directory: Path, bits: int, document: bytes, signature: bytes) -> bool:
    (directory / "doc").write_bytes(document)
    (directory / "sig.bin").write_bytes(signature)
    proc = openssl(directory, "dgst", f"-md_gost12_{bits}", "-verify", "pub.pem", "-signature", "sig.bin", "doc",
                   check=False)
    return proc.returncode == 0 and b"Verified OK" in proc.stdout


@pytest.mark.parametrize("bits", [256, 512])
async def test_ru_raw_signatures_verify_with_the_engine(tmp_path: Path, bits: int) -> None:
    signer = engine_signing_key(tmp_path, bits)
    doc = "Договор № 5\n".encode() * 500  # past the inline limit: hashed in a worker thread
    path = tmp_path / "document.txt"
    path.write_bytes(doc)
    digest = hashes.digest(f"streebog{bits}", doc)
    signatures = await sign_raw_batch(signer, [doc, path, PrecomputedDigest(digest), b"short"])
    assert signer.calls == [(4, HashAlgorithm(f"streebog{bits}"), SignatureScheme.GOST3410)]
    for signature in signatures[:3]:
        assert len(signature) == bits // 4
        assert engine_accepts(tmp_path, bits, doc, signature)
    assert engine_accepts(tmp_path, bits, b"short", signatures[3])
    assert not engine_accepts(tmp_path, bits, doc + b".", signatures[0])


async def test_raw_refuses_another_hash_for_a_gost_key(tmp_path: Path) -> None:
    signer = engine_signing_key(tmp_path, 256)
    for hash_alg in (HashAlgorithm.SHA256, HashAlgorithm.STREEBOG512):
        with pytest.raises(InvalidParams, match="signs only with streebog256"):
            await sign_raw(signer, b"x", hash_alg)
    with pytest.raises(InvalidParams, match="streebog256 needs 32"):
        await sign_raw(signer, PrecomputedDigest(bytes(64)))
    with pytest.raises(InvalidParams, match="does not fit"):
        await sign_raw(signer, b"x", None, SignatureScheme.ECDSA)
    assert signer.calls == []


async def test_raw_refuses_a_gost_key_that_can_log_in() -> None:
    """A certificate with digitalSignature and no EKU could serve ``auth``: no raw signature."""
    key = new_key(gost.KZ_2015_512)
    signer = GostSigner(key, issue_certificate(key, "ТЕСТОВ ТЕСТ"))
    with pytest.raises(InvalidParams) as exc:
        await sign_raw(signer, b"challenge-looking bytes")
    assert exc.value.detail == RAW_WITH_LOGIN_KEY and exc.value.data.get("field") == "format"
    assert signer.calls == []
