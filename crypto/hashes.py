"""The national hashes by name, hashlib-style: ``new("streebog512", data).digest()``.

Names are the `/v1` ``digestAlgorithm`` names (DESIGN.md, "National algorithms"):

* ``streebog256``, ``streebog512`` — GOST R 34.11-2012 (RFC 6986), :mod:`.streebog`;
* ``gost34311-95`` — Kazakhstan's GOST 34.311-95: GOST R 34.11-94 with the test S-boxes
  (id-GostR3411-94-TestParamSet), what NCA's 2004 keys sign with, :mod:`.gost341194`;
* ``gost3411-94`` — GOST R 34.11-94 with the CryptoPro S-boxes (RFC 4357), for Russian data
  older than 2012 (nothing signs with it here; it is read, and tested against the gost engine);
* ``belt-hash`` — Belarus's STB 34.101.31 hash, what bign keys on bign-curve256v1 sign with,
  :mod:`.belt`;
* ``bash256``, ``bash384``, ``bash512`` — Belarus's STB 34.101.77 sponge hash ("bash-hash")
  at the security levels 128, 192 and 256 (digests of 32, 48 and 64 bytes), :mod:`.bash`.

Every object has ``name``, ``digest_size``, ``block_size``, ``update``, ``digest``,
``hexdigest`` and ``copy``, so :mod:`hmac` accepts it as ``digestmod``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Hash(Protocol):
    name: str
    digest_size: int
    block_size: int

    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...

    def copy(self) -> Hash: ...


def _streebog256(data: bytes | bytearray | memoryview = b"") -> Hash:
    from tanba.crypto.streebog import Streebog

    return Streebog(32, data)


def _streebog512(data: bytes | bytearray | memoryview = b"") -> Hash:
    from tanba.crypto.streebog import Streebog

    return Streebog(64, data)


def _gost34311_95(data: bytes | bytearray | memoryview = b"") -> Hash:
    from tanba.crypto.gost341194 import TEST_SBOX, Gost341194

    return Gost341194(TEST_SBOX, data, name="gost34311-95")


def _gost3411_94(data: bytes | bytearray | memoryview = b"") -> Hash:
    from tanba.crypto.gost341194 import CRYPTOPRO_SBOX, Gost341194

    return Gost341194(CRYPTOPRO_SBOX, data, name="gost3411-94")


def _belt_hash(data: bytes | bytearray | memoryview = b"") -> Hash:
    from tanba.crypto.belt import BeltHash

    return BeltHash(data)


def _bash256(data: bytes | bytearray | memoryview = b"") -> Hash:
    from tanba.crypto.bash import BashHash

    return BashHash(128, data)


def _bash384(data: bytes | bytearray | memoryview = b"") -> Hash:
    from tanba.crypto.bash import BashHash

    return BashHash(192, data)


def _bash512(data: bytes | bytearray | memoryview = b"") -> Hash:
    from tanba.crypto.bash import BashHash

    return BashHash(256, data)


CONSTRUCTORS: dict[str, Callable[..., Hash]] = {
    "streebog256": _streebog256,
    "streebog512": _streebog512,
    "gost34311-95": _gost34311_95,
    "gost3411-94": _gost3411_94,
    "belt-hash": _belt_hash,
    "bash256": _bash256,
    "bash384": _bash384,
    "bash512": _bash512,
}

#: digest sizes in bytes, without importing the implementations
DIGEST_SIZES = {"streebog256": 32, "streebog512": 64, "gost34311-95": 32, "gost3411-94": 32, "belt-hash": 32,
                "bash256": 32, "bash384": 48, "bash512": 64}


def new(name: str, data: bytes | bytearray | memoryview = b"") -> Hash:
    """A fresh hash object; ``KeyError`` for a name not listed above."""
    return CONSTRUCTORS[name](data)


def digest(name: str, data: bytes | bytearray | memoryview) -> bytes:
    return new(name, data).digest()
