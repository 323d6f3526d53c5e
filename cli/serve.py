"""`tanba serve`: run the agent."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import click

from tanba import __version__
from tanba.agent import paths
from tanba.agent.config import APPROVERS, ConfigError, Settings, build_settings, canonical_origin, load_file

log = logging.getLogger(__name__)


def _origins(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return tuple(canonical_origin(v) for v in values)
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command()
@click.option("--host", default=None, help="Loopback address to listen on [127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [13579]; 0 picks a free one.")
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
@click.option("--approver", type=click.Choice(APPROVERS), default=None, help="Who answers consent questions [terminal].")
@click.option("--tsa-url", default=None, help="Default RFC 3161 timestamp service.")
@click.option("--trust-anchor", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Root certificate (PEM) trusted by verify (repeatable).")
@click.option("--pin-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --approver auto only: file holding the PIN it enters.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info")
def command(config_path: Path | None, log_level: str, **flags: Any) -> None:
    """Run the signing agent on 127.0.0.1."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        file_values = load_file(config_path or paths.config_file())
        if config_path is not None and not config_path.exists():
            raise ConfigError(f"{config_path}: no such file")
        settings = build_settings(file_values, flags)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        asyncio.run(_run(settings))
    except KeyboardInterrupt:
        pass


async def _run(settings: Settings) -> None:
    from tanba.agent.consent import make_consent
    from tanba.agent.localtoken import load_or_create
    from tanba.agent.origins import OriginStore
    from tanba.agent.server import AgentServer, AgentStartError
    from tanba.agent.services import Services
    from tanba.providers.registry import Stores, build_stores

    consent = make_consent(settings)
    try:
        stores = Stores(await build_stores(settings.p12, settings.pkcs11, settings.autodetect))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    services = Services(
        settings=settings,
        consent=consent,
        origins=OriginStore(paths.origins_file()),
        client_token=load_or_create(paths.token_file()),
        version=__version__,
        stores=stores,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = AgentServer(services)
    try:
        await server.start()
    except AgentStartError as exc:
        await stores.close()
        raise click.ClickException(str(exc)) from exc
    for line in consent.warnings():
        click.secho(line, fg="red", bold=True, err=True)
    for host, port in server.addresses:
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"Tanba {__version__} listening on {server.scheme}://{shown}:{port}/v1 (approver: {consent.name})")
    sys.stdout.flush()
    await stop.wait()
    log.info("stopping")
    await server.close()
    await stores.close()
