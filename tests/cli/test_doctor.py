"""`tanba doctor` as a user runs it, against a real `tanba serve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from support.process import TANBA, free_port
from tanba.agent.setup.testpki import Manifest


def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "home").mkdir(exist_ok=True)
    return {**os.environ, "TANBA_CONFIG_DIR": str(tmp_path / "cfg"), "TANBA_STATE_DIR": str(tmp_path / "state"),
            "HOME": str(tmp_path / "home")}


def doctor(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    code = "from tanba.cli.doctor import command; command()"  # until `doctor` joins cli/main.py's table
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env(tmp_path),
                          timeout=60)


def test_doctor_passes_with_a_running_agent_and_a_key(tmp_path: Path, pki: Manifest) -> None:
    config = tmp_path / "cfg" / "config.toml"
    config.parent.mkdir()
    config.write_text(f'p12 = ["{pki.identities["rsa-sign"].p12}"]\nautodetect = false\n')
    port = free_port()
    proc = subprocess.Popen([TANBA, "serve", "--port", str(port), "--no-log-file"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env(tmp_path))
    try:
        assert proc.stdout is not None and "listening on" in proc.stdout.readline()
        result = doctor(tmp_path, "--port", str(port))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"[ OK ] agent: Tanba 0.1.0 is running on ws://127.0.0.1:{port}" in result.stdout
        assert result.stdout.rstrip().endswith("All good.")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def test_doctor_json_and_exit_code_on_problems(tmp_path: Path) -> None:
    port = free_port()
    result = doctor(tmp_path, "--json", "--port", str(port))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    agent = next(c for c in report["checks"] if c["name"] == "agent")
    assert agent == {"name": "agent", "status": "problem",
                     "message": f"Tanba is not running (nothing listens on 127.0.0.1:{port})",
                     "fix": "start it: `tanba service install` (starts with your session) or `tanba serve`"}
    assert {c["status"] for c in report["checks"]} <= {"ok", "problem", "info"}
