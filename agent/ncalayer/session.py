"""One ``/`` connection: greeting, heartbeat echo, then requests answered in order.

The connection rules (heartbeat, one request at a time in arrival order, the bound on
waiting requests) are :class:`~tanba.protocol.connection.NcaLayerInbox`'s; this module
drives it — the reader keeps reading while a request is served, so the heartbeat is echoed
even while a dialog is open and the page going away is noticed — and is the endpoint that
turns an NCALayer envelope into a call of :mod:`~tanba.agent.ncalayer.commonutils` or
:mod:`~tanba.agent.ncalayer.basics`.  When the connection closes, the request being served
is cancelled, which closes its dialog.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed
from websockets.frames import Opcode

from tanba.agent.dispatch import RequestContext
from tanba.agent.handlers import ncalayer_handler
from tanba.agent.services import Services
from tanba.agent.transport import memory
from tanba.agent.transport.pipeline import Answer, Call, Endpoint, serve_one
from tanba.protocol import codec, ncalayer
from tanba.protocol.connection import Echo, NcaLayerInbox, Refuse
from tanba.protocol.errors import InvalidRequest, TanbaError

if TYPE_CHECKING:
    from tanba.agent.transport.server import AgentServer, TanbaConnection

log = logging.getLogger(__name__)


async def _no_notifications(method: str, params: dict[str, Any]) -> None:
    """NCALayer's wire has no progress notifications."""


class Session(Endpoint):
    """The NCALayer endpoint of one connection: what commonUtils and basics handlers see."""

    def __init__(self, services: Callable[[], Services], origin: str | None, locale: str) -> None:
        self._services = services
        self.origin = origin
        #: language of answers and dialogs; changeLocale and basics' locale change it
        self.locale = locale
        self._ids = itertools.count(1)

    @property
    def services(self) -> Services:
        """The agent's services now (after a reload: the new ones)."""
        return self._services()

    def context(self, method: str, locale: str | None = None) -> RequestContext:
        """A native request context for one NCALayer request (``method`` names it in the audit log)."""
        return RequestContext(
            self.services, self.origin, locale or self.locale, f"ncalayer-{next(self._ids)}", _no_notifications, method
        )

    def decode(self, text: bool, message: bytes) -> NcaLayerCall | Answer:
        try:
            if not text:
                raise InvalidRequest("binary frames are not accepted: send JSON as text")
            envelope = ncalayer.parse_envelope(codec.decode(message, self.services.settings.limits))
        except TanbaError as exc:
            log.info("NCALayer session: unreadable message: %s", exc.detail)
            return ncalayer.common_error(exc, self.locale)
        log.info("NCALayer request %.80s / %.80s", envelope.module, envelope.method)
        return NcaLayerCall(self, envelope)


@dataclass
class NcaLayerCall(Call[Answer]):
    session: Session
    envelope: ncalayer.Envelope

    async def run(self) -> Answer:
        handle = ncalayer_handler(self.envelope.module)
        if handle is None:
            return ncalayer.module_not_found()
        return await handle(self.session, self.envelope)

    def render(self, result: Answer) -> Answer:
        return result  # the module handlers answer in their own shapes

    def render_error(self, error: TanbaError) -> Answer:
        if self.envelope.module == ncalayer.BASICS:
            return ncalayer.basics_error(error, self.session.locale)
        return ncalayer.common_error(error, self.session.locale, self.envelope.uuid)


class _Driver:
    """Reads frames into the inbox and serves its requests one after another."""

    def __init__(self, agent: AgentServer, connection: TanbaConnection) -> None:
        self.agent = agent
        self.connection = connection
        self.session = Session(lambda: agent.services, connection.origin, connection.locale)
        self.inbox = NcaLayerInbox(agent.services.settings.limits.max_in_flight)
        self._wake = asyncio.Event()

    async def send(self, answer: Answer) -> None:
        await self._send_text(codec.encode(answer))

    async def _send_text(self, text: str) -> None:
        try:
            await self.connection.send(text)
        except ConnectionClosed:
            pass

    async def run(self) -> None:
        await self.send(ncalayer.greeting())
        worker = asyncio.create_task(self._work())
        try:
            while True:
                try:
                    kind, message = await self.connection.recv_message()
                except ConnectionClosed:
                    break
                event = self.inbox.receive(kind is Opcode.TEXT, message)
                del message
                if isinstance(event, Echo):
                    await self._send_text(event.text)
                elif isinstance(event, Refuse):
                    log.info("NCALayer session: %d requests waiting; one more refused", self.inbox.waiting)
                    await self.send(ncalayer.common_error(event.error, self.session.locale))
                else:
                    self._wake.set()
        finally:
            # The page is gone: cancel what it asked for, which closes any open dialog.
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while (message := self.inbox.next()) is not None:
                # Each request is a task of its own, as on /v1: the agent's tracker follows
                # it until its answer is sent and forgets it then.  Cancelling this loop
                # cancels the request too.
                serving = asyncio.create_task(
                    serve_one(self.agent.tracker, self.session, message.text, message.data, self.send)
                )
                memory.release_after(serving, len(message.data))
                del message  # held by the task only, so that it is gone when the task is
                try:
                    await serving
                finally:
                    self.inbox.done()


async def serve(agent: AgentServer, connection: TanbaConnection) -> None:
    """Run one ``/`` connection until it closes."""
    await _Driver(agent, connection).run()
