"""Where the one-shot commands (`certs`, `sign`, `test-sign`) find keys: as `tanba serve` does.

The ``--p12`` files and ``--pkcs11`` modules given; without either, the config file's
``p12`` and ``pkcs11`` and, unless the file or ``--no-autodetect`` says otherwise, the
PKCS#11 modules found in the usual places.  So a key `serve` offers is one these commands
find, with the same words in the README.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from tanba.agent.setup.config import ConfigError, load_file
from tanba.agent.state import paths
from tanba.providers.registry import BignPkcs11


@dataclass(frozen=True)
class Sources:
    p12: tuple[Path, ...]
    modules: tuple[str, ...]
    autodetect: bool
    #: the config file's [bign-pkcs11], for bign tokens
    bign: BignPkcs11 | None


def serve_sources(p12_files: tuple[Path, ...], modules: tuple[str, ...], autodetect: bool | None,
                  config_path: Path | None = None) -> Sources:
    """The given sources, else `serve`'s (the config file's, and the detected modules)."""
    if config_path is not None and not config_path.exists():
        raise click.BadParameter(f"{config_path}: no such file", param_hint="--config")
    try:
        settings = load_file(config_path or paths.config_file())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    given = bool(p12_files or modules)
    if autodetect is None:
        autodetect = False if given else bool(settings.get("autodetect", True))
    return Sources(
        p12=p12_files if given else tuple(settings.get("p12", ())),
        modules=modules if given else tuple(settings.get("pkcs11", ())),
        autodetect=autodetect,
        bign=settings.get("bign_pkcs11"),
    )
