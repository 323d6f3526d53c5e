"""verify_xml on documents signed by real xmlsec1 (NCALayer profile) and by the agent's signer."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from support.ocsp_server import RevocationServer

from tanba.agent.formats.xmldsig import sign_xml
from tanba.agent.setup.testpki import Manifest
from tanba.agent.verify.chain import ChainValidator
from tanba.agent.verify.xml import verify_xml
from tanba.protocol.errors import InvalidParams
from tanba.providers.pkcs12 import Pkcs12Store

C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
METHODS = {"rsa": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
           "ec": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"}
TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<zayavlenie><fio>Тестов Тест</fio><summa>1000</summa><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">\
<ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{c14n}"/><ds:SignatureMethod Algorithm="{method}"/>\
<ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>\
<ds:Transform Algorithm="{transform}"/></ds:Transforms>\
<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo>\
<ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature></zayavlenie>
"""


@pytest.fixture
def validator(pki: Manifest, ocsp: RevocationServer) -> ChainValidator:
    return ChainValidator([pki.root_pem], intermediates=[pki.intermediate_pem], timeout=2.0)


def xmlsec_sign(pki: Manifest, name: str, tmp_path: Path, *, c14n: str = C14N) -> bytes:
    ident = pki.identities[name]
    template = tmp_path / "template.xml"
    method = METHODS["ec" if ident.key == "p256" else "rsa"]
    transform = C14N + "#WithComments" if c14n == C14N else EXC_C14N + "WithComments"
    template.write_text(TEMPLATE.format(c14n=c14n, method=method, transform=transform), encoding="utf-8")
    out = tmp_path / "signed.xml"
    subprocess.run(["xmlsec1", "--sign", "--privkey-pem", f"{ident.key_pem},{ident.cert_pem}",
                    "--output", str(out), str(template)], check=True, capture_output=True)
    return out.read_bytes()


async def test_ncalayer_profile_rsa_is_valid(pki: Manifest, validator: ChainValidator, tmp_path: Path) -> None:
    result = await verify_xml(xmlsec_sign(pki, "rsa-sign", tmp_path), validator)
    assert result.valid
    (signer,) = result.signers
    assert signer.signature_valid and signer.chain_valid and signer.revocation == "good"
    assert signer.certificate == pki.identities["rsa-sign"].certificate().public_bytes(Encoding.PEM).decode()


async def test_ec_with_exclusive_c14n_is_valid(pki: Manifest, validator: ChainValidator, tmp_path: Path) -> None:
    assert (await verify_xml(xmlsec_sign(pki, "ec-sign", tmp_path, c14n=EXC_C14N), validator)).valid


async def test_tampered_document_is_invalid(pki: Manifest, validator: ChainValidator, tmp_path: Path) -> None:
    signed = xmlsec_sign(pki, "rsa-sign", tmp_path)
    result = await verify_xml(signed.replace(b"<summa>1000<", b"<summa>9000<"), validator)
    assert not result.valid
    assert result.signers[0].problems == ("signature_invalid",)


async def test_wrong_certificate_is_invalid(pki: Manifest, validator: ChainValidator, tmp_path: Path) -> None:
    signed = xmlsec_sign(pki, "rsa-sign", tmp_path)
    mine = base64.b64encode(pki.identities["rsa-sign"].certificate().public_bytes(Encoding.DER))
    other = base64.b64encode(pki.identities["org-rsa-sign"].certificate().public_bytes(Encoding.DER))
    start, end = signed.index(b"<ds:X509Certificate>") + 20, signed.index(b"</ds:X509Certificate>")
    assert b"".join(signed[start:end].split()) == mine
    result = await verify_xml(signed[:start] + other + signed[end:], validator)
    assert not result.valid and not result.signers[0].signature_valid


async def test_revoked_signer(pki: Manifest, validator: ChainValidator, tmp_path: Path) -> None:
    result = await verify_xml(xmlsec_sign(pki, "rsa-sign-revoked", tmp_path), validator)
    assert not result.valid and result.signers[0].revocation == "revoked"


async def test_untrusted_chain(pki: Manifest, ocsp: RevocationServer, tmp_path: Path) -> None:
    result = await verify_xml(xmlsec_sign(pki, "rsa-sign", tmp_path), ChainValidator([pki.tsa_pem]))
    assert not result.valid and result.signers[0].signature_valid and not result.signers[0].chain_valid


async def test_signature_from_the_agents_xml_signer(pki: Manifest, validator: ChainValidator) -> None:
    ident = pki.identities["rsa-sign"]
    store = Pkcs12Store([ident.p12])
    await store.unlock_file(ident.p12, bytearray(ident.p12_password.encode()))
    (identity,) = await store.identities()
    signer = await store.open(identity, None)
    signed = await sign_xml(signer, ident.certificate(), "<doc><a>Сәлем</a></doc>".encode())
    await store.close()
    assert (await verify_xml(signed, validator)).valid
    assert not (await verify_xml(signed.replace("Сәлем".encode(), b"hello"), validator)).valid


@pytest.mark.parametrize(
    "hostile",
    [
        b"",
        b"not xml at all",
        b"<doc><unclosed></doc>",
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
        b'<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><d>&b;</d>',
        b"<doc>no signature here</doc>",
    ],
)
async def test_hostile_or_unsigned_xml_is_invalid_params(hostile: bytes, validator: ChainValidator) -> None:
    with pytest.raises(InvalidParams):
        await verify_xml(hostile, validator)


async def test_two_signatures_are_refused(pki: Manifest, validator: ChainValidator, tmp_path: Path) -> None:
    signed = xmlsec_sign(pki, "rsa-sign", tmp_path).decode()
    start = signed.index("<ds:Signature")
    end = signed.index("</ds:Signature>") + len("</ds:Signature>")
    doubled = signed[:end] + signed[start:end] + signed[end:]
    with pytest.raises(InvalidParams):
        await verify_xml(doubled.encode(), validator)
