"""The WebSocket server: a thin driver around the protocol and the handlers.

Before the upgrade it checks, in order: the Host header (a loopback name with our port —
DNS rebinding; every path answers a foreign Host the same 403), the path, the Origin (canonical, approved or allow-listed, or
approved now by the user; local programs without an Origin must present the bearer
token).  A refusal is a bare 403 with no server header: nothing about the agent leaks to a
page it does not serve.  After the upgrade each message of either endpoint goes through
:func:`~tanba.agent.transport.pipeline.serve_one` (decode → run → render → send); the drivers here
and in :mod:`~tanba.agent.ncalayer.session` only read frames and bound what is in flight.

Admission (issue 18; :mod:`~tanba.agent.transport.admission` keeps the books): a connection
not yet upgraded is *pending* — it has ``header-timeout`` seconds from its arrival (its TLS
handshake included) to send its request headers and ``handshake-timeout`` for the whole
handshake, the origin question extending only its own connection; when ``max-pending``
are pending, the oldest one still waiting for its headers is dropped for a newcomer.  An
upgraded connection counts against its origin's ``max-per-origin`` (local programs:
``max-local-programs``) and the global ``max-connections``; over a cap it is closed with
1013 and a reason naming the cap.  The books follow asyncio's ``connection_made`` and
``connection_lost``, which come exactly once each for every connection that reaches us
(``connection_lost`` is made idempotent for the TLS path, where both the TLS layer and a
failed handshake may report it), so no path — 403, 404, a bad request, a failed TLS
handshake, a timeout, a drop, a client gone — can leak a count.

TLS and plain on one port (:mod:`~tanba.agent.transport.sniff`): with a local certificate,
each connection's first byte decides — a TLS handshake record starts TLS over the same
connection, anything else is plain HTTP.  A plain WebSocket at a TLS agent is served
nothing and asked nothing (no origin question): after the Host check it is upgraded only
to be closed with 4426 (``TLS_REQUIRED``) and the wss URL as reason, which a page can read,
so the JS client tells "this browser does not trust the certificate" from "not running".
"""

from __future__ import annotations

import asyncio
import collections
import errno
import logging
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.connection import Connection
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import MultipleValuesError
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import OPEN

from tanba.agent.consent.base import OriginDecision
from tanba.agent.dispatch import Method
from tanba.agent.handlers import table
from tanba.agent.ncalayer.session import serve as serve_ncalayer
from tanba.agent.services import Services
from tanba.agent.state.client_token import check_bearer
from tanba.agent.transport import memory
from tanba.agent.transport import sniff
from tanba.agent.transport.admission import CAPS, TLS_REQUIRED, TRY_AGAIN_LATER, Admission, Throttled
from tanba.agent.transport.native import NativeEndpoint
from tanba.agent.transport.pipeline import serve_one
from tanba.agent.transport.sniff import FirstByte
from tanba.agent.transport.tracker import Tracker
from tanba.protocol import codec, i18n
from tanba.protocol.errors import TanbaError
from tanba.protocol.origin import is_loopback_host, normalize_origin

log = logging.getLogger(__name__)

NATIVE_PATH = "/v1"
#: WebSocket paths served, each with the session that runs a connection on it
#: (see :meth:`AgentServer._handle_connection`).
PATHS = frozenset({NATIVE_PATH, "/"})
#: seconds the user gets to answer "allow this site?" during a handshake
ORIGIN_PROMPT_TIMEOUT = 120.0


class AgentStartError(Exception):
    """The agent cannot listen (port taken, address not available)."""


class _FloodLogs:
    """The log lines a flood repeats, one server's: each written at once the first time,
    then at most once per 10 s with the count held back."""

    def __init__(self) -> None:
        self.dropped = Throttled(log, logging.WARNING)
        self.no_room = Throttled(log, logging.WARNING)
        self.late = Throttled(log, logging.INFO)
        self.over_cap = {cap: Throttled(log, logging.WARNING) for cap in CAPS}
        self.plain = Throttled(log, logging.INFO)


class TanbaConnection(ServerConnection):
    """A connection that knows who it serves; admitted by its agent's :class:`Admission`.

    Each :class:`AgentServer` serves connections of its own subclass, whose ``agent`` is
    that server (websockets makes the connections; this is how they know their agent)."""

    agent: AgentServer
    origin: str | None = None
    locale: str = i18n.DEFAULT_LOCALE
    route: str = NATIVE_PATH
    _timeout: asyncio.Timeout | None = None
    _extended = False
    #: loop time of connection_made: the header and handshake deadlines count from it
    _arrived = 0.0
    #: came over TLS (a TLS agent's port takes plain connections too: :mod:`.sniff`)
    tls = False
    _peek: FirstByte | None = None
    _tls_task: asyncio.Task[None] | None = None
    _lost = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Opcodes of the messages received, oldest first.  Messages are read with
        # recv(decode=False) and decoded by our codec, so that a text frame with invalid
        # UTF-8 gets an invalid_request answer instead of killing the connection, while
        # a binary frame is still told apart and refused.
        self.message_kinds: collections.deque[Opcode] = collections.deque()

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.opcode in (Opcode.TEXT, Opcode.BINARY):
            self.message_kinds.append(event.opcode)
        first = self.request is None
        super().process_event(event)
        if first and self.request is not None:
            # The request headers are in: no longer dropped for a newcomer, and the
            # header deadline gives way to the handshake timeout.
            self.agent.admission.headers(self)
            if self._timeout is not None and not self._timeout.expired() and not self._extended:
                self._timeout.reschedule(self._deadline())

    async def recv_message(self) -> tuple[Opcode, bytes]:
        data = await self.recv(decode=False)
        return self.message_kinds.popleft(), data

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # starts the handshake task (it runs later)
        self._arrived = self.loop.time()
        admission, logs = self.agent.admission, self.agent.flood_logs
        for victim in admission.arrive(self):
            if victim is self:
                logs.no_room("%d handshakes under way (max-pending); refusing a connection", admission.pending)
            else:
                logs.dropped("pending connections at max-pending (%d); dropping the oldest unfinished one", admission.pending)
            victim.transport.abort()  # connection_lost follows; the books hold it no longer
        if self.agent.ssl_context is not None and not transport.is_closing():
            assert isinstance(transport, asyncio.Transport)
            self._peek = FirstByte(transport, self._first_byte)

    @property
    def plain_on_tls(self) -> bool:
        """A plain connection to a TLS agent: upgraded only to be closed with TLS_REQUIRED."""
        return self.agent.ssl_context is not None and not self.tls

    def _first_byte(self, first: bytes) -> None:
        self._peek = None
        transport = self.transport
        if transport.is_closing():
            return
        if not sniff.is_tls(first):
            transport.resume_reading()  # plain HTTP (or the end): served as such
            return
        self._tls_task = self.loop.create_task(self._start_tls(transport))

    async def _start_tls(self, raw: asyncio.Transport) -> None:
        context = self.agent.ssl_context
        assert context is not None
        # bounded by the header deadline, as a plain request's headers are
        budget = max(0.1, self._deadline() - self.loop.time())
        try:
            secure = await self.loop.start_tls(raw, self, context, server_side=True, ssl_handshake_timeout=budget)
        except Exception as exc:  # noqa: BLE001 - any failed handshake ends the connection alike
            # Whether the TLS layer reports the loss depends on how far it got: report it
            # here (connection_lost is idempotent).
            log.debug("TLS handshake failed: %s", exc)
            raw.abort()
            self.connection_lost(exc if isinstance(exc, OSError) else None)
            return
        if secure is None:  # the connection went while the handshake ended
            raw.abort()
            self.connection_lost(None)
            return
        # The same connection (its books, deadlines and handshake task), now over TLS.  This
        # runs before anything is written: the handshake's waiter was woken before the TLS
        # layer passed on any request bytes, and asyncio runs wakeups in order.
        Connection.connection_made(self, secure)  # not ServerConnection's: that starts a second handshake task
        self.tls = True

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        if self._peek is not None:
            self._peek.close()
            self._peek = None
        self.agent.admission.leave(self)
        super().connection_lost(exc)

    def _deadline(self) -> float:
        limits = self.agent.services.settings.limits
        if self.request is None:
            return self._arrived + limits.header_deadline
        return self._arrived + limits.handshake_timeout

    async def handshake(self, *args: Any, **kwargs: Any) -> None:
        # Our own deadlines (websockets' open_timeout is one figure, fixed for the whole
        # handshake): the headers by header-timeout, the rest by handshake-timeout, and
        # the origin prompt lifts them while the user reads the question.
        try:
            async with asyncio.timeout_at(self._deadline()) as timeout:
                self._timeout = timeout
                await super().handshake(*args, **kwargs)
        except TimeoutError:
            if self.request is None:
                self.agent.flood_logs.late("a connection sent no request headers in time (header-timeout); dropped")
            else:
                self.agent.flood_logs.late("a handshake did not finish in time (handshake-timeout); dropped")
            raise  # websockets aborts the connection
        finally:
            self._timeout = None

    def extend_handshake(self, seconds: float) -> None:
        if self._timeout is not None and not self._timeout.expired():
            self._extended = True
            self._timeout.reschedule(asyncio.get_running_loop().time() + seconds)


def _finished(tasks: set[asyncio.Task[None]], slots: asyncio.Semaphore, task: asyncio.Task[None]) -> None:
    tasks.discard(task)
    slots.release()


class AgentServer:
    def __init__(self, services: Services, tracker: Tracker, ssl_context: ssl.SSLContext | None = None) -> None:
        #: what requests use; a reload replaces it, and every request looks it up when it
        #: starts (so connections opened before a reload use the new key stores)
        self.services = services
        #: every request of both endpoints registers here, so a graceful stop waits for it
        self.tracker = tracker
        #: wss when set (the locally trusted certificate of `tanba tls install`)
        self.ssl_context = ssl_context
        self.methods: Mapping[str, Method[Any, Any]] = table()
        #: who holds a connection slot (see the module docstring); limits as of now
        self.admission: Admission[TanbaConnection] = Admission(lambda: self.services.settings.limits)
        self.flood_logs = _FloodLogs()
        self.port = services.settings.port
        self._server: Server | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        settings = self.services.settings
        hosts: list[str] = [settings.host]
        if settings.ipv6 and "::1" not in hosts:
            hosts.append("::1")
        # With TLS, no ``ssl`` here: each connection's first byte says whether it speaks TLS
        # (TanbaConnection and :mod:`.sniff`), so TLS handshakes are in the books too.
        try:
            self._server = await serve(
                self._handle_connection,
                hosts,  # type: ignore[arg-type]  # passed through to loop.create_server
                settings.port,
                process_request=self._process_request,
                create_connection=type("TanbaConnection", (TanbaConnection,), {"agent": self}),
                compression=None,
                server_header=None,
                open_timeout=None,  # TanbaConnection.handshake applies our own
                max_size=settings.limits.max_message,
                max_queue=4,
                ping_interval=20,
                ping_timeout=20,
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise AgentStartError(
                    f"port {settings.port} on {settings.host} is already in use — is Tanba already running? "
                    "(`tanba doctor` tells; or choose another --port)"
                ) from exc
            raise AgentStartError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from exc
        sockets = self._server.sockets
        if sockets:
            self.port = sockets[0].getsockname()[1]

    @property
    def open_connections(self) -> int:
        """Upgraded WebSocket connections now counted against the caps."""
        return self.admission.open

    @property
    def pending_connections(self) -> int:
        """Connections accepted and not upgraded (or refused after the upgrade and closing)."""
        return self.admission.pending

    @property
    def scheme(self) -> str:
        return "wss" if self.ssl_context is not None else "ws"

    @property
    def addresses(self) -> list[tuple[str, int]]:
        assert self._server is not None
        return [sock.getsockname()[:2] for sock in self._server.sockets]

    def stop_listening(self) -> None:
        """Refuse new connections; the open ones go on (graceful shutdown)."""
        if self._server is not None:
            self._server.server.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    # -- before the upgrade ----------------------------------------------------------

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        assert isinstance(connection, TanbaConnection)
        # The Host check comes first, before routing: to a rebinding page (a foreign Host)
        # every path answers the same bare 403, so it cannot even map which paths exist.
        try:
            host = request.headers.get("Host")
            origins = request.headers.get_all("Origin")
            authorization = request.headers.get("Authorization")
        except MultipleValuesError:
            return self._forbid(connection, "repeated Host or Authorization header")
        if not is_loopback_host(host, self.port):
            return self._forbid(connection, f"Host {host!r} is not this agent")
        url = urlsplit(request.path)
        if url.path not in PATHS:
            return connection.respond(404, "Not Found\n")
        connection.route = url.path
        if connection.plain_on_tls:
            # No origin question, no service; the upgrade only lets the page read why (see
            # _handle_connection).
            return None
        if len(origins) > 1:
            return self._forbid(connection, "several Origin headers")
        connection.locale = self._locale(request, url.query)
        if not origins:
            # A local program: no browser would omit Origin on a WebSocket handshake.
            if not check_bearer(authorization, self.services.client_token):
                return self._forbid(connection, "local client without a valid token")
            connection.origin = None
            return None
        origin = normalize_origin(origins[0])
        if origin is None:
            return self._forbid(connection, f"Origin {origins[0]!r} is not a web origin")
        if self.services.origin_allowed(origin):
            self.services.prompts.admitted(origin)  # others' denials do not lock it out
            connection.origin = origin
            return None
        if await self._ask_origin(connection, origin):
            connection.origin = origin
            return None
        return self._forbid(connection, f"Origin {origin} not approved")

    async def _ask_origin(self, connection: TanbaConnection, origin: str) -> bool:
        services = self.services
        try:
            async with services.prompts.turn(origin):
                connection.extend_handshake(ORIGIN_PROMPT_TIMEOUT)
                decision = await self._ask_while_connected(connection, origin)
        except TanbaError as exc:  # busy, cooldown
            log.info("origin %s not asked: %s", origin, exc.detail)
            return False
        if decision is None or decision is OriginDecision.DENY:
            # A question the page walked away from (or nobody answered) counts as a denial:
            # else a page could flash questions forever without cooling down.
            services.prompts.denied(origin)
            return False
        services.prompts.approved(origin)
        if decision is OriginDecision.ALLOW_ALWAYS:
            try:
                services.origins.approve(origin)
            except OSError as exc:
                log.error("cannot save the approval of %s (%s): admitted this once, asked again next time", origin, exc)
        return True

    async def _ask_while_connected(self, connection: TanbaConnection, origin: str) -> OriginDecision | None:
        """The user's answer, or None when the page went away or nobody answered in time;
        either way the question is taken off the screen (rule 6)."""
        ask: asyncio.Future[OriginDecision] = asyncio.ensure_future(
            self.services.consent.ask_origin(origin, connection.locale)
        )
        gone: asyncio.Future[Any] = connection.connection_lost_waiter
        waiting: set[asyncio.Future[Any]] = {ask, gone}
        try:
            done, _ = await asyncio.wait(waiting, timeout=ORIGIN_PROMPT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the agent stops: the question goes too
            ask.cancel()
            raise
        if ask in done:
            return ask.result()
        ask.cancel()
        await asyncio.gather(ask, return_exceptions=True)
        log.info("origin %s: %s", origin, "the page went away" if gone in done else "the user did not answer")
        return None

    def _locale(self, request: Request, query: str) -> str:
        default = i18n.normalize(self.services.settings.locale)
        asked = parse_qs(query).get("locale")
        if asked:
            return i18n.normalize(asked[0], default)
        try:
            return i18n.negotiate(request.headers.get("Accept-Language"), default)
        except MultipleValuesError:
            return default

    @staticmethod
    def _forbid(connection: ServerConnection, why: str) -> Response:
        log.info("refused before upgrade: %s", why)
        return connection.respond(403, "Forbidden\n")

    # -- after the upgrade -----------------------------------------------------------

    async def _handle_connection(self, connection: ServerConnection) -> None:
        assert isinstance(connection, TanbaConnection)
        if connection.plain_on_tls:
            await self._refuse_plain(connection)
            return
        if not await self._admitted(connection):
            return
        if connection.route == "/":
            await serve_ncalayer(self, connection)
        else:
            await self._serve_native(connection)

    async def _admitted(self, connection: TanbaConnection) -> bool:
        """Count the upgraded connection as open, or close it (1013, the cap as reason)."""
        refusal = self.admission.upgrade(connection, connection.origin)
        if refusal is None:
            return True
        who = "a local program" if connection.origin is None else connection.origin
        self.flood_logs.over_cap[refusal.cap]("%s: %s; closing its new connection", who, refusal.reason)
        if connection.protocol.state is OPEN:
            # Pending until it is gone, first to be dropped for a newcomer; and not for long.
            connection.close_timeout = self.services.settings.limits.header_deadline
            await connection.close(TRY_AGAIN_LATER, refusal.reason)
        return False

    async def _refuse_plain(self, connection: TanbaConnection) -> None:
        """Close a plain WebSocket at a TLS agent with TLS_REQUIRED and the wss URL: a page
        reads the close, so a client whose wss attempt failed learns that the agent runs and
        its browser does not trust the certificate (a refused upgrade shows a page nothing)."""
        self.admission.refuse(connection)
        self.flood_logs.plain("a plain ws:// connection at this wss agent; closed with %d", TLS_REQUIRED)
        if connection.protocol.state is OPEN:
            connection.close_timeout = self.services.settings.limits.header_deadline
            await connection.close(TLS_REQUIRED, f"Tanba speaks wss here: wss://127.0.0.1:{self.port}{connection.route}")

    async def _serve_native(self, connection: TanbaConnection) -> None:
        slots = asyncio.Semaphore(self.services.settings.limits.max_in_flight)
        tasks: set[asyncio.Task[None]] = set()

        async def send(message: dict[str, Any]) -> None:
            try:
                await connection.send(codec.encode(message))
            except ConnectionClosed:
                pass

        endpoint = NativeEndpoint(lambda: self.services, self.methods, connection.origin, connection.locale, send)
        try:
            while True:
                if not await self._slot_or_gone(connection, slots):
                    break  # the page left while every slot was taken
                try:
                    kind, message = await connection.recv_message()
                except ConnectionClosed:
                    slots.release()
                    break
                task = asyncio.create_task(serve_one(self.tracker, endpoint, kind is Opcode.TEXT, message, send))
                memory.release_after(task, len(message))
                del message  # the task holds it; this loop must not while it waits for the next one
                tasks.add(task)
                task.add_done_callback(lambda t: _finished(tasks, slots, t))
        finally:
            # The page is gone: cancel what it asked for, which closes any open dialog.
            for task in list(tasks):
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    async def _slot_or_gone(connection: TanbaConnection, slots: asyncio.Semaphore) -> bool:
        """A request slot (True), or False once the connection is lost first: a page that
        leaves while its slots are full must still have its requests (and their dialogs)
        cancelled at once (rule 6), not when a slot frees."""
        if not slots.locked():
            await slots.acquire()
            return True
        acquire: asyncio.Future[Any] = asyncio.ensure_future(slots.acquire())
        gone: asyncio.Future[Any] = connection.connection_lost_waiter
        try:
            await asyncio.wait({acquire, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not acquire.done():
                acquire.cancel()
        if acquire.done() and not acquire.cancelled():
            if not gone.done():
                return True
            slots.release()
        return False
