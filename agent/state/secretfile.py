"""Reading a PIN or password from a file (``--pin-file``, ``--password-file``, the auto
approver's PIN file): the secret is the file's first line without its line ending, read
into a ``bytearray`` the caller wipes.  One reader, so every command means the same by it."""

from __future__ import annotations

from pathlib import Path

#: more than any PIN or password; a bigger file is not a PIN file
MAX_BYTES = 4096


def read_secret_file(path: Path) -> bytearray:
    """The first line of ``path`` (raises OSError when it cannot be read)."""
    with path.open("rb") as fh:
        data = bytearray(fh.read(MAX_BYTES))
    end = next((i for i, b in enumerate(data) if b in (0x0A, 0x0D)), len(data))
    secret = data[:end]
    data[:] = bytes(len(data))
    return secret
