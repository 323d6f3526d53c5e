"""`tanba doctor` as a user runs it, against a real `tanba serve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import SoftHSM, softhsm_conf_text
from support.process import TANBA, free_port, stop
from tanba.agent.setup.testpki import Manifest


def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "home").mkdir(exist_ok=True)
    return {**os.environ, "TANBA_CONFIG_DIR": str(tmp_path / "cfg"), "TANBA_STATE_DIR": str(tmp_path / "state"),
            "HOME": str(tmp_path / "home")}


def doctor(tmp_path: Path, *args: str, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = "from tanba.cli.doctor import command; command()"  # until `doctor` joins cli/main.py's table
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=environment or env(tmp_path), timeout=60)


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


def no_tokens_here(tmp_path: Path) -> str:
    """A SoftHSM configuration with no token: doctor's shell, not the agent's."""
    (tmp_path / "no-tokens").mkdir()
    conf = tmp_path / "empty-softhsm2.conf"
    conf.write_text(softhsm_conf_text(tmp_path / "no-tokens"))
    return str(conf)


@contextmanager
def running(args: list[str], environment: dict[str, str], ready: str) -> Iterator[subprocess.Popen[str]]:
    """``tanba ARGS`` running until the block ends; ``ready``: the line that says it listens."""
    proc = subprocess.Popen([TANBA, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=environment)
    watchdog = threading.Timer(120, proc.kill)  # a program that never says `ready` fails, not hangs
    watchdog.start()
    try:
        assert proc.stdout is not None
        seen = ""
        while ready not in seen:
            line = proc.stdout.readline()
            assert line, f"{args[0]} did not start:\n{seen}"
            seen += line
        watchdog.cancel()
        yield proc
    finally:
        watchdog.cancel()
        stop(proc)


def test_doctor_checks_the_key_file_serve_was_given(tmp_path: Path, pki: Manifest) -> None:
    """`tanba serve --p12 FILE` with no config file: the key is there, doctor must say so."""
    p12 = pki.identities["rsa-sign"].p12
    port = free_port()
    with running(["serve", "--port", str(port), "--no-log-file", "--no-autodetect", "--p12", str(p12)],
                 env(tmp_path), "listening on"):
        result = doctor(tmp_path, "--port", str(port))
    assert "no key is available" not in result.stdout, result.stdout
    assert f"[ OK ] p12 {p12}: readable PKCS#12 file" in result.stdout
    assert "it serves 1 key file(s)" in result.stdout


def test_doctor_does_not_blame_another_tanba_while_the_demo_runs(tmp_path: Path, softhsm_setup_dir: Path) -> None:
    port, page = free_port(), free_port()
    shell = {**env(tmp_path), "SOFTHSM2_CONF": no_tokens_here(tmp_path)}  # the demo reads its --softhsm
    with running(["demo", "--port", str(port), "--page-port", str(page), "--approver", "auto",
                  "--softhsm", str(softhsm_setup_dir)], shell, "in your browser."):
        result = doctor(tmp_path, "--port", str(port), environment=shell)
    assert "another Tanba" not in result.stdout, result.stdout
    assert f"[info] agent: the demo (`tanba demo`, pid" in result.stdout
    # the token the demo serves (its --softhsm directory) is seen, as `tanba tokens` sees it there
    softhsm_line = next(line for line in result.stdout.splitlines() if line.startswith("[ OK ] pkcs11 SoftHSM"))
    assert "token(s) present: tanba-test" in softhsm_line


@pytest.mark.softhsm
def test_doctor_sees_the_token_the_agent_serves(tmp_path: Path, softhsm: SoftHSM) -> None:
    """The agent was started where SoftHSM finds the token; doctor runs in a shell where it
    would not: it reports the agent's module as the agent loads it, not "no token"."""
    port = free_port()
    agent_env = env(tmp_path)  # SOFTHSM2_CONF: the token's (the softhsm fixture)
    listed = subprocess.run([TANBA, "tokens", "--pkcs11", f"AKKaztokenStore={softhsm.module}"],
                            capture_output=True, text=True, env=agent_env, timeout=60)
    assert "token: tanba-test" in listed.stdout, listed.stdout + listed.stderr
    with running(["serve", "--port", str(port), "--no-log-file", "--no-autodetect",
                  "--pkcs11", f"AKKaztokenStore={softhsm.module}"], agent_env, "listening on"):
        result = doctor(tmp_path, "--port", str(port),
                        environment={**agent_env, "SOFTHSM2_CONF": no_tokens_here(tmp_path)})
    assert "no token inserted" not in result.stdout, result.stdout
    assert f"[ OK ] pkcs11 AKKaztokenStore ({softhsm.module}): loads; token(s) present: tanba-test" in result.stdout
    assert "no key is available" not in result.stdout
