"""certs.list: certificates go to a site only after the user agreed."""

from __future__ import annotations

from pathlib import Path

from support.agent import PORTAL, browser, call
from support.consent import ScriptedConsent
from support.native import agent_with_keys, reason
from tanba.agent.consent.base import Action
from tanba.agent.setup.testpki import Manifest


async def test_user_confirms_and_the_site_sees_the_certificates(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-auth", "rsa-sign-expired"]) as server, browser(server) as ws:
        reply = await call(ws, "certs.list")
    certs = reply["result"]["certificates"]
    assert [c["iin"] for c in certs] == [pki.identities["rsa-auth"].iin]  # the expired one is hidden by default
    assert certs[0]["storage"] == "PKCS12" and certs[0]["pem"].startswith("-----BEGIN CERTIFICATE-----")
    kinds = [kind for kind, _ in consent.asked]
    assert kinds == ["pin", "pin", "confirm"]  # each file's password (certificates are encrypted), then the disclosure
    pin_request = consent.asked[0][1]
    assert pin_request.identity is None and pin_request.location.endswith("rsa-auth.p12")
    confirmation = consent.asked[2][1]
    assert confirmation.origin == PORTAL and confirmation.action is Action.DISCLOSE
    assert consent.given_pins[0] == bytearray(6)  # the password was wiped after use


async def test_the_listing_opens_every_file(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-auth", "rsa-sign", "ec-sign"]) as server, browser(server) as ws:
        reply = await call(ws, "certs.list")
    fingerprints = {c["fingerprintSha256"] for c in reply["result"]["certificates"]}
    assert len(fingerprints) == 3
    assert [k for k, _ in consent.asked] == ["pin", "pin", "pin", "confirm"]  # one confirmation for all


async def test_user_refuses_and_the_site_learns_nothing(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456", confirm_answer=False)
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-auth"]) as server, browser(server) as ws:
        reply = await call(ws, "certs.list")
        assert reason(reply) == "user_cancelled"
        assert "IIN" not in str(reply) and "BEGIN" not in str(reply)
        assert (await call(ws, "agent.hello", id=2))["result"]["name"] == "tanba"


async def test_filter_and_token(tmp_path: Path, pki: Manifest, softhsm: object) -> None:
    consent = ScriptedConsent(pin="1234")
    async with agent_with_keys(tmp_path, pki, consent, softhsm_module=softhsm.module) as server, browser(server) as ws:  # type: ignore[attr-defined]
        reply = await call(ws, "certs.list", {"filter": {"keyUsage": "auth"}})
        names = sorted(c["subject"]["CN"] for c in reply["result"]["certificates"])
        assert len(names) == 2  # rsa-auth and ec-auth are on the token
        assert all(c["storage"] == "AKKaztokenStore" for c in reply["result"]["certificates"])
        assert [k for k, _ in consent.asked] == ["confirm"]  # token certificates need no PIN to list
        reply = await call(ws, "certs.list", {"filter": {"iin": "000000000000"}}, id=2)
        assert reply["result"]["certificates"] == []


async def test_a_pin_field_is_refused(tmp_path: Path, pki: Manifest) -> None:
    async with agent_with_keys(tmp_path, pki, ScriptedConsent(), p12=["rsa-auth"]) as server, browser(server) as ws:
        reply = await call(ws, "certs.list", {"pin": "123456"})
        assert reason(reply) == "invalid_params" and reply["error"]["data"]["field"] == "params.pin"
