"""Consent questions asked on the terminal that runs `tanba serve`.

For servers without a desktop and for developers.  Questions go to the controlling
terminal (``/dev/tty``), one at a time; the PIN is read without echo.  When there is no
terminal every question is answered "no" — a daemon without a UI must refuse, not sign.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Callable
from typing import TextIO, TypeVar

from cryptography.x509.oid import NameOID

from tanba.agent.consent.base import (
    Action,
    CertificateChoice,
    Confirmation,
    ConsentUI,
    KeyAnswer,
    KeyChoice,
    KeyFile,
    OriginDecision,
    PinRequest,
)
from tanba.agent.access.summary import visible
from tanba.agent.consent.dialogs import ConfirmDialog
from tanba.protocol.i18n import text
from tanba.providers.base import Identity

log = logging.getLogger(__name__)
T = TypeVar("T")


def _text(value: str | bytes) -> str:
    """A certificate field as it may reach the terminal: invisible and control characters
    shown by name (an escape sequence in a name must not rewrite the screen)."""
    decoded = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return "".join(visible(char) or char for char in decoded)


def describe(identity: Identity) -> str:
    """``NAME (IIN…) — location``: enough for a person to tell their keys apart."""
    subject = identity.certificate.subject
    names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    serials = subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    name = _text(names[0].value if names else subject.rfc4514_string())
    extra = f" ({_text(serials[0].value)})" if serials else ""
    return f"{name}{extra} — {_text(identity.location)}"


def describe_file(file: KeyFile, locale: str) -> str:
    """``rsa-sign.p12 (for signing) — /path/to/rsa-sign.p12``, with what stops it now."""
    purposes = "" if len(file.purposes) != 1 else f" ({text(f'consent.key.purpose.{file.purposes[0]}', locale)})"
    line = f"{_text(file.name)}{purposes} — {_text(file.location)}"
    if file.retry_after:
        line += " — " + text("consent.key.wait", locale, file=_text(file.name), seconds=file.retry_after)
    elif file.problem is not None:
        line += " — " + text(f"consent.key.{file.problem}", locale, file=_text(file.name))
    return line


class TerminalApprover(ConsentUI):
    name = "terminal"

    def __init__(self, stream_in: TextIO | None = None, stream_out: TextIO | None = None) -> None:
        self._in = stream_in
        self._out = stream_out
        self._lock = asyncio.Lock()

    def _streams(self) -> tuple[TextIO, TextIO] | None:
        if self._in is not None and self._out is not None:
            return self._in, self._out
        try:
            tty = open("/dev/tty", "r+", encoding="utf-8")  # noqa: SIM115 - kept for the agent's life
        except OSError:
            if sys.stdin is not None and sys.stdin.isatty():
                return sys.stdin, sys.stderr
            return None
        self._in = self._out = tty
        return tty, tty

    async def _ask(self, ask: Callable[[TextIO, TextIO], T], default: T) -> T:
        async with self._lock:
            streams = self._streams()
            if streams is None:
                log.warning("terminal approver: no terminal to ask on; refusing")
                return default
            return await asyncio.to_thread(ask, *streams)

    async def ask_origin(self, origin: str, locale: str) -> OriginDecision:
        def ask(stdin: TextIO, out: TextIO) -> OriginDecision:
            out.write("\n" + text("consent.origin", locale, origin=origin) + "\n")
            out.write(text("consent.origin.choices", locale) + " ")
            out.flush()
            answer = stdin.readline().strip().lower()
            return {"o": OriginDecision.ALLOW_ONCE, "a": OriginDecision.ALLOW_ALWAYS}.get(answer, OriginDecision.DENY)

        return await self._ask(ask, OriginDecision.DENY)

    async def choose_certificate(self, choice: CertificateChoice) -> Identity | None:
        def ask(stdin: TextIO, out: TextIO) -> Identity | None:
            out.write("\n" + text("consent.certificate", choice.locale, origin=choice.origin) + "\n")
            for number, identity in enumerate(choice.candidates, 1):
                out.write(f"  {number}. {describe(identity)}\n")
            out.write("> ")
            out.flush()
            answer = stdin.readline().strip()
            if answer.isdigit() and 1 <= int(answer) <= len(choice.candidates):
                return choice.candidates[int(answer) - 1]
            return None

        if not choice.candidates:
            return None
        return await self._ask(ask, None)

    async def choose_key(self, choice: KeyChoice) -> KeyFile | Identity | KeyAnswer | None:
        def ask(stdin: TextIO, out: TextIO) -> KeyFile | Identity | KeyAnswer | None:
            locale = choice.locale
            out.write("\n")
            last = choice.last
            if last is not None and last.problem is not None:
                # the word on a wrong password, where it was typed, with the wait
                out.write(text(f"consent.key.{last.problem}", locale, file=_text(last.name)) + "\n")
                if last.retry_after:
                    out.write(text("consent.key.wait", locale, file=_text(last.name), seconds=last.retry_after) + "\n")
                out.write(text("consent.key.again", locale) + "\n")
            action = text(f"consent.action.{choice.action.value}", locale)
            out.write(text("consent.key", locale, origin=choice.origin, action=action) + "\n")
            options: list[KeyFile | Identity] = []
            if choice.files:
                out.write("  " + text("consent.key.files", locale) + "\n")
                for file in choice.files:
                    options.append(file)
                    out.write(f"    {len(options)}. {describe_file(file, locale)}\n")
            if choice.identities:
                out.write("  " + text("consent.key.certificates", locale) + "\n")
                for identity in choice.identities:
                    if not choice.several:
                        options.append(identity)
                        out.write(f"    {len(options)}. {describe(identity)}\n")
                    else:
                        out.write(f"     - {describe(identity)}\n")
            out.write(text("consent.key.prompt.several" if choice.several else "consent.key.prompt", locale) + " ")
            out.flush()
            answer = stdin.readline().strip()
            if choice.several and answer == "0":
                return KeyAnswer.DONE
            if answer.isdigit() and 1 <= int(answer) <= len(options):
                return options[int(answer) - 1]
            return None

        return await self._ask(ask, None)

    async def get_pin(self, request: PinRequest) -> bytearray | None:
        def ask(stdin: TextIO, out: TextIO) -> bytearray | None:
            locale = request.locale
            if request.action is not None:
                # the site and the operation first: whoever types knows who asks and why
                action = text(f"consent.action.{request.action.value}", locale)
                out.write("\n" + text("consent.pin.for", locale, origin=request.origin, action=action) + "\n")
            if request.status.retries_left is not None:
                out.write(text("consent.pin.retries", locale, retriesLeft=request.status.retries_left) + "\n")
            if request.status.final_try:
                out.write(text("consent.pin.final", locale) + "\n")
            if request.identity is not None:
                prompt = text("consent.pin", locale, certificate=describe(request.identity)) + ": "
            else:
                name = KeyFile(request.location).name
                prompt = text("consent.pin.file", locale, file=_text(name)) + f" ({_text(request.location)}): "
            if stdin.isatty():
                # getpass hands back a str; it is dropped as soon as it is copied.
                typed = getpass.getpass(prompt, stream=out)
            else:
                out.write(prompt)
                out.flush()
                typed = stdin.readline().rstrip("\r\n")
            if not typed:
                return None
            pin = bytearray(typed.encode("utf-8"))
            del typed
            return pin

        return await self._ask(ask, None)

    async def confirm(self, confirmation: Confirmation) -> bool:
        def ask(stdin: TextIO, out: TextIO) -> bool:
            locale = confirmation.locale
            kind = confirmation.action
            origin = confirmation.origin
            who = ", ".join(describe(i) for i in confirmation.identities) or "-"
            if kind is Action.DISCLOSE:
                out.write("\n" + text("consent.confirm.disclose", locale, origin=origin) + "\n")
                for identity in confirmation.identities:
                    out.write(f"  - {describe(identity)}\n")
            elif kind is Action.AUTH:
                # a login: no "documents" (the challenge is the site's, not the user's text)
                out.write("\n" + text("consent.confirm.auth", locale, origin=origin, certificate=who) + "\n")
            else:
                action = text(f"consent.action.{kind.value}", locale)
                out.write("\n" + text("consent.confirm", locale, origin=origin, action=action, certificate=who) + "\n")
                # the desktop dialog's texts: previews drawn safely (no raw CR, ESC, bidi
                # controls reach the terminal) and every cut said
                shown = ConfirmDialog(confirmation)
                if shown.summary:
                    out.write(shown.summary + "\n")
                    for line in shown.document_lines():
                        out.write(f"  {line}\n")
            out.write(text(f"consent.confirm.question.{kind.value}", locale, origin=origin) + " ")
            out.flush()
            return stdin.readline().strip().lower() == text("consent.yes", locale)

        return await self._ask(ask, False)


def available() -> bool:
    """Is there a terminal to ask on?"""
    if sys.stdin is not None and sys.stdin.isatty():
        return True
    try:
        fd = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True
