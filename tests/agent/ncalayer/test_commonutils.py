"""commonUtils over ``/``: the native sign path, consent and rule 5, checked with openssl/xmlsec1."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from websockets.asyncio.client import ClientConnection, connect

from support.agent import PORTAL
from support.consent import ScriptedConsent
from support.native import agent_with_keys, b64, openssl_cms_verify, xmlsec_verify
from tanba.agent.consent.base import Action
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest
from tanba.agent.transport.server import AgentServer
from tanba.protocol import i18n
from tanba.protocol.errors import InvalidParams, NoCertificate

CU = "kz.gov.pki.knca.commonUtils"
DOC = "Өтініш №3".encode()


@asynccontextmanager
async def page(server: AgentServer) -> AsyncIterator[ClientConnection]:
    async with connect(f"ws://127.0.0.1:{server.port}/", origin=PORTAL) as ws:  # type: ignore[arg-type]
        await ws.recv()  # greeting
        yield ws


async def common(ws: ClientConnection, method: str, *args: Any) -> dict[str, Any]:
    await ws.send(json.dumps({"module": CU, "method": method, "args": list(args)}))
    answer: dict[str, Any] = json.loads(await ws.recv())
    return answer


def _signer_of(tmp_path: Path, cms: bytes) -> x509.Certificate:
    (tmp_path / "s.der").write_bytes(cms)
    out = subprocess.run(["openssl", "pkcs7", "-inform", "DER", "-in", str(tmp_path / "s.der"), "-print_certs"],
                         check=True, capture_output=True, timeout=30).stdout
    return x509.load_pem_x509_certificates(out)[0]


async def test_get_active_tokens_lists_present_tokens_not_files(tmp_path: Path, pki: Manifest, softhsm: Any) -> None:
    async with agent_with_keys(tmp_path, pki, ScriptedConsent(), p12=["rsa-sign"], softhsm_module=softhsm.module) as server:
        async with page(server) as ws:
            assert await common(ws, "getActiveTokens") == {"code": "200", "responseObject": ["AKKaztokenStore"]}
    async with agent_with_keys(tmp_path, pki, ScriptedConsent(), p12=["rsa-sign"]) as server, page(server) as ws:
        assert await common(ws, "getActiveTokens") == {"code": "200", "responseObject": []}


async def test_get_key_info_discloses_the_chosen_certificate_after_confirmation(
    tmp_path: Path, pki: Manifest, softhsm: Any
) -> None:
    user = ScriptedConsent(choose=lambda c: c.candidates[-1])
    async with agent_with_keys(tmp_path, pki, user, softhsm_module=softhsm.module) as server, page(server) as ws:
        answer = await common(ws, "getKeyInfo", "AKKaztokenStore")
        assert answer["code"] == "200"
        info = answer["responseObject"]
        choice = next(q for k, q in user.asked if k == "choose")
        assert choice.action is Action.DISCLOSE and len(choice.candidates) == 4  # auth and sign keys alike
        confirmation = next(q for k, q in user.asked if k == "confirm")
        assert confirmation.action is Action.DISCLOSE and confirmation.identities == (choice.candidates[-1],)
        assert info["pem"] == confirmation.identities[0].certificate.public_bytes(Encoding.PEM).decode()
        assert info["alias"] == confirmation.identities[0].id
        assert not any(k == "pin" for k, _ in user.asked)  # a disclosure needs no PIN

        user.confirm_answer = False
        assert await common(ws, "getKeyInfo", "AKKaztokenStore") == {"code": "500", "message": "action.canceled"}
        missing = await common(ws, "getKeyInfo", "AKJaCartaStore")
        assert missing == {"code": "500", "message": i18n.error_text(NoCertificate(), "en")}


async def test_signature_key_type_signs_with_the_signing_key(tmp_path: Path, pki: Manifest) -> None:
    user = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, user, p12=["rsa-auth", "rsa-sign"]) as server, page(server) as ws:
        answer = await common(ws, "createCAdESFromBase64", "PKCS12", "SIGNATURE", b64(DOC), False)
    cms = base64.b64decode(answer["responseObject"])  # base64 DER
    openssl_cms_verify(pki, tmp_path, cms, content=DOC)
    assert _signer_of(tmp_path, cms) == pki.identities["rsa-sign"].certificate()
    confirmation = next(q for k, q in user.asked if k == "confirm")
    assert confirmation.action is Action.SIGN and confirmation.documents[0].preview == DOC.decode()


async def test_an_auth_key_never_signs_unless_the_page_asks_for_authentication(tmp_path: Path, pki: Manifest) -> None:
    user = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, user, p12=["rsa-auth"]) as server, page(server) as ws:
        for key_type in ("SIGNATURE", "", "ANY"):
            refused = await common(ws, "createCAdESFromBase64", "PKCS12", key_type, b64(DOC), True)
            assert refused == {"code": "500", "message": i18n.error_text(NoCertificate(), "en")}, key_type
        assert not any(k == "confirm" for k, _ in user.asked)
        login = await common(ws, "createCAdESFromBase64", "PKCS12", "AUTHENTICATION", b64(b"challenge"), True)
    assert login["code"] == "200"
    confirmation = next(q for k, q in user.asked if k == "confirm")
    assert confirmation.action is Action.AUTH  # shown to the user as a log-in


async def test_hash_timestamp_and_locale(tmp_path: Path, pki: Manifest) -> None:
    no_tsa = Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), autodetect=False, tsa_url="")
    user = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, user, p12=["rsa-sign"], settings=no_tsa) as server, page(server) as ws:
        over_hash = await common(ws, "createCAdESFromBase64Hash", "PKCS12", "SIGNATURE", b64(hashlib.sha256(DOC).digest()))
        openssl_cms_verify(pki, tmp_path, base64.b64decode(over_hash["responseObject"]), content=DOC)
        wrong = await common(ws, "createCAdESFromBase64Hash", "PKCS12", "SIGNATURE", b64(b"not a hash"))
        assert wrong == {"code": "500", "message": i18n.error_text(InvalidParams(), "en")}
        assert await common(ws, "changeLocale", "ru") == {"code": "200"}
        asked = len(user.asked)
        refused = await common(ws, "createCMSSignatureFromBase64", "PKCS12", "SIGNATURE", b64(DOC), False)
        assert refused == {"code": "500",  # tsa-url = "": no TSA; refused before any dialog
                           "message": "Служба меток времени не настроена (tsa-url): метку времени к подписи добавить нельзя."}
        assert len(user.asked) == asked


async def test_sign_xml_with_xpaths_and_sign_xmls(tmp_path: Path, pki: Manifest) -> None:
    xml = '<root><data Id="d1">payload</data><sigs/></root>'
    async with agent_with_keys(tmp_path, pki, ScriptedConsent(pin="123456"), p12=["rsa-sign"]) as server, page(server) as ws:
        one = await common(ws, "signXml", "PKCS12", "SIGNATURE", xml, "//data", "//sigs")
        many = await common(ws, "signXmls", "PKCS12", "SIGNATURE", ["<a>1</a>", "<b>2</b>"], "", "")
    signed = one["responseObject"]
    assert '<sigs><ds:Signature' in signed and 'URI="#d1"' in signed
    (tmp_path / "id.xml").write_text(signed, "utf-8")
    proc = subprocess.run(["xmlsec1", "--verify", "--id-attr:Id", "data", "--trusted-pem", str(pki.root_pem),
                           "--untrusted-pem", str(pki.intermediate_pem), str(tmp_path / "id.xml")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert isinstance(many["responseObject"], list) and len(many["responseObject"]) == 2
    for doc in many["responseObject"]:
        xmlsec_verify(pki, tmp_path, doc.encode())
