"""The key stores the agent offers, built from its settings.

Settings: PKCS#12 files (``--p12``), PKCS#11 modules (``--pkcs11 [NAME=]MODULE``) and
auto-detection of installed modules.  ``NAME`` is normally an NCALayer storage name
(``AKKaztokenStore`` ...); any other name is allowed as a custom label.  Without ``NAME`` a
known module file gets its storage name from :mod:`tanba.providers.detect`, an unknown one
its file name.  A module is opened once: given twice, or given and also detected, the first
mention wins (one module under two storage names would list every key twice).

bign keys on tokens sign with the module's own, vendor-defined mechanism and key type:
:class:`BignPkcs11` carries those numbers (the ``[bign-pkcs11]`` config table) to every
PKCS#11 store; without it bign keys are listed but cannot sign.  Nothing is guessed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tanba.protocol.errors import NoCertificate, StoreError, TanbaError
from tanba.providers import detect
from tanba.providers.base import Identity, KeyStore

log = logging.getLogger(__name__)

NCALAYER_STORAGES = frozenset({
    "PKCS12", "AKKaztokenStore", "AKKZIDCardStore", "AKEToken72KStore",
    "AKEToken5110Store", "AKJaCartaStore", "AKAKEYStore",
})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

#: PKCS#11's vendor range (CKM_VENDOR_DEFINED, CKK_VENDOR_DEFINED) and the largest CK_ULONG
#: every platform holds (32 bits on Windows)
VENDOR_DEFINED = 0x80000000
VENDOR_MAX = 0xFFFFFFFF


@dataclass(frozen=True)
class BignPkcs11:
    """A module's vendor numbers for bign (STB 34.101.45) signing, from the administrator.

    ``mechanism`` signs a 32-byte belt-hash digest with a bign-256 private key whose
    CKA_KEY_TYPE is ``key_type``.  Both are vendor-defined (>= 0x80000000) and not public:
    they come from the token vendor's documentation, never from a guess.
    """

    mechanism: int
    key_type: int

    def __post_init__(self) -> None:
        for name, value in (("mechanism", self.mechanism), ("key-type", self.key_type)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name}: expected an integer")
            if not VENDOR_DEFINED <= value <= VENDOR_MAX:
                raise ValueError(f"{name}: {value:#x} is not a vendor-defined number "
                                 f"(0x80000000 to 0xffffffff)")


def parse_pkcs11_spec(spec: str) -> tuple[str | None, Path]:
    """``"NAME=/path/mod.so"`` -> ``("NAME", Path)``; ``"/path/mod.so"`` -> ``(None, Path)``.

    Raises ValueError for an empty module or a malformed name.  A ``=`` after a path
    separator belongs to the path.
    """
    text = spec.strip()
    name: str | None = None
    head, sep, tail = text.partition("=")
    if sep and "/" not in head and "\\" not in head:
        if not _NAME.fullmatch(head):
            raise ValueError(f"bad storage name {head!r} in --pkcs11 {spec!r}")
        name, text = head, tail.strip()
    if not text:
        raise ValueError(f"no module path in --pkcs11 {spec!r}")
    if name is not None and name not in NCALAYER_STORAGES:
        log.info("PKCS#11 module %s offered under the custom storage name %r", text, name)
    return name, Path(text).expanduser()


def storage_for_module(path: Path) -> str:
    """The storage name a module gets when none is given."""
    for kind in detect.KINDS:
        if path.name in kind.files:
            return kind.storage
    return path.name


async def build_stores(
    p12: Sequence[Path], pkcs11: Sequence[str], autodetect: bool, *, bign: BignPkcs11 | None = None
) -> list[KeyStore]:
    """One store for all PKCS#12 files, one per PKCS#11 module (each given ``bign``).
    Raises ValueError for a malformed ``--pkcs11`` spec; modules are loaded later, by their
    first use."""
    stores: list[KeyStore] = []
    if p12:
        from tanba.providers.pkcs12 import Pkcs12Store

        stores.append(Pkcs12Store(list(p12)))
    modules: list[tuple[str, Path]] = []
    for spec in pkcs11:
        name, path = parse_pkcs11_spec(spec)
        modules.append((name or storage_for_module(path), path))
    if autodetect:
        modules.extend(detect.for_autodetect(detect.detect()))
    if modules:
        from tanba.providers.pkcs11 import Pkcs11Store

        seen: set[Path] = set()
        for storage, path in modules:
            real = path.resolve()
            if real in seen:
                log.info("PKCS#11 module %s already offered: %s skipped", path, storage)
                continue
            seen.add(real)
            stores.append(Pkcs11Store(path, storage, bign=bign))
    return stores


@dataclass(frozen=True)
class StoreFailure:
    store: str  # KeyStore.description
    error: TanbaError


class Stores:
    """All configured stores; lists them together and finds the store of an identity."""

    def __init__(self, stores: Sequence[KeyStore]) -> None:
        self.stores = list(stores)
        #: Stores that failed during the last :meth:`all_identities`.
        self.failures: list[StoreFailure] = []
        self._owner: dict[str, KeyStore] = {}

    async def all_identities(self) -> list[Identity]:
        """Every store's identities; a failing store is logged and put in :attr:`failures`."""
        results = await asyncio.gather(
            *(s.identities() for s in self.stores), return_exceptions=True
        )
        identities: list[Identity] = []
        owner: dict[str, KeyStore] = {}
        failures: list[StoreFailure] = []
        for store, result in zip(self.stores, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result  # CancelledError, KeyboardInterrupt
                error = result if isinstance(result, TanbaError) else StoreError(repr(result))
                log.warning("key store %s failed: %s", store.description, error.reason,
                            exc_info=result)
                failures.append(StoreFailure(store.description, error))
                continue
            for identity in result:
                if identity.id in owner:
                    continue
                owner[identity.id] = store
                identities.append(identity)
        self._owner, self.failures = owner, failures
        return identities

    def store_for(self, identity: Identity) -> KeyStore:
        """The store ``identity`` belongs to (the one that listed it last, else the first
        that owns it)."""
        store = self._owner.get(identity.id) or next((s for s in self.stores if s.owns(identity)), None)
        if store is None:
            raise NoCertificate(f"unknown identity {identity.id}")
        return store

    async def close(self) -> None:
        for store in self.stores:
            try:
                await store.close()
            except Exception:
                log.warning("closing %s failed", store.description, exc_info=True)
