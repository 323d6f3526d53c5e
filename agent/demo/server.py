"""The demo portal's web server: the page, the JS client, and a back end for ``auth``.

A deliberately small HTTP/1.1 server on asyncio (one request per connection, bodies up to
64 KiB), because the demo must run wherever Tanba runs without another web framework.
Routes:

``GET /`` ``/demo.js`` ``/demo.css``  the page (package data in ``static/``)
``GET /messages.json``                the page's texts in ru, kk and en (problem codes as sentences too)
``GET /favicon.svg`` (``/favicon.ico``) its icon
``GET /tanba.js``                     the JS client (``clients/js/tanba.js``)
``GET /config.json``                  ``{agentUrl, origin, locale}`` for the page; ``locale`` is the
                                      request's Accept-Language pick among ru/kk/en, or null
``POST /api/challenge``               ``{challenge}``: 32 random bytes, base64 (44 chars), single use, 5 min
``POST /api/auth``                    ``{challenge, token}`` → the checked identity (see :mod:`.webeid`)
``POST /api/certificate``             ``{pem}`` → owner, IIN/BIN, issuer, validity (for showing results)

The page is served with a Content-Security-Policy that lets it reach only itself and the
agent's port.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509

from tanba.agent.verify.token import TokenError, describe, verify_token
from tanba.agent.verify.chain import ChainValidator
from tanba.protocol import i18n

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/demo.js": ("demo.js", "text/javascript; charset=utf-8"),
    "/demo.css": ("demo.css", "text/css; charset=utf-8"),
    "/tanba.js": ("tanba.js", "text/javascript; charset=utf-8"),
    "/messages.json": ("messages.json", "application/json; charset=utf-8"),
    "/favicon.svg": ("favicon.svg", "image/svg+xml"),
    "/favicon.ico": ("favicon.svg", "image/svg+xml"),  # what a browser asks for unbidden
}
MAX_BODY = 64 * 1024
MAX_HEAD = 16 * 1024
CHALLENGE_TTL = 300.0
MAX_CHALLENGES = 1000
_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            413: "Payload Too Large", 500: "Internal Server Error"}


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Challenges:
    """Challenges issued and not yet used; each is accepted once, within its lifetime."""

    ttl: float = CHALLENGE_TTL
    _issued: dict[str, float] = field(default_factory=dict)

    def issue(self) -> str:
        now = time.monotonic()
        for old in [c for c, t in self._issued.items() if t < now]:
            del self._issued[old]
        if len(self._issued) >= MAX_CHALLENGES:
            self._issued.pop(next(iter(self._issued)))
        challenge = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        self._issued[challenge] = now + self.ttl
        return challenge

    def take(self, challenge: str) -> bool:
        expires = self._issued.pop(challenge, None)
        return expires is not None and expires >= time.monotonic()


class DemoServer:
    """Serves the demo portal on ``origin`` (``http://localhost:PORT``; port 0 picks one)."""

    def __init__(self, origin: str, agent_url: str, validator: ChainValidator, static: Path = STATIC) -> None:
        parts = urlsplit(origin)
        if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(f"demo origin must look like http://localhost:8080, not {origin!r}")
        self.host = parts.hostname
        self.port = parts.port if parts.port is not None else 80
        self.agent_url = agent_url
        self.validator = validator
        self.static = static
        self.challenges = Challenges()
        self._server: asyncio.Server | None = None

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        bind = "127.0.0.1" if self.host == "localhost" else self.host
        self._server = await asyncio.start_server(self._serve, bind, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # -- HTTP -------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, ctype, body = await asyncio.wait_for(self._respond(reader), 30)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            writer.close()
            return
        head = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
            f"Content-Type: {ctype}",
            f"Content-Length: {len(body)}",
            "Cache-Control: no-store",
            "X-Content-Type-Options: nosniff",
            "Referrer-Policy: no-referrer",
            f"Content-Security-Policy: {self._csp()}",
            "Connection: close",
        ]
        try:
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def _csp(self) -> str:
        agent = urlsplit(self.agent_url)
        http = "https" if agent.scheme == "wss" else "http"
        where = f"{agent.hostname}:{agent.port}"
        return (f"default-src 'self'; connect-src 'self' {agent.scheme}://{where} {http}://{where}; "
                "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")

    async def _respond(self, reader: asyncio.StreamReader) -> tuple[int, str, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEAD:
            return self._json(400, {"error": "headers too large"})
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, _ = lines[0].split(" ", 2)
        except ValueError:
            return self._json(400, {"error": "bad request line"})
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        path = urlsplit(target).path
        try:
            if method == "GET" and path in FILES:
                name, ctype = FILES[path]
                return 200, ctype, (self.static / name).read_bytes()
            if method == "GET" and path == "/config.json":
                locale = i18n.negotiate(headers.get("accept-language"), default="") or None
                return self._json(200, {"agentUrl": self.agent_url, "origin": self.origin, "locale": locale})
            if path in ("/api/challenge", "/api/auth", "/api/certificate"):
                if method != "POST":
                    return self._json(405, {"error": "use POST"})
                self._same_origin(headers)
                body = await self._body(reader, headers)
                if path == "/api/challenge":
                    return self._json(200, {"challenge": self.challenges.issue()})
                if path == "/api/certificate":
                    return self._json(200, self._describe(body))
                return self._json(200, await self._auth(body))
        except _BadRequest as exc:
            return self._json(exc.status, {"error": str(exc)})
        return self._json(404, {"error": "not found"})

    def _same_origin(self, headers: dict[str, str]) -> None:
        # The API is for this page only: a browser always sends Origin on a POST.
        if headers.get("origin") != self.origin:
            raise _BadRequest(403, "cross-origin request refused")

    @staticmethod
    async def _body(reader: asyncio.StreamReader, headers: dict[str, str]) -> Any:
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError as exc:
            raise _BadRequest(400, "bad Content-Length") from exc
        if length < 0 or length > MAX_BODY:
            raise _BadRequest(413, f"body over {MAX_BODY} bytes")
        raw = await reader.readexactly(length) if length else b"{}"
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise _BadRequest(400, "body is not JSON") from exc

    async def _auth(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("challenge"), str) or not isinstance(body.get("token"), dict):
            raise _BadRequest(400, "expected {challenge, token}")
        challenge: str = body["challenge"]
        if not self.challenges.take(challenge):
            return {"accepted": False, "error": "unknown_challenge",
                    "message": "this challenge was not issued here, was already used, or expired"}
        try:
            result = await verify_token(body["token"], self.origin, challenge, self.validator)
        except TokenError as exc:
            log.info("auth token refused: %s", exc)
            return {"accepted": False, "error": exc.code, "message": str(exc)}
        log.info("auth token accepted for %s", result.iin or result.name)
        return result.to_json()

    @staticmethod
    def _describe(body: Any) -> dict[str, Any]:
        pem = body.get("pem") if isinstance(body, dict) else None
        if not isinstance(pem, str):
            raise _BadRequest(400, "expected {pem}")
        try:
            return describe(x509.load_pem_x509_certificate(pem.encode("ascii")))
        except (ValueError, UnicodeEncodeError) as exc:
            raise _BadRequest(400, "not a PEM certificate") from exc

    @staticmethod
    def _json(status: int, value: Any) -> tuple[int, str, bytes]:
        return status, "application/json; charset=utf-8", json.dumps(value, ensure_ascii=False).encode("utf-8")
