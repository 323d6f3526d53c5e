"""One request pipeline for both endpoints.

A WebSocket message becomes an answer the same way on ``/v1`` and on NCALayer's ``/``:

    endpoint.decode(kind, message) → Call   (or a ready error answer)
    serve_one: tracked → call.run() → call.render(result) → send
               TanbaError / anything else → call.render_error(error) → send

What differs between the wires — how a message is parsed, how a result and an error look,
which request ids are in flight — lives in the endpoint (:mod:`tanba.agent.transport.native`,
:mod:`tanba.agent.ncalayer.session`).  What is the same — the graceful-stop tracking, the
``internal`` logging, that cancellation passes through and nothing else escapes — is
written once, here.  Services are looked up when a request starts (``services()``), so a
request after a reload uses the reloaded key stores whatever connection it came on.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from tanba.agent.transport.tracker import Tracker
from tanba.protocol.errors import InternalError, TanbaError

log = logging.getLogger(__name__)

R = TypeVar("R")
Answer = dict[str, Any]
Send = Callable[[Answer], Awaitable[None]]


class Call(ABC, Generic[R]):
    """One decoded request of some endpoint."""

    @abstractmethod
    async def run(self) -> R:
        """Do what the request asks (through the handlers); raise a TanbaError to refuse."""

    @abstractmethod
    def render(self, result: R) -> Answer:
        """The wire answer for a result."""

    @abstractmethod
    def render_error(self, error: TanbaError) -> Answer:
        """The wire answer for a failure (``internal`` carries no detail)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Called once the request is over, answered or not (e.g. its id is free again)."""


class Endpoint(ABC):
    """How one wire reads a message; the connection drivers hand every message here."""

    @abstractmethod
    def decode(self, text: bool, message: bytes) -> Call[Any] | Answer:
        """A call to run, or — when the message cannot be a request — the error answer."""


def log_error(error: TanbaError) -> None:
    """``internal`` errors go to the log with their cause; other reasons are the caller's."""
    if error.reason == "internal":
        log.error("internal error: %s", error.detail, exc_info=error.__cause__ is not None)


async def serve_one(tracker: Tracker, endpoint: Endpoint, text: bool, message: bytes, send: Send) -> None:
    """Answer one message.  The tracked span covers the run and the sending of the
    answer, so a graceful stop waits until a result is on the wire, not just computed."""
    call = endpoint.decode(text, message)
    del message  # the call holds what it needs
    if not isinstance(call, Call):
        await send(call)
        return
    try:
        async with tracker.request():
            answer = call.render(await call.run())
            await send(answer)
            return
    except asyncio.CancelledError:
        raise
    except TanbaError as exc:
        log_error(exc)
        answer = call.render_error(exc)
    except Exception:
        log.exception("unexpected error serving a request")
        answer = call.render_error(InternalError("unexpected"))
    finally:
        call.close()
    await send(answer)
