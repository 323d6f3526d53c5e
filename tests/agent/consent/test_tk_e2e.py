"""End to end with the ``tk`` approver: a page asks to sign, a person answers Tanba's own
windows (xdotool's keystrokes on a real X server), and openssl verifies the signature.

Only the person is scripted; the agent, its WebSocket, the PKCS#12 key file, the Tk
dialogs, the CMS and openssl are the real ones.
"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from support.agent import PORTAL, browser
from support.native import agent_with_keys, b64, openssl_cms_verify
from support.process import free_port
from tanba.agent.consent.dialogs import ARM_DELAY, ConfirmDialog, PinDialog, State
from tanba.agent.consent.tk import TkConsent
from tanba.agent.setup.testpki import Manifest
from websockets.asyncio.client import connect

from .conftest import Display

DOC = "Өтініш / Заявление №42: прошу выдать справку".encode()


async def wait_window(xvfb: Display, ui: TkConsent, kind: str) -> None:
    """Until a window of ``kind`` is on screen (found by title, as a user would see it)."""
    for _ in range(300):
        if ui.history and ui.history[-1].kind == kind and not ui.history[-1].done:
            break
        await asyncio.sleep(0.02)
    await asyncio.to_thread(xvfb.window, "^Tanba ")
    await asyncio.sleep(ARM_DELAY + 0.2)  # a person reads before pressing keys


async def test_a_person_approves_a_signature_with_the_tk_dialogs(xvfb: Display, tmp_path: Path, pki: Manifest) -> None:
    ui = TkConsent(xvfb.name)
    try:
        async with agent_with_keys(tmp_path, pki, ui, p12=["rsa-sign"]) as server, browser(server) as ws:  # type: ignore[arg-type]
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sign",
                                      "params": {"format": "cms", "data": [b64(DOC)], "detached": False}}))
            # the key file is locked: Tanba asks for its password
            await wait_window(xvfb, ui, "pin")
            await asyncio.to_thread(xvfb.type, pki.identities["rsa-sign"].p12_password)
            await asyncio.to_thread(xvfb.key, "Return")
            # then shows what is signed; the person clicks Sign with Enter
            await wait_window(xvfb, ui, "confirm")
            await asyncio.to_thread(xvfb.key, "Return")
            reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
        [signature] = reply["result"]["signatures"]
        assert openssl_cms_verify(pki, tmp_path, base64.b64decode(signature)) == DOC.decode()
        pin, confirm = ui.history
        assert isinstance(pin, PinDialog) and pin.state is State.ANSWERED and pin.is_file
        assert pin.answer is not None and not any(pin.answer)  # zeroed after the store used it
        assert isinstance(confirm, ConfirmDialog) and confirm.approved
        assert await asyncio.to_thread(xvfb.gone, "^Tanba ")
    finally:
        ui.close()


def next_window(xvfb: Display, not_id: str | None, timeout: float = 20) -> str:
    """The id of a visible Tanba window other than ``not_id``, waiting for it."""
    deadline = time.monotonic() + timeout
    while True:
        ids = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^Tanba "], env=xvfb.env,
                             capture_output=True, text=True, timeout=10).stdout.split()
        fresh = [i for i in ids if i != not_id]
        if fresh:
            return fresh[-1]
        assert time.monotonic() < deadline, "no Tanba window appeared"
        time.sleep(0.1)


async def test_tanba_serve_with_approver_tk_under_xvfb(xvfb: Display, tmp_path: Path, pki: Manifest) -> None:
    """`tanba serve --approver tk` as a user starts it on a desktop: the real command, its own
    process, the real X display; a person (xdotool) types the password and confirms."""
    port = free_port()
    env = {**xvfb.env, "TANBA_CONFIG_DIR": str(tmp_path / "cfg"), "TANBA_STATE_DIR": str(tmp_path / "state")}
    tanba = str(Path(sys.executable).with_name("tanba"))
    proc = subprocess.Popen(
        [tanba, "serve", "--approver", "tk", "--port", str(port), "--p12", str(pki.identities["rsa-sign"].p12),
         "--allow-origin", PORTAL, "--no-autodetect", "--no-tls", "--no-log-file"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        started = await asyncio.to_thread(proc.stdout.readline)
        assert "(approver: tk)" in started, started + (proc.stderr.read() if proc.poll() is not None else "")
        async with connect(f"ws://127.0.0.1:{port}/v1", origin=PORTAL) as ws:
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sign",
                                      "params": {"format": "cms", "data": [b64(DOC)], "detached": False}}))
            password_window = await asyncio.to_thread(next_window, xvfb, None)
            await asyncio.sleep(ARM_DELAY + 0.3)
            await asyncio.to_thread(xvfb.type, pki.identities["rsa-sign"].p12_password)
            await asyncio.to_thread(xvfb.key, "Return")
            await asyncio.to_thread(next_window, xvfb, password_window)  # the confirmation
            await asyncio.sleep(ARM_DELAY + 0.3)
            await asyncio.to_thread(xvfb.key, "Return")
            reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
        [signature] = reply["result"]["signatures"]
        assert openssl_cms_verify(pki, tmp_path, base64.b64decode(signature)) == DOC.decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 20)
    assert proc.returncode == 0
