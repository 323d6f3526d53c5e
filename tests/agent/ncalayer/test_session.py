"""The ``/`` session: greeting, heartbeat, order of answers, bad input, limits, closing."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from support.agent import PORTAL, raw_handshake
from support.consent import ScriptedConsent
from support.native import agent_with_keys
from tanba.agent.consent.base import Confirmation
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest
from tanba.agent.transport.server import AgentServer
from tanba.protocol import i18n
from tanba.protocol.errors import Busy, InvalidRequest
from tanba.protocol.limits import Limits

CU = "kz.gov.pki.knca.commonUtils"
DOC = base64.b64encode(b"doc").decode()


@asynccontextmanager
async def page(server: AgentServer, origin: str = PORTAL) -> AsyncIterator[ClientConnection]:
    async with connect(f"ws://127.0.0.1:{server.port}/", origin=origin) as ws:  # type: ignore[arg-type]
        assert json.loads(await ws.recv()) == {"result": {"version": "1.4"}}
        yield ws


async def ask(ws: ClientConnection, message: Any) -> Any:
    await ws.send(message if isinstance(message, (str, bytes)) else json.dumps(message))
    return json.loads(await ws.recv())


class HeldUser(ScriptedConsent):
    """Keeps the confirmation on screen until released; records a dialog closed by cancel."""

    def __init__(self) -> None:
        super().__init__(pin="123456")
        self.shown = asyncio.Event()
        self.release = asyncio.Event()
        self.closed_by_cancel = asyncio.Event()

    async def confirm(self, confirmation: Confirmation) -> bool:
        self.asked.append(("confirm", confirmation))
        self.shown.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.closed_by_cancel.set()
            raise
        return True


def _sign_request(uuid: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"module": CU, "method": "createCAdESFromBase64", "args": ["PKCS12", "SIGNATURE", DOC, True]}
    if uuid:
        request["uuid"] = uuid
    return request


async def test_greeting_heartbeat_and_the_kaztoken_probe(tmp_path: Path, pki: Manifest) -> None:
    async with agent_with_keys(tmp_path, pki, ScriptedConsent()) as server, page(server) as ws:
        await ws.send("--heartbeat--")
        assert await ws.recv() == "--heartbeat--"
        probe = {"module": "kz.digiflow.mobile.extensions", "method": "getVersion"}
        assert await ask(ws, probe) == {"success": False, "errorCode": "MODULE_NOT_FOUND"}
        assert await ask(ws, {"method": "signXml", "args": []}) == {"success": False, "errorCode": "MODULE_NOT_FOUND"}


async def test_bad_messages_get_a_failure_and_the_connection_keeps_serving(tmp_path: Path, pki: Manifest) -> None:
    async with agent_with_keys(tmp_path, pki, ScriptedConsent()) as server, page(server) as ws:
        malformed = i18n.error_text(InvalidRequest(), "en")
        for bad in ["{not json", '{"module":"a","module":"b"}', "[1,2]", b"\x00binary", '{"x":NaN}']:
            assert await ask(ws, bad) == {"code": "500", "message": malformed}
        unknown = await ask(ws, {"module": CU, "method": "launchMissiles", "args": [], "uuid": "u7"})
        assert unknown == {"code": "500", "message": i18n.text("error.method_not_found", "en"), "uuid": "u7"}
        assert await ask(ws, {"module": CU, "method": "getActiveTokens", "uuid": "u8"}) == {
            "code": "200", "responseObject": [], "uuid": "u8"}


async def test_answers_come_in_request_order_and_heartbeats_are_answered_during_a_dialog(
    tmp_path: Path, pki: Manifest
) -> None:
    user = HeldUser()
    async with agent_with_keys(tmp_path, pki, user, p12=["rsa-sign"]) as server, page(server) as ws:
        await ws.send(json.dumps(_sign_request("first")))
        await asyncio.wait_for(user.shown.wait(), 5)
        await ws.send(json.dumps({"module": CU, "method": "getActiveTokens", "uuid": "second"}))
        await ws.send("--heartbeat--")
        assert await asyncio.wait_for(ws.recv(), 5) == "--heartbeat--"  # not stuck behind the dialog
        user.release.set()
        first, second = json.loads(await ws.recv()), json.loads(await ws.recv())
    assert first["uuid"] == "first" and first["code"] == "200"
    assert second == {"code": "200", "responseObject": [], "uuid": "second"}


async def test_too_many_waiting_requests_are_busy(tmp_path: Path, pki: Manifest) -> None:
    user = HeldUser()
    settings = Settings(allow_origin=(PORTAL,), autodetect=False, limits=replace(Limits(), max_in_flight=1))
    async with agent_with_keys(tmp_path, pki, user, p12=["rsa-sign"], settings=settings) as server, page(server) as ws:
        await ws.send(json.dumps(_sign_request("held")))
        await asyncio.wait_for(user.shown.wait(), 5)
        await ws.send(json.dumps({"module": CU, "method": "getActiveTokens", "uuid": "queued"}))
        await asyncio.sleep(0.05)
        refused = await ask(ws, {"module": CU, "method": "getActiveTokens", "uuid": "third"})
        assert refused == {"code": "500", "message": i18n.error_text(Busy(), "en")}
        user.release.set()
        assert json.loads(await ws.recv())["uuid"] == "held"
        assert json.loads(await ws.recv())["uuid"] == "queued"


async def test_closing_the_page_closes_its_dialog(tmp_path: Path, pki: Manifest) -> None:
    user = HeldUser()
    async with agent_with_keys(tmp_path, pki, user, p12=["rsa-sign"]) as server:
        async with page(server) as ws:
            await ws.send(json.dumps(_sign_request()))
            await asyncio.wait_for(user.shown.wait(), 5)
        await asyncio.wait_for(user.closed_by_cancel.wait(), 5)
        assert not server.services.prompts.active


async def test_unapproved_origins_never_reach_the_ncalayer_wire(tmp_path: Path, pki: Manifest) -> None:
    user = ScriptedConsent()  # denies origins
    async with agent_with_keys(tmp_path, pki, user) as server:
        status, reply = await raw_handshake(
            server.port, {"Host": f"127.0.0.1:{server.port}", "Origin": "https://evil.example"}, path="/")
        assert status == 403 and b"version" not in reply
        status, _ = await raw_handshake(server.port, {"Host": f"127.0.0.1:{server.port}", "Origin": PORTAL}, path="/")
        assert status == 101
        status, _ = await raw_handshake(server.port, {"Host": f"127.0.0.1:{server.port}", "Origin": PORTAL}, path="/v2")
        assert status == 404
