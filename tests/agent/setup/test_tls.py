"""Local TLS: the per-install CA, its NSS trust, and a real Chromium opening wss://127.0.0.1.

Everything here is real: keys and certificates from `cryptography`, ``openssl verify``,
NSS ``certutil`` on throw-away NSS databases under a temporary HOME, and Debian's
Chromium (headless, its own HOME, no ignore-certificate flag).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import re
import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_tls.chromium import chromium
from browser_tls.pages import Page, page_server, wss_probe_page
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from support.agent import call
from support.consent import ScriptedConsent
from tanba.agent.services import Services
from tanba.agent.setup import tls
from tanba.agent.setup.config import Settings
from tanba.agent.state.approvals import OriginStore
from tanba.agent.transport.server import AgentServer
from tanba.agent.transport.tracker import Tracker
from websockets.asyncio.client import connect

PEM_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL)


@dataclass
class Install:
    home: Path
    files: tls.TlsFiles
    report: tls.InstallReport

    def ca(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.files.ca.read_bytes())

    def leaf(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.files.cert.read_bytes())


def new_nssdb(db: Path, trust: Path | None = None) -> Path:
    """An empty NSS database at ``db``, trusting the CA in ``trust`` for TLS servers if given."""
    db.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "--empty-password", "-d", f"sql:{db}"], check=True, capture_output=True)
    if trust is not None:
        subprocess.run(["certutil", "-A", "-t", "C,,", "-n", "test CA", "-d", f"sql:{db}", "-i", str(trust)],
                       check=True, capture_output=True)
    return db


def firefox_profile(home: Path, name: str = "abcd1234.default-release") -> Path:
    return new_nssdb(home / ".mozilla" / "firefox" / name)


def nicknames(db: Path) -> dict[str, str]:
    """nickname -> trust flags, as `certutil -L` lists them."""
    out = subprocess.run(["certutil", "-L", "-d", f"sql:{db}"], check=True, capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines()[4:]:
        head, _, trust = line.rstrip().rpartition(" ")
        if head.strip():
            found[head.strip()] = trust
    return found


def openssl_verify(ca: Path, leaf: Path, *args: str, untrusted: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = ["openssl", "verify", "-CAfile", str(ca), *args]
    if untrusted is not None:
        cmd += ["-untrusted", str(untrusted)]
    return subprocess.run([*cmd, str(leaf)], check=False, capture_output=True, text=True)


@pytest.fixture
def installed(tmp_path: Path) -> Install:
    home = tmp_path / "home"
    home.mkdir()
    firefox_profile(home)
    files = tls.TlsFiles(tmp_path / "state" / "tls")
    return Install(home, files, tls.install(home=home, files=files))


# -- the certificates ----------------------------------------------------------------


def test_ca_is_name_constrained_to_loopback_and_one_level(installed: Install) -> None:
    ca = installed.ca()
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert set(constraints.value.permitted_subtrees or ()) == {
        x509.IPAddress(ipaddress.ip_network("127.0.0.1/32")),
        x509.IPAddress(ipaddress.ip_network("::1/128")),
        x509.DNSName("localhost"),
    }
    assert constraints.value.excluded_subtrees is None
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign and not usage.value.digital_signature
    assert ca.issuer == ca.subject
    cn = ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert re.fullmatch(r"Tanba local CA \S+ \d{4}-\d\d-\d\d", str(cn)), cn
    assert installed.report.ca.install_id in ca.subject.rfc4514_string()
    assert ca.serial_number.bit_length() > 64  # random, not 1


def test_server_certificate_verifies_against_the_ca_for_the_loopback_names_only(installed: Install) -> None:
    files = installed.files
    for check in (["-verify_ip", "127.0.0.1"], ["-verify_ip", "::1"], ["-verify_hostname", "localhost"]):
        result = openssl_verify(files.ca, files.cert, "-purpose", "sslserver", *check)
        assert result.returncode == 0 and result.stdout.strip().endswith(": OK"), result.stderr
    for check in (["-verify_hostname", "example.com"], ["-verify_ip", "10.0.0.1"]):
        assert openssl_verify(files.ca, files.cert, *check).returncode != 0
    leaf = installed.leaf()
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH]
    )
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.IPAddress)) == {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc <= dt.timedelta(days=398)


def test_files_are_private(installed: Install) -> None:
    assert installed.files.directory.stat().st_mode & 0o777 == 0o700
    for path in installed.files.all():
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert sorted(p.name for p in installed.files.directory.iterdir()) == sorted(p.name for p in installed.files.all())


def test_the_ca_key_is_nowhere_on_disk(installed: Install) -> None:
    ca_public = installed.ca().public_key()
    keys = []
    for root in (installed.files.directory.parent, installed.home):
        for path in root.rglob("*"):
            if path.is_file():
                keys += [serialization.load_pem_private_key(m, None) for m in PEM_KEY.findall(path.read_bytes())]
    # the one private key written is the server's, and it is not the CA's
    assert [k.public_key() for k in keys] == [installed.leaf().public_key()]
    assert installed.leaf().public_key() != ca_public
    # and the NSS databases hold the CA certificate only, no key
    for db in installed.report.trusted_in:
        listed = subprocess.run(["certutil", "-K", "-d", f"sql:{db.path}"], check=False, capture_output=True, text=True)
        assert "no keys found" in listed.stderr + listed.stdout


def test_nothing_can_issue_another_certificate(installed: Install, tmp_path: Path) -> None:
    """What an attacker with every file of the install could try: both certificates are refused."""
    files = installed.files
    server_key = serialization.load_pem_private_key(files.key.read_bytes(), None)
    assert isinstance(server_key, ec.EllipticCurvePrivateKey)
    ca, leaf = installed.ca(), installed.leaf()
    now = dt.datetime.now(dt.UTC)

    def forged(issuer: x509.Certificate, key: ec.EllipticCurvePrivateKey, name: str) -> Path:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(issuer.subject)
            .public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .sign(key, hashes.SHA256())
        )
        out = tmp_path / f"{name}.pem"
        out.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return out

    # signed with the only private key on disk, under the server certificate: it is no CA
    under_leaf = forged(leaf, server_key, "example.com")
    result = openssl_verify(files.ca, under_leaf, untrusted=files.cert)
    assert result.returncode != 0 and "invalid CA certificate" in result.stderr + result.stdout
    # claiming the CA as issuer with any other key: the signature does not verify
    fake_ca = forged(ca, ec.generate_private_key(ec.SECP256R1()), "localhost")
    result = openssl_verify(files.ca, fake_ca)
    assert result.returncode != 0 and "signature failure" in result.stderr + result.stdout


def test_the_name_constraints_bind(tmp_path: Path) -> None:
    """Even with the CA key (kept here by the test only), no certificate for a real site verifies."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = tls.ca_certificate(ca_key, tls.ca_subject("test", "0000", now), now)
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cases = {
        "site": [x509.DNSName("example.com")],
        "mixed": [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("egov.kz")],
        "lan": [x509.IPAddress(ipaddress.ip_address("192.168.1.1"))],
    }
    for label, names in cases.items():
        leaf = tls.server_certificate(ca, ca_key, ec.generate_private_key(ec.SECP256R1()), now, names)
        (tmp_path / f"{label}.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        result = openssl_verify(tmp_path / "ca.pem", tmp_path / f"{label}.pem")
        assert result.returncode != 0 and "subtree violation" in result.stderr + result.stdout, label


# -- NSS databases -------------------------------------------------------------------


def test_install_trusts_the_ca_in_chromium_and_firefox_databases(installed: Install) -> None:
    chromium_db = installed.home / ".pki" / "nssdb"
    firefox_db = installed.home / ".mozilla" / "firefox" / "abcd1234.default-release"
    nickname = installed.report.ca.nickname
    assert nickname == f"Tanba local CA ({installed.report.ca.install_id})"
    assert chromium_db.stat().st_mode & 0o777 == 0o700  # created, private
    for db in (chromium_db, firefox_db):
        assert nicknames(db)[nickname] == "C,,"
    assert {db.path for db in installed.report.trusted_in} == {chromium_db, firefox_db}
    assert installed.report.problems == []
    state = tls.status(installed.files)
    assert state.installed and dict(state.nssdbs) == {chromium_db: True, firefox_db: True}


def test_uninstall_removes_the_nss_entries_and_the_files(installed: Install) -> None:
    dbs = [db.path for db in installed.report.trusted_in]
    report = tls.uninstall(home=installed.home, files=installed.files)
    assert report.problems == []
    assert sorted(report.removed_from) == sorted(dbs)
    for db in dbs:
        assert not any(n.startswith("Tanba local CA") for n in nicknames(db))
    assert not any(path.exists() for path in installed.files.all())
    assert not tls.certificate_installed(installed.files)
    assert tls.server_ssl_context(installed.files) is None
    assert not tls.status(installed.files).installed
    assert report.ca is not None and any("update-ca-certificates" in s for s in tls.system_untrust_steps(report.ca))


def test_reinstall_makes_a_fresh_ca_and_drops_the_old_one(installed: Install) -> None:
    old_ca, old_nick = installed.ca(), installed.report.ca.nickname
    again = tls.install(home=installed.home, files=installed.files)
    new_ca = installed.ca()
    assert new_ca.public_key() != old_ca.public_key()
    assert new_ca.serial_number != old_ca.serial_number
    assert again.replaced is not None and again.replaced.nickname == old_nick
    for db in again.trusted_in:
        names = nicknames(db.path)
        assert again.ca.nickname in names and old_nick not in names
    old_pem = installed.files.directory / "old.pem"
    old_pem.write_bytes(old_ca.public_bytes(serialization.Encoding.PEM))
    assert openssl_verify(old_pem, installed.files.cert).returncode != 0


def test_without_certutil_the_files_are_made_and_the_problem_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # a real PATH with no NSS tools on it
    files = tls.TlsFiles(tmp_path / "tls")
    report = tls.install(home=tmp_path, files=files)
    assert tls.certificate_installed(files) and report.trusted_in == []
    assert len(report.problems) == 1 and "libnss3-tools" in report.problems[0]


def test_system_store_steps_are_printed_per_platform(installed: Install) -> None:
    ca, path = installed.report.ca, installed.files.ca
    linux = tls.system_trust_steps(ca, path, "linux")
    assert any(f"/usr/local/share/ca-certificates/tanba-local-ca-{ca.install_id}.crt" in s for s in linux)
    assert "security add-trusted-cert" in tls.system_trust_steps(ca, path, "darwin")[0]
    assert tls.system_trust_steps(ca, path, "win32") == [f'certutil -addstore -user Root "{path}"']
    assert ca.sha1 in tls.system_untrust_steps(ca, "darwin")[0]
    assert tls.system_untrust_steps(ca, "win32") == [f"certutil -delstore -user Root {ca.serial}"]


# -- the server side -----------------------------------------------------------------


@asynccontextmanager
async def tls_agent(tmp_path: Path, files: tls.TlsFiles, allow: str) -> AsyncIterator[AgentServer]:
    settings = Settings(port=0, allow_origin=(allow,))
    services = Services(settings=settings, consent=ScriptedConsent(), origins=OriginStore(tmp_path / "origins.json"),
                        client_token="t" * 43, version="9.9.9-test")
    server = AgentServer(services, Tracker(), ssl_context=tls.server_ssl_context(files))
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def test_server_context_serves_wss_that_verifies_with_the_ca(installed: Install, tmp_path: Path) -> None:
    context = tls.server_ssl_context(installed.files)
    assert context is not None and context.minimum_version == ssl.TLSVersion.TLSv1_2
    client = ssl.create_default_context(cafile=str(installed.files.ca))
    async with tls_agent(tmp_path, installed.files, "https://portal.test") as server:
        assert server.scheme == "wss"
        async with connect(f"wss://127.0.0.1:{server.port}/v1", ssl=client, origin="https://portal.test") as ws:  # type: ignore[arg-type]
            assert (await call(ws, "agent.hello"))["result"]["name"] == "tanba"
        # a client that trusts only the system roots refuses it: the trust is the CA's, nothing else
        with pytest.raises(ssl.SSLCertVerificationError):
            async with connect(f"wss://127.0.0.1:{server.port}/v1", ssl=ssl.create_default_context(),
                               origin="https://portal.test"):  # type: ignore[arg-type]
                pass


def test_no_certificate_means_no_context_and_a_damaged_one_is_an_error(tmp_path: Path) -> None:
    files = tls.TlsFiles(tmp_path / "tls")
    assert tls.server_ssl_context(files) is None and not tls.certificate_installed(files)
    tls.install(home=tmp_path / "home", files=files)
    other = tls.issue()
    files.key.write_bytes(other.key_pem)  # a key that does not match the certificate
    with pytest.raises(tls.TlsError, match="tanba tls install"):
        tls.server_ssl_context(files)


def test_serve_warns_before_and_after_expiry(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    files = tls.TlsFiles(tmp_path / "tls")
    now = dt.datetime.now(dt.UTC)
    tls.install(home=tmp_path / "home", files=files, now=now - dt.timedelta(days=380))
    with caplog.at_level(logging.WARNING, logger="tanba.agent.setup.tls"):
        assert tls.server_ssl_context(files) is not None
    assert any(r.levelno == logging.WARNING and "expires on" in r.getMessage() for r in caplog.records)
    caplog.clear()
    tls.install(home=tmp_path / "home", files=files, now=now - dt.timedelta(days=400))
    with caplog.at_level(logging.WARNING, logger="tanba.agent.setup.tls"):
        tls.server_ssl_context(files)
    assert any(r.levelno == logging.ERROR and "expired" in r.getMessage() for r in caplog.records)


# -- a real Chromium -----------------------------------------------------------------


async def open_from_page(home: Path, page: Page, server: AgentServer) -> tuple[str | None, str]:
    """In a fresh Chromium with this HOME: (error opening https://127.0.0.1:PORT, the probe page's outcome)."""
    page.html = wss_probe_page([f"wss://127.0.0.1:{server.port}/v1", f"wss://localhost:{server.port}/v1"])
    async with chromium(home) as browser:
        session = await browser.new_page()
        direct = await browser.navigate(session, f"https://127.0.0.1:{server.port}/v1")
        assert await browser.navigate(session, f"{page.origin}/") is None
        return direct, await browser.title_when(session, "pending")


async def test_chromium_with_the_ca_opens_wss_without_certificate_errors(installed: Install, tmp_path: Path) -> None:
    async with page_server() as page, tls_agent(tmp_path, installed.files, page.origin) as server:
        direct, outcome = await open_from_page(installed.home, page, server)
    assert direct is None  # no certificate error on the agent's address
    assert outcome == "hello:tanba hello:tanba"  # 127.0.0.1 and localhost, each answered agent.hello


async def test_chromium_without_the_ca_refuses_the_same_page(installed: Install, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"  # a user (or another install) whose NSS database lacks this CA
    stranger.mkdir()
    async with page_server() as page, tls_agent(tmp_path, installed.files, page.origin) as server:
        direct, outcome = await open_from_page(stranger, page, server)
    assert direct == "net::ERR_CERT_AUTHORITY_INVALID"
    assert outcome == "error error"


async def test_chromium_refuses_a_trusted_ca_certificate_beyond_its_constraints(tmp_path: Path) -> None:
    """A CA built like ours that signed a certificate also naming egov.kz: Chromium refuses it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    ca = tls.ca_certificate(ca_key, tls.ca_subject("test", "0001", now), now)
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost"), x509.DNSName("egov.kz")]
    leaf = tls.server_certificate(ca, ca_key, server_key, now, names)
    files = tls.TlsFiles(tmp_path / "tls")
    files.directory.mkdir()
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    home = tmp_path / "home"
    new_nssdb(home / ".pki" / "nssdb", trust=files.ca)
    async with page_server() as page, tls_agent(tmp_path, files, page.origin) as server:
        direct, outcome = await open_from_page(home, page, server)
    assert direct == "net::ERR_CERT_INVALID"  # a name-constraint violation, not an unknown issuer
    assert outcome == "error error"
