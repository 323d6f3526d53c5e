"""The first byte of a connection, read without taking it: TLS or plain on one port.

With a local certificate installed the agent's port speaks TLS, and a plain connection to
it would otherwise fail inside the TLS handshake, looking to a page exactly like "nothing
listens here".  So the port takes both: each new connection's first byte is *peeked*
(``MSG_PEEK`` on a duplicate of its descriptor, watched while the transport does not read)
and the connection goes on as TLS (a handshake record, 0x16) or as plain HTTP, with every
byte still in the kernel's buffer for whichever reads it.  The plain side then answers a
WebSocket with a close the page can read ("this agent speaks wss"), which lets a client
tell "the browser does not trust the certificate" from "not running"
(:mod:`~tanba.agent.transport.server`).

Only public asyncio calls: the transport is paused (so it registers no reader) and the
duplicate descriptor, which no transport owns, is watched with ``add_reader``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

log = logging.getLogger(__name__)

#: the first byte of a TLS record carrying a handshake message (a ClientHello)
TLS_HANDSHAKE = 0x16


class FirstByte:
    """Watch ``transport`` until its first byte (or its end) is there, then call
    ``ready(first)`` once with that byte (``b""`` at end of stream or on an error), leaving
    the transport paused.  :meth:`close` stops watching (the connection went away first)."""

    def __init__(self, transport: asyncio.Transport, ready: Callable[[bytes], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._ready: Callable[[bytes], None] | None = ready
        sock = transport.get_extra_info("socket")
        transport.pause_reading()
        self._dup: socket.socket | None = socket.fromfd(sock.fileno(), sock.family, sock.type)
        self._dup.setblocking(False)
        self._loop.add_reader(self._dup.fileno(), self._readable)

    @property
    def watching(self) -> bool:
        return self._dup is not None

    def _readable(self) -> None:
        assert self._dup is not None
        try:
            first = self._dup.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return  # woken for nothing: wait on
        except OSError as exc:
            log.debug("peeking at a new connection: %s", exc)
            first = b""
        ready = self._ready
        self.close()
        if ready is not None:
            ready(first)

    def close(self) -> None:
        self._ready = None
        if self._dup is not None:
            self._loop.remove_reader(self._dup.fileno())
            self._dup.close()  # the duplicate only: the connection stays open
            self._dup = None


def is_tls(first: bytes) -> bool:
    return first[:1] == bytes([TLS_HANDSHAKE])
