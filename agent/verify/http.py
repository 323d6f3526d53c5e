"""The HTTP client of revocation checks: one session for all of them.

An aiohttp session costs a TLS context loaded with the system's CA bundle (about 19 ms of
CPU and a few MiB here).  Made per check, as pyhanko-certvalidator's lazy default does, it
was two thirds of a ``verify`` and, with 50 pages verifying at once, a few hundred MiB of
resident memory.  One session per event loop, kept for the agent's life, makes a check cost
its request only (and lets keep-alive connections to an OCSP responder be reused).

aiohttp is imported on first use: the agent starts without it.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp

#: connections open at once to all responders together (aiohttp's default is 100)
MAX_CONNECTIONS = 32


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The system's trust store (the administrator's), loaded once per process: for the
    rare OCSP responder or CRL server behind https."""
    return ssl.create_default_context()


class RevocationHttp:
    """A lazily made aiohttp session bound to the running event loop."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def session(self) -> aiohttp.ClientSession:
        """The session of the running loop (made on first use, or again after a close or
        when called from another loop: a session belongs to the loop that made it)."""
        import aiohttp

        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or self._loop is not loop:
            if session is not None and not session.closed:
                # Its loop has ended (a second asyncio.run in one program); it cannot be
                # closed from here, and it holds no connection that loop could still use.
                session.detach()
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_tls_context(), limit=MAX_CONNECTIONS))
            self._session, self._loop = session, loop
        return session

    async def aclose(self) -> None:
        """Close the session (when it belongs to the running loop); a later check makes a
        new one."""
        session, loop = self._session, self._loop
        self._session = self._loop = None
        if session is None or session.closed:
            return
        if loop is asyncio.get_running_loop():
            await session.close()
        else:
            session.detach()
