"""sign over /v1: every signature the agent returns is checked by openssl / xmlsec1."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from support.agent import PORTAL, browser, call
from support.consent import ScriptedConsent
from support.native import agent_with_keys, b64, openssl_cms_verify, reason, xmlsec_verify
from support.tsa_server import TsaServer
from tanba.agent.consent.base import Action
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest
from tanba.providers import pkcs12

DOC = "Өтініш / Заявление №42: прошу выдать справку".encode()


async def test_cms_attached_from_a_p12_file(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-auth", "rsa-sign"]) as server, browser(server) as ws:
        reply = await call(ws, "sign", {"format": "cms", "data": [b64(DOC)], "detached": False})
    result = reply["result"]
    [signature] = result["signatures"]
    assert openssl_cms_verify(pki, tmp_path, base64.b64decode(signature)) == DOC.decode()
    signer = x509.load_pem_x509_certificate(result["certificate"].encode())
    assert signer == pki.identities["rsa-sign"].certificate()  # the signing key, never the auth key
    assert len(result["chain"]) == 2
    confirmation = next(q for kind, q in consent.asked if kind == "confirm")
    assert confirmation.origin == PORTAL and confirmation.action is Action.SIGN
    [doc] = confirmation.documents
    assert doc.size == len(DOC) and doc.digest_hex == hashlib.sha256(DOC).hexdigest()
    assert doc.preview == DOC.decode()


async def test_cms_detached_over_digests_on_the_token_ec(tmp_path: Path, pki: Manifest, softhsm: Any) -> None:
    docs = [b"first document", b"second document", b"third"]
    consent = ScriptedConsent(pin="1234", choose=lambda c: next(i for i in c.candidates if isinstance(i.certificate.public_key(), ec.EllipticCurvePublicKey)))
    async with agent_with_keys(tmp_path, pki, consent, softhsm_module=softhsm.module) as server, browser(server) as ws:
        digests = [b64(hashlib.sha256(d).digest()) for d in docs]
        reply = await call(ws, "sign", {"format": "cms", "digests": digests, "digestAlgorithm": "sha256"})
    signatures = reply["result"]["signatures"]
    assert len(signatures) == 3
    for doc, sig in zip(docs, signatures, strict=True):
        openssl_cms_verify(pki, tmp_path, base64.b64decode(sig), content=doc)
    assert [k for k, _ in consent.asked].count("pin") == 1  # one PIN for the whole batch
    assert [k for k, _ in consent.asked].count("confirm") == 1
    confirmation = next(q for kind, q in consent.asked if kind == "confirm")
    assert [d.size for d in confirmation.documents] == [None, None, None]


async def test_xml_on_the_token_verifies_with_xmlsec1(tmp_path: Path, pki: Manifest, softhsm: Any) -> None:
    consent = ScriptedConsent(pin="1234", choose=lambda c: next(i for i in c.candidates if isinstance(i.certificate.public_key(), rsa.RSAPublicKey)))
    xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><root><data Id=\"d1\">Мәлімет</data><sig/></root>".encode()
    async with agent_with_keys(tmp_path, pki, consent, softhsm_module=softhsm.module) as server, browser(server) as ws:
        reply = await call(ws, "sign", {"format": "xml", "data": [b64(xml)], "xml": {"parent": "/root/sig"}})
    signed = base64.b64decode(reply["result"]["signatures"][0])
    assert b"<sig><ds:Signature" in signed
    xmlsec_verify(pki, tmp_path, signed)


async def test_raw_signature_verifies_with_the_public_key(tmp_path: Path, pki: Manifest) -> None:
    async with agent_with_keys(tmp_path, pki, ScriptedConsent(pin="123456"), p12=["ec-sign"]) as server, browser(server) as ws:
        reply = await call(ws, "sign", {"format": "raw", "data": [b64(DOC)]})
    key = pki.identities["ec-sign"].certificate().public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(base64.b64decode(reply["result"]["signatures"][0]), DOC, ec.ECDSA(hashes.SHA256()))


async def test_batch_sends_progress_before_the_result(tmp_path: Path, pki: Manifest) -> None:
    data = [b64(f"doc {i}".encode()) for i in range(40)]
    async with agent_with_keys(tmp_path, pki, ScriptedConsent(pin="123456"), p12=["rsa-sign"]) as server, browser(server) as ws:
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": "b", "method": "sign", "params": {"format": "cms", "data": data}}))
        messages = [json.loads(await ws.recv())]
        while "result" not in messages[-1] and "error" not in messages[-1]:
            messages.append(json.loads(await ws.recv()))
    progress = [m["params"] for m in messages if m.get("method") == "progress"]
    assert progress and progress[-1] == {"id": "b", "done": 40, "total": 40}
    assert len(messages[-1]["result"]["signatures"]) == 40


async def test_timestamped_cms_has_a_token(tmp_path: Path, pki: Manifest) -> None:
    with TsaServer(pki.tsa_pem, pki.tsa_key_pem) as tsa:
        settings = Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), tsa_url=tsa.url, autodetect=False)
        async with agent_with_keys(tmp_path, pki, ScriptedConsent(pin="123456"), p12=["rsa-sign"], settings=settings) as server, browser(server) as ws:
            reply = await call(ws, "sign", {"format": "cms", "data": [b64(DOC)], "timestamp": True})
            cms = base64.b64decode(reply["result"]["signatures"][0])
            verified = await call(ws, "verify", {"format": "cms", "signature": b64(cms), "data": b64(DOC)}, id=2)
    openssl_cms_verify(pki, tmp_path, cms, content=DOC)
    [signer] = verified["result"]["signers"]
    assert verified["result"]["valid"] is True and signer["timestamp"]


async def test_timestamp_without_a_tsa_is_timestamp_failed(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"]) as server, browser(server) as ws:
        reply = await call(ws, "sign", {"format": "cms", "data": [b64(DOC)], "timestamp": True})
    assert reason(reply) == "timestamp_failed"
    assert reply["error"]["message"].startswith("No timestamp service configured (tsa-url)")  # not "did not answer"
    assert consent.asked == []  # refused before bothering the user


async def test_auth_keys_never_sign_documents(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-auth"]) as server, browser(server) as ws:
        assert reason(await call(ws, "sign", {"format": "cms", "data": [b64(DOC)]})) == "no_certificate"
        forced = await call(ws, "sign", {"format": "cms", "data": [b64(DOC)], "filter": {"keyUsage": "auth"}}, id=2)
        assert reason(forced) == "invalid_params"
    assert not any(kind == "confirm" for kind, _ in consent.asked)


async def test_cancel_and_wrong_pin(tmp_path: Path, pki: Manifest, softhsm: Any) -> None:
    consent = ScriptedConsent(pin="1234", confirm_answer=False)
    async with agent_with_keys(tmp_path, pki, consent, softhsm_module=softhsm.module) as server, browser(server) as ws:
        params = {"format": "cms", "data": [b64(DOC)], "filter": {"iin": pki.identities["rsa-sign"].iin}}
        assert reason(await call(ws, "sign", params)) == "user_cancelled"
        assert not any(kind == "pin" for kind, _ in consent.asked)  # no PIN before the user agreed
        consent.confirm_answer, consent.pin = True, "9999"
        consent.asked.clear()
        reply = await call(ws, "sign", params, id=2)
        assert reason(reply) == "wrong_pin"
        assert [k for k, _ in consent.asked].count("pin") == 1  # never retried by the agent
        consent.pin = "1234"
        assert "result" in await call(ws, "sign", params, id=3)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"format": "cms", "digests": [b64(b"x" * 20)], "digestAlgorithm": "sha256"}, "params.digests[0]"),
        ({"format": "cms", "digests": [b64(b"x" * 32)], "digestAlgorithm": "md5"}, "params.digestAlgorithm"),
        ({"format": "cms", "digests": [b64(b"x" * 32)]}, "params.digestAlgorithm"),
        ({"format": "xml", "digests": [b64(b"x" * 32)], "digestAlgorithm": "sha256"}, "params.digests"),
        ({"format": "pdf", "data": [b64(DOC)]}, "params.format"),
        ({"format": "cms", "data": ["not base64!"]}, "params.data[0]"),
        ({"format": "cms", "data": []}, "params.data"),
        ({"format": "cms", "data": [b64(DOC)], "pin": "123456"}, "params.pin"),
        ({"format": "cms", "data": [b64(DOC)], "detached": "yes"}, "params.detached"),
    ],
)
async def test_bad_params_are_refused_before_any_prompt(tmp_path: Path, pki: Manifest, params: dict[str, Any], field: str) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"]) as server, browser(server) as ws:
        reply = await call(ws, "sign", params)
        assert reason(reply) == "invalid_params"
        assert reply["error"]["data"]["field"] == field
        assert "result" in await call(ws, "agent.hello", id=2)
    assert consent.asked == []


async def test_a_second_request_while_one_is_being_confirmed_is_busy(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    gate = asyncio.Event()
    original = consent.confirm

    async def slow_confirm(confirmation: Any) -> bool:
        await gate.wait()
        return await original(confirmation)

    consent.confirm = slow_confirm  # type: ignore[method-assign]
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"]) as server, browser(server) as ws, browser(server) as other:
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sign", "params": {"format": "raw", "data": [b64(DOC)]}}))
        while not any(k == "pin" for k, _ in consent.asked):
            await asyncio.sleep(0.01)
        assert reason(await call(other, "sign", {"format": "raw", "data": [b64(DOC)]}, id=2)) == "busy"
        gate.set()
        assert "result" in json.loads(await ws.recv())


async def test_closing_the_socket_cancels_the_open_prompt(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    cancelled, shown = asyncio.Event(), asyncio.Event()

    async def never(confirmation: Any) -> bool:
        shown.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return True

    consent.confirm = never  # type: ignore[method-assign]
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"]) as server:
        async with browser(server) as ws:
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sign", "params": {"format": "raw", "data": [b64(DOC)]}}))
            await asyncio.wait_for(shown.wait(), 5)  # the confirmation is on screen
        await asyncio.wait_for(cancelled.wait(), 5)
        assert not server.services.prompts.active  # the slot is free for the next page
        consent.confirm = ScriptedConsent().confirm  # type: ignore[method-assign]
        async with browser(server) as ws:
            assert "result" in await call(ws, "sign", {"format": "raw", "data": [b64(DOC)]})


async def test_every_signature_and_refusal_is_audited_without_the_document(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"]) as server, browser(server) as ws:
        assert "result" in await call(ws, "sign", {"format": "cms", "data": [b64(DOC)]})
        consent.confirm_answer = False
        assert reason(await call(ws, "sign", {"format": "cms", "data": [b64(DOC)]}, id=2)) == "user_cancelled"
        audit = server.services.audit
        assert audit is not None and audit.flush()
        events = audit.recent(10)
    assert [(e["method"], e["action"], e["result"]) for e in events] == [("sign", "sign", "ok"), ("sign", "sign", "error")]
    assert events[0]["origin"] == PORTAL
    assert events[0]["documents"][0]["digest"] == hashlib.sha256(DOC).hexdigest()
    assert events[1]["reason"] == "user_cancelled"
    text = (tmp_path / "audit.log").read_text("utf-8")
    assert DOC.decode() not in text and "123456" not in text
    assert (tmp_path / "audit.log").stat().st_mode & 0o777 == 0o600


async def test_each_signature_s_audit_line_is_in_the_file_when_the_answer_arrives(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"]) as server, browser(server) as ws:
        audit = server.services.audit
        assert audit is not None
        for number in range(1, 4):
            assert "result" in await call(ws, "sign", {"format": "cms", "data": [b64(DOC)]}, id=number)
            assert len(audit.recent(10)) == number  # written before the answer, not queued after it


async def test_other_connections_are_answered_while_a_key_file_is_decrypted(
    tmp_path: Path, pki: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The default rule decrypts the file for every request; the decryption is made slow on
    # purpose here (it waits in its worker thread), and another page's agent.hello must be
    # answered meanwhile.
    decrypting, go_on = threading.Event(), threading.Event()
    load = pkcs12._load

    def slow_load(*args: Any) -> Any:
        decrypting.set()
        go_on.wait(30)
        return load(*args)

    monkeypatch.setattr(pkcs12, "_load", slow_load)
    consent = ScriptedConsent(pin="123456")
    try:
        async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"]) as server:
            async with browser(server) as signing, browser(server) as other:
                sign = asyncio.create_task(call(signing, "sign", {"format": "cms", "data": [b64(DOC)]}))
                assert await asyncio.to_thread(decrypting.wait, 10)
                hello = await asyncio.wait_for(call(other, "agent.hello"), 5)
                assert hello["result"]["name"] == "tanba"
                assert not sign.done()  # still decrypting
                go_on.set()
                assert "result" in await asyncio.wait_for(sign, 10)
    finally:
        go_on.set()
