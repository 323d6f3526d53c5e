"""Belarusian bign keys (STB 34.101.45, bign-curve256v1, belt-hash) through the running agent on
``/v1``: sign (CMS attached/detached/over a belt-hash digest, a batch, XML; raw refused; a
foreign hash refused), auth (the ``BIGN-HBELT`` Web eID token), certs.list with the personal
number and УНП (and their filters), and verify of what Tanba made (CMS and XML).

The keys come from ``tanba.agent.setup.bign_pki`` (one PKI per module).  Every signature is
checked by tests/support/bign_cms.py, written from the standard and not from Tanba's bign code."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from support.agent import PORTAL, browser, call, running_agent
from support.bign_cms import BIGN_WITH_HBELT, bign_public_key, bign_verify, check_bign_cms
from support.consent import ScriptedConsent
from tanba.agent.setup.bign_pki import BignManifest, make_bign_pki
from tanba.agent.setup.config import Settings
from tanba.crypto.belt import belt_hash
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.registry import Stores

DOC = "Заява / Заявление №7 (Мінск)".encode()
XML = "<request><number>3140583A001PB5</number><text>Заява</text></request>"
XML_BIGN_WITH_HBELT = "http://www.w3.org/2009/xmldsig11#bign-with-hbelt"
PERSONAL_NUMBER_OID = "1.2.112.1.2.1.1.1.1.1"


@pytest.fixture(scope="module")
def bign(tmp_path_factory: pytest.TempPathFactory) -> BignManifest:
    return make_bign_pki(tmp_path_factory.mktemp("bign-pki"))


@asynccontextmanager
async def bign_agent(tmp_path: Path, pki: BignManifest, consent: ScriptedConsent, *names: str,
                     **settings_kw: Any) -> AsyncIterator[Any]:
    stores = Stores([Pkcs12Store([pki.p12[n] for n in names or ("bign-person",)])])
    settings = Settings(allow_origin=(PORTAL,), autodetect=False, **settings_kw)
    try:
        async with running_agent(tmp_path, consent, settings, stores=stores) as server:
            yield server
    finally:
        await stores.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def confirmations(consent: ScriptedConsent) -> list[Any]:
    return [v for k, v in consent.asked if k == "confirm"]


def personal_number_of(cert: x509.Certificate) -> str:
    [attribute] = cert.subject.get_attributes_for_oid(x509.ObjectIdentifier(PERSONAL_NUMBER_OID))
    return str(attribute.value)


async def test_v1_sign_cms_attached_detached_and_over_a_belt_hash_digest(tmp_path: Path, bign: BignManifest) -> None:
    consent = ScriptedConsent(pin=bign.password)
    async with bign_agent(tmp_path, bign, consent) as server, browser(server) as ws:
        attached = await call(ws, "sign", {"format": "cms", "data": [b64(DOC)], "detached": False})
        detached = await call(ws, "sign", {"format": "cms", "data": [b64(DOC)]}, id=2)
        over_digest = await call(ws, "sign", {"format": "cms", "digests": [b64(belt_hash(DOC))],
                                              "digestAlgorithm": "belt-hash"}, id=3)
    for reply in (attached, detached, over_digest):
        assert "result" in reply, reply
    cert, content = check_bign_cms(base64.b64decode(attached["result"]["signatures"][0]))
    assert content == DOC and personal_number_of(cert) == bign.personal_number
    check_bign_cms(base64.b64decode(detached["result"]["signatures"][0]), DOC)
    check_bign_cms(base64.b64decode(over_digest["result"]["signatures"][0]), DOC)
    for reply in (detached, over_digest):  # the signed content is the document, and only it
        with pytest.raises(AssertionError):
            check_bign_cms(base64.b64decode(reply["result"]["signatures"][0]), DOC + b"!")
    assert len(confirmations(consent)) == 3


async def test_v1_a_bign_key_signs_only_with_belt_hash(tmp_path: Path, bign: BignManifest) -> None:
    import hashlib

    consent = ScriptedConsent(pin=bign.password)
    async with bign_agent(tmp_path, bign, consent) as server, browser(server) as ws:
        wrong_hash = await call(ws, "sign", {"format": "cms", "digests": [b64(hashlib.sha256(DOC).digest())],
                                             "digestAlgorithm": "sha256"})
    # refused before anyone is asked, saying which hash the key signs with
    assert wrong_hash["error"]["data"]["reason"] == "invalid_params", wrong_hash
    assert "belt-hash" in wrong_hash["error"]["message"] + str(wrong_hash["error"]["data"])
    assert confirmations(consent) == []


async def test_v1_a_batch_of_three_one_confirmation(tmp_path: Path, bign: BignManifest) -> None:
    consent = ScriptedConsent(pin=bign.password)
    docs = [DOC, b"second", "трэці дакумент".encode()]
    async with bign_agent(tmp_path, bign, consent) as server, browser(server) as ws:
        reply = await call(ws, "sign", {"format": "cms", "data": [b64(d) for d in docs]})
    signatures = reply["result"]["signatures"]
    assert len(signatures) == 3
    for signature, doc in zip(signatures, docs, strict=True):
        check_bign_cms(base64.b64decode(signature), doc)
    with pytest.raises(AssertionError):  # each signature is over its own document
        check_bign_cms(base64.b64decode(signatures[0]), docs[1])
    [confirmation] = confirmations(consent)
    assert len(confirmation.documents) == 3
    assert [k for k, _ in consent.asked].count("pin") == 1


async def test_v1_sign_xml_and_verify_it_on_the_agent(tmp_path: Path, bign: BignManifest) -> None:
    consent = ScriptedConsent(pin=bign.password)
    anchors = (bign.root_pem, bign.ca_pem)
    async with bign_agent(tmp_path, bign, consent, trust_anchor=anchors) as server, browser(server) as ws:
        signed = await call(ws, "sign", {"format": "xml", "data": [b64(XML.encode())]})
        xml = base64.b64decode(signed["result"]["signatures"][0])
        verified = await call(ws, "verify", {"format": "xml", "signature": b64(xml)}, id=2)
        tampered = await call(ws, "verify", {"format": "xml", "signature": b64(xml.replace("Заява".encode(),
                                                                                          "Заявы".encode()))}, id=3)
    from lxml import etree

    tree = etree.fromstring(xml)
    ns = {"ds": "http://www.w3.org/2000/09/xmldsig#"}
    [method] = tree.xpath("//ds:SignedInfo/ds:SignatureMethod/@Algorithm", namespaces=ns)
    assert method == XML_BIGN_WITH_HBELT
    assert verified["result"]["valid"] is True, verified
    [signer] = verified["result"]["signers"]
    assert signer["signatureValid"] is True and signer["chainValid"] is True
    assert tampered["result"]["valid"] is False and tampered["result"]["signers"][0]["signatureValid"] is False


async def test_v1_raw_is_refused_with_the_dual_use_key(tmp_path: Path, bign: BignManifest) -> None:
    consent = ScriptedConsent(pin=bign.password)
    async with bign_agent(tmp_path, bign, consent) as server, browser(server) as ws:
        raw = await call(ws, "sign", {"format": "raw", "data": [b64(DOC)]})
    assert raw["error"]["data"]["reason"] == "invalid_params", raw  # a login token (DESIGN rule 5)
    assert confirmations(consent) == []


def webeid_value(origin: str, challenge: str) -> bytes:
    """What a Web eID token signs (agent/handlers/auth.py ``signed_digest``): the origin and the
    challenge string (the base64 text itself, not its bytes) each UTF-8 encoded and hashed, and
    the hash of the two hashes — every hash belt-hash for a bign-256 key."""
    return belt_hash(belt_hash(origin.encode("utf-8")) + belt_hash(challenge.encode("utf-8")))


async def test_v1_auth_token_bign_hbelt(tmp_path: Path, bign: BignManifest) -> None:
    consent = ScriptedConsent(pin=bign.password)
    challenge = b64(b"b" * 33)
    async with bign_agent(tmp_path, bign, consent) as server, browser(server) as ws:
        reply = await call(ws, "auth", {"challenge": challenge})
    token = reply["result"]
    assert token["algorithm"] == "BIGN-HBELT"
    cert_der = base64.b64decode(token["unverifiedCertificate"])
    signature = base64.b64decode(token["signature"])
    assert len(signature) == 48  # S0 (16) || S1 (32)
    public = bign_public_key(cert_der)
    assert bign_verify(public, webeid_value(PORTAL, challenge), signature)
    assert not bign_verify(public, webeid_value("https://evil.test", challenge), signature)
    assert not bign_verify(public, webeid_value(PORTAL, b64(b"c" * 33)), signature)
    assert personal_number_of(x509.load_der_x509_certificate(cert_der)) == bign.personal_number
    [confirmation] = confirmations(consent)
    assert confirmation.action.value == "auth"  # the dialog says "log in"


async def test_v1_certs_list_personal_number_and_unp(tmp_path: Path, bign: BignManifest) -> None:
    consent = ScriptedConsent(pin=bign.password)
    async with bign_agent(tmp_path, bign, consent, "bign-person", "bign-org") as server, browser(server) as ws:
        every = await call(ws, "certs.list", {})
        by_number = await call(ws, "certs.list", {"filter": {"personalNumber": bign.personal_number}}, id=2)
        by_unp = await call(ws, "certs.list", {"filter": {"unp": bign.unp}}, id=3)
        wrong_number = await call(ws, "certs.list", {"filter": {"personalNumber": "3010176A001PB5"}}, id=4)
        wrong_unp = await call(ws, "certs.list", {"filter": {"unp": "100000000"}}, id=5)
    certificates = every["result"]["certificates"]
    assert len(certificates) == 2
    for info in certificates:
        assert info["algorithm"] == "BIGN-256"
        assert info["personalNumber"] == bign.personal_number
        assert "iin" not in info and "bin" not in info
    [org] = [c for c in certificates if "unp" in c]
    [person] = [c for c in certificates if "unp" not in c]
    assert org["unp"] == bign.unp
    assert person["id"] != org["id"]
    assert sorted(c["id"] for c in by_number["result"]["certificates"]) == sorted(c["id"] for c in certificates)
    assert [c["id"] for c in by_unp["result"]["certificates"]] == [org["id"]]
    assert wrong_number["result"]["certificates"] == []
    assert wrong_unp["result"]["certificates"] == []
    # the PEM is the certificate itself (its key is the bign one the standard's checker reads)
    der = x509.load_pem_x509_certificate(person["pem"].encode()).public_bytes(Encoding.DER)
    assert len(bign_public_key(der)) == 64


async def test_v1_verify_cms_made_by_tanba(tmp_path: Path, bign: BignManifest) -> None:
    consent = ScriptedConsent(pin=bign.password)
    anchors = (bign.root_pem, bign.ca_pem)
    async with bign_agent(tmp_path, bign, consent, trust_anchor=anchors) as server, browser(server) as ws:
        attached = await call(ws, "sign", {"format": "cms", "data": [b64(DOC)], "detached": False})
        detached = await call(ws, "sign", {"format": "cms", "data": [b64(DOC)]}, id=2)
        cms_attached = attached["result"]["signatures"][0]
        cms_detached = detached["result"]["signatures"][0]
        ok_attached = await call(ws, "verify", {"format": "cms", "signature": cms_attached}, id=3)
        ok_detached = await call(ws, "verify", {"format": "cms", "signature": cms_detached, "data": b64(DOC)}, id=4)
        changed = await call(ws, "verify", {"format": "cms", "signature": cms_detached, "data": b64(DOC + b"!")}, id=5)
    check_bign_cms(base64.b64decode(cms_attached))
    for reply in (ok_attached, ok_detached):
        assert reply["result"]["valid"] is True, reply
        [signer] = reply["result"]["signers"]
        assert signer["signatureValid"] is True and signer["chainValid"] is True
        # Settings has no CRL option (the agent's ChainValidator is built without ``crls``), and
        # the PKI's CRL points (http://crl.tanba.invalid/...) never resolve: under the agent's
        # soft revocation policy the revocation stays unknown and the signature is still valid.
        assert signer["revocation"] == "unknown"
        assert "revocation_unknown" in signer["problems"]
    assert changed["result"]["valid"] is False
    assert "message_digest_mismatch" in changed["result"]["signers"][0]["problems"]
    # the signer's certificate algorithm in the signature is bign-with-hbelt
    from asn1crypto import cms

    [info] = list(cms.ContentInfo.load(base64.b64decode(cms_attached))["content"]["signer_infos"])
    assert info["signature_algorithm"]["algorithm"].dotted == BIGN_WITH_HBELT
