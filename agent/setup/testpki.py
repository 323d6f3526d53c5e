"""A throw-away Kazakhstan-style test PKI, for tests, the demo and ``softhsm-setup.sh``.

``make_test_pki(outdir)`` writes a root CA, an intermediate CA (the issuer of every leaf),
a TSA and an OCSP responder certificate, the intermediate's CRL, and one PKCS#12 file, key
and certificate per test identity, plus ``manifest.json`` describing them with paths
relative to ``outdir``.  ``Manifest.load(outdir)`` reads it back.  ``manifest.json`` is
written last, so its presence means the PKI is complete.

Every private key here is unencrypted on disk: this is test material, never a real PKI.

Run as ``python -m tanba.agent.setup.testpki OUTDIR`` (or ``python agent/setup/testpki.py OUTDIR``:
the module needs only ``cryptography`` and the standard library).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

log = logging.getLogger(__name__)

P12_PASSWORD = "123456"
#: where the leaves' OCSP (AIA) and CRL distribution point URLs point; the port is chosen
#: free when the PKI is made, so test runs side by side each have their own responder
REVOCATION_HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((REVOCATION_HOST, 0))
        return int(sock.getsockname()[1])
ROOT_CN = "TANBA TEST ROOT CA"
INTERMEDIATE_CN = "TANBA TEST INTERMEDIATE CA"
POLICY_INDIVIDUAL = "1.2.398.3.3.4.1.1"
POLICY_ORGANISATION = "1.2.398.3.3.4.1.2"
TOKEN_IDENTITIES = ("rsa-auth", "rsa-sign", "ec-auth", "ec-sign")

Usage = Literal["auth", "sign"]
KeyKind = Literal["rsa2048", "p256"]
Status = Literal["valid", "expired", "revoked"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class TestIdentity:
    """One end-entity certificate with its key, as files in the PKI directory."""

    __test__ = False  # not a pytest test class, despite the name

    name: str
    usage: Usage
    key: KeyKind
    status: Status
    iin: str | None
    bin: str | None
    serial_hex: str
    p12: Path
    p12_password: str
    key_pem: Path
    cert_pem: Path
    cka_id_hex: str | None

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem.read_bytes())


@dataclass(frozen=True)
class Manifest:
    """What ``make_test_pki`` wrote, with absolute paths."""

    outdir: Path
    identities: dict[str, TestIdentity]
    root_pem: Path
    intermediate_pem: Path
    intermediate_key_pem: Path
    tsa_pem: Path
    tsa_key_pem: Path
    ocsp_pem: Path
    ocsp_key_pem: Path
    crl_pem: Path
    ocsp_url: str
    crl_url: str

    _FILES = ("root_pem", "intermediate_pem", "intermediate_key_pem", "tsa_pem",
              "tsa_key_pem", "ocsp_pem", "ocsp_key_pem", "crl_pem")
    _ID_FILES = ("p12", "key_pem", "cert_pem")

    @classmethod
    def load(cls, outdir: Path) -> Manifest:
        outdir = Path(outdir).resolve()
        raw = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
        identities = {}
        for name, entry in raw["identities"].items():
            fields = dict(entry)
            for key in cls._ID_FILES:
                fields[key] = outdir / fields[key]
            identities[name] = TestIdentity(**fields)
        return cls(
            outdir=outdir,
            identities=identities,
            ocsp_url=raw["ocsp_url"],
            crl_url=raw["crl_url"],
            **{key: outdir / raw[key] for key in cls._FILES},
        )

    def to_json(self) -> str:
        def rel(path: Path) -> str:
            return path.relative_to(self.outdir).as_posix()

        identities = {}
        for name, ident in self.identities.items():
            entry: dict[str, object] = dict(vars(ident))
            for key in self._ID_FILES:
                entry[key] = rel(getattr(ident, key))
            identities[name] = entry
        doc: dict[str, object] = {key: rel(getattr(self, key)) for key in self._FILES}
        doc.update(ocsp_url=self.ocsp_url, crl_url=self.crl_url, identities=identities)
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"

    def certificate(self, attr: str) -> x509.Certificate:
        """Load one of the CA/service certificates, e.g. ``certificate("root_pem")``."""
        path: Path = getattr(self, attr)
        return x509.load_pem_x509_certificate(path.read_bytes())


@dataclass(frozen=True)
class _Person:
    name: str
    usage: Usage
    key: KeyKind
    status: Status
    surname: str
    first_name: str
    patronymic: str
    iin: str
    organisation: str | None = None
    bin: str | None = None


def _check_digit(first11: str) -> str:
    """Kazakh IIN/BIN control digit (two weighted passes mod 11)."""
    digits = [int(c) for c in first11]
    for weights in (range(1, 12), [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]):
        check = sum(d * w for d, w in zip(digits, weights)) % 11
        if check != 10:
            return str(check)
    raise ValueError(f"{first11}: no valid control digit")


def _iin(first11: str) -> str:
    return first11 + _check_digit(first11)


_PEOPLE = (
    _Person("rsa-auth", "auth", "rsa2048", "valid", "ТЕСТОВ", "ТЕСТ", "ТЕСТОВИЧ",
            _iin("85010130001")),
    _Person("rsa-sign", "sign", "rsa2048", "valid", "ТЕСТОВ", "ТЕСТ", "ТЕСТОВИЧ",
            _iin("85010130001")),
    _Person("ec-auth", "auth", "p256", "valid", "ЭЛЛИПТИКОВА", "АЙГУЛЬ", "СЕРИКОВНА",
            _iin("90020240002")),
    _Person("ec-sign", "sign", "p256", "valid", "ЭЛЛИПТИКОВА", "АЙГУЛЬ", "СЕРИКОВНА",
            _iin("90020240002")),
    _Person("org-rsa-sign", "sign", "rsa2048", "valid", "СОТРУДНИКОВ", "БАХЫТ", "ЕРЛАНОВИЧ",
            _iin("77030330003"), organisation='АО "ТЕСТОВАЯ ОРГАНИЗАЦИЯ"',
            bin=_iin("05014000004")),
    _Person("rsa-sign-expired", "sign", "rsa2048", "expired", "ПРОСРОЧЕНОВ", "ЕРЛАН",
            "МАРАТОВИЧ", _iin("80040430005")),
    _Person("rsa-sign-revoked", "sign", "rsa2048", "revoked", "ОТОЗВАНОВ", "МАРАТ",
            "ЕРЛАНОВИЧ", _iin("81050530006")),
    _Person("rsa-sign-legacy", "sign", "rsa2048", "valid", "СТАРОВ", "ДАУРЕН", "ЖАНОВИЧ",
            _iin("82060630007")),
)


def _new_key(kind: KeyKind) -> PrivateKey:
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TANBA TEST"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
    ])


def _leaf_name(p: _Person) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COMMON_NAME, f"{p.surname} {p.first_name}"),
        x509.NameAttribute(NameOID.SURNAME, p.surname),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IIN{p.iin}"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
    ]
    if p.organisation is not None:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, p.organisation))
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"BIN{p.bin}"))
    # As in NCA certificates, GIVENNAME carries the patronymic; CN is "SURNAME NAME".
    attrs.append(x509.NameAttribute(NameOID.GIVEN_NAME, p.patronymic))
    return x509.Name(attrs)


def _key_usage(*, digital_signature: bool = False, content_commitment: bool = False,
               key_encipherment: bool = False, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=content_commitment,
        key_encipherment=key_encipherment, data_encipherment=False, key_agreement=False,
        key_cert_sign=cert_sign, crl_sign=cert_sign, encipher_only=False, decipher_only=False,
    )


class _Issuer:
    """A CA certificate with its key, able to issue certificates."""

    def __init__(self, cert: x509.Certificate, key: PrivateKey) -> None:
        self.cert = cert
        self.key = key

    def issue(self, subject: x509.Name, public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
              not_before: dt.datetime, not_after: dt.datetime,
              extensions: Sequence[tuple[x509.ExtensionType, bool]]) -> x509.Certificate:
        ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        )
        for ext, critical in extensions:
            builder = builder.add_extension(ext, critical=critical)
        return builder.sign(self.key, hashes.SHA256())


def _self_signed_root(now: dt.datetime) -> _Issuer:
    key = _new_key("rsa2048")
    name = _name(ROOT_CN)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=3 * 365))
        .not_valid_after(now + dt.timedelta(days=20 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _Issuer(cert, key)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, secret: bool = False) -> None:
    """Write then rename, so a reader never sees half a file.  Keys and p12s are 0600."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o600 if secret else 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _p12_encryption(legacy: bool) -> serialization.KeySerializationEncryption:
    password = P12_PASSWORD.encode()
    if not legacy:
        # PBES2 / PBKDF2-SHA256 / AES-256-CBC with an HMAC-SHA256 MAC.
        return serialization.BestAvailableEncryption(password)
    # Like national files made by old tools: PBE-SHA1-3DES for key and certificates (the
    # cryptography package cannot write RC2-40), MAC with HMAC-SHA1.
    return (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(2048)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())
        .build(password)
    )


def _leaf_extensions(p: _Person, ocsp_url: str, crl_url: str) -> list[tuple[x509.ExtensionType, bool]]:
    if p.usage == "auth":
        ku = _key_usage(digital_signature=True, key_encipherment=True)
        eku = ExtendedKeyUsageOID.CLIENT_AUTH
    else:
        ku = _key_usage(digital_signature=True, content_commitment=True)
        eku = ExtendedKeyUsageOID.EMAIL_PROTECTION
    policy = POLICY_ORGANISATION if p.organisation else POLICY_INDIVIDUAL
    return [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (ku, True),
        (x509.ExtendedKeyUsage([eku]), False),
        (x509.CertificatePolicies([
            x509.PolicyInformation(x509.ObjectIdentifier(policy), None)]), False),
        (x509.AuthorityInformationAccess([x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP,
            x509.UniformResourceIdentifier(ocsp_url))]), False),
        (x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)],
            relative_name=None, reasons=None, crl_issuer=None)]), False),
    ]


def _service_cert(ca: _Issuer, cn: str, eku: x509.ObjectIdentifier, now: dt.datetime,
                  extra: Sequence[tuple[x509.ExtensionType, bool]] = ()
                  ) -> tuple[x509.Certificate, PrivateKey]:
    key = _new_key("rsa2048")
    cert = ca.issue(_name(cn), key.public_key(), now - dt.timedelta(days=2 * 365),
                    now + dt.timedelta(days=5 * 365), [
                        (x509.BasicConstraints(ca=False, path_length=None), True),
                        (_key_usage(digital_signature=True, content_commitment=True), True),
                        (x509.ExtendedKeyUsage([eku]), True),
                        *extra,
                    ])
    return cert, key


def make_test_pki(outdir: Path, revocation_port: int | None = None) -> Manifest:
    """Make a fresh test PKI in ``outdir`` (created if needed) and return its manifest.

    The leaves name ``http://127.0.0.1:PORT/ocsp`` and ``/crl``; PORT is
    ``revocation_port`` or a port free right now (recorded in the manifest).
    """
    port = revocation_port or _free_port()
    ocsp_url = f"http://{REVOCATION_HOST}:{port}/ocsp"
    crl_url = f"http://{REVOCATION_HOST}:{port}/crl"
    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    manifest_path = outdir / "manifest.json"
    if manifest_path.exists():
        manifest_path.unlink()  # the PKI is incomplete until the new manifest lands
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    root = _self_signed_root(now)
    inter_key = _new_key("rsa2048")
    inter = _Issuer(root.issue(
        _name(INTERMEDIATE_CN), inter_key.public_key(),
        now - dt.timedelta(days=3 * 365), now + dt.timedelta(days=10 * 365), [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (_key_usage(cert_sign=True), True),
        ]), inter_key)
    tsa_cert, tsa_key = _service_cert(inter, "TANBA TEST TSA", ExtendedKeyUsageOID.TIME_STAMPING, now)
    ocsp_cert, ocsp_key = _service_cert(inter, "TANBA TEST OCSP", ExtendedKeyUsageOID.OCSP_SIGNING,
                                        now, [(x509.OCSPNoCheck(), False)])

    identities: dict[str, TestIdentity] = {}
    revoked: list[x509.Certificate] = []
    for p in _PEOPLE:
        key = _new_key(p.key)
        if p.status == "expired":
            not_before, not_after = now - dt.timedelta(days=400), now - dt.timedelta(days=35)
        else:
            not_before, not_after = now - dt.timedelta(days=1), now + dt.timedelta(days=365)
        cert = inter.issue(_leaf_name(p), key.public_key(), not_before, not_after,
                           _leaf_extensions(p, ocsp_url, crl_url))
        if p.status == "revoked":
            revoked.append(cert)
        p12 = pkcs12.serialize_key_and_certificates(
            p.name.encode(), key, cert, [inter.cert, root.cert],
            _p12_encryption(legacy=p.name == "rsa-sign-legacy"))
        files = {"p12": outdir / f"{p.name}.p12", "key_pem": outdir / f"{p.name}.key.pem",
                 "cert_pem": outdir / f"{p.name}.pem"}
        _write(files["p12"], p12, secret=True)
        _write(files["key_pem"], _key_pem(key), secret=True)
        _write(files["cert_pem"], _pem(cert))
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        identities[p.name] = TestIdentity(
            name=p.name, usage=p.usage, key=p.key, status=p.status, iin=p.iin, bin=p.bin,
            serial_hex=format(cert.serial_number, "x"), p12_password=P12_PASSWORD,
            cka_id_hex=ski.hex() if p.name in TOKEN_IDENTITIES else None, **files)

    crl_builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(inter.cert.subject)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + dt.timedelta(days=30))
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            inter_key.public_key()), critical=False)
    )
    for cert in revoked:
        crl_builder = crl_builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(cert.serial_number)
            .revocation_date(now - dt.timedelta(hours=2))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build())
    crl = crl_builder.sign(inter_key, hashes.SHA256())

    manifest = Manifest(
        outdir=outdir, identities=identities,
        root_pem=outdir / "root.pem", intermediate_pem=outdir / "intermediate.pem",
        intermediate_key_pem=outdir / "intermediate.key.pem",
        tsa_pem=outdir / "tsa.pem", tsa_key_pem=outdir / "tsa.key.pem",
        ocsp_pem=outdir / "ocsp.pem", ocsp_key_pem=outdir / "ocsp.key.pem",
        crl_pem=outdir / "crl.pem", ocsp_url=ocsp_url, crl_url=crl_url,
    )
    _write(manifest.root_pem, _pem(root.cert))
    _write(manifest.intermediate_pem, _pem(inter.cert))
    _write(manifest.intermediate_key_pem, _key_pem(inter_key), secret=True)
    _write(manifest.tsa_pem, _pem(tsa_cert))
    _write(manifest.tsa_key_pem, _key_pem(tsa_key), secret=True)
    _write(manifest.ocsp_pem, _pem(ocsp_cert))
    _write(manifest.ocsp_key_pem, _key_pem(ocsp_key), secret=True)
    _write(manifest.crl_pem, crl.public_bytes(serialization.Encoding.PEM))
    _write(manifest_path, manifest.to_json().encode("utf-8"))
    log.info("test PKI written to %s", outdir)
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m tanba.agent.setup.testpki OUTDIR", file=sys.stderr)
        return 2
    manifest = make_test_pki(Path(args[0]))
    print(f"test PKI ({len(manifest.identities)} identities) in {manifest.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
