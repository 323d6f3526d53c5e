"""`tanba tokens`: PKCS#11 modules, their slots and tokens, as the agent sees them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click
import pkcs11
from pkcs11 import Mechanism, TokenFlag

from tanba.protocol.errors import TanbaError
from tanba.providers import detect
from tanba.providers.pkcs11 import MECHANISM_GOSTR3410_512
from tanba.providers.pkcs11_worker import acquire_worker
from tanba.providers.registry import parse_pkcs11_spec, storage_for_module

FLAG_WORDS: tuple[tuple[TokenFlag, str], ...] = (
    (TokenFlag.TOKEN_INITIALIZED, "initialized"),
    (TokenFlag.LOGIN_REQUIRED, "login required"),
    (TokenFlag.USER_PIN_INITIALIZED, "user PIN set"),
    (TokenFlag.PROTECTED_AUTHENTICATION_PATH, "protected authentication path (PIN pad)"),
    (TokenFlag.USER_PIN_COUNT_LOW, "PIN count low"),
    (TokenFlag.USER_PIN_FINAL_TRY, "PIN final try"),
    (TokenFlag.USER_PIN_LOCKED, "PIN locked"),
    (TokenFlag.USER_PIN_TO_BE_CHANGED, "PIN to be changed"),
    (TokenFlag.WRITE_PROTECTED, "write protected"),
)
SIGNING_MECHANISMS: tuple[Mechanism, ...] = (
    Mechanism.RSA_PKCS, Mechanism.RSA_PKCS_PSS, Mechanism.SHA256_RSA_PKCS,
    Mechanism.SHA384_RSA_PKCS, Mechanism.SHA512_RSA_PKCS, Mechanism.SHA256_RSA_PKCS_PSS,
    Mechanism.SHA384_RSA_PKCS_PSS, Mechanism.SHA512_RSA_PKCS_PSS, Mechanism.ECDSA,
    Mechanism.ECDSA_SHA256, Mechanism.ECDSA_SHA384, Mechanism.ECDSA_SHA512,
    Mechanism.GOSTR3410, Mechanism.GOSTR3410_WITH_GOSTR3411, MECHANISM_GOSTR3410_512,
)


def flag_words(flags: int) -> list[str]:
    return [word for flag, word in FLAG_WORDS if flags & flag]


def _describe(lib: Any) -> dict[str, Any]:
    """Runs on the module's worker thread."""
    slots = []
    for slot in lib.get_slots():
        entry: dict[str, Any] = {"slot": slot.slot_id, "description": slot.slot_description,
                                 "token": None}
        if slot.flags & pkcs11.SlotFlag.TOKEN_PRESENT:
            try:
                token = slot.get_token()
                mechanisms = slot.get_mechanisms()
            except pkcs11.PKCS11Error as exc:
                entry["error"] = type(exc).__name__
            else:
                entry["token"] = {
                    "label": token.label,
                    "serial": token.serial.decode("ascii", "replace").strip(),
                    "manufacturer": token.manufacturer_id,
                    "model": token.model,
                    "flags": flag_words(int(token.flags)),
                    "mechanisms": [m.name for m in SIGNING_MECHANISMS if m in mechanisms],
                }
        slots.append(entry)
    return {"library": lib.library_description, "manufacturer": lib.manufacturer_id,
            "slots": slots}


async def describe_module(storage: str, path: Path) -> dict[str, Any]:
    worker = acquire_worker(path)
    try:
        info = await worker.run(_describe)
    except (TanbaError, pkcs11.PKCS11Error) as exc:
        return {"storage": storage, "path": str(path), "error": str(exc) or type(exc).__name__}
    finally:
        worker.release()
    return {"storage": storage, "path": str(path), **info}


async def describe_all(modules: list[tuple[str, Path]]) -> list[dict[str, Any]]:
    return [await describe_module(storage, path) for storage, path in modules]


def _print(modules: list[dict[str, Any]]) -> None:
    if not modules:
        click.echo("No PKCS#11 module found (give one with --pkcs11 [NAME=]MODULE).")
    for module in modules:
        click.echo(f"{module['storage']}: {module['path']}")
        if "error" in module:
            click.echo(f"  error: {module['error']}")
            continue
        click.echo(f"  library: {module['library']} ({module['manufacturer']})")
        for slot in module["slots"]:
            token = slot["token"]
            click.echo(f"  slot {slot['slot']}: {slot['description']}")
            if token is None:
                click.echo(f"    {slot.get('error', 'no token')}")
                continue
            click.echo(f"    token: {token['label'] or '(no label)'}  serial {token['serial']}")
            click.echo(f"    manufacturer: {token['manufacturer']}  model: {token['model']}")
            click.echo(f"    flags: {', '.join(token['flags']) or '-'}")
            click.echo(f"    signing mechanisms: {', '.join(token['mechanisms']) or '-'}")


@click.command("tokens")
@click.option("--pkcs11", "specs", multiple=True, metavar="[NAME=]MODULE",
              help="A PKCS#11 module to show (repeatable), besides the detected ones.")
@click.option("--autodetect/--no-autodetect", default=True, show_default=True,
              help="Also show the modules found in the usual places.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def command(specs: tuple[str, ...], autodetect: bool, as_json: bool) -> None:
    """List PKCS#11 modules, slots and tokens (no PIN needed)."""
    modules: list[tuple[str, Path]] = []
    for spec in specs:
        try:
            name, path = parse_pkcs11_spec(spec)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--pkcs11") from exc
        modules.append((name or storage_for_module(path), path))
    if autodetect:
        given = {p.resolve() for _, p in modules}
        modules += [(d.storage, d.path) for d in detect.detect() if d.path.resolve() not in given]
    result = asyncio.run(describe_all(modules))
    if as_json:
        click.echo(json.dumps({"modules": result}, ensure_ascii=False, indent=2))
    else:
        _print(result)
    if any("error" in m for m in result[: len(specs)]):
        raise SystemExit(1)  # a module the user named could not be used
