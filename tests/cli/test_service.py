"""`tanba service` with the real systemctl of this machine (which has no user manager)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tanba.cli.service import command


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TANBA_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("TANBA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TANBA_SERVICE_DIR", str(tmp_path / "units"))
    return tmp_path


def test_install_without_a_user_manager_writes_the_unit_and_says_what_to_do(dirs: Path) -> None:
    result = CliRunner().invoke(command, ["install", "--", "--allow-origin", "https://egov.kz"])
    assert result.exit_code == 1
    unit = (dirs / "units" / "tanba.service").read_text()
    assert f"ExecStart={sys.executable} -m tanba serve --allow-origin https://egov.kz" in unit
    assert f"Environment=TANBA_STATE_DIR={dirs / 'state'}" in unit
    assert "[FAILED] reload systemd: systemctl --user daemon-reload" in result.output
    assert "systemctl --user enable --now tanba" in result.output  # the way forward

    status = CliRunner().invoke(command, ["status", "--json"])
    assert json.loads(status.output)["installed"] is True

    gone = CliRunner().invoke(command, ["uninstall"])
    assert f"[ok] removed {dirs / 'units' / 'tanba.service'}" in gone.output
    assert not (dirs / "units" / "tanba.service").exists()
    assert CliRunner().invoke(command, ["status"]).exit_code == 3


def test_uninstall_remove_tls_takes_the_certificate_out_too(dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tanba.agent.setup import tls

    monkeypatch.setenv("HOME", str(dirs / "home"))
    (dirs / "home").mkdir()
    tls.install(home=dirs / "home")
    assert tls.certificate_installed()
    result = CliRunner().invoke(command, ["uninstall", "--remove-tls"])
    assert not tls.certificate_installed()
    assert f"[ok] removed {dirs / 'state' / 'tls' / 'ca.pem'}" in result.output
    assert "CA removed from" in result.output  # Chromium's NSS DB under the test HOME
    assert "update-ca-certificates" in result.output  # how to undo a system-store step


def test_status_without_systemctl_says_so_in_one_line(dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (dirs / "bin").mkdir()
    monkeypatch.setenv("PATH", str(dirs / "bin"))  # no systemctl on PATH
    result = CliRunner().invoke(command, ["status"])
    lines = result.output.splitlines()
    said = [line for line in lines if "systemd" in line and not line.startswith(("kind:", "file:"))]
    assert said == ["systemd: no systemd here (systemctl is not installed): the service cannot run; "
                    "start Tanba with `tanba serve`"], result.output
    assert "not found" not in result.output and "enabled:" not in result.output


def test_status_without_a_user_manager_says_so_in_one_line(dirs: Path) -> None:
    """This machine has systemctl but no user manager (see the module docstring)."""
    result = CliRunner().invoke(command, ["status"])
    assert "Failed to get unit file state" not in result.output
    [said] = [line for line in result.output.splitlines() if line.startswith("systemd: ")]
    assert said.startswith("systemd: no user systemd in this session")
    assert said.endswith("the service cannot run; start Tanba with `tanba serve`")
    report = json.loads(CliRunner().invoke(command, ["status", "--json"]).output)
    assert "enabled" not in report and report["systemd"] == said.removeprefix("systemd: ")
