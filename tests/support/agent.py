"""Run a real agent in the test's event loop, and talk to it like a browser or a raw socket."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tanba.agent.consent.base import ConsentUI
from tanba.agent.services import Services
from tanba.agent.setup.config import Settings
from tanba.agent.state.approvals import OriginStore
from tanba.agent.state.audit import AuditLog
from tanba.agent.transport.server import AgentServer
from tanba.agent.transport.tracker import Tracker

PORTAL = "https://portal.test"
TOKEN = "t" * 43


@asynccontextmanager
async def running_agent(
    tmp_path: Path, consent: ConsentUI, settings: Settings | None = None, **services_kw: Any
) -> AsyncIterator[AgentServer]:
    settings = replace(settings or Settings(), port=0)
    services_kw.setdefault("audit", AuditLog(tmp_path / "audit.log"))
    services = Services(
        settings=settings,
        consent=consent,
        origins=OriginStore(tmp_path / "origins.json"),
        client_token=TOKEN,
        version="9.9.9-test",
        **services_kw,
    )
    server = AgentServer(services, Tracker())
    await server.start()
    try:
        yield server
    finally:
        await server.close()
        if services.audit is not None:
            services.audit.close()


def url(server: AgentServer, path: str = "/v1") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


@asynccontextmanager
async def browser(server: AgentServer, origin: str = PORTAL, **kw: Any) -> AsyncIterator[ClientConnection]:
    async with connect(url(server), origin=origin, **kw) as ws:  # type: ignore[arg-type]
        yield ws


async def call(ws: ClientConnection, method: str, params: dict[str, Any] | None = None, id: Any = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        message["params"] = params
    await ws.send(json.dumps(message))
    while True:  # skip notifications (progress) to the reply
        reply: dict[str, Any] = json.loads(await ws.recv())
        if "method" not in reply:
            return reply


async def raw_handshake(port: int, headers: dict[str, str], path: str = "/v1") -> tuple[int, bytes]:
    """Send a WebSocket upgrade with exactly these headers; return the status and the raw reply."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(65536), 5)
    writer.close()
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0
    return status, reply
