"""Rule 5: authentication keys sign only ``auth`` challenges, signing keys only documents.

A page cannot steer a request to the wrong key: not by filter (serial number, IIN,
key usage, extended key usage), not on the token that holds both, not through a consent
UI that answers with a key it was not offered.  The user is never asked to confirm a
request that would use the wrong key.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from support.agent import browser
from support.attack import request, rpc, still_serves
from support.consent import ScriptedConsent
from support.native import agent_with_keys, b64
from tanba.agent.setup.testpki import Manifest
from tanba.providers.base import Identity

DOC = b64("Келісім шарт №7".encode())
CHALLENGE = base64.b64encode(b"c" * 33).decode()  # 44 characters
EKU_AUTH = "1.3.6.1.5.5.7.3.2"
EKU_SIGN = "1.3.6.1.5.5.7.3.4"

SIGN_REQUESTS: list[dict[str, Any]] = [
    {"format": "cms", "data": [DOC]},
    {"format": "cms", "data": [DOC], "detached": False},
    {"format": "xml", "data": [b64(b"<doc>x</doc>")]},
    {"format": "raw", "data": [DOC]},
    {"format": "raw", "digests": [b64(b"\x07" * 32)], "digestAlgorithm": "sha256"},
    {"format": "cms", "digests": [b64(b"\x07" * 64)], "digestAlgorithm": "sha512"},
]


def serial(pki: Manifest, name: str) -> str:
    return format(pki.identities[name].certificate().serial_number, "x")


def auth_filters(pki: Manifest) -> list[dict[str, Any]]:
    """Filters that point straight at the authentication key."""
    return [
        {},
        {"serialNumber": serial(pki, "rsa-auth")},
        {"iin": pki.identities["rsa-auth"].iin},
        {"extKeyUsage": [EKU_AUTH]},
        {"storages": ["PKCS12"], "validOnly": False},
    ]


@pytest.mark.parametrize("params", SIGN_REQUESTS, ids=lambda p: f"{p['format']}-{'digests' if 'digests' in p else 'data'}")
async def test_auth_key_asked_to_sign_a_document(tmp_path: Path, pki: Manifest, params: dict[str, Any]) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-auth"]) as server, browser(server) as ws:
        for i, f in enumerate(auth_filters(pki)):
            reply = await rpc(ws, request("sign", {**params, "filter": f}, id=i))
            assert reply["error"]["data"]["reason"] == "no_certificate", (f, reply)
        forced = await rpc(ws, request("sign", {**params, "filter": {"keyUsage": "auth"}}, id="forced"))
        assert forced["error"]["data"] == {
            "reason": "invalid_params",
            "field": "params.filter.keyUsage",
            "detail": "a sign operation uses sign keys; filter.keyUsage 'auth' cannot match",
        }
        await still_serves(server)
    # The key file's password may be asked (to look inside it), but nothing is ever confirmed.
    assert {kind for kind, _ in consent.asked} <= {"pin"}
    assert all(q.identity is None for kind, q in consent.asked)


async def test_sign_key_asked_to_authenticate(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign", "org-rsa-sign"]) as server, browser(server) as ws:
        for i, f in enumerate([{}, {"serialNumber": serial(pki, "rsa-sign")}, {"iin": pki.identities["rsa-sign"].iin},
                               {"extKeyUsage": [EKU_SIGN]}]):
            reply = await rpc(ws, request("auth", {"challenge": CHALLENGE, "filter": f}, id=i))
            assert reply["error"]["data"]["reason"] == "no_certificate", (f, reply)
        forced = await rpc(ws, request("auth", {"challenge": CHALLENGE, "filter": {"keyUsage": "sign"}}, id="forced"))
        assert forced["error"]["data"]["reason"] == "invalid_params"
        assert forced["error"]["data"]["field"] == "params.filter.keyUsage"
        await still_serves(server)
    assert not any(kind == "confirm" for kind, _ in consent.asked)


async def test_token_with_both_keys_signs_with_the_sign_key_and_authenticates_with_the_auth_key(
    tmp_path: Path, pki: Manifest, softhsm: Any
) -> None:
    """On the token both kinds sit side by side; even a filter naming the other key's
    serial number finds nothing, and the keys the user is offered are the right kind."""
    consent = ScriptedConsent(pin="1234")
    async with agent_with_keys(tmp_path, pki, consent, softhsm_module=softhsm.module) as server, browser(server) as ws:
        wrong = await rpc(ws, request("sign", {"format": "raw", "data": [DOC], "filter": {"serialNumber": serial(pki, "ec-auth")}}))
        assert wrong["error"]["data"]["reason"] == "no_certificate"
        wrong = await rpc(ws, request("auth", {"challenge": CHALLENGE, "filter": {"serialNumber": serial(pki, "rsa-sign")}}, id=2))
        assert wrong["error"]["data"]["reason"] == "no_certificate"
        assert not consent.asked  # nothing matched: nobody asked
        signed = await rpc(ws, request("sign", {"format": "raw", "data": [DOC]}, id=3))
        signer = x509.load_pem_x509_certificate(signed["result"]["certificate"].encode())
        assert signer in (pki.identities["rsa-sign"].certificate(), pki.identities["ec-sign"].certificate())
        token = await rpc(ws, request("auth", {"challenge": CHALLENGE}, id=4))
        auth_cert = x509.load_der_x509_certificate(base64.b64decode(token["result"]["unverifiedCertificate"]))
        assert auth_cert in (pki.identities["rsa-auth"].certificate(), pki.identities["ec-auth"].certificate())
        offered = [q for kind, q in consent.asked if kind == "choose"]
        assert offered and all(
            i.certificate in (pki.identities["rsa-sign"].certificate(), pki.identities["ec-sign"].certificate())
            for i in offered[0].candidates
        )
        assert all(
            i.certificate in (pki.identities["rsa-auth"].certificate(), pki.identities["ec-auth"].certificate())
            for i in offered[1].candidates
        )


async def test_consent_ui_answering_with_a_key_it_was_not_offered_signs_nothing(
    tmp_path: Path, pki: Manifest, softhsm: Any
) -> None:
    """A confused (or compromised) dialog that returns the auth key for a signing request
    is refused: only an offered candidate can sign."""
    auth_identity: list[Identity] = []

    def pick_auth(choice: Any) -> Identity | None:
        return auth_identity[0]

    consent = ScriptedConsent(pin="1234", choose=pick_auth)
    async with agent_with_keys(tmp_path, pki, consent, softhsm_module=softhsm.module) as server, browser(server) as ws:
        everything = await server.services.stores.all_identities()
        auth_identity.append(next(i for i in everything if i.certificate == pki.identities["rsa-auth"].certificate()))
        reply = await rpc(ws, request("sign", {"format": "raw", "data": [DOC]}))
        assert reply["error"]["data"]["reason"] == "user_cancelled"
        assert not any(kind in ("confirm", "pin") for kind, _ in consent.asked)
        await still_serves(server)
