"""Admission: which connections the agent keeps, so that an honest page is always served
(DESIGN.md rule 7; issue 18).

Two budgets, kept apart so that neither can starve the other:

* **pending** — connections accepted but not yet upgraded (``max-pending``).  They have a
  short deadline for their request headers (``header-timeout``, see
  :class:`~tanba.agent.transport.server.TanbaConnection`).  When the budget is full, a
  newcomer is not refused: the oldest connection that is still of no use to anyone is
  dropped instead — first one being closed after a refused upgrade, else the oldest still
  waiting for its headers.  A connection whose headers are in (its Host and Origin being
  checked, its user being asked about its origin) is never dropped for a newcomer.  A flood
  of silent or stalled sockets therefore only ever pushes out its own oldest members, and
  a client that sends its request at once — every browser does — gets through.
* **open** — upgraded WebSockets, counted per origin (``max-per-origin``; local programs
  without an ``Origin`` share one bucket, ``max-local-programs``) under the global cap
  (``max-connections``).  One page or program cannot take every slot.  Over a cap the
  connection is upgraded and then closed with 1013 (try again later) and a reason naming
  the cap, which a page can read (a refused HTTP upgrade shows a page nothing).

The books are kept here, without sockets: the server tells :class:`Admission` what
happens to each connection (:meth:`~Admission.arrive`, :meth:`~Admission.headers`,
:meth:`~Admission.upgrade`, :meth:`~Admission.leave`) and drops the connections it
names.  Every connection enters in ``arrive`` (asyncio's ``connection_made``) and leaves
in ``leave`` (``connection_lost``, called exactly once for every connection that was
made, whatever ends it); ``leave`` is idempotent, so a connection dropped here and then
lost is not taken off twice.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from tanba.protocol.limits import Limits

C = TypeVar("C", bound=Hashable)

#: the close code for a connection over a cap: "try again later" (IANA WebSocket close code registry)
TRY_AGAIN_LATER: Final = 1013
#: the close code for a plain ws:// WebSocket at an agent that speaks wss (4000-4999 are
#: the application's; 4426 after HTTP's 426 Upgrade Required)
TLS_REQUIRED: Final = 4426
#: the caps on open connections, by their keys in ``[limits]``, with what the page reads
CAPS: Final = {
    "max-per-origin": "too many connections from this origin",
    "max-local-programs": "too many connections from local programs",
    "max-connections": "too many connections",
}


class Stage(enum.Enum):
    WAITING = "waiting for its request headers"
    WORKING = "handshake under way"
    CLOSING = "refused after the upgrade, closing"
    OPEN = "open"


@dataclass(frozen=True)
class Refusal:
    """An upgraded connection over a cap: ``cap`` is its key in ``[limits]``."""

    cap: str
    limit: int

    @property
    def reason(self) -> str:
        """The WebSocket close reason the page reads (ASCII, well under 123 bytes)."""
        return f"{CAPS[self.cap]} ({self.cap} = {self.limit})"


class Admission(Generic[C]):
    """The pending and open books of one server; ``limits`` is read at every decision,
    so a reload's new limits apply to the next connection."""

    def __init__(self, limits: Callable[[], Limits]) -> None:
        self._limits = limits
        # Arrival order is dict order: the first key is the oldest.
        self._waiting: dict[C, None] = {}
        self._working: dict[C, None] = {}
        self._closing: dict[C, None] = {}
        self._open: dict[C, str | None] = {}  # connection -> its bucket (origin; None for local programs)
        self._buckets: dict[str | None, int] = {}

    # -- what happens to a connection ----------------------------------------------

    def arrive(self, conn: C) -> list[C]:
        """A new connection; returns the connections to drop to keep the pending budget
        (possibly ``conn`` itself, when every pending one is being worked on).  Those
        returned are off the books already."""
        self._waiting[conn] = None
        dropped: list[C] = []
        budget = self._limits().max_pending
        while self.pending > budget:
            # The newcomer is the newest waiting one: it goes only when nothing else can.
            victims = self._closing or self._waiting
            if not victims:
                break  # only handshakes under way, and the newcomer is gone already
            victim = next(iter(victims))
            del victims[victim]
            dropped.append(victim)
        return dropped

    def headers(self, conn: C) -> None:
        """The request headers are in: the connection is no longer dropped for a newcomer."""
        if conn in self._waiting:
            del self._waiting[conn]
            self._working[conn] = None

    def upgrade(self, conn: C, origin: str | None) -> Refusal | None:
        """The upgrade is done: count ``conn`` as open, or return the cap it is over (the
        caller then closes it; until then it stays pending, first to go for a newcomer)."""
        limits = self._limits()
        known = conn in self._working or conn in self._waiting
        self._working.pop(conn, None)
        self._waiting.pop(conn, None)
        if not known:  # dropped on its way (or never made): close it, count nothing
            return Refusal("max-connections", limits.max_connections)
        if origin is None:
            cap, limit = "max-local-programs", limits.max_local_programs
        else:
            cap, limit = "max-per-origin", limits.max_per_origin
        if self._buckets.get(origin, 0) >= limit:
            refusal = Refusal(cap, limit)
        elif len(self._open) >= limits.max_connections:
            refusal = Refusal("max-connections", limits.max_connections)
        else:
            self._open[conn] = origin
            self._buckets[origin] = self._buckets.get(origin, 0) + 1
            return None
        self._closing[conn] = None
        return refusal

    def refuse(self, conn: C) -> None:
        """The upgrade is done only to close ``conn`` (it is served nothing): pending until
        it is gone, first to go for a newcomer, never counted as open."""
        known = conn in self._working or conn in self._waiting
        self._working.pop(conn, None)
        self._waiting.pop(conn, None)
        if known:
            self._closing[conn] = None

    def leave(self, conn: C) -> None:
        """The connection is gone (or dropped): off every book.  Idempotent."""
        self._waiting.pop(conn, None)
        self._working.pop(conn, None)
        self._closing.pop(conn, None)
        if conn in self._open:
            bucket = self._open.pop(conn)
            left = self._buckets[bucket] - 1
            if left:
                self._buckets[bucket] = left
            else:
                del self._buckets[bucket]

    # -- what the books say ------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Connections accepted and not (or no longer) counted as open."""
        return len(self._waiting) + len(self._working) + len(self._closing)

    @property
    def open(self) -> int:
        return len(self._open)

    def open_by_origin(self) -> dict[str | None, int]:
        """Open connections per origin (``None``: local programs); empty when none is open."""
        return dict(self._buckets)

    def stage(self, conn: C) -> Stage | None:
        for stage, book in (
            (Stage.WAITING, self._waiting),
            (Stage.WORKING, self._working),
            (Stage.CLOSING, self._closing),
        ):
            if conn in book:
                return stage
        return Stage.OPEN if conn in self._open else None


class Throttled:
    """A log line a flood would repeat: written at once the first time, then at most once
    per ``interval`` seconds, saying how many were held back in between."""

    def __init__(
        self, logger: logging.Logger, level: int, interval: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.logger, self.level, self.interval, self.clock = logger, level, interval, clock
        self._next = float("-inf")
        self._held = 0

    def __call__(self, message: str, *args: object) -> None:
        now = self.clock()
        if now < self._next:
            self._held += 1
            return
        if self._held:
            message += " (and %d more like it in the last %.0f s)"
            args = (*args, self._held, self.interval)
        self.logger.log(self.level, message, *args, stacklevel=2)
        self._held = 0
        self._next = now + self.interval
