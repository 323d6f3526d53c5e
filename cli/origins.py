"""`tanba origins list|revoke URL`."""

from __future__ import annotations

import datetime as dt

import click

from tanba.agent.state import paths
from tanba.agent.state.approvals import OriginStore


@click.group()
def command() -> None:
    """List or revoke the sites allowed to use Tanba."""


@command.command("list")
def list_() -> None:
    """Sites the user approved ("always"); allow-listed ones come from the config."""
    items = OriginStore(paths.origins_file()).items()
    if not items:
        click.echo("No approved sites.")
        return
    for origin, when in items:
        stamp = dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        click.echo(f"{origin}\tapproved {stamp}")


@command.command()
@click.argument("url")
def revoke(url: str) -> None:
    """Forget the approval of URL's site; it will be asked again."""
    if OriginStore(paths.origins_file()).revoke(url):
        click.echo(f"Revoked {url}. A running agent stops admitting it on new connections after a restart.")
    else:
        raise click.ClickException(f"{url} is not an approved site (see `tanba origins list`).")
