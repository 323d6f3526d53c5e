"""`tanba test-sign` with the SoftHSM token and with PKCS#12 files."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.x509.oid import NameOID

from tanba.agent.setup.testpki import Manifest
from tanba.cli.main import main
from tanba.providers.pkcs11 import Pkcs11Store

pytestmark = pytest.mark.softhsm


def token_id(softhsm: Any, pki: Manifest, name: str) -> str:
    async def ids() -> list[str]:
        store = Pkcs11Store(Path(softhsm.module), "AKKaztokenStore")
        try:
            return [i.id for i in await store.identities()]
        finally:
            await store.close()

    (found,) = [i for i in asyncio.run(ids()) if i.endswith(f":{pki.identities[name].cka_id_hex}")]
    return found


def pin_file(tmp_path: Path, pin: str) -> Path:
    path = tmp_path / "pin"
    path.write_text(pin + "\n")
    return path


@pytest.mark.parametrize(("name", "algorithm"), [
    ("rsa-sign", "RSA-2048 PKCS#1 v1.5 with SHA-256"),
    ("ec-auth", "ECDSA secp256r1 with SHA-256"),
])
def test_signs_and_verifies_with_the_token(
    softhsm: Any, pki: Manifest, tmp_path: Path, name: str, algorithm: str
) -> None:
    result = CliRunner().invoke(main, [
        "test-sign", "--pkcs11", f"AKKaztokenStore={softhsm.module}",
        "--id", token_id(softhsm, pki, name), "--pin-file", str(pin_file(tmp_path, softhsm.pin)),
    ])
    assert result.exit_code == 0, result.output
    ident = pki.identities[name]
    cn = ident.certificate().subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert result.output.startswith(f"OK: {cn} (IIN{ident.iin}) — ")
    assert algorithm in result.output


def test_pin_prompt_is_used_without_a_pin_file(softhsm: Any, pki: Manifest) -> None:
    result = CliRunner().invoke(main, [
        "test-sign", "--pkcs11", softhsm.module, "--id", token_id(softhsm, pki, "ec-sign"),
    ], input=softhsm.pin + "\n")
    assert result.exit_code == 0, result.output
    assert "OK: " in result.output and softhsm.pin not in result.output  # hidden input


def test_wrong_pin_fails_with_the_reason(softhsm: Any, pki: Manifest, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [
        "test-sign", "--pkcs11", softhsm.module, "--id", token_id(softhsm, pki, "rsa-sign"),
        "--pin-file", str(pin_file(tmp_path, "0000")),
    ])
    assert result.exit_code == 1
    assert "FAILED [wrong_pin]: wrong PIN" in result.output
    assert "OK" not in result.output


def test_unknown_id_fails(softhsm: Any, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [
        "test-sign", "--pkcs11", softhsm.module, "--id", "p11:nope:00",
        "--pin-file", str(pin_file(tmp_path, softhsm.pin)),
    ])
    assert result.exit_code == 1 and "FAILED [no_certificate]" in result.output


def test_pkcs12_file(pki: Manifest, tmp_path: Path) -> None:
    ident = pki.identities["rsa-auth"]
    result = CliRunner().invoke(main, [
        "test-sign", "--p12", str(ident.p12), "--pin-file",
        str(pin_file(tmp_path, ident.p12_password)),
    ])
    assert result.exit_code == 0, result.output
    cn = ident.certificate().subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert result.output.startswith(f"OK: {cn} (IIN{ident.iin}) — {ident.p12}\n")


NCA = Path(__file__).resolve().parents[2] / "../shared/testdata/nca"


@pytest.mark.skipif(not NCA.exists(), reason="NCA test data (../shared/testdata/nca) not present")
def test_nca_gost_file_signs_with_its_own_hash_and_order(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [
        "test-sign", "--p12", str(NCA / "individual_valid.p12"), "--pin-file", str(pin_file(tmp_path, "Qwerty12")),
    ])
    assert result.exit_code == 0, result.output
    assert "OK: ТЕСТОВ ТЕСТ (IIN123456789011)" in result.output
    assert "GOST3410-2015-512 with streebog512 (NCA byte order)" in result.output


def test_a_document_given_as_key_file_is_not_asked_a_password(tmp_path: Path) -> None:
    notes = tmp_path / "notes.p12"
    notes.write_bytes(b"%PDF-1.4 " + bytes(4000))
    result = CliRunner().invoke(main, ["test-sign", "--p12", str(notes)], input="123456\n")
    assert result.exit_code == 1
    assert f"{notes} is not a PKCS#12 file (its content is not PKCS#12 data)" in result.output
    assert "PIN for" not in result.output


def test_without_p12_the_config_files_keys_are_tested(tmp_path: Path, pki: Manifest, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "config.toml").write_text(f'p12 = ["{pki.identities["ec-sign"].p12}"]\nautodetect = false\n')
    monkeypatch.setenv("TANBA_CONFIG_DIR", str(config))
    pin = tmp_path / "pin"
    pin.write_text("123456\n")
    result = CliRunner().invoke(main, ["test-sign", "--pin-file", str(pin)])
    assert result.exit_code == 0, result.output
    assert "OK:" in result.output
