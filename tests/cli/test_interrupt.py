"""One Ctrl-C at a password prompt of a one-shot command stops it (issue 17 item 5).

Each command runs in a real pty, as under a terminal: the password prompt shows, the user
presses Ctrl-C once, and the process must be gone within a few seconds with a non-zero
status and without a Python traceback.
"""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import termios
import time
from pathlib import Path

import pytest

from support.keyfiles import key_file
from support.process import TANBA
from tanba.agent.setup.testpki import Manifest


def _controlling_tty() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _read_until(master: int, needle: str, screen: bytearray, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while needle not in screen.decode("utf-8", "replace"):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([master], [], [], min(left, 0.1))
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the pty
                return needle in screen.decode("utf-8", "replace")
            if not chunk:
                return needle in screen.decode("utf-8", "replace")
            screen += chunk
    return True


def _drain(master: int, screen: bytearray, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                chunk = b""
            screen += chunk
            if not chunk and proc.poll() is not None:
                return
        elif proc.poll() is not None:
            return


@pytest.mark.parametrize(("args", "prompt"), [
    (["certs", "list"], "Password for "),
    (["test-sign", "--no-autodetect"], "Password for "),
    (["sign", "--no-autodetect", "{doc}"], "Password for "),
], ids=["certs-list", "test-sign", "sign"])
def test_one_ctrl_c_at_the_password_prompt_stops_the_command(
    tmp_path: Path, pki: Manifest, args: list[str], prompt: str
) -> None:
    p12 = key_file(pki, "rsa-sign", tmp_path / "key.p12", "secret")
    doc = tmp_path / "doc.txt"
    doc.write_text("a document\n")
    env = {**os.environ, "TANBA_CONFIG_DIR": str(tmp_path / "cfg"), "TANBA_STATE_DIR": str(tmp_path / "state"),
           "LANG": "C.UTF-8", "TERM": "dumb"}
    master, slave = os.openpty()
    argv = [TANBA, *(a.format(doc=doc) for a in args), "--p12", str(p12)]
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=tmp_path,
                            start_new_session=True, preexec_fn=_controlling_tty)
    os.close(slave)
    screen = bytearray()
    try:
        assert _read_until(master, prompt, screen, 60), screen.decode("utf-8", "replace")
        time.sleep(0.3)  # the prompt is reading now
        os.write(master, b"\x03")
        _drain(master, screen, proc, 5)
        shown = screen.decode("utf-8", "replace")
        assert proc.poll() is not None, f"still running after one Ctrl-C; the screen:\n{shown}"
        assert proc.returncode != 0
        assert "Traceback" not in shown, shown
        assert not (tmp_path / "doc.txt.cms").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        os.close(master)
