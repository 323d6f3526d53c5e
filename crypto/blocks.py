"""Feeding a block hash: the one loop Streebog, GOST R 34.11-94 and belt-hash share."""

from __future__ import annotations

from collections.abc import Callable

Buffer = bytes | bytearray | memoryview


def absorb(tail: bytearray, data: Buffer, block: int, compress: Callable[[Buffer, int, int], None]) -> int:
    """Absorb ``data`` after the pending ``tail`` (fewer than ``block`` bytes, kept up to date):
    whole blocks go to ``compress(buffer, start, stop)`` straight from ``data``'s buffer, no
    copy.  Returns the number of bytes absorbed."""
    view = memoryview(data)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    size = len(view)
    start = 0
    if tail:
        start = min(block - len(tail), size)
        tail += view[:start]
        if len(tail) < block:
            return size
        compress(tail, 0, block)
        tail.clear()
    stop = start + (size - start) // block * block
    if stop > start:
        compress(view, start, stop)
    if stop < size:
        tail += view[stop:]
    return size
