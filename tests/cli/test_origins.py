from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tanba.agent.state.approvals import OriginStore
from tanba.cli.main import main


def test_list_and_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANBA_CONFIG_DIR", str(tmp_path))
    runner = CliRunner()
    assert "No approved sites" in runner.invoke(main, ["origins", "list"]).output
    OriginStore(tmp_path / "origins.json").approve("https://egov.kz")
    listed = runner.invoke(main, ["origins", "list"])
    assert listed.exit_code == 0 and "https://egov.kz\tapproved " in listed.output
    revoked = runner.invoke(main, ["origins", "revoke", "https://egov.kz"])
    assert revoked.exit_code == 0
    assert not OriginStore(tmp_path / "origins.json").is_approved("https://egov.kz")
    again = runner.invoke(main, ["origins", "revoke", "https://egov.kz"])
    assert again.exit_code == 1 and "is not an approved site" in again.output


def test_token_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANBA_STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["token"])
    assert result.output.strip() == str(tmp_path / "client-token")
    shown = CliRunner().invoke(main, ["token", "--show"]).output.strip()
    assert (tmp_path / "client-token").read_text().strip() == shown


def test_help_lists_commands_and_version() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("serve", "origins", "certs", "tokens", "test-sign", "sign", "verify", "tls"):
        assert name in result.output
    assert CliRunner().invoke(main, ["--version"]).output.startswith("tanba, version ")
