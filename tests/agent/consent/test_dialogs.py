"""The dialog models, without a display: every path a user (or a closing page) can take.

The "hands" below stand in for the person at the desk on a display-free view: they click
buttons and type into the models exactly as the Tk layer forwards clicks and keys.  The
agent, the key files, the signatures and openssl are real.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from support.agent import PORTAL, browser, call
from support.native import agent_with_keys, b64, openssl_cms_verify, reason
from tanba.agent.consent.base import (
    Action,
    CertificateChoice,
    Confirmation,
    DocumentSummary,
    OriginDecision,
    PinRequest,
)
from tanba.agent.consent.dialogs import (
    ARM_DELAY,
    CertificateDialog,
    ConfirmDialog,
    Dialog,
    OriginDialog,
    PinDialog,
    State,
)
from tanba.agent.access.summary import of_data, of_digest
from tanba.agent.consent.runner import DialogConsent
from tanba.agent.setup.testpki import Manifest
from tanba.protocol.i18n import catalog
from tanba.providers.base import Identity, PinStatus

ORIGIN = "https://egov.kz"
DOC = "<?xml version=\"1.0\"?><request><iin>850101300017</iin><text>Прошу выдать справку</text></request>".encode()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = ARM_DELAY) -> None:
        self.now += seconds


def ident(pki: Manifest, name: str) -> Identity:
    cert = x509.load_pem_x509_certificate(pki.identities[name].cert_pem.read_bytes())
    return Identity(id=name, storage="PKCS12", certificate=cert, chain=(), location=f"/keys/{name}.p12", key_ref=name)


def opened(dialog: Dialog[Any], clock: Clock) -> None:
    """The window is on screen and the arming delay has passed."""
    dialog.shown()
    clock.advance()


Act = Callable[[Dialog[Any]], None]


class Hands:
    """A display-free view: for each dialog kind, what the user does (nothing = never answers)."""

    def __init__(self, clock: Clock, **acts: Act) -> None:
        self.clock = clock
        self.acts = acts
        self.shown: list[Dialog[Any]] = []
        self.cancelled: list[Dialog[Any]] = []

    async def show(self, dialog: Dialog[Any]) -> None:
        self.shown.append(dialog)
        finished = asyncio.Event()
        dialog.subscribe(finished.set)
        opened(dialog, self.clock)
        act = self.acts.get(dialog.kind)
        if act is not None:
            act(dialog)
        try:
            await finished.wait()
        except asyncio.CancelledError:
            self.cancelled.append(dialog)
            raise


def typing(pin: str, given: list[bytearray] | None = None) -> Act:
    def act(dialog: Dialog[Any]) -> None:
        assert isinstance(dialog, PinDialog)
        secret = bytearray(pin.encode())
        if given is not None:
            given.append(secret)
        dialog.typed(len(secret))
        assert dialog.submit(secret)

    return act


def press(button: str) -> Act:
    return lambda dialog: dialog.press(button) and None


def key(name: str) -> Act:
    return lambda dialog: dialog.key(name) and None


# -- site approval ---------------------------------------------------------------------


def test_origin_allow_once_always_deny_and_escape() -> None:
    clock = Clock()
    dialog = OriginDialog(ORIGIN, "en", clock=clock)
    assert dialog.heading == "https://egov.kz wants to use your signing keys."
    dialog.shown()
    # a stray Enter meant for the browser, right as the dialog pops up, approves nothing
    assert not dialog.key("Return") and not dialog.press("always")
    assert [b.enabled for b in dialog.buttons()] == [False, False, True]
    clock.advance()
    assert dialog.key("Return") and dialog.state is State.ANSWERED
    assert dialog.decision is OriginDecision.ALLOW_ONCE
    assert not dialog.press("deny")  # over is over

    always = OriginDialog(ORIGIN, "ru", clock=clock)
    opened(always, clock)
    always.press("always")
    assert always.decision is OriginDecision.ALLOW_ALWAYS

    for act in ("deny", "Escape"):
        no = OriginDialog(ORIGIN, "kk", clock=clock)
        opened(no, clock)
        no.key(act) if act == "Escape" else no.press(act)
        assert no.state is State.CANCELLED and no.decision is OriginDecision.DENY and no.answer is None


# -- certificate list ------------------------------------------------------------------


def test_certificate_rows_mark_expired_and_wrong_purpose_and_refuse_them(pki: Manifest) -> None:
    clock = Clock()
    expired, auth, sign, org = (ident(pki, n) for n in ("rsa-sign-expired", "rsa-auth", "rsa-sign", "org-rsa-sign"))
    dialog = CertificateDialog(CertificateChoice(ORIGIN, "ru", Action.SIGN, (expired, auth, sign, org)), clock=clock)
    rows = dialog.rows
    assert rows[0].expired and rows[0].status == "ИСТЁК" and not rows[0].selectable
    assert rows[1].status == "не для этой операции" and rows[1].purpose == "Аутентификация"
    assert rows[2].selectable and rows[2].purpose == "Подпись"
    assert rows[2].ids == f"ИИН {pki.identities['rsa-sign'].iin}"
    assert f"БИН {pki.identities['org-rsa-sign'].bin}" in rows[3].ids and 'ТЕСТОВАЯ ОРГАНИЗАЦИЯ' in rows[3].owner
    assert dialog.selected == 2  # the first usable one
    opened(dialog, clock)
    assert not dialog.select(0) and not dialog.select(1) and dialog.selected == 2
    # details on demand
    assert dialog.details_open is None
    dialog.press("details")
    details = dict(dialog.details(2))
    der = pki.identities["rsa-sign"].certificate().public_bytes(Encoding.DER)
    assert details["Отпечаток SHA-256"] == hashlib.sha256(der).hexdigest()
    assert dialog.details_open == 2
    assert dialog.select(3) and dialog.key("Return")
    assert dialog.answer is org


def test_only_expired_certificates_cannot_be_chosen(pki: Manifest) -> None:
    clock = Clock()
    expired = ident(pki, "rsa-sign-expired")
    dialog = CertificateDialog(CertificateChoice(ORIGIN, "en", Action.SIGN, (expired,)), clock=clock)
    opened(dialog, clock)
    assert dialog.selected is None and dialog.notice == "None of these certificates can be used now."
    assert not dialog.key("Return") and not dialog.press("choose")
    assert dialog.state is State.OPEN
    dialog.key("Escape")
    assert dialog.answer is None and dialog.state is State.CANCELLED


def test_certificate_validity_is_judged_at_the_given_time(pki: Manifest) -> None:
    sign = ident(pki, "rsa-sign")
    later = sign.certificate.not_valid_after_utc + dt.timedelta(days=1)
    dialog = CertificateDialog(CertificateChoice(ORIGIN, "en", Action.SIGN, (sign,)), now=later)
    assert dialog.rows[0].status == "EXPIRED" and dialog.selected is None


# -- PIN entry ---------------------------------------------------------------------------


def test_pin_shows_tries_left_and_hands_over_the_bytearray(pki: Manifest) -> None:
    clock = Clock()
    request = PinRequest(ORIGIN, "en", ident(pki, "rsa-sign"), PinStatus(needs_pin=True, retries_left=2))
    dialog = PinDialog(request, clock=clock)
    assert dialog.retries_text == "2 tries left." and dialog.warning is None
    assert f"(IIN {pki.identities['rsa-sign'].iin})" in dialog.heading
    opened(dialog, clock)
    assert not dialog.buttons()[0].enabled  # nothing typed yet
    assert not dialog.key("Return")  # Enter reads the field: the view calls submit()
    pin = bytearray(b"1234")
    dialog.typed(4)
    assert dialog.buttons()[0].enabled
    assert dialog.submit(pin)
    assert dialog.answer is pin


def test_final_try_needs_an_explicit_i_understand(pki: Manifest) -> None:
    clock = Clock()
    status = PinStatus(needs_pin=True, retries_left=1, final_try=True)
    dialog = PinDialog(PinRequest(ORIGIN, "ru", ident(pki, "rsa-sign"), status), clock=clock)
    assert dialog.warning is not None and dialog.warning.startswith("Последняя попытка!")
    assert dialog.needs_acknowledgement and dialog.acknowledgement_text.startswith("Я понимаю")
    opened(dialog, clock)
    refused = bytearray(b"1234")
    dialog.typed(4)
    assert not dialog.buttons()[0].enabled
    assert not dialog.submit(refused)
    assert refused == bytearray(4)  # a refused PIN is wiped at once
    assert dialog.state is State.OPEN
    dialog.acknowledge(True)
    ok = dialog.buttons()[0]
    assert ok.enabled and ok.danger  # the OK of the final try is drawn red
    assert dialog.submit(bytearray(b"1234")) and dialog.answer == bytearray(b"1234")


def test_locked_pin_and_pinpad_and_file_password(pki: Manifest) -> None:
    clock = Clock()
    locked = PinDialog(PinRequest(ORIGIN, "en", ident(pki, "rsa-sign"), PinStatus(needs_pin=True, locked=True)), clock=clock)
    opened(locked, clock)
    assert locked.warning == "The PIN is locked. Contact your certificate issuer to unlock it."
    assert not locked.needs_entry and not locked.buttons()[0].enabled
    assert not locked.submit(bytearray()) and locked.state is State.OPEN

    pinpad = PinDialog(PinRequest(ORIGIN, "en", ident(pki, "rsa-sign"), PinStatus(needs_pin=False, pinpad=True)), clock=clock)
    opened(pinpad, clock)
    assert pinpad.pinpad_text is not None and not pinpad.needs_entry
    assert pinpad.submit(bytearray(b"typed anyway")) and pinpad.answer == bytearray()  # nothing typed here goes out

    file = PinDialog(PinRequest(ORIGIN, "kk", None, PinStatus(needs_pin=True), location="/home/u/AUTH_RSA256.p12"),
                     clock=clock)
    assert file.heading == "AUTH_RSA256.p12 кілт файлының құпиясөзін енгізіңіз"
    assert file.field_label == "Құпиясөз:" and "/home/u/AUTH_RSA256.p12" in file.subheading


# -- confirmation ------------------------------------------------------------------------


def test_confirmation_shows_origin_certificate_sizes_digests_and_preview(pki: Manifest) -> None:
    clock = Clock()
    docs = (of_data(DOC), of_data(b"\x00\x01binary" * 300), of_digest(hashlib.sha256(b"x").digest(), "sha256"))
    dialog = ConfirmDialog(Confirmation(ORIGIN, "en", Action.SIGN, (ident(pki, "rsa-sign"),), docs), clock=clock)
    assert dialog.title == "Tanba — Confirm signing"
    assert dialog.heading == "https://egov.kz asks to sign."
    [cert] = dialog.certificates()
    assert "ТЕСТОВ" in cert and f"IIN {pki.identities['rsa-sign'].iin}" in cert
    total = len(DOC) + len(b"\x00\x01binary" * 300)
    assert dialog.summary == f"Documents: 3, total size {total / 1024:.1f} KiB"
    rows = dialog.documents()
    assert rows[0].size == f"{len(DOC)} B" and rows[0].digest_hex == hashlib.sha256(DOC).hexdigest()
    assert rows[0].preview is not None and "Прошу выдать справку" in rows[0].preview
    assert rows[1].preview is None  # binary: no preview
    assert rows[2].size == "digest computed by the site"
    opened(dialog, clock)
    assert dialog.key("Return") and dialog.approved


def test_confirmation_counts_what_it_does_not_list_and_deny_is_no(pki: Manifest) -> None:
    clock = Clock()
    docs = tuple(DocumentSummary(10, "sha256", f"{i:064x}") for i in range(25))
    dialog = ConfirmDialog(Confirmation(ORIGIN, "ru", Action.SIGN, (ident(pki, "rsa-sign"),), docs), clock=clock)
    assert len(dialog.documents()) == 20 and dialog.more_text == "… и ещё 5"
    opened(dialog, clock)
    dialog.press("deny")
    assert not dialog.approved and dialog.state is State.CANCELLED
    disclose = ConfirmDialog(Confirmation(ORIGIN, "en", Action.DISCLOSE, (ident(pki, "rsa-sign"), ident(pki, "rsa-auth"))))
    assert disclose.certificate_label == "Certificates the site will see:" and len(disclose.certificates()) == 2
    assert disclose.summary is None and disclose.buttons()[0].label == "Show"


def test_confirmation_says_what_each_preview_leaves_out_in_the_users_language(pki: Manifest) -> None:
    long = "".join(f"Пункт {n}.\n" for n in range(1, 1001)).encode()
    docs = (of_data(long), of_data(b"x" * 70_000), of_data(b"\x00\x01binary"), of_digest(bytes(32), "sha256"))
    dialog = ConfirmDialog(Confirmation(ORIGIN, "ru", Action.SIGN, (ident(pki, "rsa-sign"),), docs))
    rows = dialog.documents()
    hidden = len(long.decode()) - sum(len(f"Пункт {n}.\n") for n in range(1, 13))
    assert rows[0].preview is not None and rows[0].preview.split("\n")[-1] == "Пункт 12."
    grouped = f"{hidden:,}".replace(",", "\u00a0")  # 10 782
    assert rows[0].note == f"… не показано ещё: строк — 988, символов — {grouped}"
    assert rows[1].preview is None and rows[1].note is not None and rows[1].note.startswith("Нет предпросмотра: документ слишком велик")
    assert rows[2].preview is None and rows[2].note == "Нет предпросмотра: документ не является текстом."
    assert rows[3].preview is None and rows[3].note is None  # the size already says "digest only"
    lines = dialog.document_lines()
    assert lines[:4] == [f"#1  {rows[0].size}", f"    SHA256 {rows[0].digest_hex}", "    Предпросмотр:", "      Пункт 1."]
    assert "      " + rows[0].note in lines and "    " + rows[2].note in lines
    kk = ConfirmDialog(Confirmation(ORIGIN, "kk", Action.SIGN, (ident(pki, "rsa-sign"),), docs[:1])).documents()
    assert kk[0].note == f"… тағы 988 жол, {grouped} таңба көрсетілмеді"


# -- storage choice ------------------------------------------------------------------------


# -- the runner: timeout, cancellation, the real agent ----------------------------------------


async def test_timeout_answers_no() -> None:
    clock = Clock()
    ui = DialogConsent(Hands(clock), timeout=0.2, clock=clock)
    assert await ui.ask_origin(ORIGIN, "en") is OriginDecision.DENY
    assert ui.history[-1].state is State.TIMED_OUT
    assert await ui.get_pin(PinRequest(ORIGIN, "en", None, PinStatus(True), location="/k.p12")) is None
    assert ui.history[-1].state is State.TIMED_OUT


async def test_a_view_that_fails_answers_no() -> None:
    class Broken:
        async def show(self, dialog: Dialog[Any]) -> None:
            raise RuntimeError("cannot open the display")

    ui = DialogConsent(Broken())
    assert await ui.confirm(Confirmation(ORIGIN, "en", Action.AUTH, ())) is False
    assert ui.history[-1].state is State.CANCELLED


async def test_approve_signs_and_the_pin_is_wiped(tmp_path: Path, pki: Manifest) -> None:
    clock = Clock()
    typed: list[bytearray] = []
    hands = Hands(clock, pin=typing(pki.identities["rsa-sign"].p12_password, typed), confirm=key("Return"))
    ui = DialogConsent(hands, clock=clock)
    async with agent_with_keys(tmp_path, pki, ui, p12=["rsa-sign"]) as server, browser(server) as ws:  # type: ignore[arg-type]
        reply = await call(ws, "sign", {"format": "cms", "data": [b64(DOC)], "detached": False})
    [signature] = reply["result"]["signatures"]
    assert openssl_cms_verify(pki, tmp_path, base64.b64decode(signature)) == DOC.decode()
    assert [d.kind for d in hands.shown] == ["pin", "confirm"]
    confirm = hands.shown[1]
    assert isinstance(confirm, ConfirmDialog) and confirm.origin == PORTAL
    assert confirm.documents()[0].digest_hex == hashlib.sha256(DOC).hexdigest()
    assert typed and typed[0] == bytearray(len(typed[0]))  # zeroed after the store used it


async def test_deny_and_cancel_are_user_cancelled(tmp_path: Path, pki: Manifest) -> None:
    clock = Clock()
    hands = Hands(clock, pin=key("Escape"))
    ui = DialogConsent(hands, clock=clock)
    async with agent_with_keys(tmp_path, pki, ui, p12=["rsa-sign"]) as server, browser(server) as ws:  # type: ignore[arg-type]
        assert reason(await call(ws, "sign", {"format": "cms", "data": [b64(DOC)]})) == "user_cancelled"
        hands.acts.update(pin=typing(pki.identities["rsa-sign"].p12_password), confirm=press("deny"))
        assert reason(await call(ws, "sign", {"format": "cms", "data": [b64(DOC)]}, id=2)) == "user_cancelled"
    assert [d.state for d in hands.shown] == [State.CANCELLED, State.ANSWERED, State.CANCELLED]


async def test_wrong_pin_is_reported_and_not_retried(tmp_path: Path, pki: Manifest) -> None:
    clock = Clock()
    typed: list[bytearray] = []
    hands = Hands(clock, pin=typing("wrong password", typed), confirm=key("Return"), keys=key("Escape"))
    ui = DialogConsent(hands, clock=clock)
    async with agent_with_keys(tmp_path, pki, ui, p12=["rsa-sign"]) as server, browser(server) as ws:  # type: ignore[arg-type]
        reply = await call(ws, "sign", {"format": "cms", "data": [b64(DOC)]})
    assert reason(reply) == "wrong_pin"  # the person gave up: the page learns why
    # asked once, never retried by the agent: the key list says it and lets the person choose
    assert [d.kind for d in hands.shown] == ["pin", "keys"]
    assert hands.shown[1].notice.startswith("Wrong password for rsa-sign.p12.")
    assert typed[0] == bytearray(len(typed[0]))


async def test_timeout_through_the_agent_is_user_cancelled(tmp_path: Path, pki: Manifest) -> None:
    clock = Clock()
    hands = Hands(clock, pin=typing(pki.identities["rsa-sign"].p12_password))  # nobody answers the confirmation
    ui = DialogConsent(hands, timeout=0.3, clock=clock)
    async with agent_with_keys(tmp_path, pki, ui, p12=["rsa-sign"]) as server, browser(server) as ws:  # type: ignore[arg-type]
        assert reason(await call(ws, "sign", {"format": "cms", "data": [b64(DOC)]})) == "user_cancelled"
    assert hands.shown[-1].state is State.TIMED_OUT


async def test_socket_closed_makes_the_dialog_disappear(tmp_path: Path, pki: Manifest) -> None:
    clock = Clock()
    hands = Hands(clock, pin=typing(pki.identities["rsa-sign"].p12_password))  # the confirmation stays open
    ui = DialogConsent(hands, clock=clock)
    async with agent_with_keys(tmp_path, pki, ui, p12=["rsa-sign"]) as server:  # type: ignore[arg-type]
        async with browser(server) as ws:
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sign",
                                      "params": {"format": "cms", "data": [b64(DOC)]}}))
            for _ in range(100):
                if len(hands.shown) == 2:
                    break
                await asyncio.sleep(0.02)
            assert hands.shown[-1].kind == "confirm" and hands.shown[-1].state is State.OPEN
        # the page is gone
        for _ in range(100):
            if hands.shown[-1].done:
                break
            await asyncio.sleep(0.02)
        assert hands.shown[-1].state is State.ABANDONED
        assert hands.cancelled == [hands.shown[-1]]  # the view was told to close the window
        # and the agent serves the next page
        hands.acts.update(confirm=key("Return"))
        async with browser(server) as ws:
            assert "result" in await call(ws, "sign", {"format": "cms", "data": [b64(DOC)]})


# -- texts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["ru", "kk"])
def test_every_dialog_text_is_translated(locale: str) -> None:
    english = {k: v for k, v in catalog("en").items() if k.startswith("dialog.")}
    translated = catalog(locale)
    missing = sorted(set(english) - set(translated))
    assert not missing
    same = [k for k in english if translated[k] == english[k] and not english[k].startswith(("OK", "{n}"))]
    assert same == [], same  # a copied English string is not a translation


def test_a_belarusian_certificate_shows_its_personal_number_and_unp() -> None:
    from support.belarus import belarusian_identity

    employee = belarusian_identity("4020385B002PB7", "190123456")
    dialog = CertificateDialog(CertificateChoice(ORIGIN, "ru", Action.SIGN, (employee,)))
    [row] = dialog.rows
    assert "Личный номер 4020385B002PB7" in row.ids and "УНП 190123456" in row.ids


def test_login_confirmation_lists_no_documents_and_digests_have_no_size(pki: Manifest) -> None:
    challenge = (DocumentSummary(44, "sha256", "cd" * 32),)
    login = ConfirmDialog(Confirmation(ORIGIN, "en", Action.AUTH, (ident(pki, "rsa-auth"),), challenge))
    assert login.summary is None and login.documents() == [] and login.document_lines() == []
    digests = (of_digest(bytes(32), "sha256"), of_digest(bytes(32), "sha256"))
    sign = ConfirmDialog(Confirmation(ORIGIN, "en", Action.SIGN, (ident(pki, "rsa-sign"),), digests))
    assert sign.summary == "Documents: 2, each a digest computed by the site"
    pin = PinDialog(PinRequest(ORIGIN, "en", None, PinStatus(needs_pin=True), location="/k/a.p12", action=Action.AUTH))
    assert pin.subheading.startswith("Requested by https://egov.kz to log in")
