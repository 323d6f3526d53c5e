"""Cross-site WebSocket hijacking: pages the user did not approve never get past the handshake.

Every refusal is a bare 403 (no Server header, nothing about the agent in the body), the
user is asked only about origins a browser could really send, never about malformed ones,
and an honest page is served right after.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from support.agent import PORTAL, TOKEN, raw_handshake, running_agent, url
from support.attack import refused, still_serves
from support.consent import ScriptedConsent
from support.native import agent_with_keys
from tanba.agent.consent.base import OriginDecision
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest

ALLOWED = Settings(allow_origin=(PORTAL,))

# Valid web origins that are not the approved one: the user is asked (and says no).
FOREIGN = [
    "https://evil.test",
    "http://portal.test",  # the approved site, but over http: another origin
    "https://portal.test.evil.test",  # look-alike: the approved name as a subdomain of another
    "https://portal.test:8443",  # another port is another origin
    "https://portal.tes",
    "https://127.0.0.1:13579",  # a page claiming to be the agent itself
    "https://xn--prtal-jye.test",  # the homograph "pоrtal" (Cyrillic о) as a browser sends it
]
# Not origins at all: refused without bothering the user.
MALFORMED = [
    "null",  # sandboxed iframes, file:// pages, data: URLs
    "https://portal.test@evil.test",
    "https://pоrtal.test",  # Cyrillic "о": a homograph of the approved name
    "https://portal.test.",
    "file://",
    "chrome-extension://abcdefghijklmnop",
    "https://portal.test%2eevil.test",
    "garbage",
]


@pytest.mark.parametrize("origin", FOREIGN)
async def test_foreign_origin_is_asked_refused_and_learns_nothing(tmp_path: Path, origin: str) -> None:
    consent = ScriptedConsent(origin_answer=OriginDecision.DENY)
    async with running_agent(tmp_path, consent, ALLOWED) as server:
        assert await refused(server, origin=origin) == 403
        assert consent.asked == [("origin", (origin, "en"))]  # the user saw the real origin
        await still_serves(server)
    assert not (tmp_path / "origins.json").exists()


@pytest.mark.parametrize("origin", MALFORMED)
async def test_malformed_origin_is_refused_without_a_prompt(tmp_path: Path, origin: str) -> None:
    consent = ScriptedConsent(origin_answer=OriginDecision.ALLOW_ALWAYS)  # even a careless user is not asked
    async with running_agent(tmp_path, consent, ALLOWED) as server:
        # raw bytes: a client library would refuse to send some of these at all
        status, reply = await raw_handshake(server.port, {"Host": f"127.0.0.1:{server.port}", "Origin": origin})
        assert status == 403, reply
        assert b"server:" not in reply.lower() and b"tanba" not in reply.lower()
        assert consent.asked == []
        await still_serves(server)


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", "Bearer "],
)
async def test_missing_origin_without_the_local_token_is_refused(tmp_path: Path, authorization: str | None) -> None:
    consent = ScriptedConsent(origin_answer=OriginDecision.ALLOW_ALWAYS)
    async with running_agent(tmp_path, consent, ALLOWED) as server:
        headers = {"Authorization": authorization} if authorization is not None else {}
        assert await refused(server, additional_headers=headers) == 403
        assert consent.asked == []
        async with connect(url(server), additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
            from support.agent import call

            assert (await call(ws, "agent.hello"))["result"]["name"] == "tanba"


async def test_origin_and_token_together_is_still_judged_by_origin(tmp_path: Path) -> None:
    """A page cannot borrow the local program's standing by also sending a token."""
    consent = ScriptedConsent(origin_answer=OriginDecision.DENY)
    async with running_agent(tmp_path, consent, ALLOWED) as server:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert await refused(server, origin="https://evil.test", additional_headers=headers) == 403
        await still_serves(server)


async def test_two_origin_headers_are_refused(tmp_path: Path) -> None:
    consent = ScriptedConsent(origin_answer=OriginDecision.ALLOW_ALWAYS)
    async with running_agent(tmp_path, consent, ALLOWED) as server:
        smuggled = f"{PORTAL}\r\nOrigin: https://evil.test"
        status, reply = await raw_handshake(server.port, {"Host": f"127.0.0.1:{server.port}", "Origin": smuggled})
        assert status == 403, reply
        assert consent.asked == []
        await still_serves(server)


async def test_unpaired_origin_gets_no_method_and_no_certificate_data(tmp_path: Path, pki: Manifest) -> None:
    """An unapproved page cannot reach any method: the refusal happens before the upgrade,
    so the user is asked one question (the origin) and no key store is touched."""
    consent = ScriptedConsent(origin_answer=OriginDecision.DENY, pin="123456")
    settings = Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), autodetect=False)
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"], settings=settings) as server:
        for n in range(2):  # below the cooldown threshold: asked each time
            assert await refused(server, origin="https://unpaired.test") == 403
        assert [kind for kind, _ in consent.asked] == ["origin", "origin"]
        assert server.services.stores.stores[0].locked_files()  # the key file was never opened
        await still_serves(server)


async def test_origin_prompt_closes_when_the_page_leaves(tmp_path: Path) -> None:
    """Rule 6: a dialog closes when its socket closes.  A page that opens a socket (the
    user is asked about it) and goes away must not leave the question on screen, holding
    the one prompt slot so that every other site gets ``busy``."""
    hold = asyncio.Event()
    consent = ScriptedConsent(origin_answer=OriginDecision.ALLOW_ONCE, hold=hold)
    async with running_agent(tmp_path, consent, Settings()) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            f"GET /v1 HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nOrigin: https://waiting.test\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        try:
            while not consent.asked:
                await asyncio.sleep(0.01)
            assert await refused(server, origin="https://second.test") == 403  # busy: one prompt at a time
            writer.close()  # the page is gone
            for _ in range(100):
                if not server.services.prompts.active:
                    break
                await asyncio.sleep(0.01)
            assert not server.services.prompts.active, "the origin dialog outlived its socket"
            assert consent.asked == [("origin", ("https://waiting.test", "en"))]
            hold.set()  # the next site's question is answered at once
            await still_serves(server, origin="https://third.test")
        finally:
            hold.set()  # let the agent shut down quickly whatever happened
