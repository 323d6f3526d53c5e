"""The test PKI is what the shared contract promises: names, KZ subject fields, usages,
validity, revocation, a chain OpenSSL accepts, and PKCS#12 files OpenSSL can open."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tanba.agent.setup.testpki import Manifest, TestIdentity, make_test_pki

EXPECTED = {  # name: (usage, key, status)
    "rsa-auth": ("auth", "rsa2048", "valid"),
    "rsa-sign": ("sign", "rsa2048", "valid"),
    "ec-auth": ("auth", "p256", "valid"),
    "ec-sign": ("sign", "p256", "valid"),
    "org-rsa-sign": ("sign", "rsa2048", "valid"),
    "rsa-sign-expired": ("sign", "rsa2048", "expired"),
    "rsa-sign-revoked": ("sign", "rsa2048", "revoked"),
    "rsa-sign-legacy": ("sign", "rsa2048", "valid"),
}
ON_TOKEN = {"rsa-auth", "rsa-sign", "ec-auth", "ec-sign"}
NOW = dt.datetime.now(dt.timezone.utc)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in name.get_attributes_for_oid(oid)]


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)


def test_manifest_lists_the_contract_identities(pki: Manifest) -> None:
    got = {n: (i.usage, i.key, i.status) for n, i in pki.identities.items()}
    assert got == EXPECTED
    for name, ident in pki.identities.items():
        assert ident.name == name
        assert ident.p12_password == "123456"
        assert ident.p12 == pki.outdir / f"{name}.p12"
        assert ident.key_pem == pki.outdir / f"{name}.key.pem"
        assert ident.cert_pem == pki.outdir / f"{name}.pem"
        assert all(p.is_file() for p in (ident.p12, ident.key_pem, ident.cert_pem))
        assert ident.key_pem.stat().st_mode & 0o077 == 0  # keys are private to the user
        assert ident.p12.stat().st_mode & 0o077 == 0
        assert int(ident.serial_hex, 16) == _cert(ident.cert_pem).serial_number
        assert (ident.cka_id_hex is not None) == (name in ON_TOKEN)
    for attr in ("root_pem", "intermediate_pem", "intermediate_key_pem", "tsa_pem",
                 "tsa_key_pem", "ocsp_pem", "ocsp_key_pem", "crl_pem"):
        assert getattr(pki, attr).is_file(), attr
    port = int(pki.ocsp_url.rsplit(":", 1)[1].split("/")[0])
    assert (pki.ocsp_url, pki.crl_url) == (f"http://127.0.0.1:{port}/ocsp", f"http://127.0.0.1:{port}/crl")


def test_manifest_paths_are_relative_so_the_directory_can_move(pki: Manifest,
                                                               tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    shutil.copytree(pki.outdir, moved)
    loaded = Manifest.load(moved)
    assert loaded.root_pem == moved.resolve() / "root.pem"
    assert loaded.identities["ec-sign"].p12 == moved.resolve() / "ec-sign.p12"
    assert loaded.identities["ec-sign"].serial_hex == pki.identities["ec-sign"].serial_hex
    assert str(pki.outdir) not in (moved / "manifest.json").read_text(encoding="utf-8")


def test_identity_is_not_collected_as_a_test_class() -> None:
    assert TestIdentity.__test__ is False


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_leaf_has_kz_subject_usages_and_endpoints(pki: Manifest, name: str) -> None:
    ident = pki.identities[name]
    cert = _cert(ident.cert_pem)
    subject = cert.subject
    (cn,) = _attr(subject, NameOID.COMMON_NAME)
    assert re.search("[А-ЯЁ]", cn), cn  # Cyrillic, like NCA certificates
    assert _attr(subject, NameOID.SURNAME) and _attr(subject, NameOID.GIVEN_NAME)
    assert cn.startswith(_attr(subject, NameOID.SURNAME)[0] + " ")
    assert _attr(subject, NameOID.COUNTRY_NAME) == ["KZ"]
    assert ident.iin is not None and re.fullmatch(r"\d{12}", ident.iin)
    assert _attr(subject, NameOID.SERIAL_NUMBER) == [f"IIN{ident.iin}"]
    assert _attr(cert.issuer, NameOID.COMMON_NAME) == ["TANBA TEST INTERMEDIATE CA"]

    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    if name == "org-rsa-sign":
        assert ident.bin is not None and re.fullmatch(r"\d{12}", ident.bin)
        assert _attr(subject, NameOID.ORGANIZATIONAL_UNIT_NAME) == [f"BIN{ident.bin}"]
        assert _attr(subject, NameOID.ORGANIZATION_NAME)
        assert [p.policy_identifier.dotted_string for p in policies] == ["1.2.398.3.3.4.1.2"]
    else:
        assert ident.bin is None
        assert not _attr(subject, NameOID.ORGANIZATIONAL_UNIT_NAME)
        assert [p.policy_identifier.dotted_string for p in policies] == ["1.2.398.3.3.4.1.1"]

    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    eku = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert ku.digital_signature
    if ident.usage == "auth":
        assert ku.key_encipherment and not ku.content_commitment
        assert eku == [ExtendedKeyUsageOID.CLIENT_AUTH]
    else:
        assert ku.content_commitment and not ku.key_encipherment
        assert eku == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [d.access_location.value for d in aia] == [pki.ocsp_url]
    (dp,) = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [n.value for n in dp.full_name or []] == [pki.crl_url]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_key_file_matches_certificate_and_kind(pki: Manifest, name: str) -> None:
    ident = pki.identities[name]
    key = load_pem_private_key(ident.key_pem.read_bytes(), password=None)
    cert = _cert(ident.cert_pem)
    assert key.public_key() == cert.public_key()
    if ident.key == "p256":
        assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    else:
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048


def test_only_the_expired_identity_is_out_of_its_validity(pki: Manifest) -> None:
    for name, ident in pki.identities.items():
        cert = _cert(ident.cert_pem)
        in_force = cert.not_valid_before_utc <= NOW <= cert.not_valid_after_utc
        assert in_force == (name != "rsa-sign-expired"), name
    expired = _cert(pki.identities["rsa-sign-expired"].cert_pem)
    inter = _cert(pki.intermediate_pem)
    # it was valid once, under a CA valid then too (a signature from back then can verify)
    assert inter.not_valid_before_utc < expired.not_valid_before_utc


def test_openssl_verifies_the_chain_and_rejects_expired_and_revoked(pki: Manifest) -> None:
    base = ["verify", "-CAfile", str(pki.root_pem), "-untrusted", str(pki.intermediate_pem)]
    for name, ident in pki.identities.items():
        plain = _openssl(*base, str(ident.cert_pem))
        with_crl = _openssl(*base, "-crl_check", "-CRLfile", str(pki.crl_pem),
                            str(ident.cert_pem))
        if name == "rsa-sign-expired":
            assert plain.returncode != 0 and "expired" in plain.stdout + plain.stderr
        elif name == "rsa-sign-revoked":
            assert plain.returncode == 0, plain.stdout + plain.stderr
            assert with_crl.returncode != 0
            assert "revoked" in with_crl.stdout + with_crl.stderr
        else:
            assert plain.returncode == 0, plain.stdout + plain.stderr
            assert with_crl.returncode == 0, with_crl.stdout + with_crl.stderr
    for attr in ("tsa_pem", "ocsp_pem"):
        res = _openssl(*base, str(getattr(pki, attr)))
        assert res.returncode == 0, res.stdout + res.stderr


def test_crl_is_the_intermediates_and_lists_only_the_revoked_leaf(pki: Manifest) -> None:
    crl = x509.load_pem_x509_crl(pki.crl_pem.read_bytes())
    inter = _cert(pki.intermediate_pem)
    assert crl.issuer == inter.subject
    inter_public = inter.public_key()
    assert isinstance(inter_public, rsa.RSAPublicKey)
    assert crl.is_signature_valid(inter_public)
    assert [r.serial_number for r in crl] == [
        int(pki.identities["rsa-sign-revoked"].serial_hex, 16)]
    assert crl.next_update_utc is not None and crl.next_update_utc > NOW


def test_ca_tsa_and_ocsp_certificates(pki: Manifest) -> None:
    root, inter = _cert(pki.root_pem), _cert(pki.intermediate_pem)
    assert _attr(root.subject, NameOID.COMMON_NAME) == ["TANBA TEST ROOT CA"]
    assert root.issuer == root.subject and inter.issuer == root.subject
    for ca in (root, inter):
        assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    inter_key = load_pem_private_key(pki.intermediate_key_pem.read_bytes(), None)
    assert inter_key.public_key() == inter.public_key()

    tsa = _cert(pki.tsa_pem)
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert load_pem_private_key(pki.tsa_key_pem.read_bytes(), None).public_key() \
        == tsa.public_key()

    ocsp = _cert(pki.ocsp_pem)
    eku = ocsp.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    assert ocsp.extensions.get_extension_for_class(x509.OCSPNoCheck)
    assert ocsp.issuer == inter.subject  # a delegated responder of the leaves' CA
    assert load_pem_private_key(pki.ocsp_key_pem.read_bytes(), None).public_key() \
        == ocsp.public_key()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_p12_opens_with_openssl_and_holds_key_cert_and_chain(pki: Manifest,
                                                                    name: str) -> None:
    ident = pki.identities[name]
    args = ["pkcs12", "-in", str(ident.p12), "-passin", f"pass:{ident.p12_password}",
            "-nodes"]
    res = _openssl(*args)
    if res.returncode != 0:  # OpenSSL 3 needs -legacy for old algorithms (RC2)
        res = _openssl(*args, "-legacy")
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("BEGIN CERTIFICATE") == 3
    assert "BEGIN PRIVATE KEY" in res.stdout
    wrong = _openssl("pkcs12", "-in", str(ident.p12), "-passin", "pass:654321", "-nodes")
    assert wrong.returncode != 0

    p12 = pkcs12.load_pkcs12(ident.p12.read_bytes(), ident.p12_password.encode())
    assert p12.cert is not None and p12.cert.certificate == _cert(ident.cert_pem)
    assert p12.cert.friendly_name == name.encode()
    assert [c.certificate for c in p12.additional_certs] == [
        _cert(pki.intermediate_pem), _cert(pki.root_pem)]


def test_legacy_p12_uses_sha1_3des_like_old_national_files(pki: Manifest) -> None:
    info = _openssl("pkcs12", "-in", str(pki.identities["rsa-sign-legacy"].p12), "-info",
                    "-noout", "-passin", "pass:123456")
    assert info.returncode == 0, info.stderr
    assert "MAC: sha1" in info.stderr
    assert info.stderr.count("pbeWithSHA1And3-KeyTripleDES-CBC") == 2  # certs and key
    modern = _openssl("pkcs12", "-in", str(pki.identities["rsa-sign"].p12), "-info",
                      "-noout", "-passin", "pass:123456")
    assert "AES-256-CBC" in modern.stderr and "TripleDES" not in modern.stderr


def test_module_cli_makes_a_pki(tmp_path: Path) -> None:
    out = tmp_path / "pki"
    res = subprocess.run([sys.executable, "-m", "tanba.agent.setup.testpki", str(out)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert set(Manifest.load(out).identities) == set(EXPECTED)
    bad = subprocess.run([sys.executable, "-m", "tanba.agent.setup.testpki"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "usage" in bad.stderr


def test_regenerating_replaces_keys_and_serials(pki: Manifest, tmp_path: Path) -> None:
    first = make_test_pki(tmp_path)
    second = make_test_pki(tmp_path)
    assert first.identities["rsa-sign"].serial_hex != second.identities["rsa-sign"].serial_hex
    assert Manifest.load(tmp_path).identities["rsa-sign"].serial_hex \
        == second.identities["rsa-sign"].serial_hex
    assert not list(tmp_path.glob(".*"))  # no temp files left behind
