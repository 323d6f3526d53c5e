"""`tanba tls install|status|uninstall` as a user runs them (real certutil, a temporary HOME)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from tanba.cli.tls import command


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TANBA_STATE_DIR", str(tmp_path / "state"))
    return home


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(command, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_install_status_uninstall(home: Path, tmp_path: Path) -> None:
    code, out, _ = run("status")
    assert code == 1 and "No local certificate installed" in out

    code, out, err = run("install")
    assert code == 0, out + err
    nssdb = home / ".pki" / "nssdb"
    assert "Created Tanba local CA (" in out
    assert "for 127.0.0.1, ::1 and localhost" in out
    assert "private key was discarded" in out
    assert f"    {nssdb}  [Chromium/Chrome]" in out
    assert "update-ca-certificates" in out and "sudo" in out  # printed for the administrator, not run
    assert (tmp_path / "state" / "tls" / "server.pem").exists()

    code, out, _ = run("status")
    assert code == 0
    assert f"    {nssdb}  trusted" in out and "days left" in out
    nickname = out.split("Installed: ", 1)[1].split(":", 1)[0]

    # someone removed the CA from the browser: status says so
    subprocess.run(["certutil", "-D", "-n", nickname, "-d", f"sql:{nssdb}"], check=True)
    code, out, _ = run("status")
    assert f"{nssdb}  MISSING" in out

    code, out, err = run("uninstall")
    assert code == 0, out + err
    assert "Deleted " in out and "server-key.pem" in out
    assert "update-ca-certificates --fresh" in out
    assert not (tmp_path / "state" / "tls" / "server-key.pem").exists()
    code, out, _ = run("status")
    assert code == 1
    code, out, _ = run("uninstall")
    assert code == 0 and "No local certificate is installed" in out


def test_reinstall_says_what_it_replaced(home: Path) -> None:
    run("install")
    first = run("status")[1].split("Installed: ", 1)[1].split(":", 1)[0]
    code, out, _ = run("install")
    assert code == 0 and f"Replaced the previous {first}" in out
    listed = subprocess.run(["certutil", "-L", "-d", f"sql:{home / '.pki' / 'nssdb'}"], check=True, capture_output=True,
                            text=True)
    assert first not in listed.stdout and listed.stdout.count("Tanba local CA (") == 1


def test_a_broken_nss_database_is_a_failure_with_the_reason(home: Path) -> None:
    profile = home / ".mozilla" / "firefox" / "x.default"
    profile.mkdir(parents=True)
    (profile / "cert9.db").write_bytes(b"not a database")
    code, out, err = run("install")
    assert code == 1
    assert f"{profile} (Firefox)" in err
    assert f"{home / '.pki' / 'nssdb'}  [Chromium/Chrome]" in out  # the others still done
