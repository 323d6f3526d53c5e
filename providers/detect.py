"""Find the PKCS#11 modules installed on this machine.

Each known module kind has an NCALayer storage name when NCALayer has one for it (portals
ask for ``AKKaztokenStore``, ``AKJaCartaStore`` ...) and a descriptive name otherwise.
Detection only checks that the file exists; loading happens later, in the module's worker.

Notes on the table:

* One SafeNet module (``libeTPkcs11``) drives both eToken PRO 72K and eToken 5110; it is
  offered as ``AKEToken5110Store``.  Run ``--pkcs11 AKEToken72KStore=PATH`` to offer it
  under the other name.
* The Kaztoken, KZ ID card and AKEY file names are the vendors' as far as public material
  tells; they could not be checked here (no such token).  ``--pkcs11 NAME=PATH`` covers any
  other module.
* p11-kit's proxy loads the modules registered with p11-kit (usually OpenSC, SoftHSM ...),
  so listing it next to them would show every token twice: :func:`for_autodetect` keeps
  the proxy only when no other module is found.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple


class Detected(NamedTuple):
    storage: str
    path: Path


@dataclass(frozen=True)
class ModuleKind:
    storage: str
    description: str
    files: tuple[str, ...]


P11_KIT = "p11-kit"

KINDS: tuple[ModuleKind, ...] = (
    ModuleKind("AKKaztokenStore", "Kaztoken", ("libkztokenp11.so", "kztokenp11.dll", "libkztokenp11.dylib")),
    ModuleKind("AKKZIDCardStore", "Kazakhstan ID card", ("libkzidp11.so", "kzidp11.dll", "libkzidp11.dylib")),
    ModuleKind("AKJaCartaStore", "JaCarta", ("libjcPKCS11-2.so", "jcPKCS11-2.dll", "libjcPKCS11-2.dylib")),
    ModuleKind("AKEToken5110Store", "SafeNet eToken", ("libeTPkcs11.so", "eTPKCS11.dll", "libeTPkcs11.dylib")),
    ModuleKind("AKAKEYStore", "AKEY", ("libakeyp11.so", "akeyp11.dll", "libakeyp11.dylib")),
    ModuleKind("Rutoken", "Rutoken ECP", ("librtpkcs11ecp.so", "rtPKCS11ECP.dll", "librtpkcs11ecp.dylib")),
    ModuleKind("OpenSC", "OpenSC smart cards", ("opensc-pkcs11.so", "opensc-pkcs11.dll", "opensc-pkcs11.dylib")),
    ModuleKind("SoftHSM", "SoftHSM (software token)", ("libsofthsm2.so", "softhsm2-x64.dll", "softhsm2.dll")),
    ModuleKind(P11_KIT, "p11-kit proxy (all modules registered with p11-kit)", ("p11-kit-proxy.so", "p11-kit-proxy.dylib")),
)

_LINUX_DIRS = (
    "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
    "/usr/local/lib", "/usr/lib/x86_64-linux-gnu/pkcs11", "/usr/lib/aarch64-linux-gnu/pkcs11",
    "/usr/lib64/pkcs11", "/usr/lib/pkcs11", "/usr/lib/softhsm", "/usr/lib64/softhsm",
    "/usr/lib/x86_64-linux-gnu/softhsm", "/usr/local/lib/softhsm",
    "/opt/aktivco/rutokenecp/x86_64", "/opt/aladdin/jcPKCS11-2/lib",
)
_MAC_DIRS = (
    "/opt/homebrew/lib", "/usr/local/lib", "/Library/OpenSC/lib", "/opt/homebrew/lib/softhsm",
    "/usr/local/lib/softhsm", "/Library/Frameworks/eToken.framework/Versions/Current",
    "/Library/Aladdin/JaCarta/lib",
)


def default_dirs() -> list[Path]:
    """Where this platform's modules are usually installed."""
    if sys.platform == "win32":
        windir = os.environ.get("SystemRoot", r"C:\Windows")
        programs = os.environ.get("ProgramFiles", r"C:\Program Files")
        return [
            Path(windir) / "System32",
            Path(programs) / "OpenSC Project" / "OpenSC" / "pkcs11",
            Path(r"C:\SoftHSM2\lib"),
        ]
    if sys.platform == "darwin":
        return [Path(d) for d in _MAC_DIRS]
    return [Path(d) for d in _LINUX_DIRS]


def detect(dirs: Sequence[Path] | None = None) -> list[Detected]:
    """Every known module found in ``dirs`` (default: :func:`default_dirs`), in table order.

    A file reached by several paths (symlinks, multiarch copies) is listed once.
    """
    search = list(default_dirs() if dirs is None else dirs)
    found: list[Detected] = []
    seen: set[Path] = set()
    for kind in KINDS:
        for path in _candidates(kind, search):
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            found.append(Detected(kind.storage, path))
            break  # one module per kind
    return found


def for_autodetect(found: Iterable[Detected]) -> list[Detected]:
    """The modules worth opening: the p11-kit proxy only when nothing else is there."""
    found = list(found)
    direct = [d for d in found if d.storage != P11_KIT]
    return direct or found


def describe(storage: str) -> str:
    """A human name for a storage name (the storage name itself when unknown)."""
    return next((k.description for k in KINDS if k.storage == storage), storage)


def _candidates(kind: ModuleKind, dirs: Sequence[Path]) -> Iterable[Path]:
    for directory in dirs:
        for name in kind.files:
            path = directory / name
            if path.is_file():
                yield path
