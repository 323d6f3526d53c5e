"""auth: a Web eID token bound to the page's origin, from authentication keys only."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from websockets.asyncio.client import connect

from support.agent import PORTAL, TOKEN, browser, call, url
from support.consent import ScriptedConsent
from support.native import agent_with_keys, reason
from tanba.agent.setup.testpki import Manifest

CHALLENGE = base64.b64encode(b"n" * 33).decode()  # 44 characters, like a Web eID nonce


def check_token(token: dict[str, Any], origin: str, challenge: str) -> x509.Certificate:
    """What a portal's server does with the token (Web eID validation, signature part)."""
    assert token["format"] == "web-eid:1.0"
    assert token["appVersion"].startswith("https://")
    cert = x509.load_der_x509_certificate(base64.b64decode(token["unverifiedCertificate"]))
    signature = base64.b64decode(token["signature"])
    key = cert.public_key()
    if token["algorithm"] == "RS256":
        h = hashes.SHA256
        signed = h_(hashlib.sha256, origin, challenge)
        assert isinstance(key, rsa.RSAPublicKey)
        key.verify(signature, signed, padding.PKCS1v15(), h())
    else:
        assert token["algorithm"] == "ES256"
        signed = h_(hashlib.sha256, origin, challenge)
        assert isinstance(key, ec.EllipticCurvePublicKey) and len(signature) == 64
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    return cert


def h_(fn: Any, origin: str, challenge: str) -> bytes:
    return bytes(fn(origin.encode()).digest() + fn(challenge.encode()).digest())


@pytest.mark.parametrize("name", ["rsa-auth", "ec-auth"])
async def test_token_verifies_and_is_bound_to_the_origin(tmp_path: Path, pki: Manifest, name: str) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign", name]) as server, browser(server) as ws:
        reply = await call(ws, "auth", {"challenge": CHALLENGE})
    token = reply["result"]
    cert = check_token(token, PORTAL, CHALLENGE)
    assert cert == pki.identities[name].certificate()  # the auth key, never the signing key
    with pytest.raises(Exception):
        check_token(token, "https://evil.test", CHALLENGE)  # useless to any other site


async def test_token_from_the_softhsm_token(tmp_path: Path, pki: Manifest, softhsm: Any) -> None:
    consent = ScriptedConsent(pin="1234", choose=lambda c: next(i for i in c.candidates if isinstance(i.certificate.public_key(), ec.EllipticCurvePublicKey)))
    async with agent_with_keys(tmp_path, pki, consent, softhsm_module=softhsm.module) as server, browser(server) as ws:
        reply = await call(ws, "auth", {"challenge": CHALLENGE})
    assert check_token(reply["result"], PORTAL, CHALLENGE) == pki.identities["ec-auth"].certificate()


async def test_signing_keys_never_authenticate(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"]) as server, browser(server) as ws:
        assert reason(await call(ws, "auth", {"challenge": CHALLENGE})) == "no_certificate"
        forced = await call(ws, "auth", {"challenge": CHALLENGE, "filter": {"keyUsage": "sign"}}, id=2)
        assert reason(forced) == "invalid_params"


@pytest.mark.parametrize(
    "params",
    [{"challenge": "short"}, {"challenge": "x" * 129}, {"challenge": "й" * 50}, {"challenge": CHALLENGE, "origin": "https://evil.test"}, {}],
)
async def test_bad_challenges_and_smuggled_origins_are_refused(tmp_path: Path, pki: Manifest, params: dict[str, Any]) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-auth"]) as server, browser(server) as ws:
        assert reason(await call(ws, "auth", params)) == "invalid_params"
    assert consent.asked == []


async def test_local_programs_cannot_make_origin_bound_tokens(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-auth"]) as server:
        async with connect(url(server), additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
            assert reason(await call(ws, "auth", {"challenge": CHALLENGE})) == "origin_denied"
