"""A real OCSP responder and CRL server for the test PKI, on the port its certificates name.

The leaf certificates of the test PKI name ``http://127.0.0.1:PORT/ocsp`` (AIA) and
``http://127.0.0.1:PORT/crl`` (CRL distribution point); PORT was free when the PKI was made
and is read back from the manifest.  The server
runs in a daemon thread (plain ``http.server``), which lets both in-process async code and
subprocesses (the CLI) reach it.

OCSP answers come from the manifest: an identity with status ``revoked`` is answered
``revoked`` (key compromise, at the CRL's revocation date when listed there), every other
certificate the PKI issued is ``good``, anything else ``unknown``.  Responses are signed
with ``ocsp.key.pem`` and carry ``ocsp.pem`` (delegated responder, id-pkix-ocsp-nocheck).

Each endpoint can be switched to misbehave (``ocsp_mode`` / ``crl_mode``):
``ok``; ``down`` (HTTP 503); ``drop`` (connection closed without an answer);
``hang`` (never answers until the mode changes or the server stops); ``garbage``
(HTTP 200 with bytes that are not DER); ``redirect`` (HTTP 302 to :attr:`redirect_to`,
by default this server's ``/admin/delete?all=1``); ``gzip_bomb`` (HTTP 200,
``Content-Encoding: gzip``, :data:`BOMB_SIZE` zero bytes squeezed into about a
thousandth of that); ``huge`` (HTTP 200 with :data:`HUGE_SIZE` plain bytes and no
``Content-Length``: only a reader's own bound stops it).

Both endpoints also answer under any sub-path (``/ocsp/7``, ``/crl/7``): certificates made
by a test may name a URL of their own each.  Every request is recorded in
:attr:`RevocationServer.requests` (method, path, User-Agent); ``hits`` counts them per
endpoint (``ocsp``, ``crl``, and ``other`` for any other path, such as a redirect target).
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import hashlib
import http.server
import logging
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from asn1crypto import core, crl as asn1_crl, ocsp, pem, x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from tanba.agent.setup.testpki import Manifest

logger = logging.getLogger(__name__)

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


def _load_cert(path: object) -> asn1_x509.Certificate:
    with open(str(path), "rb") as fh:
        data = fh.read()
    if pem.detect(data):
        _, _, data = pem.unarmor(data)
    return asn1_x509.Certificate.load(data)


class RevocationServer:
    """OCSP + CRL over HTTP for one test PKI; start(), switch modes, stop()."""

    def __init__(self, manifest: Manifest) -> None:
        url = urlsplit(manifest.ocsp_url)
        assert url.hostname is not None and url.port is not None
        self.host, self.port = url.hostname, url.port
        self.ocsp_mode: Mode = "ok"
        self.crl_mode: Mode = "ok"
        self.hits: Counter[str] = Counter()  # "ocsp" / "crl" / "other" -> requests received
        self.requests: list[Seen] = []
        self.lock = threading.Lock()  # handler threads count at the same time
        self.redirect_to = f"http://{self.host}:{self.port}/admin/delete?all=1"
        self._release = threading.Event()  # set to free "hang" handlers
        self._issuer = _load_cert(manifest.intermediate_pem)
        self._responder = _load_cert(manifest.ocsp_pem)
        with open(manifest.ocsp_key_pem, "rb") as fh:
            key = serialization.load_pem_private_key(fh.read(), password=None)
        if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise TypeError("the OCSP responder key must be RSA or EC")
        self._key = key
        with open(manifest.crl_pem, "rb") as fh:
            crl_data = fh.read()
        _, _, crl_der = pem.unarmor(crl_data) if pem.detect(crl_data) else ("", {}, crl_data)
        self.crl_der: bytes = crl_der
        crl = asn1_crl.CertificateList.load(crl_der)
        revoked_at = {
            int(entry["user_certificate"].native): entry["revocation_date"].native
            for entry in crl["tbs_cert_list"]["revoked_certificates"]
        }
        self._status: dict[int, dt.datetime | None] = {}  # serial -> None (good) | revoked at
        for ident in manifest.identities.values():
            serial = int(ident.serial_hex, 16)
            if ident.status == "revoked":
                self._status[serial] = revoked_at.get(
                    serial, dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
                )
            else:
                self._status[serial] = None
        for path in (manifest.tsa_pem, manifest.ocsp_pem):
            self._status[_load_cert(path).serial_number] = None
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        server = self

        class Handler(_Handler):
            owner = server

        httpd = http.server.ThreadingHTTPServer((self.host, self.port), Handler, bind_and_activate=False)
        httpd.allow_reuse_address = True
        httpd.daemon_threads = True
        httpd.request_queue_size = 128  # many signers ask at once; the default backlog is 5
        httpd.server_bind()
        httpd.server_activate()
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="ocsp-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._release.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

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

    # -- OCSP ----------------------------------------------------------------------

    def ocsp_response(self, request_der: bytes) -> bytes:
        try:
            request = ocsp.OCSPRequest.load(request_der)
            tbs = request["tbs_request"]
            singles = [self._single(item["req_cert"]) for item in tbs["request_list"]]
            nonce = None
            for ext in tbs["request_extensions"] or ():
                if ext["extn_id"].native == "nonce":
                    nonce = ext["extn_value"].parsed
        except (ValueError, TypeError, KeyError) as exc:
            logger.info("malformed OCSP request: %s", exc)
            return ocsp.OCSPResponse({"response_status": "malformed_request"}).dump()
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        data = ocsp.ResponseData(
            {
                "responder_id": ocsp.ResponderId(
                    name="by_key", value=self._responder.public_key.sha1
                ),
                "produced_at": now,
                "responses": singles,
                "response_extensions": (
                    [{"extn_id": "nonce", "critical": False, "extn_value": nonce}]
                    if nonce is not None
                    else None
                ),
            }
        )
        tbs_der = data.dump()
        if isinstance(self._key, rsa.RSAPrivateKey):
            signature = self._key.sign(tbs_der, padding.PKCS1v15(), hashes.SHA256())
            algo = "sha256_rsa"
        else:
            signature = self._key.sign(tbs_der, ec.ECDSA(hashes.SHA256()))
            algo = "sha256_ecdsa"
        basic = ocsp.BasicOCSPResponse(
            {
                "tbs_response_data": data,
                "signature_algorithm": {"algorithm": algo},
                "signature": signature,
                "certs": [self._responder],
            }
        )
        return ocsp.OCSPResponse(
            {
                "response_status": "successful",
                "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
            }
        ).dump()

    def _single(self, cert_id: ocsp.CertId) -> ocsp.SingleResponse:
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        algo = cert_id["hash_algorithm"]["algorithm"].native
        ours = (
            hashlib.new(algo, self._issuer.subject.dump()).digest()
            == cert_id["issuer_name_hash"].native
            and hashlib.new(algo, self._issuer.public_key["public_key"].contents[1:]).digest()
            == cert_id["issuer_key_hash"].native
        )
        serial = cert_id["serial_number"].native
        status: ocsp.CertStatus
        if not ours or serial not in self._status:
            status = ocsp.CertStatus(name="unknown", value=core.Null())
        elif (revoked_at := self._status[serial]) is None:
            status = ocsp.CertStatus(name="good", value=core.Null())
        else:
            status = ocsp.CertStatus(
                name="revoked",
                value={"revocation_time": revoked_at, "revocation_reason": "key_compromise"},
            )
        return ocsp.SingleResponse(
            {
                "cert_id": cert_id,
                "cert_status": status,
                "this_update": now - dt.timedelta(minutes=1),
                "next_update": now + dt.timedelta(hours=1),
            }
        )

    def wait_released(self, timeout: float) -> None:
        self._release.wait(timeout)


class _Handler(http.server.BaseHTTPRequestHandler):
    owner: RevocationServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        logger.debug("ocsp-server: " + format, *args)

    def _misbehave(self, mode: Mode) -> bool:
        """Act out a failure mode; True when the request has been dealt with."""
        if mode == "ok":
            return False
        if mode == "down":
            self.send_error(503, "responder down")
        elif mode == "drop":
            self.close_connection = True
            self.connection.close()
        elif mode == "hang":
            self.owner.wait_released(60.0)
            self.close_connection = True
        elif mode == "garbage":
            self._send(200, "application/octet-stream", GARBAGE)
        elif mode == "redirect":
            self.send_response(302)
            self.send_header("Location", self.owner.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif mode == "gzip_bomb":
            self._send(200, "application/octet-stream", gzip_bomb(), encoding="gzip")
        elif mode == "huge":
            self._send_huge()
        return True

    def _send_huge(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()  # no Content-Length: the body ends when the connection does
        zeros = bytes(_MIB)
        try:
            for _ in range(HUGE_SIZE // _MIB):
                self.wfile.write(zeros)
        except OSError:  # the client stopped reading and hung up: what it should do
            self.close_connection = True

    def _send(self, status: int, ctype: str, body: bytes, encoding: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if encoding is not None:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            self.close_connection = True

    def _endpoint(self) -> str:
        """``ocsp`` / ``crl`` (also under a sub-path) or ``other``; the request is recorded."""
        first = urlsplit(self.path).path.strip("/").split("/")[0]
        name = first if first in ("ocsp", "crl") else "other"
        with self.owner.lock:
            self.owner.requests.append(Seen(self.command, self.path, self.headers.get("User-Agent")))
            self.owner.hits[name] += 1
        return name

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        if self._endpoint() != "ocsp":
            self.send_error(404)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 65536))
        if self._misbehave(self.owner.ocsp_mode):
            return
        self._send(200, "application/ocsp-response", self.owner.ocsp_response(body))

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        if self._endpoint() != "crl":
            self.send_error(404)
            return
        if self._misbehave(self.owner.crl_mode):
            return
        self._send(200, "application/pkix-crl", self.owner.crl_der)


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
