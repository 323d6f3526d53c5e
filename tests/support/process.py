"""Helpers for tests that run Tanba as a user does: the installed command, a free port."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

#: the `tanba` console script of the environment running the tests
TANBA = shutil.which("tanba", path=str(Path(sys.executable).parent)) or "tanba"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
