"""`tanba service install|uninstall|status`: start Tanba with the user's session."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import click

from tanba.agent.setup.autostart.manager import DIR_ENV, Report, ServiceManager

_dir_option = click.option(
    "--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None, envvar=DIR_ENV,
    help=f"Where the unit/plist/task file goes [the system's place; env {DIR_ENV}].",
)


def _print(report: Report) -> None:
    for step in report.steps:
        mark = "ok" if step.ok else "FAILED"
        click.echo(f"  [{mark}] {step.what}")
        if step.detail:
            for line in step.detail.splitlines():
                click.echo(f"         {line}")


@click.group("service")
def command() -> None:
    """Start Tanba with your session (systemd, launchd or a logon task)."""


@command.command()
@_dir_option
@click.argument("serve_args", nargs=-1, type=click.UNPROCESSED)
def install(directory: Path | None, serve_args: tuple[str, ...]) -> None:
    """Install, enable and start the service.

    SERVE_ARGS after `--` are passed to `tanba serve` (better: put settings in the config file,
    which `systemctl --user reload tanba` re-reads).
    """
    from tanba.agent.setup.autostart import ServiceSpec

    manager = ServiceManager(directory=directory)
    try:
        spec = ServiceSpec.default(serve_args)
        report = manager.install(spec)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Installing the Tanba service ({manager.kind}):")
    _print(report)
    if not report.ok:
        hint = {
            "systemd": "the unit is written; start it in a desktop session with "
                       "`systemctl --user enable --now tanba`, or see `journalctl --user -u tanba`",
            "launchd": "the plist is written; load it with `launchctl bootstrap gui/$(id -u) " f"{manager.file}`",
            "windows": f'the task file is written; import it with `schtasks /Create /TN Tanba /XML "{manager.file}"`',
        }[manager.kind]
        raise click.ClickException(f"the service is not running yet: {hint}")
    click.echo("Tanba now starts with your session. Check it with `tanba doctor`.")


@command.command()
@_dir_option
@click.option("--remove-tls", is_flag=True, help="Also remove the local TLS certificate and its browser trust.")
def uninstall(directory: Path | None, remove_tls: bool) -> None:
    """Stop the service and remove everything `install` added."""
    manager = ServiceManager(directory=directory)
    report = manager.uninstall()
    if remove_tls:
        _remove_tls(report)
    click.echo(f"Removing the Tanba service ({manager.kind}):")
    _print(report)
    if not report.ok:
        raise click.ClickException("some steps failed (see above)")


def _remove_tls(report: Report) -> None:
    from tanba.agent.setup import tls

    result = tls.uninstall()
    for db in result.removed_from:
        report.add(f"CA removed from {db}", True)
    for path in result.deleted:
        report.add(f"removed {path}", True)
    for problem in result.problems:
        report.add("remove the local TLS certificate", False, problem)
    if result.ca is not None:
        steps = "\n".join(tls.system_untrust_steps(result.ca))
        report.add("if you added the CA to the system store, remove it with", True, steps)
    elif not result.deleted and not result.problems:
        report.add("no local TLS certificate was installed", True)


def user_systemd_missing() -> str | None:
    """Why this session has no user systemd to run the service, or None when it has one."""
    if shutil.which("systemctl") is None:
        return "no systemd here (systemctl is not installed)"
    try:
        proc = subprocess.run(["systemctl", "--user", "show-environment"], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no user systemd in this session (systemctl --user: {exc})"
    if proc.returncode == 0:
        return None
    said = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
    return f"no user systemd in this session{f' ({said[0]})' if said else ''}"


@command.command()
@_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(directory: Path | None, as_json: bool) -> None:
    """Is the service installed, enabled, running?"""
    manager = ServiceManager(directory=directory)
    missing = user_systemd_missing() if manager.kind == "systemd" else None
    info: dict[str, Any] = manager.status()
    if missing is not None:
        # systemctl's own words for each question ("Failed to connect to bus…") say nothing more
        info.pop("enabled", None)
        info.pop("active", None)
        info["systemd"] = f"{missing}: the service cannot run; start Tanba with `tanba serve`"
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            click.echo(f"{key}: {value}")
    if not info["installed"]:
        raise SystemExit(3)  # like `systemctl status` for a unit that is not there
