"""certs.list: certificates go to a site only after the user agreed."""

from __future__ import annotations

from pathlib import Path, PurePath

from support.agent import PORTAL, browser, call, running_agent
from support.consent import ScriptedConsent
from support.native import agent_with_keys, reason
from tanba.agent.consent.base import Action
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest
from tanba.providers.pkcs11 import Pkcs11Store
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.registry import Stores


async def test_user_confirms_and_the_site_sees_the_certificates(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-auth", "rsa-sign-expired"]) as server, browser(server) as ws:
        reply = await call(ws, "certs.list")
    certs = reply["result"]["certificates"]
    assert [c["iin"] for c in certs] == [pki.identities["rsa-auth"].iin]  # the expired one is hidden by default
    assert certs[0]["storage"] == "PKCS12" and certs[0]["pem"].startswith("-----BEGIN CERTIFICATE-----")
    kinds = [kind for kind, _ in consent.asked]
    # The site's question comes first (issue 17 item 2): which key files to open for it, each
    # then with its own password (certificates are encrypted), then the disclosure.
    assert kinds == ["key", "pin", "key", "pin", "confirm"]
    first = consent.asked[0][1]
    assert first.origin == PORTAL and first.action is Action.DISCLOSE and first.several
    assert [PurePath(k.location).name for k in first.files] == ["rsa-auth.p12", "rsa-sign-expired.p12"]
    pin_request = consent.asked[1][1]
    assert pin_request.identity is None and pin_request.location.endswith("rsa-auth.p12")
    assert pin_request.origin == PORTAL and pin_request.action is Action.DISCLOSE
    confirmation = consent.asked[4][1]
    assert confirmation.origin == PORTAL and confirmation.action is Action.DISCLOSE
    assert consent.given_pins[0] == bytearray(6)  # the password was wiped after use


async def test_the_listing_opens_every_file(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-auth", "rsa-sign", "ec-sign"]) as server, browser(server) as ws:
        reply = await call(ws, "certs.list")
    fingerprints = {c["fingerprintSha256"] for c in reply["result"]["certificates"]}
    assert len(fingerprints) == 3
    assert [k for k, _ in consent.asked] == ["key", "pin", "key", "pin", "key", "pin", "confirm"]  # one confirmation for all


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


# --- one source failing does not hide the others ------------------------------------------


async def test_a_wrong_file_password_lists_the_other_file_and_names_it(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456", pins={"rsa-sign.p12": "wrong"})
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign", "rsa-auth"]) as server, browser(server) as ws:
        reply = await call(ws, "certs.list")
    result = reply["result"]
    assert [c["iin"] for c in result["certificates"]] == [pki.identities["rsa-auth"].iin]
    assert result["unavailable"] == [{"storage": "PKCS12", "location": "rsa-sign.p12", "reason": "wrong_pin"}]
    assert str(pki.identities["rsa-sign"].p12.parent) not in str(reply)  # the file's name, never its folder
    # the second file was still asked; the last question offers the wrong one again (no
    # backoff after a first mistake), and the person goes on
    assert [k for k, _ in consent.asked] == ["key", "pin", "key", "pin", "key", "confirm"]
    assert consent.asked[2][1].last.problem == "wrong_pin"  # said in the next question


async def test_a_wrong_file_password_still_lists_the_token(tmp_path: Path, pki: Manifest, softhsm: object) -> None:
    consent = ScriptedConsent(pin="wrong")
    module = softhsm.module  # type: ignore[attr-defined]
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"], softhsm_module=module) as server, \
            browser(server) as ws:
        reply = await call(ws, "certs.list")
        result = reply["result"]
        assert result["certificates"] and {c["storage"] for c in result["certificates"]} == {"AKKaztokenStore"}
        assert result["unavailable"] == [{"storage": "PKCS12", "location": "rsa-sign.p12", "reason": "wrong_pin"}]
        # Again at once: the second mistake starts the backoff...
        reply = await call(ws, "certs.list", id=2)
        assert reply["result"]["unavailable"] == [
            {"storage": "PKCS12", "location": "rsa-sign.p12", "reason": "wrong_pin", "retryAfter": 1}
        ]
        # ... and during it the password is not even asked.
        consent.asked.clear()
        reply = await call(ws, "certs.list", id=3)
        assert reply["result"]["unavailable"] == [
            {"storage": "PKCS12", "location": "rsa-sign.p12", "reason": "wrong_pin", "retryAfter": 1}
        ]
        assert [k for k, _ in consent.asked] == ["confirm"]


async def test_every_source_failing_is_the_error_as_before(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="wrong")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign", "rsa-auth"]) as server, browser(server) as ws:
        reply = await call(ws, "certs.list")
        assert reason(reply) == "wrong_pin" and "unavailable" not in str(reply)
        assert "retryAfter" not in reply["error"]["data"]  # each file's first mistake costs nothing
        assert "rsa-sign" not in str(reply)


async def test_during_the_backoff_the_password_is_not_asked_and_the_answer_is_wrong_pin(
    tmp_path: Path, pki: Manifest
) -> None:
    """A wrong password, then an immediate retry: ``wrong_pin`` with ``retryAfter``, never
    ``busy`` (that means another prompt is open)."""
    consent = ScriptedConsent(pin="wrong")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"]) as server, browser(server) as ws:
        first = await call(ws, "certs.list")
        second = await call(ws, "certs.list", id=2)
        assert reason(first) == reason(second) == "wrong_pin"
        assert second["error"]["data"]["retryAfter"] == 1
        consent.pin = "123456"  # even the right password would not be tried now
        consent.asked.clear()
        third = await call(ws, "certs.list", id=3)
        assert reason(third) == "wrong_pin" and third["error"]["data"]["retryAfter"] == 1
        assert "1 s" in third["error"]["message"]  # "wait 1 s before the next try"
        assert consent.asked == []  # not asked: nothing would be tried


async def test_a_failing_token_is_named_and_the_files_are_listed(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    broken = Pkcs11Store(tmp_path / "libmissing.so", "AKJaCartaStore")  # its module cannot load
    registry = Stores([Pkcs12Store([pki.identities["rsa-auth"].p12]), broken])
    settings = Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), autodetect=False)
    try:
        async with running_agent(tmp_path, consent, settings, stores=registry) as server, browser(server) as ws:
            reply = await call(ws, "certs.list")
            assert [c["storage"] for c in reply["result"]["certificates"]] == ["PKCS12"]
            assert reply["result"]["unavailable"] == [{"storage": "AKJaCartaStore", "reason": "store_error"}]
            assert "libmissing" not in str(reply)  # the module's path stays in the log
            # Only that token asked for: nothing was read, so nothing is listed (as before).
            reply = await call(ws, "certs.list", {"filter": {"storages": ["AKJaCartaStore"]}}, id=2)
            assert reply["result"] == {"certificates": []}
    finally:
        await registry.close()


async def test_the_person_opens_only_the_file_they_pick(tmp_path: Path, pki: Manifest) -> None:
    """NCALayer's way (issue 17 item 2): of three files the person opens the second and goes
    on; only its password is asked and only its certificate is shown to the site."""
    from tanba.agent.consent.base import KeyAnswer, KeyChoice

    def pick_second_then_go_on(choice: KeyChoice) -> object:
        if any(k.location.endswith("rsa-sign.p12") for k in choice.files):
            return next(k for k in choice.files if k.location.endswith("rsa-sign.p12"))
        return KeyAnswer.DONE

    consent = ScriptedConsent(pin="123456", choose_file=pick_second_then_go_on)  # type: ignore[arg-type]
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-auth", "rsa-sign", "ec-sign"]) as server, browser(server) as ws:
        reply = await call(ws, "certs.list")
    assert [c["iin"] for c in reply["result"]["certificates"]] == [pki.identities["rsa-sign"].iin]
    assert [k for k, _ in consent.asked] == ["key", "pin", "key", "confirm"]
    assert consent.asked[1][1].location.endswith("rsa-sign.p12")
    assert "unavailable" not in reply["result"]  # files left closed are not failures
