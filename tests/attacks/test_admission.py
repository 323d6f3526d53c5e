"""Admission under a connection flood (issue 18): an honest page stays served.

Measured on the old server: 600 idle TCP connections, or the same sockets stalled in half a
request, or 200 WebSockets of one approved page, left an honest page of *another* approved
origin without an answer — every connection shared one cap of 64, and a silent socket held
its slot for the 10 s handshake timeout.  Now sockets not yet upgraded have their own budget
(``max-pending``) and a short deadline for their headers (``header-timeout``), a newcomer
pushes out the oldest one still waiting, and upgraded sockets are capped per origin
(``max-per-origin``, ``max-local-programs``) under ``max-connections``.

Every test ends with the books at zero: a count leaked on some path would lock the agent
out over time.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from support.agent import PORTAL, TOKEN, call, raw_handshake, running_agent, url
from support.attack import still_serves
from support.consent import ScriptedConsent
from support.native import agent_with_keys, b64
from tanba.agent.consent.base import OriginDecision
from tanba.agent.services import Services
from tanba.agent.setup import tls
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest
from tanba.agent.state.approvals import OriginStore
from tanba.agent.transport.admission import TLS_REQUIRED
from tanba.agent.transport.server import AgentServer
from tanba.agent.transport.tracker import Tracker
from tanba.protocol.limits import Limits

#: the honest page: another approved origin than the flooding one (PORTAL)
HONEST = "https://honest.test"
SIGN = {"format": "raw", "data": [b64(b"an honest document")]}
#: the bound the issue sets for the honest page's agent.hello, from connect to answer
HELLO_WITHIN = 1.0


def more_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))


def now() -> float:
    return asyncio.get_running_loop().time()


async def until(condition: Any, timeout: float = 5.0) -> None:
    """Wait for ``condition()`` to hold (the agent works in the same loop as the test)."""
    deadline = now() + timeout
    while not condition():
        if now() > deadline:
            raise AssertionError(f"not reached in {timeout} s: {condition.__doc__ or condition}")
        await asyncio.sleep(0.01)


async def books_at_zero(server: AgentServer) -> None:
    """Nothing pending, nothing open, no origin holding a slot, and websockets agrees:
    no connection handler left running."""
    assert server._server is not None

    def idle() -> bool:
        """the books at zero"""
        return (
            server.pending_connections == 0
            and server.open_connections == 0
            and server.admission.open_by_origin() == {}
            and not server._server.handler_tasks  # type: ignore[union-attr]
        )

    await until(idle)


async def honest_page(server: AgentServer, sign: bool = True) -> dict[str, float]:
    """An honest page of HONEST: agent.hello answered within HELLO_WITHIN of its connect,
    then (with keys) a sign that succeeds.  Returns the timings seen."""
    start = now()
    async with connect(url(server), origin=Origin(HONEST), open_timeout=5) as ws:
        reply = await asyncio.wait_for(call(ws, "agent.hello", id="honest"), 5)
        hello = now() - start
        assert reply["id"] == "honest" and reply["result"]["name"] == "tanba", reply
        assert hello < HELLO_WITHIN, f"agent.hello took {hello:.3f} s"
        timings = {"hello": hello}
        if sign:
            start = now()
            signed = await asyncio.wait_for(call(ws, "sign", SIGN, id="sign"), 10)
            assert len(signed["result"]["signatures"]) == 1, signed
            timings["sign"] = now() - start
    return timings


def dropped(reader: asyncio.StreamReader) -> bool:
    """The agent closed this socket (an end of stream, or a reset)."""
    return reader.at_eof() or reader.exception() is not None


async def open_sockets(port: int, n: int, first: bytes = b"") -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """``n`` TCP connections, oldest first, each sending ``first`` (maybe nothing) and then stalling."""
    conns = []
    for _ in range(n):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if first:
            writer.write(first)
        conns.append((reader, writer))
    return conns


def close_all(conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> None:
    for _, writer in conns:
        writer.close()


async def test_an_honest_page_is_served_through_every_phase_of_a_connection_flood(
    tmp_path: Path, pki: Manifest
) -> None:
    """The issue's three phases, with the default limits; in each, an honest page of a
    second approved origin gets agent.hello within 1 s and a sign."""
    more_files()
    limits = Limits()
    settings = Settings(allow_origin=(PORTAL, HONEST), trust_anchor=(pki.root_pem,), autodetect=False)
    consent = ScriptedConsent(pin="123456")
    seen: dict[str, dict[str, float]] = {}
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"], settings=settings) as server:
        budget = limits.max_pending

        # Phase 1: 600 idle TCP connections.  The budget is full, the oldest were pushed out
        # by the newer ones (never the newest), and the honest page gets in.
        start = now()
        idle = await open_sockets(server.port, 600)
        await until(lambda: server.pending_connections == budget and sum(dropped(r) for r, _ in idle) == 600 - budget)
        assert [dropped(r) for r, _ in idle] == [True] * (600 - budget) + [False] * budget  # the oldest went
        assert now() - start < limits.header_timeout  # ...pushed out, not timed out
        seen["idle"] = await honest_page(server)

        # Phase 2: those sockets send half a request line and stall; 600 more join them
        # with half a request (line and Host) at once.  The budget stays full of them.
        start = now()
        alive = [(r, w) for r, w in idle if not dropped(r)]
        for _, writer in alive:
            writer.write(b"GET /v1 HT")
        stalled = await open_sockets(server.port, 600, f"GET /v1 HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n".encode())
        await until(lambda: server.pending_connections == budget and sum(not dropped(r) for r, _ in stalled) <= budget)
        assert now() - start < limits.header_timeout
        seen["half a request"] = await honest_page(server)
        # whatever the honest page did not push out, the header deadline drops
        await until(lambda: all(dropped(r) for r, _ in idle + stalled), limits.header_timeout + 2)
        close_all(idle + stalled)
        await books_at_zero(server)

        # Phase 3: one approved page opens 200 WebSockets: 16 stay open, the others are
        # closed with 1013 and a reason naming the cap; the honest page of another origin
        # gets its own slots.
        attempts = await asyncio.gather(
            *(connect(url(server), origin=Origin(PORTAL), open_timeout=10) for _ in range(200)),
            return_exceptions=True,
        )
        upgraded = [ws for ws in attempts if isinstance(ws, ClientConnection)]
        await until(lambda: server.pending_connections == 0)
        assert server.admission.open_by_origin() == {PORTAL: limits.max_per_origin}
        await until(lambda: sum(ws.close_code is None for ws in upgraded) == limits.max_per_origin)
        refused = [ws for ws in upgraded if ws.close_code is not None]
        assert len(refused) >= 200 - limits.max_per_origin - budget  # at most a budget's worth dropped unanswered
        assert {(ws.close_code, ws.close_reason) for ws in refused} == {
            (1013, "too many connections from this origin (max-per-origin = 16)")
        }
        seen["200 WebSockets of one page"] = await honest_page(server)
        # the flooding page's open sockets are served too
        kept = [ws for ws in upgraded if ws.close_code is None]
        assert (await call(kept[0], "agent.hello"))["result"]["name"] == "tanba"
        for ws in upgraded:
            await ws.close()
        await books_at_zero(server)
        await still_serves(server)
    print(f"\nadmission timings (s), {len(upgraded)} of 200 upgraded in phase 3: "
          + "; ".join(f"{phase}: " + ", ".join(f"{k} {v:.3f}" for k, v in t.items()) for phase, t in seen.items()))


ALLOWED = Settings(allow_origin=(PORTAL, HONEST))


async def test_the_oldest_waiting_socket_is_dropped_not_the_newcomer(tmp_path: Path) -> None:
    """With a long header deadline only the pending budget saves the honest page."""
    settings = replace(ALLOWED, limits=Limits(max_pending=4, header_timeout=30, handshake_timeout=30))
    async with running_agent(tmp_path, ScriptedConsent(), settings) as server:
        idle = await open_sockets(server.port, 4)
        await until(lambda: server.pending_connections == 4)
        assert not any(dropped(r) for r, _ in idle)
        await honest_page(server, sign=False)
        await until(lambda: dropped(idle[0][0]))
        assert [dropped(r) for r, _ in idle] == [True, False, False, False]
        late = await open_sockets(server.port, 2)  # 3 waiting + 2: the oldest of them goes
        await until(lambda: dropped(idle[1][0]))
        await asyncio.sleep(0.1)
        assert [dropped(r) for r, _ in idle + late] == [True, True, False, False, False, False]
        close_all(idle + late)
        await books_at_zero(server)


async def test_silent_sockets_are_dropped_at_the_header_deadline(tmp_path: Path) -> None:
    """With a large budget only the header deadline frees the sockets: well before the
    handshake timeout, and the budget is not in the way of the honest page anyway."""
    settings = replace(ALLOWED, limits=Limits(max_pending=1000, header_timeout=0.3, handshake_timeout=30))
    async with running_agent(tmp_path, ScriptedConsent(), settings) as server:
        start = now()
        conns = await open_sockets(server.port, 50)
        conns += await open_sockets(server.port, 50, b"GET /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        await honest_page(server, sign=False)
        await until(lambda: all(dropped(r) for r, _ in conns))
        assert now() - start < 2
        close_all(conns)
        await books_at_zero(server)


async def test_the_origin_question_extends_only_its_own_connection(tmp_path: Path) -> None:
    """A page being asked about stays past both deadlines and is never pushed out for a
    newcomer; silent sockets beside it are still dropped at the header deadline."""
    hold = asyncio.Event()
    consent = ScriptedConsent(origin_answer=OriginDecision.ALLOW_ONCE, hold=hold)
    settings = replace(ALLOWED, limits=Limits(max_pending=3, header_timeout=0.2, handshake_timeout=0.4))
    async with running_agent(tmp_path, consent, settings) as server:
        asked = asyncio.create_task(connect(url(server), origin=Origin("https://new.test"), open_timeout=10).__aenter__())
        await until(lambda: consent.asked != [])
        start = now()
        flood = await open_sockets(server.port, 10)  # every one pushes out an older silent one, never the question
        await until(lambda: all(dropped(r) for r, _ in flood), 3)
        assert now() - start < 1.0
        await asyncio.sleep(0.5)  # past both deadlines
        assert not asked.done()
        hold.set()
        ws = await asked
        assert (await call(ws, "agent.hello"))["result"]["name"] == "tanba"
        await ws.close()
        close_all(flood)
        await books_at_zero(server)


async def test_no_room_when_every_pending_handshake_is_under_way(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A handshake under way is never dropped for a newcomer: with a budget of one held by
    the origin question, the newcomer is the one refused (and the log says so)."""
    hold = asyncio.Event()
    consent = ScriptedConsent(origin_answer=OriginDecision.ALLOW_ONCE, hold=hold)
    settings = replace(ALLOWED, limits=Limits(max_pending=1))
    async with running_agent(tmp_path, consent, settings) as server:
        asked = asyncio.create_task(connect(url(server), origin=Origin("https://new.test"), open_timeout=10).__aenter__())
        await until(lambda: consent.asked != [])
        with caplog.at_level(logging.WARNING, "tanba.agent.transport.server"):
            with pytest.raises(Exception):  # reset, or no HTTP response: dropped on arrival
                async with connect(url(server), origin=Origin(HONEST), open_timeout=2):
                    pass
        assert "handshakes under way (max-pending); refusing a connection" in caplog.text
        hold.set()
        ws = await asked
        await ws.close()
        await books_at_zero(server)


async def test_one_origin_cannot_take_every_slot_and_the_global_cap_holds(tmp_path: Path) -> None:
    third = "https://third.test"
    settings = Settings(allow_origin=(PORTAL, HONEST, third), limits=Limits(max_connections=5, max_per_origin=3))
    async with running_agent(tmp_path, ScriptedConsent(), settings) as server:
        portal = [await connect(url(server), origin=Origin(PORTAL)) for _ in range(3)]
        closed = await connect(url(server), origin=Origin(PORTAL))
        await closed.wait_closed()
        assert (closed.close_code, closed.close_reason) == (1013, "too many connections from this origin (max-per-origin = 3)")
        honest = [await connect(url(server), origin=Origin(HONEST)) for _ in range(2)]
        over = await connect(url(server, "/"), origin=Origin(third))  # the NCALayer endpoint counts too
        await over.wait_closed()
        assert (over.close_code, over.close_reason) == (1013, "too many connections (max-connections = 5)")
        assert server.admission.open_by_origin() == {PORTAL: 3, HONEST: 2}
        await portal[0].close()
        await until(lambda: server.open_connections == 4)
        async with connect(url(server, "/"), origin=Origin(third)) as ws:  # a freed slot is anyone's
            assert "version" in (await ws.recv())
        for ws in portal[1:] + honest:
            await ws.close()
        await books_at_zero(server)


async def test_local_programs_have_their_own_cap(tmp_path: Path) -> None:
    settings = replace(ALLOWED, limits=Limits(max_local_programs=2))
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    async with running_agent(tmp_path, ScriptedConsent(), settings) as server:
        programs = [await connect(url(server), additional_headers=bearer) for _ in range(2)]
        over = await connect(url(server), additional_headers=bearer)
        await over.wait_closed()
        assert (over.close_code, over.close_reason) == (1013, "too many connections from local programs (max-local-programs = 2)")
        assert server.admission.open_by_origin() == {None: 2}
        await honest_page(server, sign=False)  # pages are not in the programs' bucket
        for ws in programs:
            await ws.close()
        await books_at_zero(server)


async def test_refusals_are_logged_once_under_a_flood(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = replace(ALLOWED, limits=Limits(max_per_origin=1, max_pending=2, header_timeout=5))
    async with running_agent(tmp_path, ScriptedConsent(), settings) as server:
        with caplog.at_level(logging.INFO, "tanba.agent.transport.server"):
            kept = await connect(url(server), origin=Origin(PORTAL))
            for _ in range(30):
                ws = await connect(url(server), origin=Origin(PORTAL))
                await ws.wait_closed()
            idle = await open_sockets(server.port, 30)
            await until(lambda: sum(dropped(r) for r, _ in idle) == 28)
        over_cap = [r for r in caplog.records if "max-per-origin" in r.getMessage()]
        pushed_out = [r for r in caplog.records if "dropping the oldest unfinished one" in r.getMessage()]
        assert len(over_cap) == 1 and len(pushed_out) == 1, caplog.text
        assert over_cap[0].pathname.endswith("server.py")
        await kept.close()
        close_all(idle)
        await books_at_zero(server)


@pytest.mark.parametrize(
    "attempt",
    ["foreign origin 403", "foreign host 403", "unknown path 404", "no token 403", "garbage", "line too long",
     "client gone before headers", "client gone mid-headers", "denied origin", "page gone during the question"],
)
async def test_every_way_a_handshake_ends_leaves_the_books_at_zero(tmp_path: Path, attempt: str) -> None:
    hold = asyncio.Event()
    consent = ScriptedConsent(origin_answer=OriginDecision.DENY, hold=hold if "question" in attempt else None)
    async with running_agent(tmp_path, consent, ALLOWED) as server:
        port = server.port
        host = f"127.0.0.1:{port}"
        for _ in range(3):
            if attempt == "foreign origin 403":
                assert (await raw_handshake(port, {"Host": host, "Origin": "https://evil.test"}))[0] == 403
            elif attempt == "foreign host 403":
                assert (await raw_handshake(port, {"Host": "evil.test", "Origin": PORTAL}))[0] == 403
            elif attempt == "unknown path 404":
                assert (await raw_handshake(port, {"Host": host, "Origin": PORTAL}, path="/nope"))[0] == 404
            elif attempt == "no token 403":
                assert (await raw_handshake(port, {"Host": host}))[0] == 403
            elif attempt == "denied origin":
                assert (await raw_handshake(port, {"Host": host, "Origin": "https://asked.test"}))[0] == 403
            elif attempt in ("garbage", "line too long"):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"\x16\x03\x01 not http\r\n\r\n" if attempt == "garbage" else b"GET /" + b"a" * 9000)
                await asyncio.wait_for(reader.read(), 5)  # the agent answers (or not) and closes
                writer.close()
            elif attempt == "page gone during the question":
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(f"GET /v1 HTTP/1.1\r\nHost: {host}\r\nOrigin: https://asked.test\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\n\r\n".encode())
                await until(lambda: server.pending_connections == 1 and consent.asked != [])
                writer.close()
                consent.asked.clear()
            else:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                if attempt == "client gone mid-headers":
                    writer.write(f"GET /v1 HTTP/1.1\r\nHost: {host}\r\n".encode())
                await until(lambda: server.pending_connections == 1)
                writer.close()
            await books_at_zero(server)
        await still_serves(server)


@asynccontextmanager
async def tls_agent(tmp_path: Path, limits: Limits) -> AsyncIterator[tuple[AgentServer, ssl.SSLContext]]:
    home = tmp_path / "home"
    home.mkdir()
    files = tls.TlsFiles(tmp_path / "tls")
    tls.install(home=home, files=files)
    context = tls.server_ssl_context(files)
    assert context is not None
    services = Services(settings=Settings(port=0, allow_origin=(PORTAL, HONEST), limits=limits),
                        consent=ScriptedConsent(), origins=OriginStore(tmp_path / "origins.json"),
                        client_token=TOKEN, version="9.9.9-test")
    server = AgentServer(services, Tracker(), ssl_context=context)
    await server.start()
    try:
        yield server, ssl.create_default_context(cafile=str(files.ca))
    finally:
        await server.close()


async def test_with_tls_every_socket_is_in_the_books_from_its_arrival(tmp_path: Path) -> None:
    """A TLS agent peeks at each connection's first byte (TLS or plain on one port), so a
    socket that never finishes its TLS handshake is pending from its arrival like any
    other, and the header deadline drops it (before, TLS handshakes were outside the books,
    bounded only by their own timeout)."""
    limits = Limits(header_timeout=0.3)
    async with tls_agent(tmp_path, limits) as (server, client):
        start = now()
        silent = await open_sockets(server.port, 5)  # not even a first byte
        half_hello = await open_sockets(server.port, 5, first=b"\x16\x03\x01\x02\x00\x01")  # a cut ClientHello
        quiet = [await asyncio.open_connection("127.0.0.1", server.port, ssl=client, server_hostname="127.0.0.1")
                 for _ in range(5)]  # TLS done, then no request
        await until(lambda: server.pending_connections == 15)
        async with connect(f"wss://127.0.0.1:{server.port}/v1", ssl=client, origin=Origin(HONEST)) as ws:
            assert (await call(ws, "agent.hello"))["result"]["name"] == "tanba"
            assert server.open_connections == 1
        await until(lambda: all(dropped(r) for r, _ in silent + half_hello + quiet), 3)
        assert now() - start < 2
        close_all(silent + half_hello + quiet)
        await books_at_zero(server)


async def test_with_tls_a_flood_of_silent_sockets_does_not_lock_out_an_honest_page(tmp_path: Path) -> None:
    """The issue's first phase at a TLS agent: 600 idle TCP connections, then 200 that
    stall in a ClientHello; the oldest are pushed out and an honest wss page gets in."""
    more_files()
    limits = Limits()
    async with tls_agent(tmp_path, limits) as (server, client):
        for first in (b"", b"\x16\x03\x01"):
            flood = await open_sockets(server.port, 600 if not first else 200, first=first)
            await until(lambda: server.pending_connections == limits.max_pending)
            start = now()
            async with connect(f"wss://127.0.0.1:{server.port}/v1", ssl=client, origin=Origin(HONEST)) as ws:
                assert (await call(ws, "agent.hello"))["result"]["name"] == "tanba"
            assert now() - start < HELLO_WITHIN
            close_all(flood)
            await books_at_zero(server)


async def test_plain_ws_at_a_tls_agent_is_closed_with_a_reason_a_page_can_read(tmp_path: Path) -> None:
    """ws:// at the wss port: upgraded only to be closed with 4426 and the wss address, so a
    page (the JS client) can tell "the browser does not trust the certificate" from "not
    running".  No origin question is asked and nothing is served on it; plain HTTP gets
    an HTTP answer; the Host check still comes first."""
    async with tls_agent(tmp_path, Limits()) as (server, client):
        consent = server.services.consent
        assert isinstance(consent, ScriptedConsent)
        for origin in (HONEST, "https://unknown.test"):
            async with connect(f"ws://127.0.0.1:{server.port}/v1", origin=Origin(origin)) as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    await call(ws, "agent.hello")
            assert closed.value.rcvd is not None and closed.value.rcvd.code == TLS_REQUIRED
            assert closed.value.rcvd.reason == f"Tanba speaks wss here: wss://127.0.0.1:{server.port}/v1"
        assert consent.asked == []
        assert server.open_connections == 0
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % server.port)
        assert (await asyncio.wait_for(reader.readline(), 2)).startswith(b"HTTP/1.1 4")
        writer.close()
        with pytest.raises(InvalidStatus) as refused:  # a foreign Host: the same bare 403 as before
            async with connect(f"ws://127.0.0.1:{server.port}/v1", origin=Origin(HONEST),
                               additional_headers={"Host": "evil.test"}):
                pass
        assert refused.value.response.status_code == 403
        async with connect(f"wss://127.0.0.1:{server.port}/v1", ssl=client, origin=Origin(HONEST)) as ws:
            assert (await call(ws, "agent.hello"))["result"]["name"] == "tanba"
        await books_at_zero(server)


async def test_a_tls_client_at_a_plain_agent_fails_at_once_and_quietly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The JS client tries wss first: at an agent without a certificate that is a ClientHello
    on a plain port, which must fail at once (not at a timeout) without an error line; ws
    then works."""
    async with running_agent(tmp_path, ScriptedConsent(), Settings(allow_origin=(HONEST,))) as server:
        start = now()
        with caplog.at_level(logging.INFO):
            with pytest.raises((ssl.SSLError, OSError, EOFError)):
                async with connect(f"wss://127.0.0.1:{server.port}/v1", origin=Origin(HONEST),
                                   ssl=ssl.create_default_context(), open_timeout=2):
                    pass
        noisy = [r for r in caplog.records
                 if r.levelno >= logging.WARNING or r.exc_info or "handshake failed" in r.getMessage()]
        assert not noisy and now() - start < 1.9  # a hang would end at open_timeout (2 s)
        async with connect(url(server), origin=Origin(HONEST)) as ws:
            assert (await call(ws, "agent.hello"))["result"]["name"] == "tanba"
        await books_at_zero(server)
