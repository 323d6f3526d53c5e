"""End to end with the ``tk`` approver: a page asks to sign, a person answers Tanba's own
windows (xdotool's keystrokes on a real X server), and openssl verifies the signature.

Only the person is scripted; the agent, its WebSocket, the PKCS#12 key file, the Tk
dialogs, the CMS and openssl are the real ones.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

from support.agent import browser
from support.native import agent_with_keys, b64, openssl_cms_verify
from tanba.agent.consent.dialogs import ARM_DELAY, ConfirmDialog, PinDialog, State
from tanba.agent.consent.recent import RecentFiles
from tanba.agent.consent.tk import TkConsent
from tanba.agent.testpki import Manifest

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
    ui = TkConsent(xvfb.name, recent=RecentFiles(tmp_path / "recent.json"))
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
