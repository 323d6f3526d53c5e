"""`tanba serve`: run the agent (see :mod:`tanba.agent.setup.lifecycle` for stop and reload)."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tanba import __version__
from tanba.agent.setup import logs
from tanba.agent.setup.config import APPROVERS, ConfigError, Settings, canonical_origin

if TYPE_CHECKING:
    from tanba.agent.setup.lifecycle import Agent
    from tanba.agent.transport.server import AgentServer

log = logging.getLogger(__name__)


def _origins(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return tuple(canonical_origin(v) for v in values)
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command()
@click.option("--host", default=None, help=f"Loopback address to listen on [{Settings.host}].")
@click.option("--port", type=int, default=None, help=f"Port [{Settings.port}]; 0 picks a free one.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="TOML settings file [the user's config dir/config.toml].")
@click.option("--p12", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="PKCS#12 file offered as storage PKCS12 (repeatable).")
@click.option("--pkcs11", multiple=True, metavar="[NAME=]MODULE",
              help="PKCS#11 module, optionally under an NCALayer storage name (repeatable).")
@click.option("--autodetect/--no-autodetect", default=None,
              help="Also offer PKCS#11 modules found in the usual places [on].")
@click.option("--allow-origin", multiple=True, callback=_origins, metavar="URL",
              help="Site allowed without asking (repeatable), e.g. https://egov.kz.")
@click.option("--tls/--no-tls", default=None, help="wss with the locally installed certificate [when installed].")
@click.option("--approver", type=click.Choice(APPROVERS), default=None, help=f"Who answers consent questions [{Settings.approver}: the desktop dialogs; "
                   "the terminal when there is no display].")
@click.option("--tsa-url", default=None, help="Default RFC 3161 timestamp service.")
@click.option("--trust-anchor", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Root certificate (PEM) trusted by verify (repeatable).")
@click.option("--pin-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --approver auto only: file holding the PIN it enters.")
@click.option("--log-level", type=click.Choice(logs.LEVELS), default="info")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Log file, rotated [the user's state dir/tanba.log].")
@click.option("--no-log-file", is_flag=True, help="Log to the console only.")
@click.option("--stop-timeout", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds requests in flight get to finish on SIGTERM/SIGINT.")
def command(config_path: Path | None, log_level: str, log_file: Path | None, no_log_file: bool,
            stop_timeout: float, **flags: Any) -> None:
    """Run the signing agent on 127.0.0.1.

    SIGTERM or SIGINT stop it gracefully; SIGHUP reloads the config file.
    """
    from tanba.agent.setup.lifecycle import Agent, load_settings
    from tanba.cli.held_consent import serve_consent

    logs.setup(log_level, None if no_log_file else (log_file or logs.log_file()))
    try:
        settings = load_settings(config_path, flags)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    agent = Agent(settings, version=__version__, config_path=config_path, flags=flags, stop_timeout=stop_timeout,
                  make_consent=serve_consent)
    try:
        asyncio.run(_run(agent))
    except KeyboardInterrupt:
        pass


async def _run(agent: Agent) -> None:
    from tanba.agent.setup.lifecycle import StartError

    try:
        await agent.run(on_ready=lambda server: _announce(agent, server))
    except StartError as exc:
        raise click.ClickException(str(exc)) from exc


def _announce(agent: Agent, server: AgentServer) -> None:
    consent = server.services.consent
    for line in consent.warnings():
        click.secho(line, fg="red", bold=True, err=True)
    for host, port in server.addresses:
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"Tanba {__version__} listening on {server.scheme}://{shown}:{port}/v1 (approver: {consent.name})")
    sys.stdout.flush()
    log.info("Tanba %s serving on port %d", __version__, server.port)
