"""Install, remove and inspect the service on this platform.

Every system command goes through :attr:`ServiceManager.run`, and the directory the file
is written to can be given, so the whole flow runs in tests.  Each action returns the
:class:`Step` list it went through: what was done, whether it worked, what the system said.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from tanba.agent.setup.autostart import ServiceSpec, launchd, systemd, windows
from tanba.agent.state.atomic import ensure_private_dir, write_atomic

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]
#: overrides where the unit / plist / task XML goes (tests, unusual layouts)
DIR_ENV: Final = "TANBA_SERVICE_DIR"
COMMAND_TIMEOUT: Final = 60.0


def run_command(cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(cmd), capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    except FileNotFoundError:
        return subprocess.CompletedProcess(list(cmd), 127, "", f"{cmd[0]}: command not found")
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(list(cmd), 124, "", f"{cmd[0]}: no answer in {COMMAND_TIMEOUT:.0f} s")


@dataclass(frozen=True)
class Step:
    what: str
    ok: bool
    detail: str = ""


@dataclass
class Report:
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)

    def add(self, what: str, ok: bool, detail: str = "") -> None:
        self.steps.append(Step(what, ok, detail.strip()))


def platform_kind(platform: str = sys.platform) -> str:
    if platform == "darwin":
        return "launchd"
    if platform == "win32":
        return "windows"
    return "systemd"


def default_dir(kind: str) -> Path:
    override = os.environ.get(DIR_ENV)
    if override:
        return Path(override)
    home = Path.home()
    if kind == "launchd":
        return home / "Library" / "LaunchAgents"
    if kind == "windows":
        from tanba.agent.state import paths

        return paths.state_dir()  # the task XML is kept for `status` and for the administrator
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else home / ".config") / "systemd" / "user"


def _said(proc: subprocess.CompletedProcess[str]) -> str:
    return (proc.stderr or proc.stdout or "").strip()


class ServiceManager:
    def __init__(self, kind: str | None = None, directory: Path | None = None, run: Runner = run_command,
                 user: str | None = None) -> None:
        self.kind = kind or platform_kind()
        self.directory = directory or default_dir(self.kind)
        self.run = run
        self._user = user

    @property
    def file(self) -> Path:
        name = {"systemd": systemd.UNIT_NAME, "launchd": launchd.PLIST_NAME}.get(self.kind, "tanba-task.xml")
        return self.directory / name

    @property
    def user(self) -> str:
        if self._user is None:
            domain = os.environ.get("USERDOMAIN")
            name = getpass.getuser()
            self._user = f"{domain}\\{name}" if domain else name
        return self._user

    def _launchd_target(self) -> str:
        return f"gui/{os.getuid() if hasattr(os, 'getuid') else 0}"

    def _do(self, report: Report, what: str, cmd: Sequence[str], tolerate: Sequence[str] = ()) -> bool:
        proc = self.run(cmd)
        said = _said(proc)
        ok = proc.returncode == 0 or any(t in said for t in tolerate)
        report.add(f"{what}: {' '.join(cmd)}", ok, "" if proc.returncode == 0 else said)
        return ok

    # -- install ----------------------------------------------------------------------

    def render(self, spec: ServiceSpec) -> bytes:
        if self.kind == "launchd":
            return launchd.plist_bytes(spec)
        if self.kind == "windows":
            return windows.task_xml(spec, self.user).encode("utf-16")
        return systemd.unit_text(spec).encode()

    def install(self, spec: ServiceSpec) -> Report:
        report = Report()
        for directory in (spec.config_dir, spec.state_dir):
            ensure_private_dir(directory)  # the unit's ReadWritePaths, the task's working dir
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomic(self.file, self.render(spec), 0o644)
        report.add(f"wrote {self.file}", True)
        if self.kind == "systemd":
            if self._do(report, "reload systemd", ["systemctl", "--user", "daemon-reload"]):
                self._do(report, "enable and start", ["systemctl", "--user", "enable", "--now", systemd.UNIT_NAME])
        elif self.kind == "launchd":
            target = self._launchd_target()
            # Replace a loaded copy (bootstrap fails on an already loaded label).
            self.run(["launchctl", "bootout", f"{target}/{launchd.LABEL}"])
            if self._do(report, "load", ["launchctl", "bootstrap", target, str(self.file)]):
                self._do(report, "enable", ["launchctl", "enable", f"{target}/{launchd.LABEL}"])
                self._do(report, "start", ["launchctl", "kickstart", "-k", f"{target}/{launchd.LABEL}"])
        else:
            if self._do(report, "register the logon task",
                        ["schtasks", "/Create", "/TN", windows.TASK_NAME, "/XML", str(self.file), "/F"]):
                self._do(report, "start", ["schtasks", "/Run", "/TN", windows.TASK_NAME])
        return report

    # -- uninstall --------------------------------------------------------------------

    def uninstall(self) -> Report:
        report = Report()
        if self.kind == "systemd":
            self._do(report, "stop and disable", ["systemctl", "--user", "disable", "--now", systemd.UNIT_NAME],
                     tolerate=("not loaded", "does not exist", "No such file"))
        elif self.kind == "launchd":
            self._do(report, "stop and unload", ["launchctl", "bootout", f"{self._launchd_target()}/{launchd.LABEL}"],
                     tolerate=("No such process", "Could not find service", "not find"))
        else:
            self.run(["schtasks", "/End", "/TN", windows.TASK_NAME])
            self._do(report, "remove the logon task", ["schtasks", "/Delete", "/TN", windows.TASK_NAME, "/F"],
                     tolerate=("cannot find", "does not exist"))
        try:
            self.file.unlink()
            report.add(f"removed {self.file}", True)
        except FileNotFoundError:
            report.add(f"{self.file} was not there", True)
        except OSError as exc:
            report.add(f"remove {self.file}", False, exc.strerror or str(exc))
        if self.kind == "systemd":
            self._do(report, "reload systemd", ["systemctl", "--user", "daemon-reload"])
            self.run(["systemctl", "--user", "reset-failed", systemd.UNIT_NAME])
        return report

    # -- status -----------------------------------------------------------------------

    def status(self) -> dict[str, str | bool]:
        """``installed`` (the file is there), ``enabled``/``active`` as the system says."""
        out: dict[str, str | bool] = {"kind": self.kind, "file": str(self.file), "installed": self.file.exists()}
        if self.kind == "systemd":
            for key, verb in (("enabled", "is-enabled"), ("active", "is-active")):
                proc = self.run(["systemctl", "--user", verb, systemd.UNIT_NAME])
                out[key] = (proc.stdout.strip() or _said(proc) or "unknown").splitlines()[0]
        elif self.kind == "launchd":
            proc = self.run(["launchctl", "print", f"{self._launchd_target()}/{launchd.LABEL}"])
            state = next((line.split("=", 1)[1].strip() for line in proc.stdout.splitlines()
                          if line.strip().startswith("state =")), None)
            out["active"] = state or ("not loaded" if proc.returncode else "unknown")
        else:
            proc = self.run(["schtasks", "/Query", "/TN", windows.TASK_NAME, "/FO", "LIST"])
            state = next((line.split(":", 1)[1].strip() for line in proc.stdout.splitlines()
                          if line.startswith("Status:")), None)
            out["active"] = state or ("not registered" if proc.returncode else "unknown")
        return out
