"""Issue 19, finding 1: a page must not forge a login token for another site.

A Web eID token is a signature over hash(hash(origin) ‖ hash(challenge)).  A page on
``https://portal.test`` can compute that value for ``https://egov.test``; if any path signs
caller-chosen bytes bare with a key that can log in, the page gets a token ``egov.test``'s
back end accepts.  So: no raw signature with such a key, on either wire, whatever the
filter says, and nobody is even asked (the user would see "log in … digest only").
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import connect

from support.agent import PORTAL, browser, running_agent, url
from support.attack import request, rpc, still_serves
from support.consent import ScriptedConsent
from support.ncalayer import BASICS, ask, greet, ncalayer_still_serves
from support.native import agent_with_keys
from tanba.agent.verify.token import check_signature
from tanba.agent.handlers.auth import signed_digest
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest
from tanba.providers.base import HashAlgorithm
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.registry import Stores

VICTIM = "https://egov.test"
CHALLENGE = base64.b64encode(b"n" * 33).decode()
EKU_AUTH = "1.3.6.1.5.5.7.3.2"
FORGED = signed_digest(VICTIM, CHALLENGE, HashAlgorithm.SHA256)
HASH_INPUT = hashlib.sha256(VICTIM.encode()).digest() + hashlib.sha256(CHALLENGE.encode()).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def basics_raw(data: str, *, digested: bool, eku: list[str] | None = None) -> dict[str, Any]:
    signer: dict[str, Any] = {} if eku is None else {"extKeyUsageOids": eku}
    return {
        "module": BASICS,
        "method": "sign",
        "args": {
            "allowedStorages": ["PKCS12"], "format": "raw", "data": data,
            "signingParams": {"decode": True, "digested": digested}, "signerParams": signer, "locale": "en",
        },
    }


def asked_anything_but_origins(consent: ScriptedConsent) -> list[str]:
    return [kind for kind, _ in consent.asked if kind != "origin"]


def forged_token(signature: bytes, pki: Manifest, name: str) -> dict[str, Any]:
    cert = pki.identities[name].certificate()
    return {
        "format": "web-eid:1.0", "algorithm": "RS256", "appVersion": "x",
        "unverifiedCertificate": b64(cert.public_bytes(serialization.Encoding.DER)), "signature": b64(signature),
    }


@pytest.mark.parametrize(
    ("data", "digested"), [(b64(FORGED), True), (b64(HASH_INPUT), False)], ids=["digest", "data"]
)
async def test_basics_raw_with_the_login_key_is_refused_before_anyone_is_asked(
    tmp_path: Path, pki: Manifest, data: str, digested: bool
) -> None:
    """The finding exactly: basics raw, clientAuth EKU, the victim's login digest (or the 64
    bytes it hashes) — refused with the reason, no dialog, no PIN, no signature."""
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-auth", "rsa-sign"]) as server:
        async with connect(url(server, "/"), origin=PORTAL) as ws:  # type: ignore[arg-type]
            await greet(ws)
            reply = await ask(ws, basics_raw(data, digested=digested, eku=[EKU_AUTH]))
        assert reply["status"] is False, reply
        assert reply["details"] == "invalid_params: format", reply
        assert "body" not in reply
        assert asked_anything_but_origins(consent) == []
        await ncalayer_still_serves(server)


async def test_a_raw_signature_never_passes_for_a_login_on_any_path(tmp_path: Path, pki: Manifest) -> None:
    """Every raw path the two wires have, aimed at the login key by every filter a page can
    write: none yields a signature that the Web eID checker accepts for the victim."""
    consent = ScriptedConsent(pin="123456")
    auth_serial = format(pki.identities["rsa-auth"].certificate().serial_number, "x")
    attempts_ncalayer = [
        basics_raw(b64(FORGED), digested=True),
        basics_raw(b64(FORGED), digested=True, eku=[EKU_AUTH]),
        basics_raw(b64(HASH_INPUT), digested=False, eku=[EKU_AUTH]),
    ]
    attempts_native = [
        {"format": "raw", "digests": [b64(FORGED)], "digestAlgorithm": "sha256", "filter": f}
        for f in ({}, {"serialNumber": auth_serial}, {"extKeyUsage": [EKU_AUTH]})
    ]
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-auth"]) as server:
        signatures: list[bytes] = []
        async with connect(url(server, "/"), origin=PORTAL) as ws:  # type: ignore[arg-type]
            await greet(ws)
            for attempt in attempts_ncalayer:
                reply = await ask(ws, attempt)
                if reply.get("status") and reply.get("body", {}).get("result"):
                    signatures.append(base64.b64decode(reply["body"]["result"]))
        async with browser(server) as ws:
            for i, params in enumerate(attempts_native):
                reply = await rpc(ws, request("sign", params, id=i))
                if "result" in reply:
                    signatures.append(base64.b64decode(reply["result"]["signatures"][0]))
                else:
                    assert reply["error"]["data"]["reason"] in ("no_certificate", "invalid_params"), reply
        for signature in signatures:
            with pytest.raises(Exception):
                check_signature(forged_token(signature, pki, "rsa-auth"), VICTIM, CHALLENGE)
        assert signatures == []
        # (the file's password may be asked to read the certificates inside it — they are
        # encrypted — but no signature is ever put to the user)
        assert "confirm" not in asked_anything_but_origins(consent)
        await still_serves(server)


def _login_capable_sign_key(tmp_path: Path) -> tuple[Path, x509.Certificate]:
    """A signing certificate without an extended key usage (digitalSignature +
    nonRepudiation): Tanba offers it for documents, and a relying party that accepts any
    client certificate would accept its signature as a login — the shape of a dual-use key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ДВОЙНОЙ КЛЮЧ"),
                      x509.NameAttribute(NameOID.SERIAL_NUMBER, "IIN850101300015")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "dual-use.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"dual", key, cert, None, serialization.BestAvailableEncryption(b"123456")))
    return path, cert


async def test_a_key_that_can_log_in_makes_no_raw_signature_but_still_signs_documents(
    tmp_path: Path, pki: Manifest
) -> None:
    """A key that serves documents *and* could pass for a login (no EKU): raw is refused
    with the reason on both wires — not "no certificate" — while a CMS with it works and a
    signing-only key beside it still makes raw signatures."""
    dual_path, dual_cert = _login_capable_sign_key(tmp_path)
    consent = ScriptedConsent(pin="123456")
    stores = Pkcs12Store([dual_path])
    registry = Stores([stores])
    settings = Settings(allow_origin=(PORTAL,), autodetect=False)
    try:
        async with running_agent(tmp_path, consent, settings, stores=registry) as server:
            async with browser(server) as ws:
                raw = await rpc(ws, request("sign", {"format": "raw", "digests": [b64(FORGED)],
                                                      "digestAlgorithm": "sha256"}, id=1))
                assert raw["error"]["data"]["reason"] == "invalid_params", raw
                assert "log in" in raw["error"]["data"]["detail"]
                assert raw["error"]["data"]["field"] == "params.format"  # /v1 names it under params
                assert not any(kind == "confirm" for kind, _ in consent.asked)
                cms = await rpc(ws, request("sign", {"format": "cms", "data": [b64(b"doc")]}, id=2))
                assert x509.load_pem_x509_certificate(cms["result"]["certificate"].encode()) == dual_cert
            async with connect(url(server, "/"), origin=PORTAL) as ws:  # type: ignore[arg-type]
                await greet(ws)
                reply = await ask(ws, basics_raw(b64(FORGED), digested=True))
                assert reply["status"] is False and reply["details"] == "invalid_params: format", reply
    finally:
        await registry.close()

    honest = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path / "honest", pki, honest, p12=["rsa-sign"]) as server, browser(server) as ws:
        reply = await rpc(ws, request("sign", {"format": "raw", "digests": [b64(b"\x07" * 32)],
                                                "digestAlgorithm": "sha256"}))
        assert len(base64.b64decode(reply["result"]["signatures"][0])) == 256, reply


def test_the_web_eid_checker_would_have_accepted_a_forged_token(pki: Manifest) -> None:
    """Why it matters: the bare PKCS#1 signature of FORGED by the login key *is* a valid
    token for the victim (so refusing it above is what stops the forgery)."""
    from cryptography.hazmat.primitives.asymmetric import padding, utils

    key = serialization.load_pem_private_key(pki.identities["rsa-auth"].key_pem.read_bytes(), None)
    signature = key.sign(FORGED, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))  # type: ignore[union-attr,call-arg,arg-type]
    cert = check_signature(forged_token(signature, pki, "rsa-auth"), VICTIM, CHALLENGE)
    assert cert == pki.identities["rsa-auth"].certificate()
    assert json.dumps(forged_token(signature, pki, "rsa-auth"))  # a token a page could post
