"""XML-DSig with GOST keys: the family's URIs and hash, Kalkan's layout, NCALayer's profile.

Independent oracles: the gost engine (OpenSSL) checks the DigestValue (its own Streebog over
the canonical document) and the SignatureValue (its own GOST R 34.10 over the canonical
SignedInfo) of RU signatures, and the SignatureValue of KZ 2004 signatures (the key rewrapped
as a GOST R 34.10-2001 key on the same curve, CryptoPro-A, the r_LE || s_LE value read as the
engine's s || r big-endian).  Debian's xmlsec1 (1.2.37) has no GOST transforms in any of its
crypto back ends, so it cannot be an oracle here.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography import x509
from lxml import etree
from support.gost_engine import openssl
from support.gost_xml import GostSigner, engine_key, gost2001_spki, issue_certificate, new_key

from tanba.agent.formats.xmldsig import XmlSignOptions, sign_xml, sign_xml_batch
from tanba.agent.setup.testpki import Manifest
from tanba.crypto import hashes
from tanba.crypto.gost import KZ_2004, KZ_2015_512, RU_2012_256, RU_2012_512, Family, PrivateKey
from tanba.protocol.errors import InternalError, InvalidParams
from tanba.providers.base import HashAlgorithm, SignatureScheme

DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"ds": DS}
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
DOC = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    '<application xmlns="urn:tanba:test" xmlns:p="urn:tanba:person">\n'
    '  <p:applicant Id="applicant">ТЕСТОВ ТЕСТ, ИИН 123456789012</p:applicant>\n'
    "  <amount>1000</amount>\n"
    "</application>\n"
).encode()


def kz_identity(family: Family) -> tuple[PrivateKey, x509.Certificate]:
    key = new_key(family)
    return key, issue_certificate(key, f"ТЕСТОВ ТЕСТ {family.name}")


def parts(signed: bytes) -> tuple[etree._ElementTree, etree._Element]:
    tree = etree.ElementTree(etree.fromstring(signed))
    (signature,) = tree.getroot().findall(".//ds:Signature", NS)
    return tree, signature


def without_signature(signed: bytes) -> bytes:
    """The canonical document minus its Signature (what the enveloped reference covers)."""
    tree, signature = parts(signed)
    assert not signature.tail
    signature.getparent().remove(signature)
    data: bytes = etree.tostring(tree, method="c14n", with_comments=False)
    return data


def values(signed: bytes) -> tuple[bytes, bytes, bytes]:
    """(canonical SignedInfo, DigestValue, SignatureValue)."""
    _, signature = parts(signed)
    signed_info = etree.tostring(signature.find("ds:SignedInfo", NS), method="c14n")
    digest = base64.b64decode(signature.findtext(".//ds:DigestValue", namespaces=NS))
    value = base64.b64decode(signature.findtext("ds:SignatureValue", namespaces=NS))
    return signed_info, digest, value


@pytest.mark.parametrize("family", [KZ_2004, KZ_2015_512])
async def test_kz_signature_has_the_family_uris_and_ncalayer_profile(family: Family) -> None:
    key, cert = kz_identity(family)
    signer = GostSigner(key, cert)
    signed = await sign_xml(signer, cert, DOC)
    _, signature = parts(signed)
    assert signature.prefix == "ds"
    assert signature.find("ds:SignedInfo/ds:CanonicalizationMethod", NS).get("Algorithm") == C14N
    assert signature.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm") == family.xml_signature_uri
    (reference,) = signature.findall("ds:SignedInfo/ds:Reference", NS)
    assert reference.get("URI") == ""
    assert [t.get("Algorithm") for t in reference.iterfind(".//ds:Transform", NS)] == [
        DS + "enveloped-signature", C14N + "#WithComments"]
    assert reference.find("ds:DigestMethod", NS).get("Algorithm") == family.xml_digest_uri
    embedded = signature.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS)
    assert x509.load_der_x509_certificate(base64.b64decode(embedded)) == cert
    # the family's hash, both for the document and for SignedInfo, asked as GOST R 34.10
    assert signer.asked == [(HashAlgorithm(family.hash), SignatureScheme.GOST3410)]
    signed_info, digest, value = values(signed)
    assert digest == hashes.digest(family.hash, without_signature(signed))
    assert len(value) == family.signature_size
    assert key.public_key.verify(hashes.digest(family.hash, signed_info), value)


async def test_kz_2004_layout_is_kalkans_checked_by_the_gost_engine(tmp_path: Path) -> None:
    """r_LE || s_LE over the GOST 34.311-95 hash of SignedInfo: as Kalkan writes it.  The
    engine knows the curve (CryptoPro-A) as a GOST 2001 key; its signature is s || r big-endian."""
    key, cert = kz_identity(KZ_2004)
    signed_info, _, value = values(await sign_xml(GostSigner(key, cert), cert, DOC))
    (tmp_path / "pub.der").write_bytes(gost2001_spki(key.public_key.to_bytes()))
    (tmp_path / "hash").write_bytes(hashes.digest("gost34311-95", signed_info))
    r_le, s_le = value[:32], value[32:]
    (tmp_path / "sig").write_bytes(s_le[::-1] + r_le[::-1])  # = value[::-1]
    (tmp_path / "as-is").write_bytes(value)

    def engine_verifies(signature: str) -> bool:
        result = openssl(tmp_path, "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "pub.der",
                         "-in", "hash", "-sigfile", signature, check=False)
        return result.returncode == 0

    assert engine_verifies("sig")
    assert not engine_verifies("as-is")


@pytest.mark.parametrize(("family", "bits"), [(RU_2012_256, 256), (RU_2012_512, 512)])
async def test_ru_signature_checked_by_the_gost_engine(tmp_path: Path, family: Family, bits: int) -> None:
    key, cert = engine_key(tmp_path, bits)
    assert key.family is family
    signed = await sign_xml(GostSigner(key, cert), cert, DOC)
    _, signature = parts(signed)
    assert signature.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm") == (
        f"urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34102012-gostr34112012-{bits}")
    assert signature.find(".//ds:DigestMethod", NS).get("Algorithm") == (
        f"urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34112012-{bits}")
    signed_info, digest, value = values(signed)
    (tmp_path / "doc.c14n").write_bytes(without_signature(signed))
    (tmp_path / "si.c14n").write_bytes(signed_info)
    (tmp_path / "sig").write_bytes(value)
    theirs = openssl(tmp_path, "dgst", f"-md_gost12_{bits}", "-binary", "doc.c14n").stdout
    assert digest == theirs  # the Streebog output as it is
    verified = openssl(tmp_path, "dgst", f"-md_gost12_{bits}", "-verify", "pub.pem", "-signature", "sig",
                       "si.c14n", check=False)
    assert verified.returncode == 0, verified.stderr  # s || r big-endian, the engine's own layout
    (tmp_path / "sig").write_bytes(value[::-1])
    assert openssl(tmp_path, "dgst", f"-md_gost12_{bits}", "-verify", "pub.pem", "-signature", "sig",
                   "si.c14n", check=False).returncode != 0


@pytest.mark.parametrize("family", [KZ_2004, KZ_2015_512])
async def test_a_gost_key_signs_only_with_its_own_hash(family: Family) -> None:
    key, cert = kz_identity(family)
    own = HashAlgorithm(family.hash)
    assert (await sign_xml(GostSigner(key, cert), cert, DOC, XmlSignOptions(hash_alg=own))).startswith(b"<?xml")
    for other in (HashAlgorithm.SHA256, HashAlgorithm.STREEBOG256):
        signer = GostSigner(key, cert)
        with pytest.raises(InvalidParams, match="signs only with"):
            await sign_xml(signer, cert, DOC, XmlSignOptions(hash_alg=other))
        assert signer.asked == []


async def test_an_rsa_key_refuses_a_national_hash(pki: Manifest) -> None:
    cert = pki.identities["rsa-sign"].certificate()
    key, _ = kz_identity(KZ_2015_512)
    with pytest.raises(InvalidParams, match="for GOST keys"):
        await sign_xml(GostSigner(key, cert), cert, DOC, XmlSignOptions(hash_alg=HashAlgorithm.STREEBOG512))


async def test_a_wrong_signature_from_the_key_is_internal() -> None:
    key, cert = kz_identity(KZ_2015_512)
    with pytest.raises(InternalError):
        await sign_xml(GostSigner(key, cert, corrupt=True), cert, DOC)
    other, _ = kz_identity(KZ_2015_512)  # a key that does not match the certificate
    with pytest.raises(InternalError):
        await sign_xml(GostSigner(other, cert), cert, DOC)


async def test_batch_is_one_signer_call_and_options_apply() -> None:
    key, cert = kz_identity(KZ_2015_512)
    signer = GostSigner(key, cert)
    options = XmlSignOptions(sign_element="//p:applicant", exclusive=True)
    out = await sign_xml_batch(signer, cert, [DOC, DOC.replace(b"012<", b"013<")], options)
    assert signer.batches == [2]
    for signed in out:
        tree, signature = parts(signed)
        assert signature.find(".//ds:Reference", NS).get("URI") == "#applicant"
        applicant = tree.getroot().find("{urn:tanba:person}applicant")
        assert values(signed)[1] == hashes.digest("streebog512", etree.tostring(applicant, method="c14n",
                                                                                exclusive=True))
        assert signature.find(".//ds:SignatureMethod", NS).get("Algorithm") == KZ_2015_512.xml_signature_uri
        signed_info = etree.tostring(signature.find("ds:SignedInfo", NS), method="c14n", exclusive=True)
        value = base64.b64decode(signature.findtext("ds:SignatureValue", namespaces=NS))
        assert key.public_key.verify(hashes.digest("streebog512", signed_info), value)
    assert values(out[0])[1] != values(out[1])[1]  # each document its own digest
