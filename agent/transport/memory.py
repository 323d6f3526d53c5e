"""Give memory back to the system after big messages (glibc only; elsewhere a no-op).

The agent runs for the whole session, so what a big request leaves behind stays on the
user's machine for hours.  glibc's allocator keeps freed memory in its heaps, and after a
large block is freed it raises its mmap threshold to that block's size, so later big
buffers (base64 documents, their decoded bytes) come from the heap as well and are never
returned: documents of 8, 24 and 32 MiB signed one after the other left the idle agent
32 MiB larger, and the 1M-message fuzz run grew in steps of 5-9 MiB.  And each worker
thread (XML and CMS parsing, hashing run off the event loop) gets a heap of its own, up to
eight per core: every heap keeps the high-water mark of the biggest input its thread parsed,
so the agent grew for as long as new threads met big inputs (the fuzz: 163 -> 183 MiB over
150,000 messages, 212 MiB at most over 10^6; with two heaps 123 -> 126 MiB, 155 at most, as
fast).  Two calls fix that:

- :func:`configure` pins the mmap threshold at glibc's default (128 KiB), so blocks above
  it are always mapped and unmapped on free, and caps the heaps at :data:`ARENAS` (the
  event loop's and one the worker threads share: they hold the GIL for most of their work
  anyway, so they rarely wait for the heap's lock);
- :func:`release` (``malloc_trim``) hands free heap pages back; both endpoints have it
  run (:func:`release_after`) once a message of at least :data:`RELEASE_AFTER` bytes is
  answered, where its millisecond or so is nothing next to the message itself.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import logging
import platform
from typing import Any

log = logging.getLogger(__name__)

#: messages at least this large are followed by a :func:`release`
RELEASE_AFTER = 1024 * 1024
#: glibc heaps ("arenas") the process may have
ARENAS = 2
_M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
_M_ARENA_MAX = -8
_MMAP_THRESHOLD = 128 * 1024


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


def configure() -> bool:
    """Fix the mmap threshold and cap the heaps; True when the allocator took both.  Call it
    before the worker threads start (heaps made before stay)."""
    libc = _glibc()
    if libc is None:
        return False
    ok = True
    for name, option, value in (("M_MMAP_THRESHOLD", _M_MMAP_THRESHOLD, _MMAP_THRESHOLD),
                                ("M_ARENA_MAX", _M_ARENA_MAX, ARENAS)):
        if not libc.mallopt(option, value):
            log.debug("mallopt(%s) refused", name)
            ok = False
    return ok


def release() -> bool:
    """Return free heap memory to the system; True when some was returned."""
    libc = _glibc()
    return libc is not None and bool(libc.malloc_trim(0))


def release_after(serving: asyncio.Future[Any], size: int) -> None:
    """:func:`release` once ``serving`` (the task answering a message of ``size`` bytes) is
    done, for big messages only.  The caller must not keep the message itself alive."""
    if size >= RELEASE_AFTER:
        serving.add_done_callback(lambda _: release())
