"""A person at the terminal of `tanba serve --approver terminal`, in a real pty (issue 17).

Three key files with three passwords; a page asks for a signature over /v1.  On the
terminal the user reads who asks and for what, picks the second file, mistypes its
password (and is told so), picks it again, types its password, picks its certificate and
confirms.  The signature must verify with that file's certificate, not the first file's.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import json
import os
import re
import signal
import subprocess
import termios
import threading
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from websockets.asyncio.client import connect

from support.agent import PORTAL
from support.keyfiles import key_file
from support.process import TANBA, free_port
from tanba.agent.setup.testpki import Manifest


DOCUMENT = b"Contract No. 17: the second key signs it."


class Terminal:
    """The pty's master side: what the user sees, and their keyboard."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.screen = ""
        self._seen = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self.screen += chunk.decode("utf-8", "replace")

    def expect(self, pattern: str, timeout: float = 30) -> str:
        """Wait for ``pattern`` after what was already read; returns the text up to its end."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = re.compile(pattern).search(self.screen, self._seen)
                if found:
                    shown = self.screen[self._seen : found.end()]
                    self._seen = found.end()
                    return shown
            assert time.monotonic() < deadline, f"{pattern!r} not shown; the screen:\n{self.screen[self._seen:]}"
            time.sleep(0.05)

    def type(self, line: str) -> None:
        time.sleep(0.2)  # a person reads before typing
        os.write(self.master, line.encode() + b"\r")


def _controlling_tty() -> None:
    """In the child, after setsid: the pty (its stdin) becomes its controlling terminal,
    so the approver opens /dev/tty as it does under a real terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_the_user_picks_the_second_file_and_it_signs(tmp_path: Path, pki: Manifest) -> None:
    files = [
        key_file(pki, "rsa-sign", tmp_path / "first.p12", "pass-one"),
        key_file(pki, "org-rsa-sign", tmp_path / "second.p12", "pass-two"),
        key_file(pki, "ec-sign", tmp_path / "third.p12", "pass-three"),
    ]
    port = free_port()
    env = {**os.environ, "TANBA_CONFIG_DIR": str(tmp_path / "cfg"), "TANBA_STATE_DIR": str(tmp_path / "state"),
           "LANG": "C.UTF-8", "TERM": "dumb"}
    master, slave = os.openpty()
    args = [TANBA, "serve", "--approver", "terminal", "--no-autodetect", "--no-tls", "--port", str(port),
            "--allow-origin", PORTAL]
    for path in files:
        args += ["--p12", str(path)]
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
                            preexec_fn=_controlling_tty)
    os.close(slave)
    term = Terminal(master)
    try:
        term.expect("listening on")
        reply: dict[str, Any] = {}

        async def page() -> None:
            async with connect(f"ws://127.0.0.1:{port}/v1", origin=PORTAL) as ws:  # type: ignore[arg-type]
                params = {"format": "raw", "data": [base64.b64encode(DOCUMENT).decode()]}
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sign", "params": params}))
                while "method" in (answer := json.loads(await asyncio.wait_for(ws.recv(), 90))):
                    pass
                reply.update(answer)

        client = threading.Thread(target=lambda: asyncio.run(page()))
        client.start()

        # the site and the operation first, then the three files by name
        shown = term.expect(r"Number \(Enter cancels\):")
        assert "https://portal.test asks to sign. Choose a key:" in shown
        assert "1. first.p12" in shown and "2. second.p12" in shown and "3. third.p12" in shown
        term.type("2")
        shown = term.expect(r"Password of the key file second\.p12[^\n]*: ")
        assert "https://portal.test asks to sign." in shown  # the password prompt says who asks and why
        term.type("not-the-password")
        # a wrong password is said where it was typed, and the user may try again
        shown = term.expect(r"Number \(Enter cancels\):")
        assert "Wrong password for second.p12." in shown and "Try again or choose another key." in shown
        term.type("2")
        term.expect(r"Password of the key file second\.p12[^\n]*: ")
        term.type("pass-two")
        # the certificate inside the file, to see and pick
        shown = term.expect(r"> ")
        assert "СОТРУДНИКОВ БАХЫТ" in shown and "second.p12" in shown
        term.type("1")
        shown = term.expect(r"Sign\? \(y/n\) ")
        assert "https://portal.test asks to sign with СОТРУДНИКОВ БАХЫТ" in shown
        term.type("y")
        client.join(60)
        assert not client.is_alive()
        assert "pass-two" not in term.screen and "not-the-password" not in term.screen  # typed without echo
    finally:
        print(term.screen)  # the session as the user saw it (pytest -s shows it)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        finally:
            os.close(master)

    assert "result" in reply, reply
    signature = base64.b64decode(reply["result"]["signatures"][0])
    second = pki.identities["org-rsa-sign"].certificate()
    assert reply["result"]["certificate"].strip() == second.public_bytes(Encoding.PEM).decode().strip()
    public = second.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, DOCUMENT, padding.PKCS1v15(), hashes.SHA256())  # raises if not made by that key
