"""The test PKI's OCSP responder and CRL server, on the address its certificates name.

The leaves made by :func:`tanba.agent.setup.testpki.make_test_pki` name
``http://127.0.0.1:PORT/ocsp`` (AIA) and ``http://127.0.0.1:PORT/crl`` (CRL distribution
point); PORT is read back from the manifest.  ``tanba demo`` runs this server so that a
signature's revocation is really checked (``good`` for the valid keys, ``revoked`` for
``rsa-sign-revoked``), and the tests run it (with failure modes added in
``tests/support/ocsp_server.py``).

OCSP answers come from the manifest: an identity with status ``revoked`` is answered
``revoked`` (key compromise, at the CRL's revocation date when listed there), every other
certificate the PKI issued is ``good``, anything else ``unknown``.  Responses are signed
with ``ocsp.key.pem`` and carry ``ocsp.pem`` (a delegated responder, id-pkix-ocsp-nocheck).
``GET /crl`` serves the intermediate's CRL (``crl.pem``, as DER).  Both endpoints also
answer under any sub-path (``/ocsp/7``, ``/crl/7``).

The server is plain ``http.server`` in a daemon thread: both async code in the same process
and other processes (the CLI) reach it, and it never blocks an event loop.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import logging
import threading
from urllib.parse import urlsplit

from asn1crypto import core, ocsp, pem
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from tanba.agent.setup.testpki import Manifest

log = logging.getLogger(__name__)

#: bytes of an OCSP request body read at most
MAX_REQUEST = 64 * 1024


def _load_cert(path: object) -> asn1_x509.Certificate:
    with open(str(path), "rb") as fh:
        data = fh.read()
    if pem.detect(data):
        _, _, data = pem.unarmor(data)
    return asn1_x509.Certificate.load(data)


class RevocationServer:
    """OCSP + CRL over HTTP for one test PKI: :meth:`start`, :meth:`stop`.

    Subclasses may watch requests (:meth:`seen`) and answer some themselves
    (:meth:`intercept`): the tests make it misbehave that way.
    """

    def __init__(self, manifest: Manifest) -> None:
        url = urlsplit(manifest.ocsp_url)
        if url.hostname is None or url.port is None:
            raise ValueError(f"the test PKI's OCSP URL names no host and port: {manifest.ocsp_url}")
        self.host, self.port = url.hostname, url.port
        self._issuer = _load_cert(manifest.intermediate_pem)
        self._responder = _load_cert(manifest.ocsp_pem)
        with open(manifest.ocsp_key_pem, "rb") as fh:
            key = serialization.load_pem_private_key(fh.read(), password=None)
        if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise TypeError("the OCSP responder key must be RSA or EC")
        self._key = key
        with open(manifest.crl_pem, "rb") as fh:
            crl_data = fh.read()
        self.crl_der: bytes = pem.unarmor(crl_data)[2] if pem.detect(crl_data) else crl_data
        listed = asn1_crl.CertificateList.load(self.crl_der)
        revoked_at = {
            int(entry["user_certificate"].native): entry["revocation_date"].native
            for entry in listed["tbs_cert_list"]["revoked_certificates"]
        }
        self._status: dict[int, dt.datetime | None] = {}  # serial -> None (good) | revoked at
        for ident in manifest.identities.values():
            serial = int(ident.serial_hex, 16)
            if ident.status == "revoked":
                self._status[serial] = revoked_at.get(serial, dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1))
            else:
                self._status[serial] = None
        for path in (manifest.tsa_pem, manifest.ocsp_pem):
            self._status[_load_cert(path).serial_number] = None
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Listen on the manifest's port (OSError when it is taken) and serve in a thread."""
        server = self

        class Handler(RevocationHandler):
            owner = server

        httpd = http.server.ThreadingHTTPServer((self.host, self.port), Handler, bind_and_activate=False)
        httpd.allow_reuse_address = True
        httpd.daemon_threads = True
        httpd.request_queue_size = 128  # many signers ask at once; the default backlog is 5
        try:
            httpd.server_bind()
            httpd.server_activate()
        except OSError:
            httpd.server_close()
            raise
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="revocation-server", daemon=True)
        self._thread.start()
        log.info("test PKI revocation server on %s", self.url)

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    # -- hooks for subclasses --------------------------------------------------------

    def seen(self, handler: RevocationHandler, endpoint: str) -> None:
        """Called for every request, with ``ocsp``, ``crl`` or ``other``."""

    def intercept(self, handler: RevocationHandler, endpoint: str) -> bool:
        """Answer an ``ocsp`` or ``crl`` request some other way; True when answered."""
        return False

    # -- OCSP ----------------------------------------------------------------------

    def ocsp_response(self, request_der: bytes) -> bytes:
        """The DER OCSPResponse to an OCSPRequest (``malformed_request`` for junk)."""
        try:
            request = ocsp.OCSPRequest.load(request_der)
            tbs = request["tbs_request"]
            singles = [self._single(item["req_cert"]) for item in tbs["request_list"]]
            nonce = None
            for ext in tbs["request_extensions"] or ():
                if ext["extn_id"].native == "nonce":
                    nonce = ext["extn_value"].parsed
        except (ValueError, TypeError, KeyError) as exc:
            log.info("malformed OCSP request: %s", exc)
            malformed: bytes = ocsp.OCSPResponse({"response_status": "malformed_request"}).dump()
            return malformed
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        data = ocsp.ResponseData({
            "responder_id": ocsp.ResponderId(name="by_key", value=self._responder.public_key.sha1),
            "produced_at": now,
            "responses": singles,
            "response_extensions": (
                [{"extn_id": "nonce", "critical": False, "extn_value": nonce}] if nonce is not None else None
            ),
        })
        tbs_der = data.dump()
        if isinstance(self._key, rsa.RSAPrivateKey):
            signature = self._key.sign(tbs_der, padding.PKCS1v15(), hashes.SHA256())
            algo = "sha256_rsa"
        else:
            signature = self._key.sign(tbs_der, ec.ECDSA(hashes.SHA256()))
            algo = "sha256_ecdsa"
        basic = ocsp.BasicOCSPResponse({
            "tbs_response_data": data,
            "signature_algorithm": {"algorithm": algo},
            "signature": signature,
            "certs": [self._responder],
        })
        answer: bytes = ocsp.OCSPResponse({
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
        }).dump()
        return answer

    def _single(self, cert_id: ocsp.CertId) -> ocsp.SingleResponse:
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        algo = cert_id["hash_algorithm"]["algorithm"].native
        ours = (
            hashlib.new(algo, self._issuer.subject.dump()).digest() == cert_id["issuer_name_hash"].native
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
                name="revoked", value={"revocation_time": revoked_at, "revocation_reason": "key_compromise"}
            )
        return ocsp.SingleResponse({
            "cert_id": cert_id,
            "cert_status": status,
            "this_update": now - dt.timedelta(minutes=1),
            "next_update": now + dt.timedelta(hours=1),
        })


class RevocationHandler(http.server.BaseHTTPRequestHandler):
    """``POST /ocsp[/…]`` and ``GET /crl[/…]``; everything else is 404."""

    owner: RevocationServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        log.debug("revocation server: " + format, *args)

    def send_body(self, status: int, ctype: str, body: bytes, encoding: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if encoding is not None:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:  # the client hung up
            self.close_connection = True

    def _endpoint(self) -> str:
        first = urlsplit(self.path).path.strip("/").split("/")[0]
        name = first if first in ("ocsp", "crl") else "other"
        self.owner.seen(self, name)
        return name

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        if self._endpoint() != "ocsp":
            self.send_error(404)
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400)
            return
        body = self.rfile.read(max(0, min(length, MAX_REQUEST)))
        if self.owner.intercept(self, "ocsp"):
            return
        self.send_body(200, "application/ocsp-response", self.owner.ocsp_response(body))

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        if self._endpoint() != "crl":
            self.send_error(404)
            return
        if self.owner.intercept(self, "crl"):
            return
        self.send_body(200, "application/pkix-crl", self.owner.crl_der)
