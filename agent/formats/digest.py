"""Hash documents without holding them in memory.

A detached signature over a file needs only the file's digest.  A regular file is hashed
through a sliding memory map of ``MAP_WINDOW`` bytes: OpenSSL (behind :mod:`hashlib`, GIL
released) reads the page cache directly, with no copy into a buffer, and at most one window
is mapped at a time.  Streams and files that cannot be mapped are read in 1 MiB chunks into
one reused buffer (``readinto``).  Either way the memory cost is bounded, whatever the size.

A file truncated by another program while it is being hashed through the map raises SIGBUS;
only `tanba sign` hashes files by path (pages send their documents in the request).
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import os
import stat
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from tanba.crypto import hashes as national_hashes
from tanba.protocol.errors import InvalidParams
from tanba.providers.base import HashAlgorithm

log = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
MAP_WINDOW = 8 << 20

@runtime_checkable
class Stream(Protocol):
    """A readable binary stream (an open file, ``io.BytesIO``, a socket file...)."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...


#: What :func:`digest_of` accepts: bytes-like data, a file path, a readable binary stream,
#: or an iterable of byte chunks.
Source = bytes | bytearray | memoryview | os.PathLike[str] | Stream | Iterable[bytes]


class _Hash(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...


def new_hash(alg: HashAlgorithm) -> _Hash:
    """A fresh hash object for ``alg``: hashlib's, or Tanba's own for the national hashes."""
    if alg.national:
        return national_hashes.new(alg.value)
    return hashlib.new(alg.value)


def hash_bytes(data: bytes | bytearray | memoryview, alg: HashAlgorithm) -> bytes:
    h = new_hash(alg)
    h.update(data)
    return h.digest()


def hash_chunks(chunks: Iterable[bytes | bytearray | memoryview], alg: HashAlgorithm) -> bytes:
    h = new_hash(alg)
    for chunk in chunks:
        h.update(chunk)
    return h.digest()


def hash_stream(stream: Stream, alg: HashAlgorithm, chunk_size: int = CHUNK_SIZE) -> bytes:
    """Digest of everything left in ``stream``, read in ``chunk_size`` pieces."""
    h = new_hash(alg)
    view = memoryview(bytearray(chunk_size))
    while True:
        n = stream.readinto(view)
        if n is None:  # a non-blocking stream with nothing ready: not a document
            raise InvalidParams("the document stream is non-blocking")
        if n == 0:
            return h.digest()
        h.update(view[:n] if n < chunk_size else view)


class Abandoned(Exception):
    """A hash its caller no longer needs (``hash_file``'s ``abandoned`` said so)."""


def _hash_mapped(fd: int, size: int, alg: HashAlgorithm, window: int,
                 abandoned: Callable[[], bool] | None = None) -> bytes:
    h = new_hash(alg)
    offset = 0
    while offset < size:
        if abandoned is not None and abandoned():
            raise Abandoned(f"hashing with {alg.value} abandoned")
        length = min(window, size - offset)
        with mmap.mmap(fd, length, access=mmap.ACCESS_READ, offset=offset) as mapped:
            if hasattr(mapped, "madvise"):
                mapped.madvise(mmap.MADV_SEQUENTIAL)
            with memoryview(mapped) as view:  # released before the map closes
                h.update(view)
        offset += length
    return h.digest()


def hash_file(path: str | os.PathLike[str], alg: HashAlgorithm, chunk_size: int = CHUNK_SIZE, *,
              abandoned: Callable[[], bool] | None = None) -> bytes:
    """Digest of the file at ``path``; an unreadable file is ``invalid_params``.  A mapped
    file stops between windows with :class:`Abandoned` once ``abandoned()`` is true (an early
    guess of `tanba sign` that the key proved wrong)."""
    try:
        with open(path, "rb", buffering=0) as f:
            info = os.fstat(f.fileno())
            if stat.S_ISREG(info.st_mode) and info.st_size > chunk_size:
                try:
                    digest = _hash_mapped(f.fileno(), info.st_size, alg, MAP_WINDOW, abandoned)
                except (OSError, ValueError):  # a file system that cannot map: read it
                    f.seek(0)
                    digest = hash_stream(f, alg, chunk_size)
            else:
                digest = hash_stream(f, alg, chunk_size)
    except OSError as exc:
        raise InvalidParams(f"cannot read {os.fspath(path)!r}: {exc.strerror}") from exc
    log.debug("hashed %s with %s", os.fspath(path), alg.value)
    return digest


def digest_of(source: Source, alg: HashAlgorithm) -> bytes:
    """Digest of any :data:`Source`, choosing the right reader.

    Unreadable files and streams, and chunks that are not bytes, are ``invalid_params``.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return hash_bytes(source, alg)
    if isinstance(source, os.PathLike):
        return hash_file(source, alg)
    if isinstance(source, Stream):
        try:
            return hash_stream(source, alg)
        except OSError as exc:
            raise InvalidParams(f"cannot read the document stream: {exc}") from exc
    try:
        return hash_chunks(source, alg)
    except TypeError as exc:
        raise InvalidParams("document chunks must be bytes") from exc
