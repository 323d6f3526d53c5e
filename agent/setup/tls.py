"""Locally trusted TLS for the agent: `tanba tls install|uninstall|status`.

``install`` makes a CA for this install only and, with it, a server certificate for
127.0.0.1, ::1 and localhost.  The CA is name-constrained (critical NameConstraints: only
those three names are permitted) and its private key exists only in memory while the two
certificates are signed; it is never serialised, so nothing can issue another certificate
under that CA — a stolen ``ca.pem`` or server key cannot be turned into a certificate for
a real site (DESIGN.md, security rule 8).  The CA certificate is then trusted in the user's
NSS databases (Chromium/Chrome ``~/.pki/nssdb`` and every Firefox profile) with
``certutil`` from libnss3-tools; the system trust store needs an administrator, so the steps
for it are printed, never run.

Renewal: the server certificate is valid 397 days (browsers accept at most 398).  Since
the CA key is gone, renewing means a new CA: run ``tanba tls install`` again, which replaces
the files and swaps the CA in the NSS databases.  ``serve`` does not renew on its own (a new
CA would silently need the system-store steps again); :func:`server_ssl_context` logs a
warning from 30 days before expiry and ``tanba tls status`` shows the date.

Files, all 0600 in ``<state dir>/tls`` (0700): ``server-key.pem``, ``server.pem``,
``ca.pem`` and ``install.json`` (which NSS databases hold the CA, under which nickname).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import secrets
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from tanba.agent.state import paths
from tanba.agent.state.atomic import ensure_private_dir, write_private

log = logging.getLogger(__name__)

#: the server certificate's lifetime; browsers refuse leaves valid longer than 398 days
VALIDITY: Final = dt.timedelta(days=397)
#: backdating against clocks that lag a little
BACKDATE: Final = dt.timedelta(hours=1)
#: `serve` warns this long before the certificate expires
RENEW_WARNING: Final = dt.timedelta(days=30)
LOCAL_IPS: Final = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))
LOCAL_DNS: Final = "localhost"
NICKNAME_PREFIX: Final = "Tanba local CA"
CERTUTIL_TIMEOUT: Final = 30.0

#: NSS databases of browsers, relative to HOME (globs); the first one is created if absent on Linux
CHROMIUM_NSSDB: Final = ".pki/nssdb"
OTHER_NSSDBS: Final = (
    ("snap/chromium/current/.pki/nssdb", "Chromium (snap)"),
    (".mozilla/firefox/*", "Firefox"),
    ("snap/firefox/common/.mozilla/firefox/*", "Firefox (snap)"),
    (".var/app/org.mozilla.firefox/.mozilla/firefox/*", "Firefox (flatpak)"),
    ("Library/Application Support/Firefox/Profiles/*", "Firefox"),
)


class TlsError(Exception):
    """The local certificate cannot be made, read or removed; the message says what to do."""


@dataclass(frozen=True)
class TlsFiles:
    """Where one install keeps its certificate files."""

    directory: Path

    @classmethod
    def default(cls) -> TlsFiles:
        return cls(paths.state_dir() / "tls")

    @property
    def key(self) -> Path:
        return self.directory / "server-key.pem"

    @property
    def cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def record(self) -> Path:
        return self.directory / "install.json"

    def all(self) -> tuple[Path, ...]:
        return (self.key, self.cert, self.ca, self.record)


# -- issuing -------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    """What an install writes: PEM bytes only — the CA key is not among them."""

    install_id: str
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes


def ca_certificate(ca_key: ec.EllipticCurvePrivateKey, subject: x509.Name, now: dt.datetime) -> x509.Certificate:
    """A self-signed CA that may only certify 127.0.0.1, ::1 and localhost, one level deep."""
    public = ca_key.public_key()
    constraints = x509.NameConstraints(
        permitted_subtrees=[x509.IPAddress(net) for net in LOCAL_IPS] + [x509.DNSName(LOCAL_DNS)],
        excluded_subtrees=None,
    )
    usage = x509.KeyUsage(
        digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(constraints, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def server_certificate(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    server_key: ec.EllipticCurvePrivateKey,
    now: dt.datetime,
    names: Iterable[x509.GeneralName] | None = None,
) -> x509.Certificate:
    """The TLS server certificate, for the loopback names unless ``names`` says otherwise."""
    if names is None:
        names = [x509.IPAddress(net.network_address) for net in LOCAL_IPS] + [x509.DNSName(LOCAL_DNS)]
    public = server_key.public_key()
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
    )
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tanba"),
            x509.NameAttribute(NameOID.COMMON_NAME, LOCAL_DNS),
        ]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def ca_subject(hostname: str, install_id: str, now: dt.datetime) -> x509.Name:
    host = "".join(ch for ch in hostname if ch.isprintable())[:30] or "localhost"
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tanba"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"install {install_id}"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{NICKNAME_PREFIX} {host} {now:%Y-%m-%d}"),
    ])


def issue(now: dt.datetime | None = None, hostname: str | None = None) -> Issued:
    """A fresh CA and server certificate; the CA key lives only inside this call."""
    now = now or dt.datetime.now(dt.UTC)
    install_id = secrets.token_hex(4)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    ca = ca_certificate(ca_key, ca_subject(hostname or socket.gethostname(), install_id, now), now)
    leaf = server_certificate(ca, ca_key, server_key, now)
    # Dropping the last reference frees the key; OpenSSL clears its private scalar on free.
    del ca_key
    key_pem = server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Issued(
        install_id=install_id,
        ca_pem=ca.public_bytes(serialization.Encoding.PEM),
        cert_pem=leaf.public_bytes(serialization.Encoding.PEM),
        key_pem=key_pem,
    )


# -- NSS databases (certutil) ----------------------------------------------------------


@dataclass(frozen=True)
class NssDb:
    path: Path
    browser: str


def certutil_path() -> str | None:
    """NSS certutil, or None (Windows' certutil.exe is a different tool with the same name)."""
    if sys.platform == "win32":
        return None
    return shutil.which("certutil")


def find_nss_databases(home: Path) -> list[NssDb]:
    """The browsers' NSS databases under ``home`` (SQL format: a cert9.db in the directory)."""
    found: list[NssDb] = []
    chromium = home / CHROMIUM_NSSDB
    if (chromium / "cert9.db").exists() or sys.platform.startswith("linux"):
        found.append(NssDb(chromium, "Chromium/Chrome"))
    for pattern, browser in OTHER_NSSDBS:
        for db in sorted(home.glob(pattern + "/cert9.db")):
            found.append(NssDb(db.parent, browser))
    return found


def _certutil(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([tool, *args], capture_output=True, text=True, timeout=CERTUTIL_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess([tool, *args], 1, "", str(exc))


def nss_nicknames(tool: str, db: Path) -> list[str]:
    """The certificate nicknames in one NSS database (empty if it cannot be read)."""
    proc = _certutil(tool, "-L", "-d", f"sql:{db}")
    names: list[str] = []
    for line in proc.stdout.splitlines():
        text = line.rstrip()
        head, _, trust = text.rpartition(" ")
        if head.strip() and trust.count(",") == 2:
            names.append(head.strip())
    return names


def _nss_create(tool: str, db: Path) -> str | None:
    ensure_private_dir(db)
    proc = _certutil(tool, "-N", "--empty-password", "-d", f"sql:{db}")
    return None if proc.returncode == 0 else (proc.stderr or proc.stdout).strip()


def _nss_add(tool: str, db: Path, nickname: str, ca_file: Path) -> str | None:
    """Trust ``ca_file`` for TLS servers in ``db``; an error message or None."""
    if not (db / "cert9.db").exists():
        problem = _nss_create(tool, db)
        if problem:
            return f"cannot create the NSS database: {problem}"
    proc = _certutil(tool, "-A", "-t", "C,,", "-n", nickname, "-d", f"sql:{db}", "-i", str(ca_file))
    if proc.returncode != 0:
        return (proc.stderr or proc.stdout).strip() or f"certutil exited with {proc.returncode}"
    return None


def _nss_delete(tool: str, db: Path, nickname: str) -> str | None:
    """Remove every certificate under ``nickname`` from ``db``; an error message or None."""
    for _ in range(10):  # a nickname may hold several certificates; each -D removes one
        if nickname not in nss_nicknames(tool, db):
            return None
        proc = _certutil(tool, "-D", "-n", nickname, "-d", f"sql:{db}")
        if proc.returncode != 0:
            return (proc.stderr or proc.stdout).strip() or f"certutil exited with {proc.returncode}"
    return f"{nickname!r} is still listed after 10 removals"


# -- the install record --------------------------------------------------------------


@dataclass(frozen=True)
class CaSummary:
    """What identifies an installed CA to a user or to the system trust store."""

    install_id: str
    subject: str
    sha1: str
    sha256: str
    serial: str
    not_after: dt.datetime

    @property
    def nickname(self) -> str:
        return f"{NICKNAME_PREFIX} ({self.install_id})"

    @property
    def system_file_name(self) -> str:
        return f"tanba-local-ca-{self.install_id}.crt"

    @classmethod
    def of(cls, install_id: str, ca_pem: bytes) -> CaSummary:
        cert = x509.load_pem_x509_certificate(ca_pem)
        return cls(
            install_id=install_id,
            subject=cert.subject.rfc4514_string(),
            sha1=cert.fingerprint(hashes.SHA1()).hex().upper(),  # the id macOS's keychain uses
            sha256=cert.fingerprint(hashes.SHA256()).hex().upper(),
            serial=f"{cert.serial_number:x}",
            not_after=cert.not_valid_after_utc,
        )


@dataclass(frozen=True)
class Record:
    install_id: str
    nssdbs: tuple[str, ...]

    def to_json(self) -> bytes:
        return json.dumps({"version": 1, "installId": self.install_id, "nssdbs": list(self.nssdbs)}, indent=2).encode()

    @classmethod
    def load(cls, path: Path) -> Record | None:
        try:
            obj: Any = json.loads(path.read_bytes())
            install_id = obj["installId"]
            dbs = obj["nssdbs"]
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise TlsError(f"{path} is damaged ({exc}); delete it and run `tanba tls install` again") from exc
        if not isinstance(install_id, str) or not isinstance(dbs, list) or not all(isinstance(d, str) for d in dbs):
            raise TlsError(f"{path} is damaged; delete it and run `tanba tls install` again")
        return cls(install_id, tuple(dbs))


def _installed_ca(files: TlsFiles) -> tuple[Record, CaSummary] | None:
    record = Record.load(files.record)
    if record is None:
        return None
    try:
        return record, CaSummary.of(record.install_id, files.ca.read_bytes())
    except (OSError, ValueError) as exc:
        raise TlsError(f"{files.ca} cannot be read ({exc}); run `tanba tls install` again") from exc


# -- install / uninstall / status ----------------------------------------------------


@dataclass
class InstallReport:
    ca: CaSummary
    files: TlsFiles
    trusted_in: list[NssDb] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: the CA this install replaced (removed from the NSS databases; maybe still in the system store)
    replaced: CaSummary | None = None


@dataclass
class UninstallReport:
    ca: CaSummary | None
    removed_from: list[Path] = field(default_factory=list)
    deleted: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def install(home: Path | None = None, files: TlsFiles | None = None, now: dt.datetime | None = None) -> InstallReport:
    """Make a new CA and server certificate, write them, and trust the CA in the NSS databases.

    A previous install is replaced: its CA leaves the NSS databases it was added to once the
    new one is in.
    """
    home = home if home is not None else Path.home()
    files = files or TlsFiles.default()
    try:
        previous = _installed_ca(files)
    except TlsError as exc:
        log.warning("replacing a damaged install: %s", exc)
        previous = None
    issued = issue(now)
    write_private(files.key, issued.key_pem)
    write_private(files.cert, issued.cert_pem)
    write_private(files.ca, issued.ca_pem)
    report = InstallReport(CaSummary.of(issued.install_id, issued.ca_pem), files)
    tool = certutil_path()
    databases = find_nss_databases(home)
    added: list[str] = []
    if tool is None:
        if databases:
            report.problems.append(
                "certutil (NSS tools) not found, so no browser trusts the CA yet: install libnss3-tools "
                "(Debian/Ubuntu), nss-tools (Fedora) or nss (Homebrew) and run `tanba tls install` again"
            )
    else:
        for db in databases:
            problem = _nss_add(tool, db.path, report.ca.nickname, files.ca)
            if problem is None:
                report.trusted_in.append(db)
                added.append(str(db.path))
            else:
                report.problems.append(f"{db.path} ({db.browser}): {problem}")
    write_private(files.record, Record(issued.install_id, tuple(added)).to_json())
    if previous is not None:
        old_record, old_ca = previous
        report.replaced = old_ca
        if tool is not None:
            targets = {*old_record.nssdbs, *(str(db.path) for db in databases)}
            for path in sorted(targets):
                if Path(path, "cert9.db").exists():
                    problem = _nss_delete(tool, Path(path), old_ca.nickname)
                    if problem:
                        report.problems.append(f"{path}: the previous CA is still trusted: {problem}")
    log.info("local TLS installed: CA %s, trusted in %d NSS databases", report.ca.nickname, len(added))
    return report


def uninstall(home: Path | None = None, files: TlsFiles | None = None) -> UninstallReport:
    """Remove the CA from every NSS database it was added to (and any found under ``home``), then the files."""
    home = home if home is not None else Path.home()
    files = files or TlsFiles.default()
    try:
        installed = _installed_ca(files)
    except TlsError as exc:
        installed = None
        report = UninstallReport(None, problems=[str(exc)])
    else:
        report = UninstallReport(installed[1] if installed else None)
    if installed is not None:
        record, ca = installed
        tool = certutil_path()
        targets = {*record.nssdbs, *(str(db.path) for db in find_nss_databases(home))}
        for name in sorted(targets):
            db = Path(name)
            if not (db / "cert9.db").exists():
                continue
            if tool is None:
                report.problems.append(f"{db}: certutil (NSS tools) not found; the CA is still trusted there")
                continue
            listed = ca.nickname in nss_nicknames(tool, db)
            problem = _nss_delete(tool, db, ca.nickname)
            if problem:
                report.problems.append(f"{db}: {problem}")
            elif listed:
                report.removed_from.append(db)
    for path in files.all():
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            report.problems.append(f"{path}: {exc.strerror}")
            continue
        report.deleted.append(path)
    return report


@dataclass(frozen=True)
class TlsStatus:
    files: TlsFiles
    ca: CaSummary | None
    server_not_after: dt.datetime | None = None
    #: NSS database -> the CA is listed there now (None: certutil not available)
    nssdbs: tuple[tuple[Path, bool | None], ...] = ()

    @property
    def installed(self) -> bool:
        return self.ca is not None and self.server_not_after is not None


def status(files: TlsFiles | None = None) -> TlsStatus:
    files = files or TlsFiles.default()
    installed = _installed_ca(files)
    if installed is None:
        return TlsStatus(files, None)
    record, ca = installed
    try:
        leaf = x509.load_pem_x509_certificate(files.cert.read_bytes())
    except (OSError, ValueError):
        return TlsStatus(files, ca)
    tool = certutil_path()
    dbs = tuple(
        (Path(p), None if tool is None else ca.nickname in nss_nicknames(tool, Path(p))) for p in record.nssdbs
    )
    return TlsStatus(files, ca, leaf.not_valid_after_utc, dbs)


# -- the system trust store (printed, never run) -----------------------------------------


def system_trust_steps(ca: CaSummary, ca_file: Path, platform: str = sys.platform) -> list[str]:
    """Commands that make the whole system trust the CA (Safari, curl, other programs)."""
    if platform == "win32":
        return [f'certutil -addstore -user Root "{ca_file}"']
    quoted = shlex.quote(str(ca_file))
    if platform == "darwin":
        return [f"security add-trusted-cert -r trustRoot -k ~/Library/Keychains/login.keychain-db {quoted}"]
    name = ca.system_file_name
    return [
        (f"sudo cp {quoted} /usr/local/share/ca-certificates/{name} && sudo update-ca-certificates"
         "   # Debian, Ubuntu"),
        f"sudo cp {quoted} /etc/pki/ca-trust/source/anchors/{name} && sudo update-ca-trust   # Fedora, RHEL",
    ]


def system_untrust_steps(ca: CaSummary, platform: str = sys.platform) -> list[str]:
    """Commands that take the CA out of the system trust store again."""
    if platform == "darwin":
        return [f"security delete-certificate -Z {ca.sha1} ~/Library/Keychains/login.keychain-db"]
    if platform == "win32":
        return [f"certutil -delstore -user Root {ca.serial}"]
    name = ca.system_file_name
    return [
        f"sudo rm -f /usr/local/share/ca-certificates/{name} && sudo update-ca-certificates --fresh   # Debian, Ubuntu",
        f"sudo rm -f /etc/pki/ca-trust/source/anchors/{name} && sudo update-ca-trust   # Fedora, RHEL",
    ]


# -- for the server --------------------------------------------------------------------


def certificate_installed(files: TlsFiles | None = None) -> bool:
    files = files or TlsFiles.default()
    return files.key.is_file() and files.cert.is_file()


def server_ssl_context(files: TlsFiles | None = None) -> ssl.SSLContext | None:
    """TLS 1.2+ with the installed server certificate, or None when none is installed.

    Raises :class:`TlsError` when the files are there but unusable (a half-written or
    mismatched pair): serving plain ws then would surprise a user who installed TLS.
    """
    files = files or TlsFiles.default()
    if not certificate_installed(files):
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(files.cert, files.key)
        leaf = x509.load_pem_x509_certificate(files.cert.read_bytes())
    except (OSError, ValueError, ssl.SSLError) as exc:
        raise TlsError(
            f"the local TLS certificate in {files.directory} cannot be used ({exc}); run `tanba tls install` again"
        ) from exc
    left = leaf.not_valid_after_utc - dt.datetime.now(dt.UTC)
    if left <= dt.timedelta(0):
        log.error("the local TLS certificate expired on %s: browsers will refuse wss; run `tanba tls install`",
                  leaf.not_valid_after_utc.date())
    elif left <= RENEW_WARNING:
        log.warning("the local TLS certificate expires on %s; renew it with `tanba tls install`",
                    leaf.not_valid_after_utc.date())
    return context
