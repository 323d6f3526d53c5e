"""Connection rules of both wires, without I/O.

The drivers in ``tanba.agent`` read frames and write answers; what a frame *means* for the
connection is decided here, by plain objects fed with what arrived, in the manner of
websockets' and h11's sans-I/O state machines:

* :class:`InFlight` — on ``/v1`` a request id names one open request: a second request
  with the same id while the first is in flight is refused.
* :class:`NcaLayerInbox` — on ``/``, answers carry no request id (``uuid`` is optional and
  most pages omit it), so a page pairs each answer with its oldest open request: requests
  are served one at a time, in arrival order; ``--heartbeat--`` is echoed at once, even
  while a request is being served; at most ``bound`` requests wait, one more is refused
  ``busy`` at once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from tanba.protocol.errors import Busy, InvalidRequest
from tanba.protocol.messages import RequestId
from tanba.protocol.ncalayer import HEARTBEAT

_HEARTBEAT = HEARTBEAT.encode("ascii")


class InFlight:
    """The request ids open on one ``/v1`` connection."""

    def __init__(self) -> None:
        self._ids: set[RequestId] = set()

    def claim(self, request_id: RequestId) -> None:
        if request_id in self._ids:
            raise InvalidRequest(f"request id {request_id!r} is already in flight")
        self._ids.add(request_id)

    def release(self, request_id: RequestId) -> None:
        self._ids.discard(request_id)

    def __len__(self) -> int:
        return len(self._ids)


@dataclass(frozen=True)
class Message:
    """A request frame waiting for its turn."""

    text: bool
    data: bytes


@dataclass(frozen=True)
class Echo:
    """Send ``text`` back at once (the heartbeat)."""

    text: str


@dataclass(frozen=True)
class Refuse:
    """Answer this frame at once with ``error``; it does not wait for a turn."""

    error: Busy


class NcaLayerInbox:
    """What NCALayer's ``/`` connection does with each frame, and whose turn it is."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self._waiting: deque[Message] = deque()
        self._serving = False

    def receive(self, text: bool, data: bytes) -> Echo | Refuse | None:
        """Take one frame; None means it waits for its turn (see :meth:`next`)."""
        if text and data == _HEARTBEAT:
            return Echo(HEARTBEAT)
        if len(self._waiting) >= self.bound:
            return Refuse(Busy("too many requests waiting"))
        self._waiting.append(Message(text, data))
        return None

    def next(self) -> Message | None:
        """The request whose turn it is, if no request is being served; it is then served
        until :meth:`done`."""
        if self._serving or not self._waiting:
            return None
        self._serving = True
        return self._waiting.popleft()

    def done(self) -> None:
        """The request being served was answered (or dropped): the next one may go."""
        self._serving = False

    @property
    def waiting(self) -> int:
        return len(self._waiting)
