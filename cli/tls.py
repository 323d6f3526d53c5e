"""`tanba tls install|uninstall|status`: the locally trusted certificate for wss://127.0.0.1."""

from __future__ import annotations

import datetime as dt

import click
from tanba.agent.setup import tls


def _echo_steps(steps: list[str]) -> None:
    for step in steps:
        click.echo(f"    {step}")


def _problems(problems: list[str]) -> None:
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)


@click.group()
def command() -> None:
    """Trust a local certificate so pages can use wss://127.0.0.1 (no admin rights needed)."""


@command.command()
def install() -> None:
    """Make a new local CA and server certificate and trust the CA in the browsers.

    The CA may only certify 127.0.0.1, ::1 and localhost, and its private key is discarded
    once the server certificate is signed. Run again to renew; the old CA is replaced.
    """
    try:
        report = tls.install()
    except OSError as exc:
        raise click.ClickException(f"cannot write the certificate files: {exc}") from exc
    ca, files = report.ca, report.files
    click.echo(f"Created {ca.nickname}: {ca.subject}")
    click.echo(f"  SHA-256 {ca.sha256}")
    click.echo(f"Server certificate for 127.0.0.1, ::1 and localhost, valid until {ca.not_after:%Y-%m-%d}.")
    click.echo("The CA's private key was discarded: it can issue no other certificate.")
    click.echo(f"Files (0600) in {files.directory}: {files.cert.name}, {files.key.name}, {files.ca.name}")
    if report.trusted_in:
        click.echo("Trusted by the browsers using these NSS databases (restart the browsers):")
        for db in report.trusted_in:
            click.echo(f"    {db.path}  [{db.browser}]")
    if report.replaced is not None:
        click.echo(f"Replaced the previous {report.replaced.nickname}. If you had added it to the system store, "
                   "remove it there:")
        _echo_steps(tls.system_untrust_steps(report.replaced))
    click.echo("For Safari and other programs, add the CA to the system trust store (needs an administrator):")
    _echo_steps(tls.system_trust_steps(ca, files.ca))
    click.echo(f"`tanba serve` uses wss:// from its next start. Renew before {ca.not_after:%Y-%m-%d} "
               "with `tanba tls install`.")
    _problems(report.problems)
    if report.problems:
        raise SystemExit(1)


@command.command()
def uninstall() -> None:
    """Remove the local CA from the browsers' NSS databases and delete the certificate files."""
    report = tls.uninstall()
    if report.ca is None and not report.deleted:
        _problems(report.problems)
        click.echo("No local certificate is installed.")
        raise SystemExit(1 if report.problems else 0)
    for db in report.removed_from:
        click.echo(f"Removed the CA from {db}")
    for path in report.deleted:
        click.echo(f"Deleted {path}")
    if report.ca is not None:
        click.echo("If you added the CA to the system trust store, remove it there (needs an administrator):")
        _echo_steps(tls.system_untrust_steps(report.ca))
    click.echo("`tanba serve` uses plain ws:// from its next start.")
    _problems(report.problems)
    if report.problems:
        raise SystemExit(1)


@command.command()
def status() -> None:
    """Tell whether a local certificate is installed, where, and until when.

    Exits 0 when a valid certificate is installed, 1 when none is (or it has expired).
    """
    try:
        state = tls.status()
    except tls.TlsError as exc:
        raise click.ClickException(str(exc)) from exc
    if not state.installed or state.ca is None or state.server_not_after is None:
        click.echo(f"No local certificate installed (looked in {state.files.directory}). "
                   "`tanba tls install` makes one.")
        raise SystemExit(1)
    ca, until = state.ca, state.server_not_after
    left = until - dt.datetime.now(dt.UTC)
    click.echo(f"Installed: {ca.nickname}: {ca.subject}")
    click.echo(f"  SHA-256 {ca.sha256}")
    click.echo(f"Server certificate: {state.files.cert}")
    click.echo(f"  for 127.0.0.1, ::1, localhost; expires {until:%Y-%m-%d %H:%M} UTC "
               + ("(EXPIRED)" if left.total_seconds() <= 0 else f"({left.days} days left)"))
    click.echo(f"CA certificate: {state.files.ca}")
    if state.nssdbs:
        click.echo("NSS databases:")
        for path, present in state.nssdbs:
            mark = {True: "trusted", False: "MISSING (run `tanba tls install` again)", None: "not checked: no certutil"}
            click.echo(f"    {path}  {mark[present]}")
    else:
        click.echo("NSS databases: none (no browser trusts the CA through NSS)")
    if left.total_seconds() <= 0:
        raise SystemExit(1)
