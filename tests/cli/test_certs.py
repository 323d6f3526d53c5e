"""`tanba certs list/show` run with click's CliRunner against the test PKI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SoftHSM
from tanba.agent.setup.testpki import Manifest
from tanba.cli.certs import command
from tanba.providers.pkcs12 import identity_id


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config dir of the test's own (the user's config file is never read)."""
    path = tmp_path / "cfg"
    path.mkdir()
    monkeypatch.setenv("TANBA_CONFIG_DIR", str(path))
    return path


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password.txt"
    path.write_text("123456\n", encoding="utf-8")
    return path


def p12_args(pki: Manifest, *names: str) -> list[str]:
    args: list[str] = []
    for name in names:
        args += ["--p12", str(pki.identities[name].p12)]
    return args


def test_list_table_shows_owner_numbers_purpose_and_expiry(pki: Manifest, password_file: Path) -> None:
    result = CliRunner().invoke(
        command, ["list", *p12_args(pki, "rsa-auth", "org-rsa-sign", "rsa-sign-expired"),
                  "--pin-file", str(password_file)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["STORAGE", "OWNER", "IIN/BIN", "PURPOSE", "ALGORITHM", "ISSUER", "VALID", "UNTIL", "ID"]
    assert len(lines) == 4
    auth = pki.identities["rsa-auth"]
    auth_line = next(line for line in lines if identity_id(auth.certificate()) in line)
    assert auth.iin is not None and auth.iin in auth_line and " auth " in auth_line
    org = pki.identities["org-rsa-sign"]
    org_line = next(line for line in lines if identity_id(org.certificate()) in line)
    assert f"{org.iin}/{org.bin}" in org_line and "ТЕСТОВАЯ ОРГАНИЗАЦИЯ" in org_line
    expired_line = next(line for line in lines if identity_id(pki.identities["rsa-sign-expired"].certificate()) in line)
    assert "EXPIRED" in expired_line
    assert sum("EXPIRED" in line for line in lines) == 1


def test_list_asks_the_password_hidden(pki: Manifest) -> None:
    result = CliRunner().invoke(command, ["list", *p12_args(pki, "ec-sign")], input="123456\n")
    assert result.exit_code == 0, result.output
    assert "Password for" in result.stderr
    assert "123456" not in result.output  # not echoed
    assert identity_id(pki.identities["ec-sign"].certificate()) in result.stdout


def test_wrong_password_is_reported_and_asked_again(pki: Manifest) -> None:
    result = CliRunner().invoke(command, ["list", *p12_args(pki, "ec-sign")], input="000000\n123456\n")
    assert result.exit_code == 0, result.output
    assert "wrong password" in result.stderr
    assert identity_id(pki.identities["ec-sign"].certificate()) in result.stdout


def test_wrong_password_file_fails_but_lists_the_rest(pki: Manifest, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("nope\n", encoding="utf-8")
    result = CliRunner().invoke(command, ["list", *p12_args(pki, "rsa-sign"), "--pin-file", str(bad)])
    assert result.exit_code == 1
    assert "wrong password" in result.stderr


def test_list_json_is_design_certinfo(pki: Manifest, password_file: Path) -> None:
    result = CliRunner().invoke(
        command, ["list", *p12_args(pki, "org-rsa-sign"), "--pin-file", str(password_file), "--json"])
    assert result.exit_code == 0, result.output
    [cert] = json.loads(result.stdout)["certificates"]
    org = pki.identities["org-rsa-sign"]
    assert cert["bin"] == org.bin and cert["iin"] == org.iin and cert["storage"] == "PKCS12"
    assert cert["id"] == identity_id(org.certificate())


def test_corrupt_file_is_reported(tmp_path: Path, password_file: Path) -> None:
    broken = tmp_path / "broken.p12"
    broken.write_bytes(b"garbage")
    result = CliRunner().invoke(command, ["list", "--p12", str(broken), "--pin-file", str(password_file)])
    assert result.exit_code == 1
    assert "is not a PKCS#12 file" in result.stderr


def test_show_by_id(pki: Manifest, password_file: Path) -> None:
    ident = pki.identities["rsa-sign"]
    cert_id = identity_id(ident.certificate())
    args = ["show", cert_id, *p12_args(pki, "rsa-sign", "ec-sign"), "--pin-file", str(password_file)]
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 0, result.output
    assert f"IIN{ident.iin}" in result.stdout
    assert ident.serial_hex in result.stdout
    assert "1.2.398.3.3.4.1.1" in result.stdout  # policy
    assert "TANBA TEST ROOT CA" in result.stdout  # chain
    pem = CliRunner().invoke(command, [*args, "--pem"])
    assert pem.stdout == ident.cert_pem.read_text()
    missing = CliRunner().invoke(command, ["show", "p12:0000", *p12_args(pki, "rsa-sign"),
                                           "--pin-file", str(password_file)])
    assert missing.exit_code == 1 and "no certificate with id p12:0000" in missing.stderr


def test_no_source_is_a_usage_error_that_names_the_config_file(config_dir: Path) -> None:
    result = CliRunner().invoke(command, ["list", "--no-autodetect"])
    assert result.exit_code == 2
    assert "--p12" in result.stderr and str(config_dir / "config.toml") in result.stderr


def test_password_file_is_the_hidden_old_name_of_pin_file(pki: Manifest, password_file: Path) -> None:
    result = CliRunner().invoke(command, ["list", *p12_args(pki, "ec-sign"), "--password-file", str(password_file)])
    assert result.exit_code == 0, result.output
    assert identity_id(pki.identities["ec-sign"].certificate()) in result.stdout
    assert "Password for" not in result.stderr  # read from the file, not asked
    for sub in ("list", "show"):
        shown = CliRunner().invoke(command, [sub, "--help"]).stdout
        assert "--pin-file" in shown and "--password-file" not in shown


def test_list_help_speaks_to_the_user() -> None:
    shown = CliRunner().invoke(command, ["list", "--help"]).stdout
    assert "DESIGN" not in shown
    assert "certs.list" in shown


def test_list_and_show_read_the_config_files_p12(pki: Manifest, config_dir: Path, password_file: Path) -> None:
    org = pki.identities["org-rsa-sign"]
    (config_dir / "config.toml").write_text(
        f'p12 = ["{org.p12}"]\nautodetect = false\n', encoding="utf-8")
    listed = CliRunner().invoke(command, ["list", "--pin-file", str(password_file)])
    assert listed.exit_code == 0, listed.output
    cert_id = identity_id(org.certificate())
    assert cert_id in listed.stdout
    shown = CliRunner().invoke(command, ["show", cert_id, "--pin-file", str(password_file)])
    assert shown.exit_code == 0, shown.output
    assert f"IIN{org.iin}" in shown.stdout and org.serial_hex in shown.stdout


@pytest.mark.softhsm
def test_show_finds_a_detected_token_as_the_readme_writes_it(softhsm: SoftHSM, pki: Manifest,
                                                              config_dir: Path, password_file: Path) -> None:
    """`tanba certs show ID` with nothing else: the config's files and the detected tokens,
    as `tanba serve` offers them."""
    (config_dir / "config.toml").write_text(f'p12 = ["{pki.identities["ec-sign"].p12}"]\n', encoding="utf-8")
    listed = CliRunner().invoke(command, ["list", "--json", "--pin-file", str(password_file)])
    assert listed.exit_code == 0, listed.output
    certificates = json.loads(listed.stdout)["certificates"]
    assert any(c["storage"] == "PKCS12" for c in certificates)
    sign = pki.identities["rsa-sign"]
    [token_cert] = [c for c in certificates if c["storage"] != "PKCS12" and c["serialNumber"] == sign.serial_hex]
    shown = CliRunner().invoke(command, ["show", token_cert["id"], "--pin-file", str(password_file)])
    assert shown.exit_code == 0, shown.output
    assert f"IIN{sign.iin}" in shown.stdout and token_cert["storage"] in shown.stdout


@pytest.mark.softhsm
def test_list_pkcs11_token_without_pin(softhsm: SoftHSM, pki: Manifest, password_file: Path) -> None:
    result = CliRunner().invoke(command, ["list", "--pkcs11", f"AKKaztokenStore={softhsm.module}",
                                          *p12_args(pki, "org-rsa-sign"), "--pin-file", str(password_file)])
    assert result.exit_code == 0, result.output
    token_lines = [line for line in result.stdout.splitlines() if line.startswith("AKKaztokenStore")]
    assert len(token_lines) == 4  # rsa-auth, rsa-sign, ec-auth, ec-sign
    assert sum(" auth " in line for line in token_lines) == 2
    assert any(line.startswith("PKCS12") for line in result.stdout.splitlines())


def test_malformed_pkcs11_spec_is_a_usage_error() -> None:
    result = CliRunner().invoke(command, ["list", "--pkcs11", "bad name=/usr/lib/x.so"])
    assert result.exit_code == 2
    assert "--pkcs11" in result.stderr


NCA = Path(__file__).resolve().parents[2] / "../shared/testdata/nca"


@pytest.mark.skipif(not NCA.exists(), reason="NCA test data (../shared/testdata/nca) not present")
def test_nca_gost_key_lists_with_iin_both_purposes_and_algorithm(tmp_path: Path) -> None:
    password = tmp_path / "pw"
    password.write_text("Qwerty12\n")
    result = CliRunner().invoke(command, ["list", "--p12", str(NCA / "individual_valid.p12"),
                                          "--pin-file", str(password)])
    assert result.exit_code == 0, result.output
    [header, line] = result.stdout.splitlines()
    assert "123456789011" in line and " sign+auth " in line and " GOST3410-2015-512 " in line
    assert "UserWarning" not in result.output
    wire = CliRunner().invoke(command, ["list", "--p12", str(NCA / "individual_valid.p12"),
                                        "--pin-file", str(password), "--json"])
    [cert] = json.loads(wire.stdout)["certificates"]
    assert cert["algorithm"] == "GOST3410-2015-512" and cert["iin"] == "123456789011"
