"""`tanba token`: where local programs find their bearer token."""

from __future__ import annotations

import click

from tanba.agent.state import paths


@click.command()
@click.option("--show", is_flag=True, help="Print the token itself instead of the file's path.")
def command(show: bool) -> None:
    """Print the path of the local-client token file (0600)."""
    path = paths.token_file()
    if show:
        from tanba.agent.state.client_token import load_or_create

        click.echo(load_or_create(path))
    else:
        click.echo(str(path))
