"""Log lines never land inside a terminal prompt of `tanba serve --approver terminal` (issue 17 item 11).

A page asks for a signature; while the terminal asks the key file's password, the
agent logs a refused connection at INFO.  The screen must show nothing between the prompt
and what the user types; the line comes after the answer, and the log file has it at once.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import json
import os
import re
import select
import signal
import socket
import subprocess
import termios
import threading
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from support.agent import PORTAL
from support.keyfiles import key_file
from support.process import TANBA, free_port, stop
from tanba.agent.setup.testpki import Manifest

PROMPT = r"Password of the key file only\.p12[^\n]*: "
REFUSED = "refused before upgrade: Host 'evil.example"


def _controlling_tty() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Screen:
    def __init__(self, master: int) -> None:
        self.master = master
        self.text = ""

    def read(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], min(left, 0.1))
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    return
                self.text += chunk.decode("utf-8", "replace")

    def wait_for(self, pattern: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text):
            assert time.monotonic() < deadline, f"{pattern!r} not shown:\n{self.text}"
            self.read(0.2)


def _refused_request(port: int) -> None:
    """A request with a foreign Host: the agent refuses it and logs that at INFO."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /v1 HTTP/1.1\r\nHost: evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 403")


def test_a_log_line_waits_until_the_prompt_is_answered(tmp_path: Path, pki: Manifest) -> None:
    p12 = key_file(pki, "rsa-sign", tmp_path / "only.p12", "secret")
    log_file = tmp_path / "tanba.log"
    port = free_port()
    env = {**os.environ, "TANBA_CONFIG_DIR": str(tmp_path / "cfg"), "TANBA_STATE_DIR": str(tmp_path / "state"),
           "LANG": "C.UTF-8", "TERM": "dumb"}
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [TANBA, "serve", "--approver", "terminal", "--no-autodetect", "--no-tls", "--port", str(port),
         "--allow-origin", PORTAL, "--p12", str(p12), "--log-file", str(log_file)],
        stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True, preexec_fn=_controlling_tty)
    os.close(slave)
    screen = Screen(master)
    reply: dict[str, Any] = {}

    async def page() -> None:
        async with connect(f"ws://127.0.0.1:{port}/v1", origin=PORTAL) as ws:  # type: ignore[arg-type]
            params = {"format": "raw", "data": [base64.b64encode(b"a document").decode()]}
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sign", "params": params}))
            while "method" in (answer := json.loads(await asyncio.wait_for(ws.recv(), 90))):
                pass
            reply.update(answer)

    try:
        screen.wait_for("listening on")
        client = threading.Thread(target=lambda: asyncio.run(page()))
        client.start()
        screen.wait_for(PROMPT)
        _refused_request(port)
        deadline = time.monotonic() + 10
        while REFUSED not in log_file.read_text(encoding="utf-8"):  # logged (to the file) while the prompt waits
            assert time.monotonic() < deadline, log_file.read_text(encoding="utf-8")
            time.sleep(0.1)
        screen.read(1.0)
        asked_at = re.search(PROMPT, screen.text)
        assert asked_at is not None
        assert screen.text[asked_at.end():].strip() == "", f"written into the open prompt:\n{screen.text}"
        os.write(master, b"\r")  # an empty password: cancel
        client.join(60)
        screen.read(1.0)
        assert REFUSED in screen.text[asked_at.end():]  # after the answer, not lost
        assert reply["error"]["data"]["reason"] == "user_cancelled"
    finally:
        try:
            stop(proc, signal.SIGTERM)
        finally:
            os.close(master)
