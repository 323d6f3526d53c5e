"""The key-file flow with the Tk approver on a real X server (Xvfb): three key files, the
person picks the second in Tanba's key list, types its password, picks its certificate and
confirms; the signature is made with that file's key.  The key list's screenshot goes to
$TANBA_SCREENSHOT_DIR (docs/screenshots/en-key-files.png was made so), else the test's
temporary directory."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from support.keyfiles import key_file
from tanba.agent.access.gate import PromptGate
from tanba.agent.access.keys import KeyAccess
from tanba.agent.consent.dialogs import ARM_DELAY, KeyDialog, PinDialog
from tanba.agent.consent.tk import TkConsent
from tanba.agent.setup.testpki import Manifest
from tanba.protocol.methods.filter import CertFilter
from tanba.providers.base import HashAlgorithm, SignatureScheme
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.registry import Stores

from .conftest import Display, image_stddev

DIGEST = hashlib.sha256(b"contract").digest()


async def step(xvfb: Display, ui: TkConsent, kind: str, count: int) -> str:
    """Until the ``count``-th dialog, of ``kind``, is on screen; its window id."""
    for _ in range(500):
        if len(ui.history) >= count and ui.history[-1].kind == kind and not ui.history[-1].done:
            break
        await asyncio.sleep(0.02)
    assert ui.history[-1].kind == kind, [d.kind for d in ui.history]
    window = await asyncio.to_thread(xvfb.window, "^Tanba ")
    await asyncio.sleep(ARM_DELAY + 0.3)
    return window


async def test_a_person_picks_the_second_key_file_in_the_tk_dialogs(xvfb: Display, tmp_path: Path, pki: Manifest) -> None:
    files = [key_file(pki, "rsa-sign", tmp_path / "first.p12", "pass-one"),
             key_file(pki, "org-rsa-sign", tmp_path / "second.p12", "pass-two"),
             key_file(pki, "ec-sign", tmp_path / "third.p12", "pass-three")]
    ui = TkConsent(xvfb.name)
    access = KeyAccess(Stores([Pkcs12Store(files)]), ui, PromptGate(), "https://portal.test", "en")

    async def person() -> None:
        window = await step(xvfb, ui, "keys", 1)
        shots = Path(os.environ.get("TANBA_SCREENSHOT_DIR") or tmp_path)
        shot = await asyncio.to_thread(xvfb.screenshot, window, shots / "en-key-files.png")
        assert image_stddev(shot) > 0.05  # text on it, not a blank window
        await asyncio.to_thread(xvfb.key, "Down")  # the second file
        await asyncio.to_thread(xvfb.key, "Return")
        await step(xvfb, ui, "pin", 2)
        await asyncio.to_thread(xvfb.type, "pass-two")
        await asyncio.to_thread(xvfb.key, "Return")
        await step(xvfb, ui, "certificates", 3)
        await asyncio.to_thread(xvfb.key, "Return")
        await step(xvfb, ui, "confirm", 4)
        await asyncio.to_thread(xvfb.key, "Return")

    try:
        helper = asyncio.create_task(person())
        async with access.signer(CertFilter(), "sign", ()) as signer:
            signature = await signer.sign_digest(DIGEST, HashAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15)
        await helper
    finally:
        ui.close()
    keys, pin = ui.history[0], ui.history[1]
    assert isinstance(keys, KeyDialog) and keys.heading == "https://portal.test asks to sign. Choose a key:"
    assert [row.text.split(" — ")[0] for row in keys.rows] == ["first.p12", "second.p12", "third.p12"]
    assert isinstance(pin, PinDialog) and pin.request.location.endswith("second.p12")
    assert pin.subheading.startswith("Requested by https://portal.test to sign")
    second = pki.identities["org-rsa-sign"].certificate()
    assert signer.identity.certificate == second
    public = second.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, DIGEST, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
