"""basics.sign over ``/``: shapes, encodings, signer filters, cancel and failures."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from websockets.asyncio.client import ClientConnection, connect

from support.agent import PORTAL
from support.consent import ScriptedConsent
from support.native import agent_with_keys, b64, openssl_cms_verify, xmlsec_verify
from tanba.agent.consent.base import Action
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest
from tanba.agent.transport.server import AgentServer
from tanba.protocol import i18n
from tanba.protocol.errors import NoCertificate

DOC = b"basics document"


@asynccontextmanager
async def page(server: AgentServer) -> AsyncIterator[ClientConnection]:
    async with connect(f"ws://127.0.0.1:{server.port}/", origin=PORTAL) as ws:  # type: ignore[arg-type]
        await ws.recv()  # greeting
        yield ws


async def sign(ws: ClientConnection, **args: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"allowedStorages": ["PKCS12"], "format": "cms", "data": b64(DOC),
                            "signingParams": {"decode": True}, "signerParams": {"extKeyUsageOids": []}, "locale": "en"}
    base.update(args)
    await ws.send(json.dumps({"module": "kz.gov.pki.knca.basics", "method": "sign", "args": base}))
    answer: dict[str, Any] = json.loads(await ws.recv())
    return answer


def _der(pem: str) -> bytes:
    body = re.fullmatch(r"-----BEGIN CMS-----\n(.+)\n-----END CMS-----\n", pem, re.S)
    assert body, pem
    return base64.b64decode(body.group(1))


async def test_cms_string_in_string_out_array_in_array_out(tmp_path: Path, pki: Manifest) -> None:
    async with agent_with_keys(tmp_path, pki, ScriptedConsent(pin="123456"), p12=["rsa-sign"]) as server, page(server) as ws:
        single = await sign(ws, signingParams={"decode": True, "encapsulate": True})
        many = await sign(ws, data=[b64(b"one"), b64(b"two")])
        text = await sign(ws, data="plain text signed as UTF-8", signingParams={"encapsulate": True})
    assert single["status"] is True and isinstance(single["body"]["result"], str)
    assert openssl_cms_verify(pki, tmp_path, _der(single["body"]["result"])) == DOC.decode()
    pems = many["body"]["result"]
    assert isinstance(pems, list) and len(pems) == 2
    for doc, pem in zip((b"one", b"two"), pems, strict=True):
        openssl_cms_verify(pki, tmp_path, _der(pem), content=doc)
    assert openssl_cms_verify(pki, tmp_path, _der(text["body"]["result"])) == "plain text signed as UTF-8"


async def test_xml_is_always_an_array_and_raw_is_base64(tmp_path: Path, pki: Manifest) -> None:
    async with agent_with_keys(tmp_path, pki, ScriptedConsent(pin="123456"), p12=["rsa-sign"]) as server, page(server) as ws:
        xml = await sign(ws, format="xml", data="<a><b>x</b></a>", signingParams={})
        raw = await sign(ws, format="raw", data=b64(DOC))
        with_cert = await sign(ws, format="raw", data=[b64(DOC)], signingParams={"decode": True, "outputCert": True})
    [document] = xml["body"]["result"]
    xmlsec_verify(pki, tmp_path, document.encode())
    cert = pki.identities["rsa-sign"].certificate()
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(base64.b64decode(raw["body"]["result"]), DOC, padding.PKCS1v15(), hashes.SHA256())
    result = with_cert["body"]["result"]
    assert x509.load_pem_x509_certificate(result["certificate"].encode()) == cert and len(result["signatures"]) == 1


async def test_signer_params_choose_the_key(tmp_path: Path, pki: Manifest, softhsm: Any) -> None:
    user = ScriptedConsent(pin="1234")
    async with agent_with_keys(tmp_path, pki, user, softhsm_module=softhsm.module) as server, page(server) as ws:
        login = await sign(ws, allowedStorages=None, format="xml", data="<login/>", signingParams={},
                           signerParams={"extKeyUsageOids": ["1.3.6.1.5.5.7.3.2"], "iin": pki.identities["ec-auth"].iin})
        nobody = await sign(ws, allowedStorages=["AKKaztokenStore"],
                            signerParams={"extKeyUsageOids": ["1.3.6.1.5.5.7.3.4"], "iin": "999999999999"})
    [signed] = login["body"]["result"]
    assert "<ds:X509Certificate>" in signed
    confirmation = next(q for k, q in user.asked if k == "confirm")
    assert confirmation.action is Action.AUTH
    assert confirmation.identities[0].certificate == pki.identities["ec-auth"].certificate()
    assert nobody == {"status": False, "code": "SIGNING_FAILURE",
                      "message": i18n.error_text(NoCertificate(), "en"), "details": "no_certificate"}


async def test_cancel_failures_and_locale(tmp_path: Path, pki: Manifest) -> None:
    user = ScriptedConsent(pin="123456", confirm_answer=False)
    no_tsa_settings = Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), autodetect=False, tsa_url="")
    async with agent_with_keys(tmp_path, pki, user, p12=["rsa-sign"], settings=no_tsa_settings) as server, page(server) as ws:
        assert await sign(ws) == {"status": True, "body": {}}
        user.confirm_answer = True
        bad_type = await sign(ws, signingParams=555)
        assert bad_type["status"] is False and bad_type["code"] == "INVOCATION_ERROR"
        bad_value = await sign(ws, format="pdf")
        assert bad_value["code"] == "INVALID_SIGNING_PARAMS" and bad_value["details"] == "invalid_params: format"
        no_tsa = await sign(ws, signingParams={"decode": True, "tsaProfile": {}}, locale="kk")
        assert no_tsa == {"status": False, "code": "SIGNING_FAILURE",  # tsa-url = "": no TSA, nothing contacted
                          "message": "Уақыт белгісі қызметі бапталмаған (tsa-url): қолтаңбаға уақыт белгісін қосу мүмкін емес.",
                          "details": "timestamp_failed"}
        await ws.send(json.dumps({"module": "kz.gov.pki.knca.basics", "method": "generateCsr", "args": {}}))
        assert json.loads(await ws.recv())["code"] == "INVOCATION_ERROR"
        assert (await sign(ws))["status"] is True  # still serving
