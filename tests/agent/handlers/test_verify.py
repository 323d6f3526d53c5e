"""verify over /v1: our own signatures check out, tampering and revocation are reported."""

from __future__ import annotations

import base64
from pathlib import Path

from support.agent import PORTAL, browser, call
from support.consent import ScriptedConsent
from support.native import agent_with_keys, b64, reason
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
    # An XML signature carries only the signer's certificate (NCALayer's profile), so the
    # issuing CA is configured as an intermediate (untrusted, for path building).
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
