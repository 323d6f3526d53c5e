"""One ``/`` connection: greeting, heartbeat echo, then requests answered in order.

NCALayer answers carry no request id (``uuid`` is optional and most pages omit it), so a
page pairs each answer with its oldest open request.  The session therefore answers
requests one at a time, in the order they came, while the reader keeps reading: it echoes
``--heartbeat--`` even while a dialog is open, and it notices the page going away.  At most
``limits.max_in_flight`` requests wait; one more is answered ``busy`` at once.  When the
connection closes, the request being served is cancelled, which closes its dialog.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed
from websockets.frames import Opcode

from tanba.agent import memory
from tanba.agent.dispatch import RequestContext
from tanba.protocol import codec, ncalayer
from tanba.protocol.errors import Busy, InternalError, InvalidRequest, TanbaError

if TYPE_CHECKING:
    from tanba.agent.server import AgentServer, TanbaConnection

log = logging.getLogger(__name__)

_HEARTBEAT = ncalayer.HEARTBEAT.encode("ascii")


async def _no_notifications(method: str, params: dict[str, Any]) -> None:
    """NCALayer's wire has no progress notifications."""


class Session:
    def __init__(self, agent: AgentServer, connection: TanbaConnection) -> None:
        self.agent = agent
        self.services = agent.services
        self.connection = connection
        #: language of answers and dialogs; changeLocale and basics' locale change it
        self.locale = connection.locale
        self._ids = itertools.count(1)
        limits = self.services.settings.limits
        self._queue: asyncio.Queue[tuple[Opcode, bytes]] = asyncio.Queue(maxsize=limits.max_in_flight)

    def context(self, method: str, locale: str | None = None) -> RequestContext:
        """A native request context for one NCALayer request (``method`` names it in the audit log)."""
        return RequestContext(
            self.services,
            self.connection.origin,
            locale or self.locale,
            f"ncalayer-{next(self._ids)}",
            _no_notifications,
            method,
        )

    async def send(self, answer: dict[str, Any]) -> None:
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
                if kind is Opcode.TEXT and message == _HEARTBEAT:
                    await self._send_text(ncalayer.HEARTBEAT)
                    continue
                try:
                    self._queue.put_nowait((kind, message))
                except asyncio.QueueFull:
                    log.info("NCALayer session: %d requests waiting; one more refused", self._queue.qsize())
                    await self.send(ncalayer.common_error(Busy("too many requests waiting"), self.locale))
        finally:
            # The page is gone: cancel what it asked for, which closes any open dialog.
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            kind, message = await self._queue.get()
            # Each request is a task of its own, as on /v1: the agent's tracker follows it
            # until its answer is sent and forgets it then.  (Tracked as part of this
            # long-lived loop, every request left a callback behind, and a stop waited
            # for an idle page's loop.)  Cancelling this loop cancels the request too.
            serving = asyncio.create_task(self._serve(kind, message))
            memory.release_after(serving, len(message))
            del message  # held by the task only, so that it is gone when the task is
            await serving

    async def _serve(self, kind: Opcode, message: bytes) -> None:
        await self.send(await self.answer(kind, message))

    async def answer(self, kind: Opcode, message: bytes) -> dict[str, Any]:
        """The answer to one message; never raises (but for cancellation)."""
        from tanba.agent.ncalayer import basics, commonutils

        try:
            if kind is not Opcode.TEXT:
                raise InvalidRequest("binary frames are not accepted: send JSON as text")
            envelope = ncalayer.parse_envelope(codec.decode(message, self.services.settings.limits))
        except TanbaError as exc:
            log.info("NCALayer session: unreadable message: %s", exc.detail)
            return ncalayer.common_error(exc, self.locale)
        module = envelope.module
        log.info("NCALayer request %.80s / %.80s", module, envelope.method)
        tracker = self.agent.tracker
        try:
            async with tracker.request() if tracker is not None else contextlib.nullcontext():
                if module == ncalayer.COMMON_UTILS:
                    return await commonutils.handle(self, envelope)
                if module == ncalayer.BASICS:
                    return await basics.handle(self, envelope)
        except asyncio.CancelledError:
            raise
        except TanbaError as exc:  # busy while the agent stops
            if module == ncalayer.BASICS:
                return ncalayer.basics_error(exc, self.locale)
            return ncalayer.common_error(exc, self.locale, envelope.uuid)
        except Exception:
            log.exception("unexpected error serving an NCALayer request")
            error = InternalError("unexpected")
            if module == ncalayer.BASICS:
                return ncalayer.basics_error(error, self.locale)
            return ncalayer.common_error(error, self.locale, envelope.uuid)
        return ncalayer.module_not_found()


async def serve(agent: AgentServer, connection: TanbaConnection) -> None:
    """Run one ``/`` connection until it closes."""
    await Session(agent, connection).run()
