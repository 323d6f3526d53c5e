"""`tanba doctor`: is everything in place? One line per check, with the fix for each problem."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click


@click.command("doctor")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Settings file to check [the user's config dir/config.toml].")
@click.option("--port", type=int, default=None, help="Port the agent should be on [from the config, 13579].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {ok, checks:[{name, status, message, fix}]}.")
def command(config_path: Path | None, port: int | None, as_json: bool) -> None:
    """Check the agent, its port, TLS trust in each browser, tokens, key files, config and sites.

    Exits 1 when a problem is found.
    """
    from tanba.agent.setup import doctor

    checks = asyncio.run(doctor.run_checks(doctor.DoctorEnv.default(config_path, port)))
    if as_json:
        click.echo(doctor.to_json(checks))
    else:
        click.echo(doctor.render(checks, color=sys.stdout.isatty()))
    if doctor.failed(checks):
        raise SystemExit(1)
