"""The systemd user unit: what systemd itself says of it, and what it asks of the system."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tanba.agent.setup.autostart import ServiceSpec
from tanba.agent.setup.autostart.systemd import HARDENING, quote, unit_text


def verify(unit: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze --user verify`.  This machine runs no user manager, so the runtime
    dir it wants is a private temp dir; everything it checks (keys, values, that ExecStart
    is an executable) is checked for real."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_COLOR": "0"}
    return subprocess.run(["systemd-analyze", "--user", "verify", str(unit)], capture_output=True, text=True,
                          env=env, timeout=60)


def spec(tmp_path: Path, python: str = sys.executable) -> ServiceSpec:
    return ServiceSpec(command=(python, "-m", "tanba", "serve"), config_dir=tmp_path / "cfg dir",
                       state_dir=tmp_path / "state", environment={"TANBA_STATE_DIR": str(tmp_path / "state")})


def test_unit_passes_systemd_analyze_verify_without_a_word(tmp_path: Path) -> None:
    unit = tmp_path / "tanba.service"
    unit.write_text(unit_text(spec(tmp_path)))
    proc = verify(unit, tmp_path)
    assert proc.returncode == 0 and proc.stdout + proc.stderr == "", proc.stdout + proc.stderr


def test_verify_would_catch_a_bad_unit(tmp_path: Path) -> None:
    # The check above can fail: a misspelt option and a missing program are reported.
    unit = tmp_path / "tanba.service"
    unit.write_text(unit_text(spec(tmp_path, python=str(tmp_path / "no-python"))).replace("PrivateTmp=", "PrivateTemp="))
    proc = verify(unit, tmp_path)
    said = proc.stdout + proc.stderr
    assert "Unknown key" in said and "PrivateTemp" in said
    assert "no-python" in said and proc.returncode != 0


def test_exec_start_survives_spaces_percent_and_dollar(tmp_path: Path) -> None:
    odd = tmp_path / "my venv %h $HOME"
    odd.mkdir()
    python = odd / "python"
    python.symlink_to(sys.executable)
    unit = tmp_path / "tanba.service"
    unit.write_text(unit_text(spec(tmp_path, python=str(python))))
    assert verify(unit, tmp_path).returncode == 0  # it found the program at that very path
    assert f'ExecStart="{str(python).replace("%", "%%")}" -m tanba serve' in unit.read_text()
    assert quote('a"b\\c') == '"a\\"b\\\\c"'


def test_unit_restarts_on_failure_reloads_on_hup_and_writes_only_its_dirs(tmp_path: Path) -> None:
    text = unit_text(spec(tmp_path))
    lines = text.splitlines()
    for line in ("Restart=on-failure", "Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "WantedBy=default.target",
                 "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "LockPersonality=yes",
                 "MemoryDenyWriteExecute=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK"):
        assert line in lines, line
    assert f'ReadWritePaths=-"{tmp_path / "cfg dir"}" -{tmp_path / "state"}' in lines
    assert f"Environment=TANBA_STATE_DIR={tmp_path / 'state'}" in lines
    # Nothing that would hide USB tokens, card readers or the key files in $HOME.
    keys = {k for k, _ in HARDENING}
    assert not keys & {"PrivateDevices", "DeviceAllow", "DevicePolicy", "ProtectClock", "ProtectHome", "PrivateNetwork"}


def test_security_score_is_reported_as_hardened(tmp_path: Path) -> None:
    unit = tmp_path / "tanba.service"
    unit.write_text(unit_text(spec(tmp_path)))
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    proc = subprocess.run(["systemd-analyze", "--user", "security", "--offline=true", str(unit)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)})
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    # e.g. "→ Overall exposure level for tanba.service: 4.2 OK 🙂"
    score = float(last.split(":")[1].split()[0])
    assert score <= 3.0, proc.stdout  # 2.3 "OK" when written; "MEDIUM" starts at 5
