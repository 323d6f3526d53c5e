"""Install / uninstall / status on each platform.

launchctl and schtasks do not exist on this Linux machine and it runs no systemd user
manager, so the commands go to a recorder that answers like those tools (a stand-in for
what cannot run here); the files are real and checked as written.  The last tests use
the real systemctl, which fails here for want of a user bus: the report must say so.
"""

from __future__ import annotations

import plistlib
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from tanba.agent.setup.autostart import ServiceSpec
from tanba.agent.setup.autostart.manager import ServiceManager


class Recorder:
    def __init__(self, answers: dict[str, tuple[int, str]] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.answers = answers or {}

    def __call__(self, cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(cmd))
        line = " ".join(cmd)
        for key, (rc, out) in self.answers.items():
            if key in line:
                return subprocess.CompletedProcess(list(cmd), rc, out if rc == 0 else "", "" if rc == 0 else out)
        return subprocess.CompletedProcess(list(cmd), 0, "", "")


def spec(tmp_path: Path) -> ServiceSpec:
    return ServiceSpec(command=("/usr/bin/python3", "-m", "tanba", "serve"), config_dir=tmp_path / "cfg",
                       state_dir=tmp_path / "state")


def test_systemd_install_writes_the_unit_then_enables_and_starts_it(tmp_path: Path) -> None:
    run = Recorder()
    manager = ServiceManager("systemd", tmp_path / "units", run)
    report = manager.install(spec(tmp_path))
    assert report.ok
    assert run.calls == [["systemctl", "--user", "daemon-reload"],
                         ["systemctl", "--user", "enable", "--now", "tanba.service"]]
    assert (tmp_path / "units" / "tanba.service").read_text().startswith("# Written by `tanba service install`")
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700  # ReadWritePaths exist before the start


def test_systemd_uninstall_stops_disables_and_removes(tmp_path: Path) -> None:
    run = Recorder()
    manager = ServiceManager("systemd", tmp_path, run)
    manager.install(spec(tmp_path))
    run.calls.clear()
    report = manager.uninstall()
    assert report.ok and not manager.file.exists()
    assert run.calls[0] == ["systemctl", "--user", "disable", "--now", "tanba.service"]
    assert ["systemctl", "--user", "daemon-reload"] in run.calls
    # twice is fine: nothing left is not an error
    run.answers["disable"] = (1, "Failed to disable unit: Unit file tanba.service does not exist.")
    assert manager.uninstall().ok


def test_launchd_install_bootstraps_enables_and_kickstarts(tmp_path: Path) -> None:
    run = Recorder()
    manager = ServiceManager("launchd", tmp_path / "LaunchAgents", run)
    assert manager.install(spec(tmp_path)).ok
    plist = plistlib.loads(manager.file.read_bytes())
    assert plist["ProgramArguments"][-1] == "serve"
    verbs = [c[1] for c in run.calls]
    assert verbs == ["bootout", "bootstrap", "enable", "kickstart"]
    assert run.calls[1][3] == str(manager.file)
    run.calls.clear()
    run.answers["bootout"] = (3, "Boot-out failed: 3: No such process")
    assert manager.uninstall().ok and not manager.file.exists()


def test_windows_install_registers_the_task_from_utf16_xml(tmp_path: Path) -> None:
    run = Recorder()
    manager = ServiceManager("windows", tmp_path, run, user=r"PC\ana")
    assert manager.install(spec(tmp_path)).ok
    assert manager.file.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    assert run.calls == [["schtasks", "/Create", "/TN", "Tanba", "/XML", str(manager.file), "/F"],
                         ["schtasks", "/Run", "/TN", "Tanba"]]
    run.calls.clear()
    assert manager.uninstall().ok
    assert run.calls == [["schtasks", "/End", "/TN", "Tanba"], ["schtasks", "/Delete", "/TN", "Tanba", "/F"]]


@pytest.mark.parametrize("kind", ["systemd", "launchd", "windows"])
def test_a_failed_start_is_reported_not_hidden(tmp_path: Path, kind: str) -> None:
    run = Recorder({"enable": (1, "Failed to connect to bus"), "bootstrap": (5, "Bootstrap failed: 5: Input/output error"),
                    "/Create": (1, "ERROR: Access is denied.")})
    report = ServiceManager(kind, tmp_path, run, user="ana").install(spec(tmp_path))
    assert not report.ok
    failed = [s for s in report.steps if not s.ok]
    assert failed and failed[0].detail in ("Failed to connect to bus", "Bootstrap failed: 5: Input/output error",
                                           "ERROR: Access is denied.")


def test_status_reads_what_the_system_says(tmp_path: Path) -> None:
    run = Recorder({"is-enabled": (0, "enabled\n"), "is-active": (0, "active\n")})
    manager = ServiceManager("systemd", tmp_path, run)
    manager.install(spec(tmp_path))
    assert manager.status() == {"kind": "systemd", "file": str(manager.file), "installed": True,
                                "enabled": "enabled", "active": "active"}
    run = Recorder({"print": (0, "gui/501/org.tanba.agent = {\n\tstate = running\n")})
    assert ServiceManager("launchd", tmp_path, run).status()["active"] == "running"
    run = Recorder({"/Query": (0, "TaskName: \\Tanba\nStatus:  Running\n")})
    assert ServiceManager("windows", tmp_path, run, user="a").status()["active"] == "Running"
