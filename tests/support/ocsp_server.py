"""The test PKI's OCSP responder and CRL server, with failure modes for the tests.

The responder itself is the one ``tanba demo`` runs (:mod:`tanba.agent.setup.revocation`:
real OCSP answers from the manifest, the intermediate's CRL, on the port the certificates
name).  This subclass adds what only tests want.

Each endpoint can be switched to misbehave (``ocsp_mode`` / ``crl_mode``):
``ok``; ``down`` (HTTP 503); ``drop`` (connection closed without an answer);
``hang`` (never answers until the mode changes or the server stops); ``garbage``
(HTTP 200 with bytes that are not DER); ``redirect`` (HTTP 302 to :attr:`redirect_to`,
by default this server's ``/admin/delete?all=1``); ``gzip_bomb`` (HTTP 200,
``Content-Encoding: gzip``, :data:`BOMB_SIZE` zero bytes squeezed into about a
thousandth of that); ``huge`` (HTTP 200 with :data:`HUGE_SIZE` plain bytes and no
``Content-Length``: only a reader's own bound stops it).

Every request is recorded in :attr:`RevocationServer.requests` (method, path, User-Agent);
``hits`` counts them per endpoint (``ocsp``, ``crl``, and ``other`` for any other path, such
as a redirect target).
"""

from __future__ import annotations

import atexit
import functools
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from tanba.agent.setup import revocation
from tanba.agent.setup.revocation import RevocationHandler
from tanba.agent.setup.testpki import Manifest

Mode = Literal["ok", "down", "drop", "hang", "garbage", "redirect", "gzip_bomb", "huge"]
GARBAGE = b"\x00this is not an OCSP response or a CRL\xff" * 4
#: what the ``gzip_bomb`` body inflates to, and the size of a ``huge`` body
BOMB_SIZE = 256 * 1024 * 1024
HUGE_SIZE = 128 * 1024 * 1024
_MIB = 1024 * 1024


@functools.cache
def gzip_bomb() -> bytes:
    """BOMB_SIZE zero bytes, gzip-compressed (made once, about 250 KiB)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    zeros = bytes(_MIB)
    return b"".join(squeeze.compress(zeros) for _ in range(BOMB_SIZE // _MIB)) + squeeze.flush()


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    method: str
    path: str
    user_agent: str | None


class RevocationServer(revocation.RevocationServer):
    """The package's responder, recording requests and able to misbehave; start(), switch
    modes, stop()."""

    def __init__(self, manifest: Manifest) -> None:
        super().__init__(manifest)
        self.ocsp_mode: Mode = "ok"
        self.crl_mode: Mode = "ok"
        self.hits: Counter[str] = Counter()  # "ocsp" / "crl" / "other" -> requests received
        self.requests: list[Seen] = []
        self.lock = threading.Lock()  # handler threads count at the same time
        self.redirect_to = f"http://{self.host}:{self.port}/admin/delete?all=1"
        self._release = threading.Event()  # set to free "hang" handlers

    def stop(self) -> None:
        self._release.set()
        super().stop()

    def reset(self) -> None:
        """Back to answering normally; frees handlers stuck in ``hang``."""
        self._release.set()
        self._release = threading.Event()
        self.ocsp_mode = self.crl_mode = "ok"
        self.hits.clear()
        self.requests.clear()
        self.redirect_to = f"http://{self.host}:{self.port}/admin/delete?all=1"

    @contextmanager
    def modes(self, *, ocsp: Mode = "ok", crl: Mode = "ok") -> Iterator[RevocationServer]:
        self.ocsp_mode, self.crl_mode = ocsp, crl
        try:
            yield self
        finally:
            self.reset()

    def wait_released(self, timeout: float) -> None:
        self._release.wait(timeout)

    # -- the package server's hooks ----------------------------------------------------

    def seen(self, handler: RevocationHandler, endpoint: str) -> None:
        with self.lock:
            self.requests.append(Seen(handler.command, handler.path, handler.headers.get("User-Agent")))
            self.hits[endpoint] += 1

    def intercept(self, handler: RevocationHandler, endpoint: str) -> bool:
        """Act out the endpoint's failure mode; True when the request has been dealt with."""
        mode = self.ocsp_mode if endpoint == "ocsp" else self.crl_mode
        if mode == "ok":
            return False
        if mode == "down":
            handler.send_error(503, "responder down")
        elif mode == "drop":
            handler.close_connection = True
            handler.connection.close()
        elif mode == "hang":
            self.wait_released(60.0)
            handler.close_connection = True
        elif mode == "garbage":
            handler.send_body(200, "application/octet-stream", GARBAGE)
        elif mode == "redirect":
            handler.send_response(302)
            handler.send_header("Location", self.redirect_to)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        elif mode == "gzip_bomb":
            handler.send_body(200, "application/octet-stream", gzip_bomb(), encoding="gzip")
        elif mode == "huge":
            _send_huge(handler)
        return True


def _send_huge(handler: RevocationHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.end_headers()  # no Content-Length: the body ends when the connection does
    zeros = bytes(_MIB)
    try:
        for _ in range(HUGE_SIZE // _MIB):
            handler.wfile.write(zeros)
    except OSError:  # the client stopped reading and hung up: what it should do
        handler.close_connection = True


_shared: RevocationServer | None = None


def shared_server(manifest: Manifest) -> RevocationServer:
    """The one running server of this test process for its PKI, started on first use.

    Test modules wrap it in a fixture that calls :meth:`RevocationServer.reset` around
    each test; a new manifest (another PKI) replaces the running server.
    """
    global _shared
    if _shared is not None and _shared.crl_der != RevocationServer(manifest).crl_der:
        _shared.stop()
        _shared = None
    if _shared is None:
        _shared = RevocationServer(manifest)
        _shared.start()
        atexit.register(_shared.stop)
    return _shared
