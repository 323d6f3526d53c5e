"""Tools of the attack suite: raw WebSocket frames, refused handshakes, and the check that
the agent still serves an honest page after each attack.

Everything here talks to a real agent over real sockets; nothing of the agent is faked.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from dataclasses import dataclass
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from support.agent import PORTAL, browser, call, url
from tanba.agent.transport.server import AgentServer

# opcodes (RFC 6455 §5.2)
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


async def still_serves(server: AgentServer, origin: str = PORTAL, path: str = "/v1") -> None:
    """An honest page opens a fresh socket and is answered: the attack left no damage."""
    async with connect(url(server, path), origin=origin, open_timeout=5) as ws:  # type: ignore[arg-type]
        reply = await asyncio.wait_for(call(ws, "agent.hello", id="honest"), 5)
    assert reply["id"] == "honest" and reply["result"]["name"] == "tanba", reply


async def refused(server: AgentServer, path: str = "/v1", **kw: Any) -> int:
    """Open a handshake that must be refused; returns the HTTP status and checks nothing leaks."""
    with pytest.raises(InvalidStatus) as info:
        async with connect(url(server, path), open_timeout=5, **kw):
            pass
    response = info.value.response
    assert "Server" not in response.headers
    body = bytes(response.body or b"")
    assert b"tanba" not in body.lower() and b"9.9.9" not in body
    return int(response.status_code)


def frame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0) -> bytes:
    """One masked client frame."""
    head = bytearray([(0x80 if fin else 0) | (rsv << 4) | opcode])
    n = len(payload)
    if n < 126:
        head.append(0x80 | n)
    elif n < 1 << 16:
        head.append(0x80 | 126)
        head += struct.pack("!H", n)
    else:
        head.append(0x80 | 127)
        head += struct.pack("!Q", n)
    key = os.urandom(4)
    head += key
    return bytes(head) + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


@dataclass
class Frame:
    fin: bool
    opcode: int
    payload: bytes

    def json(self) -> dict[str, Any]:
        assert self.opcode == TEXT, self
        value: dict[str, Any] = json.loads(self.payload)
        return value

    @property
    def close_code(self) -> int | None:
        assert self.opcode == CLOSE, self
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None


class RawSocket:
    """A WebSocket client that writes whatever bytes it is told to (fragments, bad opcodes...)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, server: AgentServer, origin: str = PORTAL, path: str = "/v1") -> RawSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nOrigin: {origin}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def recv(self, timeout: float = 5) -> Frame:
        b0, b1 = await asyncio.wait_for(self.reader.readexactly(2), timeout)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        assert not b1 & 0x80, "server frames are never masked"
        payload = await asyncio.wait_for(self.reader.readexactly(n), timeout)
        return Frame(bool(b0 & 0x80), b0 & 0x0F, payload)

    async def recv_data(self, timeout: float = 5) -> Frame:
        """The next data or close frame (pings answered, pongs skipped)."""
        while True:
            f = await self.recv(timeout)
            if f.opcode == PING:
                await self.send(frame(PONG, f.payload))
                continue
            if f.opcode != PONG:
                return f

    async def closed_by_agent(self, timeout: float = 5) -> int | None:
        """Wait for the agent's close frame; returns its code."""
        f = await self.recv_data(timeout)
        assert f.opcode == CLOSE, f
        return f.close_code

    def close(self) -> None:
        self.writer.close()


def request(method: str, params: dict[str, Any] | None = None, id: Any = 1) -> str:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message)


async def rpc(ws: Any, text: str | bytes) -> dict[str, Any]:
    """Send one message as it is and return the next reply that is not a notification."""
    await ws.send(text)
    while True:
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if "method" not in reply:
            return reply


__all__ = ["browser", "call", "still_serves", "refused", "frame", "RawSocket", "request", "rpc"]
