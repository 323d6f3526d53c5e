"""Helpers for tests that run Tanba as a user does: the installed command, a free port."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

#: the `tanba` console script of the environment running the tests
TANBA = shutil.which("tanba", path=str(Path(sys.executable).parent)) or "tanba"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[str], signum: int = signal.SIGINT, grace: float = 15.0) -> None:
    """Stop ``proc`` as a user would (Ctrl-C by default), and kill it if it has not ended
    within ``grace`` seconds (a prompt still open, say: the test failed before answering)."""
    proc.send_signal(signum)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
