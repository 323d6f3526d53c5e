"""`tanba sign` without the daemon: outputs verify with openssl and xmlsec1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from cryptography.hazmat.primitives import hashes

from support.native import openssl_cms_verify, xmlsec_verify
from support.tsa_server import TsaServer
from tanba.agent.setup.testpki import Manifest
from tanba.cli.main import main


def run(*args: str) -> Any:
    return CliRunner().invoke(main, ["sign", *args], catch_exceptions=False)


def pin_file(tmp_path: Path, pin: str) -> str:
    path = tmp_path / "pin"
    path.write_text(pin + "\n")
    return str(path)


def test_detached_cms_for_several_files(tmp_path: Path, pki: Manifest) -> None:
    docs = [tmp_path / "a.pdf", tmp_path / "b.txt"]
    docs[0].write_bytes(b"%PDF-1.4 fake" * 1000)
    docs[1].write_text("Өтініш")
    result = run(*map(str, docs), "--p12", str(pki.identities["rsa-auth"].p12), "--p12",
                 str(pki.identities["rsa-sign"].p12), "--pin-file", pin_file(tmp_path, "123456"))
    assert result.exit_code == 0, result.output
    for doc in docs:
        signature = doc.with_name(doc.name + ".cms")
        assert f"{doc} -> {signature}" in result.output
        openssl_cms_verify(pki, tmp_path, signature.read_bytes(), content=doc.read_bytes())


def test_attached_timestamped_cms(tmp_path: Path, pki: Manifest) -> None:
    doc = tmp_path / "order.txt"
    doc.write_text("order 7")
    with TsaServer(pki.tsa_pem, pki.tsa_key_pem) as tsa:
        result = run(str(doc), "--attached", "--timestamp", tsa.url, "--p12", str(pki.identities["ec-sign"].p12),
                     "--pin-file", pin_file(tmp_path, "123456"), "--out-dir", str(tmp_path / "out"))
        assert result.exit_code == 0, result.output
        assert tsa.requests == 1
    signed = (tmp_path / "out" / "order.txt.cms").read_bytes()
    assert openssl_cms_verify(pki, tmp_path, signed) == "order 7"


def test_xml_on_the_token(tmp_path: Path, pki: Manifest, softhsm: Any) -> None:
    doc = tmp_path / "app.xml"
    doc.write_text("<app><who>ТЕСТОВ</who></app>")
    listed = CliRunner().invoke(main, ["certs", "list", "--pkcs11", softhsm.module, "--json"])
    ec_sign = next(c for c in json.loads(listed.output)["certificates"]
                   if c["fingerprintSha256"] == fingerprint(pki, "ec-sign"))
    result = run(str(doc), "--format", "xml", "--pkcs11", softhsm.module, "--pin-file", pin_file(tmp_path, "1234"),
                 "--id", ec_sign["id"])
    assert result.exit_code == 0, result.output
    signed = (tmp_path / "app.signed.xml").read_bytes()
    assert b"ecdsa-sha256" in signed  # the certificate asked for by --id, not the first one
    xmlsec_verify(pki, tmp_path, signed)


def fingerprint(pki: Manifest, name: str) -> str:
    return pki.identities[name].certificate().fingerprint(hashes.SHA256()).hex()


def test_wrong_pin_and_auth_only_keys_fail_clearly(tmp_path: Path, pki: Manifest) -> None:
    doc = tmp_path / "x.txt"
    doc.write_text("x")
    wrong = run(str(doc), "--p12", str(pki.identities["rsa-sign"].p12), "--pin-file", pin_file(tmp_path, "000000"))
    assert wrong.exit_code == 1 and "wrong_pin" in wrong.output
    auth_only = run(str(doc), "--p12", str(pki.identities["rsa-auth"].p12), "--pin-file", pin_file(tmp_path, "123456"))
    assert auth_only.exit_code == 1 and "no_certificate" in auth_only.output
    assert not (tmp_path / "x.txt.cms").exists()


def test_a_file_that_is_not_pkcs12_is_named_before_any_password(tmp_path: Path, pki: Manifest) -> None:
    """The issue's case: a certificate given as --p12 asked a password, then printed
    "Insufficient data - … bytes requested"."""
    doc = tmp_path / "doc.txt"
    doc.write_text("x")
    result = CliRunner().invoke(main, ["sign", str(doc), "--p12", str(pki.root_pem)], input="123456\n")
    assert result.exit_code == 1
    assert "is not a PKCS#12 file (it is a PEM text file holding a CERTIFICATE)" in result.output
    assert "PIN for" not in result.output and "Password" not in result.output
    assert "Insufficient data" not in result.output


def test_no_match_says_what_is_wrong_with_the_key_that_is_there(tmp_path: Path, pki: Manifest) -> None:
    """Issue 17 item 7: "no certificate matches" told the user nothing.  The login key used
    to sign is named as a login key with the key that would do; an expired key by its date."""
    doc = tmp_path / "x.txt"
    doc.write_text("x")
    auth_only = run(str(doc), "--p12", str(pki.identities["rsa-auth"].p12), "--pin-file", pin_file(tmp_path, "123456"))
    assert auth_only.exit_code == 1 and "no_certificate" in auth_only.output
    assert "rsa-auth.p12) is an authentication key (for login); signing documents needs a signing key" in auth_only.output
    expired = pki.identities["rsa-sign-expired"]
    late = run(str(doc), "--p12", str(expired.p12), "--pin-file", pin_file(tmp_path, "123456"))
    assert late.exit_code == 1 and "no_certificate" in late.output
    assert f"expired on {expired.certificate().not_valid_after_utc:%Y-%m-%d}" in late.output
    assert not (tmp_path / "x.txt.cms").exists()


def test_without_p12_the_config_files_keys_sign(tmp_path: Path, pki: Manifest, monkeypatch: Any) -> None:
    """Like `tanba serve` (issue 17 item 9: a CLI that agrees with the daemon): no --p12 given,
    the config file's p12 are the keys."""
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "config.toml").write_text(f'p12 = ["{pki.identities["rsa-sign"].p12}"]\nautodetect = false\n')
    monkeypatch.setenv("TANBA_CONFIG_DIR", str(config))
    doc = tmp_path / "doc.txt"
    doc.write_text("Өтініш")
    result = run(str(doc), "--pin-file", pin_file(tmp_path, "123456"))
    assert result.exit_code == 0, result.output
    openssl_cms_verify(pki, tmp_path, (tmp_path / "doc.txt.cms").read_bytes(), content=doc.read_bytes())
