"""verify over /v1: our own signatures check out, tampering and revocation are reported."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from lxml import etree

from support.agent import PORTAL, browser, call
from support.consent import ScriptedConsent
from support.native import agent_with_keys, b64, reason, xmlsec_verify
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest

DOC = b"contract text"


async def sign_and_verify(tmp_path: Path, pki: Manifest, name: str, data: bytes) -> dict[str, object]:
    async with agent_with_keys(tmp_path, pki, ScriptedConsent(pin="123456"), p12=[name]) as server, browser(server) as ws:
        signed = await call(ws, "sign", {"format": "cms", "data": [b64(DOC)], "filter": {"validOnly": False}})
        cms = signed["result"]["signatures"][0]
        return await call(ws, "verify", {"format": "cms", "signature": cms, "data": b64(data)}, id=2)


async def test_a_valid_signature(tmp_path: Path, pki: Manifest) -> None:
    reply = await sign_and_verify(tmp_path, pki, "rsa-sign", DOC)
    result = reply["result"]
    assert result["valid"] is True
    [signer] = result["signers"]
    assert signer["chainValid"] is True and signer["signingTime"].endswith("Z")
    assert signer["certificate"] == pki.identities["rsa-sign"].cert_pem.read_text()


async def test_other_data_is_invalid(tmp_path: Path, pki: Manifest) -> None:
    reply = await sign_and_verify(tmp_path, pki, "rsa-sign", DOC + b"!")
    assert reply["result"]["valid"] is False


async def test_garbage_is_invalid_params_and_xml_is_checked(tmp_path: Path, pki: Manifest) -> None:
    # The issuing CA is also configured as an intermediate (untrusted, for path building).
    settings = Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), intermediate=(pki.intermediate_pem,),
                        autodetect=False)
    async with agent_with_keys(tmp_path, pki, ScriptedConsent(pin="123456"), p12=["rsa-sign"], settings=settings) as server, browser(server) as ws:
        assert reason(await call(ws, "verify", {"format": "cms", "signature": b64(b"\x30\x03garbage")})) == "invalid_params"
        xml = b"<r><a>1</a></r>"
        signed = await call(ws, "sign", {"format": "xml", "data": [b64(xml)]}, id=2)
        doc = base64.b64decode(signed["result"]["signatures"][0])
        good = await call(ws, "verify", {"format": "xml", "signature": b64(doc)}, id=3)
        assert good["result"]["valid"] is True, good
        bad = await call(ws, "verify", {"format": "xml", "signature": b64(doc.replace(b"<a>1</a>", b"<a>2</a>"))}, id=4)
        assert bad["result"]["valid"] is False


DS = {"ds": "http://www.w3.org/2000/09/xmldsig#"}
XML = "<zayavlenie><summa>1000</summa><fio>ТЕСТОВ ТЕСТ</fio></zayavlenie>".encode()


def embedded(doc: bytes) -> list[x509.Certificate]:
    """The certificates of the document's one X509Data, in order."""
    [data] = etree.fromstring(doc).findall(".//ds:Signature/ds:KeyInfo/ds:X509Data", DS)
    return [x509.load_der_x509_certificate(base64.b64decode(e.text)) for e in data.findall("ds:X509Certificate", DS)]


def xmlsec1_root_only(pki: Manifest, tmp_path: Path, doc: bytes) -> bool:
    """xmlsec1 with the test root as its only certificate: a path needs the embedded chain."""
    (tmp_path / "signed.xml").write_bytes(doc)
    proc = subprocess.run(["xmlsec1", "--verify", "--trusted-pem", str(pki.root_pem), str(tmp_path / "signed.xml")],
                          capture_output=True, text=True, timeout=60)
    return proc.returncode == 0


async def sign_xml_and_verify(
    tmp_path: Path, pki: Manifest, include_chain: bool | None, settings: Settings | None = None
) -> tuple[dict[str, Any], bytes, dict[str, Any]]:
    """/v1 sign of an XML document (``includeChain`` as given, None: absent) and the agent's
    verify of it: (sign result, the signed document, the verify result)."""
    params: dict[str, Any] = {"format": "xml", "data": [b64(XML)]}
    if include_chain is not None:
        params["includeChain"] = include_chain
    async with agent_with_keys(tmp_path, pki, ScriptedConsent(pin="123456"), p12=["rsa-sign"],
                               settings=settings) as server, browser(server) as ws:
        signed = await call(ws, "sign", params)
        doc = base64.b64decode(signed["result"]["signatures"][0])
        verified = await call(ws, "verify", {"format": "xml", "signature": b64(doc)}, id=2)
    return signed["result"], doc, verified["result"]


@pytest.mark.parametrize("include_chain", [True, None])
async def test_xml_with_include_chain_carries_the_chain_and_verifies_with_the_root_alone(
    tmp_path: Path, pki: Manifest, include_chain: bool | None
) -> None:
    # the agent's settings name the root as trust anchor and no intermediate
    result, doc, verified = await sign_xml_and_verify(tmp_path, pki, include_chain)
    signer = pki.identities["rsa-sign"].certificate()
    chain = [x509.load_pem_x509_certificate(pem.encode()) for pem in result["chain"]]
    intermediate = x509.load_pem_x509_certificate(pki.intermediate_pem.read_bytes())
    root = x509.load_pem_x509_certificate(pki.root_pem.read_bytes())
    # the p12's chain, nearest issuer first, the root included as the file holds it: what CMS embeds too
    assert chain == [intermediate, root]
    assert embedded(doc) == [signer, intermediate, root]
    assert xmlsec1_root_only(pki, tmp_path, doc)
    assert verified["valid"] is True, verified
    [checked] = verified["signers"]
    assert checked["chainValid"] is True and checked["signatureValid"] is True
    assert checked["certificate"] == pki.identities["rsa-sign"].cert_pem.read_text()


async def test_xml_without_include_chain_carries_the_signer_alone_and_needs_the_intermediate(
    tmp_path: Path, pki: Manifest
) -> None:
    result, doc, verified = await sign_xml_and_verify(tmp_path, pki, False)
    assert embedded(doc) == [pki.identities["rsa-sign"].certificate()]
    assert len(result["chain"]) >= 1  # the answer still names the chain
    xmlsec_verify(pki, tmp_path, doc)  # given the intermediate, xmlsec1 verifies it
    assert not xmlsec1_root_only(pki, tmp_path, doc)
    # root only: the signature is intact, the chain cannot be built
    assert verified["valid"] is False
    [checked] = verified["signers"]
    assert checked["signatureValid"] is True and checked["chainValid"] is False
    assert "chain_untrusted" in checked["problems"], checked

    # the agent's `intermediate` setting supplies the issuing CA
    settings = Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), intermediate=(pki.intermediate_pem,),
                        autodetect=False)
    _, doc, verified = await sign_xml_and_verify(tmp_path, pki, False, settings)
    assert len(embedded(doc)) == 1
    assert verified["valid"] is True, verified
    assert verified["signers"][0]["chainValid"] is True
