"""`tanba audit`: the recent events, readable or as JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tanba.agent.state.audit import AuditEvent, AuditLog, CertRef, DocRef
from tanba.cli.audit import command


def fill(state: Path, count: int) -> None:
    audit = AuditLog(state / "audit.log")
    for number in range(count):
        audit.record(AuditEvent(
            "https://egov.kz", "sign", "sign", "ok" if number % 2 == 0 else "error",
            None if number % 2 == 0 else "user_cancelled",
            (CertRef("ab" * 32, f"CN=ТЕСТОВ ТЕСТ {number},SERIALNUMBER=IIN850101300017"),),
            (DocRef("sha256", "cd" * 32, 100 + number),),
            time=1_700_000_000 + number,
        ))
    audit.flush()
    audit.close()


def test_recent_events_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANBA_STATE_DIR", str(tmp_path))
    empty = CliRunner().invoke(command, [])
    assert empty.exit_code == 0 and "No audit events yet" in empty.output
    fill(tmp_path, 30)
    result = CliRunner().invoke(command, ["-n", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3
    assert lines[-1].startswith("2023-11-14T22:13:49.000Z  https://egov.kz  sign  error (user_cancelled)  docs=1")
    assert "ТЕСТОВ ТЕСТ 29" in lines[-1] and "ТЕСТОВ ТЕСТ 27" in lines[0]
    assert len(CliRunner().invoke(command, []).output.splitlines()) == 20  # the default


def test_json_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANBA_STATE_DIR", str(tmp_path))
    fill(tmp_path, 2)
    result = CliRunner().invoke(command, ["--json", "-n", "5"])
    events = [json.loads(line) for line in result.output.splitlines()]
    assert [e["documents"][0]["size"] for e in events] == [100, 101]
    assert events[1]["reason"] == "user_cancelled"
    assert CliRunner().invoke(command, ["-n", "0"]).exit_code == 2  # a bad count is a usage error
