"""The agent's one HTTP client (OCSP, CRLs, timestamps): one session for all of them, and
the bounds of one ``verify`` request's revocation fetching.

An aiohttp session costs a TLS context loaded with the system's CA bundle (about 19 ms of
CPU and a few MiB here).  Made per check, as pyhanko-certvalidator's lazy default does, it
was two thirds of a ``verify`` and, with 50 pages verifying at once, a few hundred MiB of
resident memory.  One session per event loop, kept for the agent's life, makes a check cost
its request only (and lets keep-alive connections to an OCSP responder be reused).

Every request (DESIGN.md, security rule 7) is made without following redirects (a 3xx is a
failed fetch: a responder cannot point the agent at another local or remote address), asks
for and accepts only an uncompressed body (``Content-Encoding`` other than ``identity`` is
refused, so nothing is ever inflated), reads at most ``max_bytes`` of it, keeps no cookies,
and names itself only ``tanba`` (no version, no library).

:class:`RequestFetches` holds what one ``verify`` request may spend: one deadline for all
its signers together, a number of network requests, and a cache: the same question to the
same URL is asked once, and a URL that failed is not asked again within the request.

aiohttp is imported on first use: the agent starts without it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, cast

if TYPE_CHECKING:
    import aiohttp

logger = logging.getLogger(__name__)

#: connections open at once to all responders together (aiohttp's default is 100)
MAX_CONNECTIONS = 32
#: what the agent calls itself to responders: no version, no library
USER_AGENT = "tanba"
#: body bounds: an OCSP response is a few KiB; national CAs' full CRLs run to megabytes
MAX_OCSP_BYTES = 256 * 1024
MAX_CRL_BYTES = 16 * 1024 * 1024
_CHUNK = 64 * 1024

T = TypeVar("T")


class FetchError(Exception):
    """A fetch gave nothing usable; the message says why (for the log), ``kind`` in a word
    for callers that phrase it for the user: ``timeout``, ``status``, ``unreachable``,
    ``refused`` (a redirect, an encoding, a size, a scheme)."""

    def __init__(self, message: str, kind: str = "refused") -> None:
        super().__init__(message)
        self.kind = kind


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The system's trust store (the administrator's), loaded once per process: for the
    rare OCSP responder or CRL server behind https."""
    return ssl.create_default_context()


class HttpClient:
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
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=_tls_context(), limit=MAX_CONNECTIONS),
                headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
            self._session, self._loop = session, loop
        return session

    async def fetch(
        self, url: str, *, accept: str, max_bytes: int, timeout: float, body: bytes | None = None,
        content_type: str | None = None,
    ) -> bytes:
        """GET ``url`` (POST ``body`` when given) and return the response body, or raise
        FetchError: not HTTP(S), no answer within ``timeout`` seconds, any status but 200
        (redirects included), a compressed body, or more than ``max_bytes``."""
        import aiohttp

        if not url.lower().startswith(("http://", "https://")):
            raise FetchError(f"not an http(s) URL: {url!r}")
        headers = {"Accept": accept}
        if content_type is not None:
            headers["Content-Type"] = content_type
        try:
            async with self.session().request(
                "POST" if body is not None else "GET", url, data=body, headers=headers,
                allow_redirects=False, auto_decompress=False, timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                _check_response(url, response, max_bytes)
                return await _read_bounded(url, response.content, max_bytes)
        except TimeoutError as exc:
            raise FetchError(f"{url}: no answer within {timeout:.1f}s", "timeout") from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}", "unreachable") from exc

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


def _check_response(url: str, response: aiohttp.ClientResponse, max_bytes: int) -> None:
    """Refuse anything but a plain 200 of at most ``max_bytes`` (by its announcement)."""
    status = response.status
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        raise FetchError(f"{url} redirects (HTTP {status}) to {location[:200]!r}: not followed")
    if status != 200:
        raise FetchError(f"{url} answered HTTP {status}", "status")
    encoding = response.headers.get("Content-Encoding")
    if encoding is not None and encoding.strip().lower() not in ("", "identity"):
        raise FetchError(f"{url} sent a {encoding[:40]!r}-encoded body; only identity is accepted")
    length = response.content_length
    if length is not None and length > max_bytes:
        raise FetchError(f"{url} announced {length} bytes, more than {max_bytes}")


async def _read_bounded(url: str, stream: aiohttp.StreamReader, max_bytes: int) -> bytes:
    body = bytearray()
    while chunk := await stream.read(_CHUNK):
        body += chunk
        if len(body) > max_bytes:
            raise FetchError(f"{url} sent more than {max_bytes} bytes")
    return bytes(body)


@dataclass(frozen=True)
class _Outcome:
    """A finished fetch: a value, or why there is none (no exception is kept: an exception
    holds its traceback, the traceback the frames, and the frames a request's data)."""

    value: object = None
    error: str | None = None


class RequestFetches:
    """The revocation fetching of one ``verify`` request.

    ``budget`` seconds from now for all its signers together (:attr:`deadline`, in event-loop
    time), at most ``max_fetches`` network requests, each no longer than ``per_fetch``
    seconds.  :meth:`once` runs a fetch under these bounds and remembers its outcome under
    a key: a second signer asking the same thing (a CRL URL; an OCSP URL about the same
    certificate) gets the first answer, also while the first is still on its way, and a URL
    that failed fails at once for the rest of the request.  Nothing here makes a task.
    """

    def __init__(self, http: HttpClient, *, budget: float, per_fetch: float, max_fetches: int) -> None:
        self.http = http
        self.per_fetch = per_fetch
        self.max_fetches = max_fetches
        self._loop = asyncio.get_running_loop()
        self.deadline = self._loop.time() + budget
        self._done: dict[Hashable, _Outcome] = {}
        self._pending: dict[Hashable, asyncio.Future[_Outcome]] = {}
        self._failed_urls: set[str] = set()
        self.fetches = 0

    def release(self) -> None:
        """The request is over: drop what it fetched (a CRL may be megabytes), whoever
        still holds this object."""
        self._done.clear()
        self._failed_urls.clear()

    def remaining(self) -> float:
        """Seconds left of the budget (0 when spent)."""
        return max(0.0, self.deadline - self._loop.time())

    async def once(self, key: Hashable, url: str, fetch: Callable[[float], Awaitable[T]]) -> T:
        """``fetch(timeout)``'s value, fetched at most once per key in this request; raises
        FetchError when it failed (now or earlier), the budget is spent, or the request has
        made its ``max_fetches``.  ``fetch`` raises FetchError for what it cannot use."""
        outcome = self._done.get(key)
        if outcome is None:
            pending = self._pending.get(key)
            # shield: a waiter that is cancelled must not cancel the fetch it shares
            outcome = await asyncio.shield(pending) if pending is not None else await self._run(key, url, fetch)
        if outcome.error is not None:
            raise FetchError(outcome.error)
        return cast(T, outcome.value)

    async def _run(self, key: Hashable, url: str, fetch: Callable[[float], Awaitable[T]]) -> _Outcome:
        waiters: asyncio.Future[_Outcome] = self._loop.create_future()
        self._pending[key] = waiters
        outcome = _Outcome(error=f"{url}: the fetch was cancelled")
        try:
            outcome = await self._attempt(url, fetch)
            self._done[key] = outcome
            if outcome.error is not None:
                self._failed_urls.add(url)
            return outcome
        finally:
            del self._pending[key]
            waiters.set_result(outcome)  # a result, never an exception: nothing to retrieve

    async def _attempt(self, url: str, fetch: Callable[[float], Awaitable[T]]) -> _Outcome:
        if url in self._failed_urls:
            return _Outcome(error=f"{url} failed earlier in this request")
        remaining = self.remaining()
        if remaining <= 0:
            return _Outcome(error=f"{url}: the request's revocation time is spent")
        if self.fetches >= self.max_fetches:
            return _Outcome(error=f"{url}: the request made its {self.max_fetches} fetches")
        self.fetches += 1
        try:
            return _Outcome(value=await fetch(min(self.per_fetch, remaining)))
        except FetchError as exc:
            logger.info("revocation fetch failed: %s", exc)
            return _Outcome(error=str(exc))
