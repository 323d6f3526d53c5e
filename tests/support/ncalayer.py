"""Talking to the NCALayer endpoint ``/`` as a portal page does: greeting, one question at
a time, and the check that the endpoint still serves an honest page after an attack."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from support.agent import PORTAL, url

CU = "kz.gov.pki.knca.commonUtils"
BASICS = "kz.gov.pki.knca.basics"


async def greet(ws: ClientConnection) -> None:
    assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"result": {"version": "1.4"}}


async def ask(ws: ClientConnection, message: Any) -> Any:
    await ws.send(message if isinstance(message, (str, bytes)) else json.dumps(message))
    return json.loads(await asyncio.wait_for(ws.recv(), 10))


async def ncalayer_still_serves(server: Any, origin: str = PORTAL) -> None:
    """An honest NCALayer page: greeting, heartbeat echo, getActiveTokens answered."""
    async with connect(url(server, "/"), origin=origin, open_timeout=5) as ws:  # type: ignore[arg-type]
        await greet(ws)
        await ws.send("--heartbeat--")
        assert await asyncio.wait_for(ws.recv(), 5) == "--heartbeat--"
        reply = await ask(ws, {"module": CU, "method": "getActiveTokens", "uuid": "honest"})
        assert reply["code"] == "200" and reply["uuid"] == "honest", reply
