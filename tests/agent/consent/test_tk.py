"""Every real Tk dialog, on a real (virtual) X server: it opens on top, renders, and obeys keys.

Each dialog is opened through :class:`TkView`, found by its title with xdotool like a user's
window manager would, photographed with ImageMagick's ``import`` and checked: the expected
size, not a blank image, text in the heading area, the final-try red.  Then real key presses
(xdotool) answer it.  With ``TANBA_SCREENSHOTS_DIR`` set (``scripts/screenshots``), the
pictures are kept there for the documentation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from tanba.agent.consent.base import (
    Action,
    CertificateChoice,
    Confirmation,
    KeyChoice,
    KeyFile,
    OriginDecision,
    PinRequest,
)
from tanba.agent.consent.dialogs import (
    ARM_DELAY,
    CertificateDialog,
    ConfirmDialog,
    Dialog,
    KeyDialog,
    OriginDialog,
    PinDialog,
    State,
)
from tanba.agent.access.summary import of_data, of_digest
from tanba.agent.consent.tk import TkView, display_available
from tanba.agent.setup.testpki import Manifest
from tanba.providers.base import Identity, PinStatus

from .conftest import Display, image_has_red, image_size, image_stddev

ORIGIN = "https://egov.kz"
XML = ('<?xml version="1.0" encoding="UTF-8"?>\n<application id="42">\n  <iin>850101300017</iin>\n'
       '  <service>Справка о несудимости</service>\n  <lang>ru</lang>\n</application>\n').encode()
TITLE = "^Tanba "
SHOTS = os.environ.get("TANBA_SCREENSHOTS_DIR")


def ident(pki: Manifest, name: str) -> Identity:
    cert = x509.load_pem_x509_certificate(pki.identities[name].cert_pem.read_bytes())
    where = "tanba-test (SoftHSM)" if name.startswith("org") else f"/home/aigul/keys/{name}.p12"
    return Identity(id=name, storage="PKCS12", certificate=cert, chain=(), location=where, key_ref=name)


def scenes(pki: Manifest, locale: str, tmp: Path) -> dict[str, Callable[[], Dialog[Any]]]:
    def certificates(details: bool) -> Dialog[Any]:
        names = ("rsa-sign", "org-rsa-sign", "ec-sign", "rsa-sign-expired", "rsa-auth")
        d = CertificateDialog(CertificateChoice(ORIGIN, locale, Action.SIGN, tuple(ident(pki, n) for n in names)))
        if details:
            d.toggle_details(1)
            d.select(1)
        return d

    keys = "/home/aigul/keys"
    files = (KeyFile(f"{keys}/RSA256_a1b2c3.p12", ("sign",)), KeyFile(f"{keys}/GOSTKNCA_d4e5f6.p12"),
             KeyFile(f"{keys}/RSA256_2024.p12", ("sign",), problem="wrong_pin", retry_after=2))
    return {
        "origin": lambda: OriginDialog(ORIGIN, locale),
        "key-files": lambda: KeyDialog(KeyChoice(ORIGIN, locale, Action.SIGN, files,
                                                 identities=(ident(pki, "org-rsa-sign"),))),
        "certificates": lambda: certificates(False),
        "certificate-details": lambda: certificates(True),
        "pin": lambda: PinDialog(PinRequest(ORIGIN, locale, ident(pki, "rsa-sign"),
                                            PinStatus(needs_pin=True, retries_left=3))),
        "pin-final-try": lambda: PinDialog(PinRequest(ORIGIN, locale, ident(pki, "org-rsa-sign"),
                                                      PinStatus(needs_pin=True, retries_left=1, final_try=True))),
        "key-file-password": lambda: PinDialog(PinRequest(ORIGIN, locale, None, PinStatus(needs_pin=True),
                                                          location="/home/aigul/keys/RSA256_a1b2c3.p12")),
        "confirm": lambda: ConfirmDialog(Confirmation(
            ORIGIN, locale, Action.SIGN, (ident(pki, "rsa-sign"),),
            (of_data(XML), of_data(bytes(range(256)) * 40), of_digest(bytes(32), "sha256")))),
        "confirm-login": lambda: ConfirmDialog(Confirmation(ORIGIN, locale, Action.AUTH, (ident(pki, "rsa-auth"),), ())),
    }


@pytest.fixture(scope="module")
def view(xvfb: Display) -> Iterator[TkView]:
    tk_view = TkView(xvfb.name)
    yield tk_view
    tk_view.close()


async def opened(xvfb: Display, view: TkView, dialog: Dialog[Any]) -> tuple[asyncio.Task[None], str]:
    task = asyncio.create_task(view.show(dialog))
    window = await asyncio.to_thread(xvfb.window, TITLE)
    return task, window


async def finish(xvfb: Display, task: asyncio.Task[None], *keys: str) -> None:
    await asyncio.to_thread(xvfb.key, *keys)
    await asyncio.wait_for(task, 10)
    assert await asyncio.to_thread(xvfb.gone, TITLE)


def test_display_detection(xvfb: Display) -> None:
    assert display_available({"DISPLAY": xvfb.name})
    assert not display_available({})
    assert not display_available({"DISPLAY": ":9999"})  # nothing listens there


MIN_SIZE = {"origin": (420, 150), "certificates": (800, 220), "certificate-details": (800, 380),
            "pin": (400, 180), "pin-final-try": (400, 260), "key-file-password": (400, 160), "confirm": (600, 300),
            "key-files": (500, 200), "confirm-login": (400, 150)}


# Russian is checked on every run; the documentation run renders every language.
@pytest.mark.parametrize("locale", ["ru", "en", "kk"] if SHOTS else ["ru"])
async def test_each_dialog_renders(xvfb: Display, view: TkView, pki: Manifest, tmp_path: Path, locale: str) -> None:
    for name, make in scenes(pki, locale, tmp_path).items():
        dialog = make()
        dialog.deadline = time.monotonic() + 120  # the countdown shows in the picture
        task, window = await opened(xvfb, view, dialog)
        # let it paint; for the documentation, also wait until the default button is armed
        await asyncio.sleep(0.25 + (ARM_DELAY if SHOTS else 0))
        shot = await asyncio.to_thread(xvfb.screenshot, window, tmp_path / f"{locale}-{name}.png")
        width, height = image_size(shot)
        min_w, min_h = MIN_SIZE[name]
        assert min_w <= width <= 1280 and min_h <= height <= 900, (name, width, height)
        assert image_stddev(shot) > 0.05, f"{name}: the window is blank"
        assert image_stddev(shot, f"{width - 40}x30+20+14") > 0.05, f"{name}: no heading text"
        assert image_has_red(shot) == (name == "pin-final-try" or name.startswith("certificate")), name
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(SHOTS) / shot.name)
        await finish(xvfb, task, "Escape")  # Escape closes every dialog, as "no"
        assert dialog.state is State.CANCELLED and dialog.answer is None


async def test_enter_allows_once_the_dialog_is_armed(xvfb: Display, view: TkView) -> None:
    dialog = OriginDialog(ORIGIN, "en")
    task, _ = await opened(xvfb, view, dialog)
    await asyncio.to_thread(xvfb.key, "Return")  # at once: ignored, it may have been meant for the browser
    await asyncio.sleep(0.2)
    assert dialog.state is State.OPEN
    await asyncio.sleep(0.6)
    await finish(xvfb, task, "Return")
    assert dialog.decision is OriginDecision.ALLOW_ONCE


async def test_pin_typed_into_the_window(xvfb: Display, view: TkView, pki: Manifest) -> None:
    dialog = PinDialog(PinRequest(ORIGIN, "kk", ident(pki, "rsa-sign"), PinStatus(needs_pin=True, retries_left=2)))
    task, _ = await opened(xvfb, view, dialog)
    await asyncio.sleep(0.7)
    await asyncio.to_thread(xvfb.type, "4321")
    await finish(xvfb, task, "Return")
    assert dialog.answer == bytearray(b"4321")


async def test_final_try_refuses_enter_until_acknowledged(xvfb: Display, view: TkView, pki: Manifest) -> None:
    dialog = PinDialog(PinRequest(ORIGIN, "en", ident(pki, "rsa-sign"),
                                  PinStatus(needs_pin=True, retries_left=1, final_try=True)))
    task, _ = await opened(xvfb, view, dialog)
    await asyncio.sleep(0.7)
    await asyncio.to_thread(xvfb.type, "4321")
    await asyncio.to_thread(xvfb.key, "Return")
    await asyncio.sleep(0.3)
    assert dialog.state is State.OPEN and not dialog.acknowledged
    dialog.acknowledge(True)  # the checkbox (its click is the model call the Tk layer makes)
    await finish(xvfb, task, "Return")
    assert dialog.answer == bytearray(b"4321")


async def test_cancelling_the_request_closes_the_window(xvfb: Display, view: TkView, pki: Manifest) -> None:
    dialog = ConfirmDialog(Confirmation(ORIGIN, "ru", Action.AUTH, (ident(pki, "rsa-auth"),)))
    task, _ = await opened(xvfb, view, dialog)
    task.cancel()  # what the agent does when the page's WebSocket closes
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(xvfb.gone, TITLE)


def test_validity_strings_are_dates(pki: Manifest) -> None:
    d = CertificateDialog(CertificateChoice(ORIGIN, "en", Action.SIGN, (ident(pki, "rsa-sign"),)))
    start, end = d.rows[0].validity.split(" – ")
    assert dt.date.fromisoformat(start) < dt.date.fromisoformat(end)
