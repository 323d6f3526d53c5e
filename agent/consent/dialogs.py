"""The desktop dialogs' logic, without a display: what is shown, what is allowed, what happens.

Each dialog is a small state machine.  A view (the Tk layer, or a test) draws a model's
texts and rows and forwards the user's acts to it (``press``, ``select``, ``key``); the
model decides whether the act is allowed and, when the dialog is over, holds the answer.

States: ``OPEN`` until one of ``ANSWERED`` (the user chose), ``CANCELLED`` (Cancel, Deny,
Escape, the window closed), ``TIMED_OUT`` (nobody answered in time) or ``ABANDONED`` (the
page's WebSocket closed).  Only ``ANSWERED`` carries an answer; every other end means "no".

Security details the models enforce, so every view gets them:

* a dialog pops up over whatever the user was typing in, so keys and clicks that approve
  are ignored for :data:`ARM_DELAY` seconds after it is shown (a stray Enter meant for the
  browser must not sign);
* Enter activates the default action only when that action is allowed; Escape always
  cancels;
* an expired, not yet valid or wrong-purpose certificate is listed (so the user sees why
  it is not offered) but cannot be selected;
* the final PIN try needs an explicit "I understand" before OK is allowed.

Every text comes from the catalogs (:mod:`tanba.protocol.i18n`) in the request's locale.
"""

from __future__ import annotations

import datetime as dt
import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from tanba.agent.consent.base import (
    Action,
    CertificateChoice,
    Confirmation,
    DocumentSummary,
    KeyAnswer,
    KeyChoice,
    KeyFile,
    OriginDecision,
    PinRequest,
    wipe,
)
from tanba.agent.access.summary import layout
from tanba.protocol.i18n import normalize, text
from tanba.providers.base import Identity
from tanba.providers.certificate import CertInfo, cert_info

#: CertInfo.purposes -> the dialog's purpose text key
_PURPOSE_KEYS = {("sign",): "sign", ("auth",): "auth", ("sign", "auth"): "both"}

T = TypeVar("T")

#: seconds after a dialog appears during which approving keys and clicks are ignored
ARM_DELAY = 0.6
#: default seconds a dialog waits for the user before it cancels itself
DEFAULT_TIMEOUT = 120.0
#: documents listed one by one in the confirmation (the rest are counted)
MAX_LISTED_DOCUMENTS = 20


class State(enum.Enum):
    OPEN = "open"
    ANSWERED = "answered"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class Button:
    """A button as the view draws it: ``id`` is what it passes back to :meth:`Dialog.press`."""

    id: str
    label: str
    enabled: bool
    default: bool = False  # activated by Enter
    danger: bool = False  # drawn in red


class Dialog(Generic[T]):
    """What every dialog shares: state, locale, the arming delay and Enter/Escape."""

    kind = "dialog"

    def __init__(self, locale: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.locale = normalize(locale)
        self.state = State.OPEN
        self._answer: T | None = None
        self._clock = clock
        self._shown_at: float | None = None
        self._listeners: list[Callable[[], None]] = []
        # The view acts from its own thread while the agent may time the dialog out or
        # abandon it: the end is decided once, under this lock.
        self._end_lock = threading.Lock()
        #: clock() value at which the agent gives up waiting (set by the runner), for a countdown
        self.deadline: float | None = None

    # -- texts -------------------------------------------------------------------------
    def t(self, key: str, **values: object) -> str:
        return text(key, self.locale, **values)

    @property
    def title(self) -> str:
        return "Tanba — " + self.t(f"dialog.{self.kind}.title")

    def buttons(self) -> list[Button]:
        raise NotImplementedError

    # -- life cycle --------------------------------------------------------------------
    def subscribe(self, listener: Callable[[], None]) -> None:
        """``listener`` runs after every change (the view redraws)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def shown(self) -> None:
        """The view calls this once the window is on screen; arms it after ARM_DELAY."""
        if self._shown_at is None:
            self._shown_at = self._clock()

    @property
    def armed(self) -> bool:
        return self._shown_at is not None and self._clock() - self._shown_at >= ARM_DELAY

    @property
    def done(self) -> bool:
        return self.state is not State.OPEN

    def remaining(self) -> float | None:
        """Seconds until the dialog times out, when the runner set a deadline."""
        return None if self.deadline is None else max(0.0, self.deadline - self._clock())

    @property
    def countdown(self) -> str | None:
        left = self.remaining()
        return None if left is None else self.t("dialog.timeout", seconds=int(left + 0.999))

    @property
    def keys_hint(self) -> str:
        return self.t("dialog.keys")

    @property
    def answer(self) -> T | None:
        """The user's answer; None unless the dialog ended ``ANSWERED``."""
        return self._answer if self.state is State.ANSWERED else None

    def _finish(self, state: State, answer: T | None = None) -> bool:
        with self._end_lock:
            if self.done:
                return False
            self.state = state
            self._answer = answer
        self._changed()
        return True

    def _answered(self, answer: T) -> bool:
        if self.done or not self.armed:
            return False
        return self._finish(State.ANSWERED, answer)

    def cancel(self) -> None:
        """Cancel, Deny, Escape or the window's close box."""
        self._finish(State.CANCELLED)

    def time_out(self) -> None:
        self._finish(State.TIMED_OUT)

    def abandon(self) -> None:
        """The request is gone (its WebSocket closed): the dialog disappears."""
        self._finish(State.ABANDONED)

    # -- acts --------------------------------------------------------------------------
    def press(self, button_id: str) -> bool:
        """The user clicked ``button_id``; True when it had an effect."""
        if self.done:
            return False
        for button in self.buttons():
            if button.id == button_id:
                if not button.enabled:
                    return False
                return self._act(button_id)
        raise ValueError(f"{self.kind} dialog has no button {button_id!r}")

    def _act(self, button_id: str) -> bool:
        raise NotImplementedError

    def key(self, name: str) -> bool:
        """``Return`` presses the default button (when allowed), ``Escape`` cancels."""
        if self.done:
            return False
        if name == "Escape":
            self.cancel()
            return True
        if name in ("Return", "KP_Enter"):
            for button in self.buttons():
                if button.default:
                    return button.enabled and self._act(button.id)
        return False


# -- site approval ---------------------------------------------------------------------


class OriginDialog(Dialog[OriginDecision]):
    """"https://egov.kz wants to use your signing keys": allow once / always / deny."""

    kind = "origin"

    def __init__(self, origin: str, locale: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(locale, clock=clock)
        self.origin = origin

    @property
    def heading(self) -> str:
        return self.t("dialog.origin.heading", origin=self.origin)

    @property
    def explanation(self) -> str:
        return self.t("dialog.origin.explain")

    def buttons(self) -> list[Button]:
        armed = self.armed
        return [
            Button("once", self.t("dialog.origin.once"), armed, default=True),
            Button("always", self.t("dialog.origin.always"), armed),
            Button("deny", self.t("dialog.origin.deny"), True),
        ]

    def _act(self, button_id: str) -> bool:
        if button_id == "deny":
            self.cancel()
            return True
        decision = OriginDecision.ALLOW_ALWAYS if button_id == "always" else OriginDecision.ALLOW_ONCE
        return self._answered(decision)

    @property
    def decision(self) -> OriginDecision:
        """What ``ask_origin`` returns: anything but an explicit allow is a denial."""
        return self.answer or OriginDecision.DENY


# -- certificate list ------------------------------------------------------------------


@dataclass(frozen=True)
class CertRow:
    """One certificate as the list shows it."""

    identity: Identity
    info: CertInfo
    owner: str
    ids: str  # "IIN 850101300017 · BIN ..."
    issuer: str
    purpose: str
    validity: str  # "2024-01-01 – 2026-01-01"
    storage: str
    status: str | None  # why it cannot be chosen ("EXPIRED", ...), None when it can
    expired: bool

    @property
    def selectable(self) -> bool:
        return self.status is None


def _day(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d")


class CertificateDialog(Dialog[Identity]):
    """The certificates that match the request; unusable ones are marked and unselectable."""

    kind = "certificates"

    def __init__(
        self,
        choice: CertificateChoice,
        *,
        now: dt.datetime | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(choice.locale, clock=clock)
        self.choice = choice
        self.origin = choice.origin
        self.action = choice.action
        self._now = now or dt.datetime.now(dt.UTC)
        self.rows = [self._row(identity) for identity in choice.candidates]
        self.selected: int | None = next((i for i, r in enumerate(self.rows) if r.selectable), None)
        self.details_open: int | None = None

    def _row(self, identity: Identity) -> CertRow:
        info = cert_info(identity)
        ids = []
        if info.iin:
            ids.append(self.t("dialog.certs.iin", iin=info.iin))
        if info.bin:
            ids.append(self.t("dialog.certs.bin", bin=info.bin))
        if info.personal_number:
            ids.append(self.t("dialog.certs.personal_number", number=info.personal_number))
        if info.unp:
            ids.append(self.t("dialog.certs.unp", unp=info.unp))
        expired = self._now > info.not_after
        status: str | None = None
        if expired:
            status = self.t("dialog.certs.expired")
        elif self._now < info.not_before:
            status = self.t("dialog.certs.not_yet")
        elif (self.action is Action.SIGN and not info.serves("sign")) or (
            self.action is Action.AUTH and not info.serves("auth")
        ):
            status = self.t("dialog.certs.wrong_purpose")
        return CertRow(
            identity=identity,
            info=info,
            owner=info.owner_name,
            ids=" · ".join(ids) or "—",
            issuer=info.issuer_cn or info.issuer,
            purpose=self.t(f"dialog.purpose.{_PURPOSE_KEYS.get(info.purposes, 'none')}"),
            validity=f"{_day(info.not_before)} – {_day(info.not_after)}",
            storage=identity.location,
            status=status,
            expired=expired,
        )

    @property
    def heading(self) -> str:
        action = self.t(f"consent.action.{self.action.value}")
        return self.t("dialog.certificates.heading", origin=self.origin, action=action)

    def columns(self) -> list[str]:
        return [self.t(f"dialog.certs.{c}") for c in ("owner", "ids", "issuer", "purpose", "validity")]

    @property
    def notice(self) -> str | None:
        return self.t("dialog.certs.none_usable") if self.selected is None else None

    def select(self, index: int) -> bool:
        if self.done or not 0 <= index < len(self.rows) or not self.rows[index].selectable:
            return False
        self.selected = index
        self._changed()
        return True

    def toggle_details(self, index: int) -> None:
        """Details on demand: one row's full certificate data, shown or hidden."""
        if 0 <= index < len(self.rows):
            self.details_open = None if self.details_open == index else index
            self._changed()

    def details(self, index: int) -> list[tuple[str, str]]:
        info = self.rows[index].info
        pairs = [
            ("subject", info.subject_dn),
            ("issuer", info.issuer),
            ("serial", info.serial_number),
            ("valid_from", info.not_before.strftime("%Y-%m-%d %H:%M UTC")),
            ("valid_to", info.not_after.strftime("%Y-%m-%d %H:%M UTC")),
            ("algorithm", info.algorithm),
            ("key_usage", ", ".join(info.key_usage) or "—"),
            ("ext_key_usage", ", ".join(info.ext_key_usage) or "—"),
            ("fingerprint", info.fingerprint_sha256),
            ("location", self.rows[index].storage),
        ]
        return [(self.t(f"dialog.details.{key}"), value) for key, value in pairs]

    def buttons(self) -> list[Button]:
        return [
            Button("choose", self.t("dialog.certs.choose"), self.armed and self.selected is not None, default=True),
            Button("details", self.t("dialog.certs.details"), self.selected is not None),
            Button("cancel", self.t("dialog.cancel"), True),
        ]

    def _act(self, button_id: str) -> bool:
        if button_id == "cancel":
            self.cancel()
            return True
        if button_id == "details":
            assert self.selected is not None
            self.toggle_details(self.selected)
            return True
        assert self.selected is not None
        return self._answered(self.rows[self.selected].identity)


# -- key choice (files and visible certificates) ----------------------------------------


@dataclass(frozen=True)
class KeyRow:
    """One line of the key list: a locked file (by name) or a visible certificate."""

    option: KeyFile | Identity
    text: str
    note: str | None  # a file's last problem or its wait


class KeyDialog(Dialog[KeyFile | Identity | KeyAnswer]):
    """NCALayer's first step: which key.  Files are opened with their password next; a
    wrong password comes back here, said at the top, with the wait before the next try."""

    kind = "keys"

    def __init__(self, choice: KeyChoice, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(choice.locale, clock=clock)
        self.choice = choice
        self.origin = choice.origin
        self.rows = [self._file_row(f) for f in choice.files]
        if not choice.several:
            self.rows += [KeyRow(i, f"{who(i, i.location)} — {i.location}", None) for i in choice.identities]
        self.selected: int | None = 0 if self.rows else None

    def _file_row(self, file: KeyFile) -> KeyRow:
        purpose = f" ({self.t(f'consent.key.purpose.{file.purposes[0]}')})" if len(file.purposes) == 1 else ""
        note = None
        if file.retry_after:
            note = self.t("consent.key.wait", file=file.name, seconds=file.retry_after)
        elif file.problem is not None:
            note = self.t(f"consent.key.{file.problem}", file=file.name)
        return KeyRow(file, f"{file.name}{purpose} — {file.location}", note)

    @property
    def heading(self) -> str:
        action = self.t(f"consent.action.{self.choice.action.value}")
        return self.t("consent.key", origin=self.origin, action=action)

    @property
    def notice(self) -> str | None:
        """The word on the last failure (a wrong password), with the wait."""
        last = self.choice.last
        if last is None or last.problem is None:
            return None
        out = self.t(f"consent.key.{last.problem}", file=last.name)
        if last.retry_after:
            out += " " + self.t("consent.key.wait", file=last.name, seconds=last.retry_after)
        return out + " " + self.t("consent.key.again")

    def select(self, index: int) -> bool:
        if self.done or not 0 <= index < len(self.rows):
            return False
        self.selected = index
        self._changed()
        return True

    def buttons(self) -> list[Button]:
        out = [Button("choose", self.t("dialog.certs.choose"), self.armed and self.selected is not None, default=True)]
        if self.choice.several:
            out.append(Button("done", self.t("dialog.confirm.allow.disclose"), self.armed))
        out.append(Button("cancel", self.t("dialog.cancel"), True))
        return out

    def _act(self, button_id: str) -> bool:
        if button_id == "cancel":
            self.cancel()
            return True
        if button_id == "done":
            return self._answered(KeyAnswer.DONE)
        assert self.selected is not None
        return self._answered(self.rows[self.selected].option)


# -- PIN entry -------------------------------------------------------------------------


def who(identity: Identity | None, fallback: str) -> str:
    """"NAME (IIN…)" for a key, or the file name for a locked PKCS#12 file."""
    if identity is None:
        return fallback
    info = cert_info(identity)
    return f"{info.owner_name} (IIN {info.iin})" if info.iin else info.owner_name


class PinDialog(Dialog[bytearray]):
    """The PIN of a token key, or the password of a locked PKCS#12 file.

    The PIN is handed over as a ``bytearray`` the caller wipes.  The view copies the typed
    text into a bytearray, clears its entry widget and drops its own ``str`` at once (a
    toolkit entry holds a Python/Tcl string that cannot be zeroed; that copy lives only
    until the widget is cleared and collected — the limit of any Tk PIN field).
    """

    kind = "pin"

    def __init__(
        self,
        request: PinRequest,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(request.locale, clock=clock)
        self.request = request
        self.origin = request.origin
        self.status = request.status
        self.is_file = request.identity is None
        self.acknowledged = False
        self.typed_length = 0

    @property
    def heading(self) -> str:
        if self.is_file:
            return self.t("dialog.pin.file_heading", file=Path(self.request.location).name or self.request.location)
        return self.t("dialog.pin.heading", certificate=who(self.request.identity, self.request.location))

    @property
    def subheading(self) -> str:
        where = self.request.location if self.is_file else (self.request.identity.location if self.request.identity else "")
        action = self.request.action
        asks = (self.t("dialog.pin.for_origin_action", origin=self.origin, action=self.t(f"consent.action.{action.value}"))
                if action is not None else self.t("dialog.pin.for_origin", origin=self.origin))
        return asks + (f"\n{where}" if where else "")

    @property
    def field_label(self) -> str:
        return self.t("dialog.pin.password_label" if self.is_file else "dialog.pin.label")

    @property
    def needs_entry(self) -> bool:
        return not self.status.pinpad and not self.status.locked

    @property
    def retries_text(self) -> str | None:
        if self.status.retries_left is None or self.status.locked:
            return None
        return self.t("dialog.pin.retries", retriesLeft=self.status.retries_left)

    @property
    def warning(self) -> str | None:
        """The red text: the final-try warning, or why no PIN can be typed."""
        if self.status.locked:
            return self.t("dialog.pin.locked")
        if self.status.final_try:
            return self.t("dialog.pin.final")
        return None

    @property
    def needs_acknowledgement(self) -> bool:
        return self.status.final_try and not self.status.locked

    @property
    def acknowledgement_text(self) -> str:
        return self.t("dialog.pin.understand")

    @property
    def pinpad_text(self) -> str | None:
        return self.t("dialog.pin.pinpad") if self.status.pinpad and not self.status.locked else None

    def acknowledge(self, value: bool) -> None:
        if not self.done:
            self.acknowledged = value
            self._changed()

    def typed(self, length: int) -> None:
        """The view reports how many characters the field holds (never the characters)."""
        if not self.done and length != self.typed_length:
            self.typed_length = length
            self._changed()

    def _can_submit(self) -> bool:
        if self.status.locked:
            return False
        if self.needs_acknowledgement and not self.acknowledged:
            return False
        return self.status.pinpad or self.typed_length > 0

    def buttons(self) -> list[Button]:
        return [
            Button("ok", self.t("dialog.ok"), self.armed and self._can_submit(), default=True,
                   danger=self.status.final_try),
            Button("cancel", self.t("dialog.cancel"), True),
        ]

    def submit(self, pin: bytearray) -> bool:
        """OK with the typed PIN.  On refusal the PIN is wiped here; on success the
        caller of the dialog owns it."""
        self.typed(len(pin))
        if self.status.pinpad:
            wipe(pin)
            pin = bytearray()
        if self.done or not self.armed or not self._can_submit() or (self.needs_entry and not pin):
            wipe(pin)
            return False
        if not self._answered(pin):
            wipe(pin)
            return False
        return True

    def _act(self, button_id: str) -> bool:
        if button_id == "cancel":
            self.cancel()
            return True
        return False  # "ok" goes through submit(), which carries the PIN

    def key(self, name: str) -> bool:
        if name in ("Return", "KP_Enter") and self.needs_entry:
            return False  # the view reads the field and calls submit()
        return super().key(name)


# -- confirmation ----------------------------------------------------------------------


def human_size(size: int, locale: str) -> str:
    value = float(size)
    for unit in ("b", "kib", "mib", "gib"):
        if value < 1024 or unit == "gib":
            number = f"{int(value)}" if unit == "b" else f"{value:.1f}"
            return text(f"dialog.size.{unit}", locale, n=number)
        value /= 1024
    raise AssertionError("unreachable")


def group(number: int, locale: str) -> str:
    """``1,234`` in English, ``1 234`` in Russian and Kazakh."""
    grouped = f"{number:,}"
    return grouped if normalize(locale) == "en" else grouped.replace(",", "\u00a0")


def preview_lines(doc: DocumentSummary, locale: str) -> tuple[list[str], str | None]:
    """A document's preview as every view draws it (see :func:`tanba.agent.access.summary.layout`),
    and the line that says what it leaves out or why there is none (None: nothing to say)."""
    if doc.preview is None:
        if doc.no_preview is None:
            return [], None
        return [], text(f"dialog.confirm.preview.{doc.no_preview}", locale)
    shown = layout(doc.preview, doc.text_chars, doc.text_lines)
    if not shown.cut:
        return list(shown.lines), None
    cut = text("dialog.confirm.preview.cut", locale, lines=group(shown.hidden_lines, locale),
               chars=group(shown.hidden_chars, locale))
    return list(shown.lines), cut


@dataclass(frozen=True)
class DocumentRow:
    """One document as the confirmation lists it.  ``preview`` holds the drawn lines (see
    :func:`preview_lines`), ``note`` what the preview leaves out or why there is none."""

    number: int
    size: str
    digest_alg: str
    digest_hex: str
    preview: str | None
    note: str | None = None


class ConfirmDialog(Dialog[bool]):
    """Who asks, with which certificate, to sign what: the last word before a signature
    or a disclosure."""

    kind = "confirm"

    def __init__(self, confirmation: Confirmation, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(confirmation.locale, clock=clock)
        self.confirmation = confirmation
        self.origin = confirmation.origin
        self.action = confirmation.action

    @property
    def title(self) -> str:
        return "Tanba — " + self.t(f"dialog.confirm.title.{self.action.value}")

    @property
    def heading(self) -> str:
        return self.t("dialog.confirm.heading", origin=self.origin, action=self.t(f"consent.action.{self.action.value}"))

    @property
    def certificate_label(self) -> str:
        key = "dialog.confirm.certificates" if self.action is Action.DISCLOSE else "dialog.confirm.certificate"
        return self.t(key)

    def certificates(self) -> list[str]:
        out = []
        for identity in self.confirmation.identities:
            info = cert_info(identity)
            ids = f" · IIN {info.iin}" if info.iin else ""
            ids += f" · BIN {info.bin}" if info.bin else ""
            out.append(f"{info.owner_name}{ids} — {info.issuer_cn or info.issuer}, {_day(info.not_after)}")
        return out

    @property
    def summary(self) -> str | None:
        docs = self.shown_documents
        if not docs:
            return None
        known = [d.size for d in docs if d.size is not None]
        if not known:  # digests only: there is no size to speak of, never "0 bytes"
            return self.t("dialog.confirm.digests", count=len(docs))
        return self.t("dialog.confirm.documents", count=len(docs), size=human_size(sum(known), self.locale))

    @property
    def shown_documents(self) -> tuple[DocumentSummary, ...]:
        """What the confirmation lists: a login's challenge is the site's value, not a
        document of the user's ("Log in to …?" says what happens), so none for ``auth``."""
        return () if self.action is Action.AUTH else self.confirmation.documents

    def documents(self) -> list[DocumentRow]:
        rows = []
        for number, doc in enumerate(self.shown_documents[:MAX_LISTED_DOCUMENTS], 1):
            lines, note = preview_lines(doc, self.locale)
            preview = "\n".join(lines) if lines else None
            rows.append(DocumentRow(number, self._size(doc), doc.digest_alg.upper(), doc.digest_hex, preview, note))
        return rows

    def document_lines(self) -> list[str]:
        """The documents box, line by line, as the desktop dialog and the terminal show it."""
        lines: list[str] = []
        for doc in self.documents():
            lines.append(f"#{doc.number}  {doc.size}")
            lines.append(f"    {doc.digest_alg} {doc.digest_hex}")
            if doc.preview is not None:
                lines.append(f"    {self.preview_label}")
                lines.extend("      " + line for line in doc.preview.split("\n"))
            if doc.note is not None:
                lines.append(("      " if doc.preview is not None else "    ") + doc.note)
        if self.more_text:
            lines.append(self.more_text)
        return lines

    def _size(self, doc: DocumentSummary) -> str:
        return human_size(doc.size, self.locale) if doc.size is not None else self.t("dialog.confirm.digest_only")

    @property
    def more_text(self) -> str | None:
        extra = len(self.shown_documents) - MAX_LISTED_DOCUMENTS
        return self.t("dialog.confirm.more", count=extra) if extra > 0 else None

    @property
    def preview_label(self) -> str:
        return self.t("dialog.confirm.preview")

    def buttons(self) -> list[Button]:
        return [
            Button("allow", self.t(f"dialog.confirm.allow.{self.action.value}"), self.armed, default=True),
            Button("deny", self.t("dialog.confirm.deny"), True),
        ]

    def _act(self, button_id: str) -> bool:
        if button_id == "deny":
            self.cancel()
            return True
        return self._answered(True)

    @property
    def approved(self) -> bool:
        return self.answer is True
