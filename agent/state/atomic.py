"""Atomic, private writes for state files.

A state file is written to a temporary file in the same directory, flushed to disk, and
renamed over the old one, so a crash or a full disk leaves either the old file or the new
one, never half of either.  Files are created 0600 and their directories 0700.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def ensure_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def write_private(path: Path, data: bytes) -> None:
    """A state file only this user may read (0600, in a 0700 directory if one is made)."""
    write_atomic(path, data, 0o600)


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
