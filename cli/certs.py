"""`tanba certs`: list and show the certificates in PKCS#12 files and on PKCS#11 tokens.

The sources are the ``--p12`` files and ``--pkcs11`` modules given; without either, the
ones `tanba serve` offers: the config file's ``p12`` and ``pkcs11`` and the PKCS#11
modules found in the usual places (``autodetect``, on unless the file or
``--no-autodetect`` turns it off).  PKCS#12 files encrypt their certificates, so each
file's password is asked (hidden) or read from ``--pin-file`` (its first line, for
scripts; ``--password-file`` is its old name).  Tokens are listed without a PIN.  A source
that cannot be read is reported on stderr, the others are still listed, and the exit
status is 1.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from tanba.agent.state import paths
from tanba.agent.state.secretfile import read_secret_file
from tanba.cli.prompt import prompt
from tanba.cli.sources import Sources, serve_sources
from tanba.protocol.errors import TanbaError, WrongPin
from tanba.protocol.methods.certs import cert_wire
from tanba.providers.base import Identity, KeyStore, Locked
from tanba.providers.certificate import CertInfo, cert_info
from tanba.providers.registry import Stores, build_stores

_PASSWORD_TRIES = 3
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@dataclass
class _Listing:
    infos: list[tuple[CertInfo, Identity]] = field(default_factory=list)
    failed: bool = False


@dataclass(frozen=True)
class _Sources(Sources):
    """Where the certificates are looked for, and the file the passwords come from."""

    pin_file: Path | None


def _resolve(p12_files: tuple[Path, ...], modules: tuple[str, ...], autodetect: bool | None,
             config_path: Path | None, pin_file: Path | None, password_file: Path | None) -> _Sources:
    """The given sources, else `serve`'s: the config file's and the detected modules."""
    if pin_file is not None and password_file is not None and pin_file != password_file:
        raise click.UsageError("--password-file is the old name of --pin-file: give one of them")
    found = serve_sources(p12_files, modules, autodetect, config_path)
    return _Sources(p12=found.p12, modules=found.modules, autodetect=found.autodetect, bign=found.bign,
                    pin_file=pin_file or password_file)


def _sources(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The source options of `list` and `show`, handed to ``fn`` as ``sources``."""

    @functools.wraps(fn)
    def wrapper(*, p12_files: tuple[Path, ...], modules: tuple[str, ...], autodetect: bool | None,
                config_path: Path | None, pin_file: Path | None, password_file: Path | None, **rest: Any) -> Any:
        return fn(sources=_resolve(p12_files, modules, autodetect, config_path, pin_file, password_file), **rest)

    options = [
        click.option("--p12", "p12_files", multiple=True, type=_FILE,
                     help="PKCS#12 file (repeatable); its password is asked. [the config file's p12]"),
        click.option("--pkcs11", "modules", multiple=True, metavar="[NAME=]MODULE",
                     help="PKCS#11 module, optionally under an NCALayer storage name (repeatable). "
                          "[the config file's pkcs11]"),
        click.option("--autodetect/--no-autodetect", default=None,
                     help="Also list PKCS#11 modules found in the usual places [when no --p12/--pkcs11 is given].",),
        click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="TOML settings file [the user's config dir/config.toml]."),
        click.option("--pin-file", type=_FILE,
                     help="Read the PKCS#12 password from this file's first line instead of asking."),
        click.option("--password-file", type=_FILE, hidden=True),  # the old name of --pin-file
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


async def _unlock(store: KeyStore, part: Locked, password_file: Path | None) -> bool:
    """Unlock one locked part (a PKCS#12 file), asking again after a wrong password (a few
    times, interactively).  The lease is not kept: the store closes with the listing."""
    tries = 1 if password_file is not None else _PASSWORD_TRIES
    for _ in range(tries):
        wait = store.retry_after(part)
        if wait > 0:
            await asyncio.sleep(wait)  # a person at a terminal: waiting out the backoff is the friendly thing
        if password_file is not None:
            secret = read_secret_file(password_file)
        else:
            secret = bytearray(prompt(f"Password for {part.location}", hide_input=True).encode("utf-8"))
        try:
            await store.unlock(part, secret)
            return True
        except WrongPin:
            click.echo(f"{part.location}: wrong password", err=True)
        finally:
            secret[:] = bytes(len(secret))
    return False


async def _open(sources: _Sources) -> Stores:
    try:
        stores = await build_stores(sources.p12, sources.modules, sources.autodetect, bign=sources.bign)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--pkcs11") from exc
    if not stores:
        raise click.UsageError(
            f"no key files or tokens: give --p12 FILE or --pkcs11 [NAME=]MODULE, or set p12 / pkcs11 in "
            f"{paths.config_file()}")
    return Stores(stores)


async def _collect(sources: _Sources) -> _Listing:
    out = _Listing()
    stores = await _open(sources)
    try:
        for store in stores.stores:
            for part in store.locked():
                try:
                    out.failed |= not await _unlock(store, part, sources.pin_file)
                except TanbaError as exc:
                    click.echo(f"{part.location}: {exc}", err=True)
                    out.failed = True
        for identity in await stores.all_identities():
            out.infos.append((cert_info(identity), identity))
        for failure in stores.failures:
            click.echo(f"{failure.store}: {failure.error}", err=True)
            out.failed = True
    finally:
        await stores.close()
    return out


def _run(sources: _Sources) -> _Listing:
    return asyncio.run(_collect(sources))


def _until(info: CertInfo, now: dt.datetime) -> str:
    text = info.not_after.strftime("%Y-%m-%d")
    if info.not_after < now:
        return f"{text} EXPIRED"
    if info.not_before > now:
        return f"{text} NOT YET VALID"
    return text


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


@click.group()
def command() -> None:
    """List and show certificates in files and tokens."""


@command.command("list")
@_sources
@click.option("--json", "as_json", is_flag=True,
              help="Print {certificates:[CertInfo]} as JSON, as the agent's certs.list answers.")
def list_command(sources: _Sources, as_json: bool) -> None:
    """List the certificates that have a private key behind them."""
    listing = _run(sources)
    if as_json:
        doc = {"certificates": [cert_wire(info) for info, _ in listing.infos]}
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
    elif listing.infos:
        now = dt.datetime.now(dt.UTC)
        rows = [["STORAGE", "OWNER", "IIN/BIN", "PURPOSE", "ALGORITHM", "ISSUER", "VALID UNTIL", "ID"]]
        for info, _ in listing.infos:
            numbers = "/".join(n for n in (info.iin, info.bin, info.personal_number, info.unp) if n) or "-"
            rows.append([info.storage, info.owner_name, numbers, info.purpose_label or "-", info.algorithm,
                         info.issuer_cn or info.issuer, _until(info, now), info.id])
        click.echo(_table(rows))
    else:
        click.echo("No certificates found.", err=True)
    if listing.failed:
        raise SystemExit(1)


@command.command("show")
@click.argument("cert_id", metavar="ID")
@_sources
@click.option("--json", "as_json", is_flag=True, help="Print the CertInfo as JSON.")
@click.option("--pem", "as_pem", is_flag=True, help="Print only the certificate (PEM).")
def show_command(cert_id: str, sources: _Sources, as_json: bool, as_pem: bool) -> None:
    """Show one certificate by its ID (as `tanba certs list` prints it)."""
    listing = _run(sources)
    found = [(info, ident) for info, ident in listing.infos if info.id == cert_id]
    if not found:
        raise click.ClickException(f"no certificate with id {cert_id}")
    info, identity = found[0]
    if as_json:
        click.echo(json.dumps(cert_wire(info), ensure_ascii=False, indent=2))
        return
    if as_pem:
        click.echo(info.pem, nl=False)
        return
    now = dt.datetime.now(dt.UTC)
    fields = [
        ("ID", info.id),
        ("Storage", f"{info.storage} — {identity.location}"),
        ("Subject", info.subject_dn),
        *((f"  {key}", value) for key, value in info.subject.items()),
        ("IIN", info.iin or "-"),
        ("BIN", info.bin or "-"),
        *((("Personal number", info.personal_number),) if info.personal_number else ()),
        *((("UNP", info.unp),) if info.unp else ()),
        ("Purpose", info.purpose_label or "-"),
        ("Issuer", info.issuer),
        ("Serial number", info.serial_number),
        ("Valid from", info.not_before.isoformat()),
        ("Valid until", f"{info.not_after.isoformat()}{'' if info.is_valid(now) else '  (NOT VALID NOW)'}"),
        ("Algorithm", info.algorithm),
        ("Key usage", ", ".join(info.key_usage) or "-"),
        ("Extended key usage", ", ".join(info.ext_key_usage) or "-"),
        ("Policies", ", ".join(info.policies) or "-"),
        ("SHA-256", info.fingerprint_sha256),
        *((f"Chain[{n}]", cert.subject.rfc4514_string()) for n, cert in enumerate(identity.chain)),
    ]
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        click.echo(f"{name.ljust(width)}  {value}")
