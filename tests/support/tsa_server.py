"""A small, real RFC 3161 time-stamping authority over HTTP, for tests.

It listens on 127.0.0.1 (ephemeral port) in a background thread and answers
``application/timestamp-query`` POSTs with a TimeStampResp whose token is a SignedData over
a TSTInfo, signed with the test PKI's TSA key (signed attributes contentType,
messageDigest, signingCertificateV2 — what ``openssl ts -verify`` requires).  It is built
with asn1crypto + cryptography only, independently of ``tanba.agent.formats.cms``, so a
bug there cannot hide behind the same bug here.

``mode`` switches its behaviour for failure tests:
``ok``, ``garbage`` (200 with junk), ``http500``, ``wrong_nonce``, ``wrong_imprint``,
``rejection`` (status rejection), ``hang`` (reads the request and never answers).

    with TsaServer(pki.tsa_pem, pki.tsa_key_pem) as tsa:
        cms_t = await add_signature_timestamp(cms, tsa.url, timeout=5)
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

MODES = ("ok", "garbage", "http500", "wrong_nonce", "wrong_imprint", "rejection", "hang")
TEST_POLICY = "1.3.6.1.4.1.99999.3161.1"  # a private test policy OID


class TsaServer:
    def __init__(self, cert_pem: Path, key_pem: Path, mode: str = "ok") -> None:
        cert = x509.load_pem_x509_certificate(Path(cert_pem).read_bytes())
        self._cert = ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
        key = serialization.load_pem_private_key(Path(key_pem).read_bytes(), password=None)
        if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise TypeError("TSA key must be RSA or EC")
        self._key = key
        self.mode = mode
        self.requests = 0
        self._serials = itertools.count(1)
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/tsa"

    def start(self) -> TsaServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                owner._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name="test-tsa", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # releases "hang" handlers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> TsaServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- HTTP ----------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        self.requests += 1
        body = h.rfile.read(int(h.headers.get("Content-Length", "0")))
        mode = self.mode
        if mode == "hang":
            self._stop.wait(60)
            return
        if mode == "http500":
            h.send_error(500, "TSA broken on purpose")
            return
        if mode == "garbage":
            answer = b"<html>this is not a timestamp</html>"
        elif h.headers.get("Content-Type") != "application/timestamp-query":
            h.send_error(415)
            return
        else:
            answer = self.respond(body)
        h.send_response(200)
        h.send_header("Content-Type", "application/timestamp-reply")
        h.send_header("Content-Length", str(len(answer)))
        h.end_headers()
        h.wfile.write(answer)

    # -- RFC 3161 --------------------------------------------------------------------

    def respond(self, request_der: bytes) -> bytes:
        req = tsp.TimeStampReq.load(request_der)
        if self.mode == "rejection":
            status: bytes = tsp.PKIStatusInfo(
                {"status": "rejection", "status_string": ["refused on purpose"]}
            ).dump()
            return b"\x30" + bytes((len(status),)) + status  # TimeStampResp without a token
        imprint = req["message_imprint"]
        if self.mode == "wrong_imprint":
            hashed = bytes(a ^ 0xFF for a in imprint["hashed_message"].native)
            imprint = {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": hashed}
        nonce = req["nonce"].native
        if self.mode == "wrong_nonce" and nonce is not None:
            nonce += 1
        tst_info = tsp.TSTInfo(
            {
                "version": 1,
                "policy": TEST_POLICY,
                "message_imprint": imprint,
                "serial_number": next(self._serials),
                "gen_time": datetime.now(timezone.utc).replace(microsecond=0),
                "nonce": nonce,
            }
        )
        token = self._sign(tst_info, include_cert=bool(req["cert_req"].native))
        answer: bytes = tsp.TimeStampResp(
            {"status": {"status": "granted"}, "time_stamp_token": token}
        ).dump()
        return answer

    def _sign(self, tst_info: tsp.TSTInfo, include_cert: bool) -> cms.ContentInfo:
        tst_der = tst_info.dump()
        cert_hash = hashlib.sha256(self._cert.dump()).digest()
        ess = tsp.SigningCertificateV2(
            {
                "certs": [
                    {
                        "cert_hash": cert_hash,
                        "issuer_serial": {
                            "issuer": [ax509.GeneralName({"directory_name": self._cert.issuer})],
                            "serial_number": self._cert.serial_number,
                        },
                    }
                ]
            }
        )
        attrs = [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute(
                {"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]}
            ),
            cms.CMSAttribute({"type": "signing_certificate_v2", "values": [ess]}),
        ]
        attrs.sort(key=lambda a: a.dump())  # DER SET OF order, so the bytes we sign are DER
        signed_attrs = cms.CMSAttributes(attrs)
        to_sign = signed_attrs.dump()
        if isinstance(self._key, rsa.RSAPrivateKey):
            signature = self._key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
            sig_alg = algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"})
        else:
            signature = self._key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
            sig_alg = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"})
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": {
                            "issuer": self._cert.issuer,
                            "serial_number": self._cert.serial_number,
                        }
                    }
                ),
                "digest_algorithm": {"algorithm": "sha256"},
                "signed_attrs": signed_attrs,
                "signature_algorithm": sig_alg,
                "signature": signature,
            }
        )
        signed_data = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [{"algorithm": "sha256"}],
                "encap_content_info": {
                    "content_type": "tst_info",
                    "content": core.ParsableOctetString(tst_der),
                },
                "certificates": [self._cert] if include_cert else None,
                "signer_infos": [signer_info],
            }
        )
        return cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
