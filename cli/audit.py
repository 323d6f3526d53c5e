"""`tanba audit [-n 20] [--json]`: the last disclosures, signatures and logins."""

from __future__ import annotations

import json

import click

from tanba.agent.state.audit import AuditLog, default_path, summarize


@click.command()
@click.option("-n", "count", type=click.IntRange(min=1, max=100_000), default=20, show_default=True,
              help="How many of the most recent events to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON lines, as they are stored.")
def command(count: int, as_json: bool) -> None:
    """Show what sites had signed, authenticated or disclosed (newest last)."""
    log = AuditLog(default_path())
    events = log.recent(count)
    if as_json:
        for event in events:
            click.echo(json.dumps(event, ensure_ascii=False))
        return
    if not events:
        click.echo(f"No audit events yet ({log.path}).")
        return
    for line in summarize(events):
        click.echo(line)
