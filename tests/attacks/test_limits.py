"""Rule 7: bounded everything.  Oversized messages close with 1009, oversized batches are
``too_large`` before the user is asked, and the agent keeps serving."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from support.agent import PORTAL, browser, running_agent, url
from support.attack import CONT, TEXT, RawSocket, frame, request, rpc, still_serves
from support.consent import ScriptedConsent
from support.native import agent_with_keys, b64
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest
from tanba.protocol import i18n
from tanba.protocol.errors import TooLarge
from tanba.protocol.limits import Limits

SMALL = Settings(allow_origin=(PORTAL,), limits=Limits(max_message=4096))


async def test_oversized_message_closes_with_1009(tmp_path: Path) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), SMALL) as server:
        async with browser(server, max_size=None) as ws:
            assert (await rpc(ws, request("agent.hello")))["id"] == 1
            await ws.send(request("sign", {"format": "cms", "data": [b64(b"x" * 8192)]}))
            try:
                await ws.recv()
                raise AssertionError("the agent answered an oversized message")
            except ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 1009
        await still_serves(server)


async def test_oversized_fragmented_message_closes_with_1009(tmp_path: Path) -> None:
    """Each fragment is small; their sum is not: the bound is on the message."""
    async with running_agent(tmp_path, ScriptedConsent(), SMALL) as server:
        raw = await RawSocket.open(server)
        await raw.send(frame(TEXT, b'{"x":"', fin=False))
        for _ in range(10):
            await raw.send(frame(CONT, b"a" * 1000, fin=False))
        assert await raw.closed_by_agent() == 1009
        raw.close()
        await still_serves(server)


async def test_declared_huge_frame_closes_before_the_payload_arrives(tmp_path: Path) -> None:
    """A header announcing 2^62 bytes is refused at once; the agent does not wait for or buffer it."""
    async with running_agent(tmp_path, ScriptedConsent(), SMALL) as server:
        raw = await RawSocket.open(server)
        await raw.send(bytes([0x81, 0x80 | 127]) + (1 << 62).to_bytes(8, "big") + b"mask")
        assert await raw.closed_by_agent() == 1009
        raw.close()
        await still_serves(server)


async def test_message_just_under_the_limit_is_served(tmp_path: Path) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), SMALL) as server, browser(server) as ws:
        message = request("verify", {"format": "cms", "signature": b64(b"\x30" * 2000)})
        assert len(message) < 4096
        reply = await rpc(ws, message)
        assert reply["error"]["data"]["reason"] == "invalid_params"  # answered: not a CMS


async def test_batch_over_max_batch_is_too_large_before_any_prompt(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    settings = Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), autodetect=False,
                        limits=Limits(max_batch=5))
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"], settings=settings) as server, browser(server) as ws:
        for params in (
            {"format": "cms", "data": [b64(b"d")] * 6},
            {"format": "raw", "digests": [b64(b"\x01" * 32)] * 6, "digestAlgorithm": "sha256"},
            {"format": "xml", "data": [b64(b"<a/>")] * 6},
        ):
            reply = await rpc(ws, request("sign", params))
            assert reply["error"]["data"] == {"reason": "too_large", "limit": 5, "detail": "6 documents in one request"}
            assert reply["error"]["code"] == -32010
        assert consent.asked == []
        assert len((await rpc(ws, request("sign", {"format": "raw", "data": [b64(b"d")] * 5}, id=2)))["result"]["signatures"]) == 5
        await still_serves(server)


async def test_long_filter_lists_are_refused(tmp_path: Path) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), replace(SMALL, limits=Limits())) as server, browser(server) as ws:
        reply = await rpc(ws, request("certs.list", {"filter": {"extKeyUsage": ["1.2.3"] * 1001}}))
        assert reply["error"]["data"]["reason"] == "invalid_params"
        assert reply["error"]["data"]["field"] == "params.filter.extKeyUsage"
        await still_serves(server)


async def test_a_message_of_a_million_tiny_values_is_too_large_on_both_endpoints(tmp_path: Path) -> None:
    """3 MiB of ``[],`` would be a million Python lists (about 60 MiB) if it were parsed;
    it is refused by its count of values before that, and the agent goes on."""
    wide = "[" + ",".join(["[]"] * 1_000_000) + "]"
    async with running_agent(tmp_path, ScriptedConsent(), Settings(allow_origin=(PORTAL,))) as server:
        async with browser(server, max_size=None) as ws:
            reply = await rpc(ws, '{"jsonrpc":"2.0","id":1,"method":"agent.hello","params":{"x":' + wide + "}}")
            assert reply["error"]["data"]["reason"] == "too_large", reply
            assert reply["error"]["data"]["limit"] == Limits().max_values
            assert (await rpc(ws, request("agent.hello", id=2)))["id"] == 2
        async with connect(url(server, "/"), origin=Origin(PORTAL), max_size=None) as ws:
            await ws.recv()  # greeting
            await ws.send('{"module":"kz.gov.pki.knca.commonUtils","method":"getActiveTokens","args":' + wide + "}")
            reply = json.loads(await ws.recv())
            assert reply["code"] == "500" and reply["message"] == i18n.error_text(TooLarge(), "en"), reply
            await ws.send('{"module":"kz.gov.pki.knca.commonUtils","method":"getActiveTokens"}')
            assert json.loads(await ws.recv()) == {"code": "200", "responseObject": []}
        await still_serves(server)
