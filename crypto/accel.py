"""Whether the national hashes run through the optional C extension: the one place that says so.

``tanba.crypto._speedups`` (crypto/_speedups.c) holds the compression functions of Streebog,
GOST R 34.11-94 and belt-hash.  setup.py builds it when a C compiler is present at install time;
without one the install still succeeds and the pure-Python code runs instead.  :mod:`.streebog`
and :mod:`.gost341194` ask :func:`speedups`, and :mod:`.belt` asks :func:`belt_speedups`, before
each batch of blocks, so they take the C path when the extension imported and the pure path has
not been forced.  Both paths hold the same state (the pure modules' own), and give the same
bytes: the pure code is the reference, and tests/crypto/test_speedups.py compares the two.

``belt_compress`` came after ``VERSION`` 1 without changing any other function, so a build from
before it is still used for the other hashes: whether it has the function is checked once, at
import, and :func:`belt_speedups` answers ``None`` (belt-hash runs in Python) when it has not.

``tanba.crypto._ecspeed`` (crypto/_ecspeed.c) holds GOST R 34.10's prime-field and curve
arithmetic: :mod:`.gost3410` asks :func:`ecspeed` on every scalar multiplication and runs its
pure-Python code (the reference; tests/crypto/test_ecspeed.py compares the two) when it answers
``None``.  It is built and versioned on its own (``EC_VERSION``), and ``use_pure`` switches both.

Nothing here reads the environment (crypto/ does no I/O): the test suite's conftest calls
``use_pure(True)`` when ``TANBA_PURE_PYTHON=1``, and an application may do the same.
"""

from __future__ import annotations

from importlib import import_module
from typing import Protocol, cast

__all__ = ["EcCurve", "EcSpeed", "Speedups", "available", "belt_speedups", "ec_available", "ecspeed",
           "enabled", "speedups", "use_pure"]

#: the ``VERSION`` of the extension this Python code is written against (a stale build in the
#: source tree with another version is ignored rather than trusted)
VERSION = 1
#: the same for ``tanba.crypto._ecspeed``
EC_VERSION = 1

Buffer = bytes | bytearray | memoryview


class Speedups(Protocol):
    """The extension's functions (see the header of crypto/_speedups.c for the layouts)."""

    VERSION: int
    CTX_SIZE: int
    TABLES_SIZE: int

    def streebog_compress(self, ctx: bytes, state: bytes, data: Buffer, /) -> bytes: ...

    def streebog_g(self, ctx: bytes, h: bytes, n: bytes, m: bytes, /) -> bytes: ...

    def gost94_compress(self, tables: bytes, state: bytes, data: Buffer, /) -> bytes: ...

    def gost94_step(self, tables: bytes, h: bytes, m: bytes, /) -> bytes: ...

    def belt_compress(self, state: bytes, data: Buffer, /) -> bytes: ...


def _load() -> Speedups | None:
    try:
        module = cast(Speedups, import_module("tanba.crypto._speedups"))
    except ImportError:
        return None
    return module if getattr(module, "VERSION", None) == VERSION else None


class EcCurve(Protocol):
    """One curve with its base point's comb table (see the header of crypto/_ecspeed.c)."""

    def mul_base(self, k: int, /) -> tuple[int, int] | None: ...

    def mul(self, k: int, x: int, y: int, /) -> tuple[int, int] | None: ...

    def mul2(self, u1: int, u2: int, x: int, y: int, /) -> tuple[int, int] | None: ...


class EcSpeed(Protocol):
    """The curve extension's module."""

    VERSION: int
    COMB_BITS: int

    def Curve(self, p: int, a: int, b: int, q: int, x: int, y: int, /) -> EcCurve: ...  # noqa: N802


def _load_ec() -> EcSpeed | None:
    try:
        module = cast(EcSpeed, import_module("tanba.crypto._ecspeed"))
    except ImportError:
        return None
    return module if getattr(module, "VERSION", None) == EC_VERSION else None


_EXTENSION = _load()
#: the extension if it has ``belt_compress`` (a build from before belt-hash does not)
_BELT_EXTENSION = _EXTENSION if hasattr(_EXTENSION, "belt_compress") else None
_EC_EXTENSION = _load_ec()
_pure = False


def available() -> bool:
    """True if the C extension was built and imported."""
    return _EXTENSION is not None


def enabled() -> bool:
    """True if the hashes use the C extension now."""
    return _EXTENSION is not None and not _pure


def use_pure(flag: bool = True) -> bool:
    """Force the pure-Python path (``True``) or allow the C one again (``False``); returns
    the previous setting.  Takes effect at the next ``update``/``digest`` of every hash object
    and at the next GOST R 34.10 scalar multiplication."""
    global _pure
    previous, _pure = _pure, bool(flag)
    return previous


def speedups() -> Speedups | None:
    """The extension if it is to be used, else ``None``."""
    return None if _pure else _EXTENSION


def belt_speedups() -> Speedups | None:
    """The extension if it is to be used and has ``belt_compress``, else ``None``."""
    return None if _pure else _BELT_EXTENSION


def ec_available() -> bool:
    """True if the curve extension was built and imported."""
    return _EC_EXTENSION is not None


def ecspeed() -> EcSpeed | None:
    """The curve extension if it is to be used, else ``None``."""
    return None if _pure else _EC_EXTENSION
