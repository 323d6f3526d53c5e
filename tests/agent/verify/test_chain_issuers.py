"""Issuers fetched from AIA caIssuers: an XML signature carries only the signer's certificate.

A real HTTP server on 127.0.0.1 serves the CA certificates; the leaves are issued here by the
test PKI's intermediate CA with a caIssuers URL pointing at it.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest
from tanba.agent.verify.chain import ChainStatus, ChainValidator, ca_issuer_urls, validator_from_settings


class CertServer:
    """Serves ``bodies[path]`` and counts the requests per path."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.hits: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.hits[self.path] += 1
                body = server.bodies.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/pkix-cert")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> CertServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def server() -> Iterator[CertServer]:
    with CertServer() as s:
        yield s


def _intermediate(pki: Manifest) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pki.intermediate_pem.read_bytes())


def _leaf(pki: Manifest, ca_issuers: str) -> x509.Certificate:
    """A signing certificate from the test intermediate naming ``ca_issuers`` (and no
    revocation source: the path is what these tests are about)."""
    issuer = _intermediate(pki)
    issuer_key = serialization.load_pem_private_key(pki.intermediate_key_pem.read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "АИА ТЕСТ")]))
        .issuer_name(issuer.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()), critical=False)  # type: ignore[arg-type]
        .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(ca_issuers))]), critical=False)
        .sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    )


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


async def test_missing_issuer_is_fetched_from_ca_issuers(pki: Manifest, server: CertServer) -> None:
    server.bodies["/ca.cer"] = _der(_intermediate(pki))
    leaf = _leaf(pki, server.url + "/ca.cer")
    offline = await ChainValidator([pki.root_pem], timeout=2.0).validate(leaf)
    assert offline.problems == ("chain_untrusted",)
    assert server.hits["/ca.cer"] == 0

    fetching = ChainValidator([pki.root_pem], timeout=2.0, fetch_issuers=True, allow_local_issuers=True)
    status = await fetching.validate(leaf)
    await fetching.aclose()
    assert status == ChainStatus(True, "unknown", ("revocation_unknown",))
    assert server.hits["/ca.cer"] == 1


async def test_a_fetched_certificate_is_never_trusted(pki: Manifest, server: CertServer) -> None:
    """A caIssuers body with the issuer's name but another key (or another PKI's root) gives
    no valid chain: fetched certificates are only offered, the anchor decides."""
    impostor_key = ec.generate_private_key(ec.SECP256R1())
    real = _intermediate(pki)
    now = dt.datetime.now(dt.UTC)
    impostor = (
        x509.CertificateBuilder().subject_name(real.subject).issuer_name(real.subject)
        .public_key(impostor_key.public_key()).serial_number(7)
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(impostor_key, hashes.SHA256())
    )
    server.bodies["/ca.cer"] = _der(impostor)
    validator = ChainValidator([pki.root_pem], timeout=2.0, fetch_issuers=True, allow_local_issuers=True)
    status = await validator.validate(_leaf(pki, server.url + "/ca.cer"))
    await validator.aclose()
    assert not status.chain_valid


async def test_no_issuer_fetch_for_a_signature_that_did_not_verify(pki: Manifest, server: CertServer) -> None:
    server.bodies["/ca.cer"] = _der(_intermediate(pki))
    validator = ChainValidator([pki.root_pem], timeout=2.0, fetch_issuers=True, allow_local_issuers=True)
    status = await validator.validate(_leaf(pki, server.url + "/ca.cer"), check_revocation=False)
    await validator.aclose()
    assert not status.chain_valid
    assert server.hits["/ca.cer"] == 0


async def test_loopback_and_private_ca_issuers_are_not_fetched(pki: Manifest, server: CertServer) -> None:
    """A certificate anyone can make must not send the agent to the machine's own services."""
    server.bodies["/ca.cer"] = _der(_intermediate(pki))
    validator = validator_from_settings(Settings(trust_anchor=(pki.root_pem,)), timeout=2.0)
    assert validator.fetch_issuers  # the default of serve and tanba verify
    status = await validator.validate(_leaf(pki, server.url + "/ca.cer"))
    await validator.aclose()
    assert status.problems == ("chain_untrusted",)
    assert server.hits["/ca.cer"] == 0
    from asn1crypto import x509 as asn1_x509

    for url in ("http://localhost/ca.cer", "http://10.0.0.1/ca.cer", "http://[::1]/ca.cer",
                "http://169.254.169.254/latest", "file:///etc/passwd", "ftp://pki.example/ca.cer"):
        cert = asn1_x509.Certificate.load(_der(_leaf(pki, url)))
        assert ca_issuer_urls(cert) == [], url
    public = asn1_x509.Certificate.load(_der(_leaf(pki, "http://pki.gov.kz/cert/nca_rsa.cer")))
    assert ca_issuer_urls(public) == ["http://pki.gov.kz/cert/nca_rsa.cer"]


async def test_settings_turn_issuer_fetching_off(pki: Manifest, server: CertServer, tmp_path: Path) -> None:
    server.bodies["/ca.cer"] = _der(_intermediate(pki))
    off = validator_from_settings(Settings(trust_anchor=(pki.root_pem,), fetch_issuers=False))
    assert not off.fetch_issuers
    configured = validator_from_settings(Settings(trust_anchor=(pki.root_pem,), intermediate=(pki.intermediate_pem,)))
    status = await configured.validate(_leaf(pki, server.url + "/ca.cer"))
    await configured.aclose()
    assert status.chain_valid
    assert server.hits["/ca.cer"] == 0  # the configured intermediate is used first
