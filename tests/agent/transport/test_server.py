"""The server before and after the upgrade, against a real agent on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from support.agent import PORTAL, TOKEN, browser, call, raw_handshake, running_agent, url
from support.consent import ScriptedConsent
from tanba.agent.consent.base import OriginDecision
from tanba.agent.setup.config import Settings
from tanba.protocol.limits import Limits

ALLOWED = Settings(allow_origin=(PORTAL,))


async def expect_403(server_url: str, **kw: object) -> bytes:
    with pytest.raises(InvalidStatus) as info:
        async with connect(server_url, **kw):  # type: ignore[arg-type]
            pass
    response = info.value.response
    assert response.status_code == 403
    assert "Server" not in response.headers
    return bytes(response.body or b"")


async def test_allowlisted_origin_gets_hello(tmp_path: Path) -> None:
    consent = ScriptedConsent()
    async with running_agent(tmp_path, consent, ALLOWED) as server, browser(server) as ws:
        reply = await call(ws, "agent.hello")
    assert reply == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {
            "name": "tanba",
            "version": "9.9.9-test",
            "protocol": 1,
            "capabilities": ["agent.hello", "certs.list", "sign", "auth", "verify", "progress"],
        },
    }
    assert consent.asked == []  # allow-listed: nobody was asked


@pytest.mark.parametrize(
    "origin",
    ["https://evil.test", "null", "http://portal.test", "https://portal.test.evil.test", "https://portal.tes", "garbage"],
)
async def test_foreign_origins_are_refused_before_upgrade_and_learn_nothing(tmp_path: Path, origin: str) -> None:
    consent = ScriptedConsent(origin_answer=OriginDecision.DENY)
    async with running_agent(tmp_path, consent, ALLOWED) as server:
        body = await expect_403(url(server), origin=origin)
        assert body == b"Forbidden\n"
        assert b"tanba" not in body.lower() and b"9.9.9" not in body
        async with browser(server) as ws:  # still serving
            assert (await call(ws, "agent.hello"))["result"]["name"] == "tanba"


async def test_missing_origin_needs_the_local_token(tmp_path: Path) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server:
        await expect_403(url(server))
        await expect_403(url(server), additional_headers={"Authorization": "Bearer wrong"})
        await expect_403(url(server), additional_headers={"Authorization": f"Basic {TOKEN}"})
        async with connect(url(server), additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
            assert (await call(ws, "agent.hello"))["result"]["protocol"] == 1


@pytest.mark.parametrize("host", ["rebind.test:{port}", "127.0.0.1:{other}", "127.0.0.1", "10.1.2.3:{port}", ""])
async def test_foreign_host_is_refused(tmp_path: Path, host: str) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server:
        headers = {"Origin": PORTAL, "Host": host.format(port=server.port, other=server.port + 1)}
        status, reply = await raw_handshake(server.port, headers)
        assert status == 403, reply
        good = {"Origin": PORTAL, "Host": f"localhost:{server.port}"}
        status, _ = await raw_handshake(server.port, good)
        assert status == 101


async def test_repeated_origin_header_is_refused(tmp_path: Path) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server:
        raw = f"Host: 127.0.0.1:{server.port}\r\nOrigin: {PORTAL}\r\nOrigin: https://evil.test"
        status, _ = await raw_handshake(server.port, {"X-Pad": "1\r\n" + raw})
        assert status == 403


async def test_unknown_path_is_404(tmp_path: Path) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server:
        status, _ = await raw_handshake(server.port, {"Host": f"127.0.0.1:{server.port}", "Origin": PORTAL}, "/admin")
        assert status == 404


async def test_unknown_origin_approved_once_is_not_remembered(tmp_path: Path) -> None:
    consent = ScriptedConsent(origin_answer=OriginDecision.ALLOW_ONCE)
    async with running_agent(tmp_path, consent) as server:
        async with browser(server, "https://new.test", additional_headers={"Accept-Language": "kk-KZ"}) as ws:
            assert "result" in await call(ws, "agent.hello")
        assert consent.asked == [("origin", ("https://new.test", "kk"))]
        assert not server.services.origins.is_approved("https://new.test")
        consent.origin_answer = OriginDecision.DENY
        await expect_403(url(server), origin="https://new.test")
        assert len(consent.asked) == 2


async def test_always_persists_and_is_not_asked_again(tmp_path: Path) -> None:
    consent = ScriptedConsent(origin_answer=OriginDecision.ALLOW_ALWAYS)
    async with running_agent(tmp_path, consent) as server:
        async with browser(server, "https://new.test"):
            pass
        async with browser(server, "https://new.test") as ws:
            assert "result" in await call(ws, "agent.hello")
    assert len(consent.asked) == 1
    stored = json.loads((tmp_path / "origins.json").read_text())
    assert list(stored["origins"]) == ["https://new.test"]
    assert (tmp_path / "origins.json").stat().st_mode & 0o777 == 0o600


async def test_repeated_denials_put_the_origin_in_cooldown(tmp_path: Path) -> None:
    consent = ScriptedConsent(origin_answer=OriginDecision.DENY)
    async with running_agent(tmp_path, consent) as server:
        for _ in range(5):
            await expect_403(url(server), origin="https://pest.test")
        assert len(consent.asked) == 3  # the 4th and 5th were refused without a prompt
        consent.origin_answer = OriginDecision.ALLOW_ONCE
        async with browser(server, "https://other.test"):
            pass  # another site is still asked normally


async def test_one_prompt_at_a_time(tmp_path: Path) -> None:
    hold = asyncio.Event()
    consent = ScriptedConsent(origin_answer=OriginDecision.ALLOW_ONCE, hold=hold)
    async with running_agent(tmp_path, consent) as server:
        first = asyncio.create_task(connect(url(server), origin="https://first.test").__aenter__())
        while not consent.asked:
            await asyncio.sleep(0.01)
        await expect_403(url(server), origin="https://second.test")  # busy: not even asked
        assert [a[1][0] for a in consent.asked] == ["https://first.test"]
        hold.set()
        ws = await first
        assert "result" in await call(ws, "agent.hello")
        await ws.close()


async def test_malformed_messages_get_invalid_request_and_the_connection_stays_usable(tmp_path: Path) -> None:
    bad_texts = [
        '{"jsonrpc":"2.0","id":1,"method":"agent.hello",}',
        '{"jsonrpc":"2.0","id":1,"id":2,"method":"agent.hello"}',
        '{"jsonrpc":"2.0","id":1,"method":"agent.hello","params":{"x":NaN}}',
        '{"jsonrpc":"2.0","id":1,"method":"agent.hello","params":{"x":1e99999}}',
        '{"jsonrpc":"2.0","id":1,"method":"agent.hello","params":{"x":' + "1" * 100 + "}}",
        '{"a":' * 40 + "1" + "}" * 40,
        '{"jsonrpc":"2.0","id":"\\ud800","method":"agent.hello"}',
        "[]",
        "not json",
        '{"jsonrpc":"2.0","method":"agent.hello"}',
        '{"jsonrpc":"2.0","id":{},"method":"agent.hello"}',
    ]
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server, browser(server) as ws:
        for text in bad_texts:
            await ws.send(text)
            reply = json.loads(await ws.recv())
            assert reply["error"]["data"]["reason"] == "invalid_request", text
            assert reply["id"] is None
        await ws.send(b'{"jsonrpc":"2.0","id":1,"method":"agent.hello","params":{"s":"\xff"}}', text=True)
        reply = json.loads(await ws.recv())
        assert reply["error"]["data"] == {"reason": "invalid_request", "detail": "message is not valid UTF-8"}
        await ws.send(b'{"jsonrpc":"2.0","id":1,"method":"agent.hello"}')  # binary frame
        assert json.loads(await ws.recv())["error"]["data"]["reason"] == "invalid_request"
        assert (await call(ws, "agent.hello", id=99))["id"] == 99


async def test_errors_keep_the_request_id_and_speak_the_locale(tmp_path: Path) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server:
        async with connect(url(server) + "?locale=ru", origin=PORTAL) as ws:
            reply = await call(ws, "certs.steal", id="abc")
            assert reply["id"] == "abc"
            assert reply["error"]["code"] == -32601
            assert reply["error"]["data"]["reason"] == "method_not_found"
            assert reply["error"]["message"] == "Неизвестный метод."
            reply = await call(ws, "agent.hello", {"pin": "1234"}, id=5)
            assert reply["id"] == 5
            assert reply["error"]["data"]["reason"] == "invalid_params"
            assert reply["error"]["data"]["field"] == "params.pin"


async def test_message_over_max_size_closes_with_1009(tmp_path: Path) -> None:
    settings = replace(ALLOWED, limits=Limits(max_message=4096))
    async with running_agent(tmp_path, ScriptedConsent(), settings) as server:
        async with browser(server, max_size=None) as ws:
            await ws.send('{"x":"' + "a" * 8192 + '"}')
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            assert info.value.rcvd is not None and info.value.rcvd.code == 1009
        async with browser(server) as ws:
            assert "result" in await call(ws, "agent.hello")


async def test_connection_cap(tmp_path: Path) -> None:
    settings = replace(ALLOWED, limits=Limits(max_connections=3))
    async with running_agent(tmp_path, ScriptedConsent(), settings) as server:
        open_ = [await connect(url(server), origin=PORTAL) for _ in range(3)]
        with pytest.raises(ConnectionClosed) as info:  # upgraded, then closed with a reason the page can read
            async with connect(url(server), origin=PORTAL, open_timeout=2) as ws:
                await call(ws, "agent.hello")
        assert info.value.rcvd is not None
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (1013, "too many connections (max-connections = 3)")
        await open_[0].close()
        await asyncio.sleep(0.05)
        async with browser(server) as ws:
            assert "result" in await call(ws, "agent.hello")
        for ws in open_[1:]:
            await ws.close()


async def test_silent_client_is_dropped_after_the_handshake_timeout(tmp_path: Path) -> None:
    settings = replace(ALLOWED, limits=Limits(handshake_timeout=0.3))
    async with running_agent(tmp_path, ScriptedConsent(), settings) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finishes
        assert await asyncio.wait_for(reader.read(), 3) == b""  # closed by the agent
        writer.close()
        assert server.open_connections == 0


async def test_slow_origin_answer_outlives_the_handshake_timeout(tmp_path: Path) -> None:
    hold = asyncio.Event()
    consent = ScriptedConsent(origin_answer=OriginDecision.ALLOW_ONCE, hold=hold)
    settings = Settings(limits=Limits(handshake_timeout=0.2))
    async with running_agent(tmp_path, consent, settings) as server:
        pending = asyncio.create_task(connect(url(server), origin="https://slow.test", open_timeout=5).__aenter__())
        await asyncio.sleep(0.5)  # the user reads the question longer than the handshake timeout
        hold.set()
        ws = await pending
        assert "result" in await call(ws, "agent.hello")
        await ws.close()
