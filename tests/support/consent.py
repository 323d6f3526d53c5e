"""A scripted consent UI: the test says in advance what the "user" answers.

It stands in for the person at the desk (the desktop dialogs are tested on their own);
it records every question so tests can assert what the user was shown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from tanba.agent.consent.base import (
    CertificateChoice,
    Confirmation,
    ConsentUI,
    KeyAnswer,
    KeyChoice,
    KeyFile,
    OriginDecision,
    PinRequest,
)
from tanba.providers.base import Identity


@dataclass
class ScriptedConsent(ConsentUI):
    name: str = "scripted"
    origin_answer: OriginDecision = OriginDecision.DENY
    confirm_answer: bool = True
    pin: str | None = "1234"
    #: per key file: its name (``PinRequest.location``'s last part) -> the password typed for it
    #: (else ``pin``)
    pins: dict[str, str] = field(default_factory=dict)
    choose: Callable[[CertificateChoice], Identity | None] = lambda c: c.candidates[0] if c.candidates else None
    #: the key choice (files and visible certificates); None: ConsentUI's unattended default
    #: (a visible certificate through ``choose``, else the first file not tried yet)
    choose_file: Callable[[KeyChoice], KeyFile | Identity | KeyAnswer | None] | None = None
    #: when set, ask_origin waits for this event before answering (a user who is slow to decide)
    hold: asyncio.Event | None = None
    asked: list[tuple[str, Any]] = field(default_factory=list)
    given_pins: list[bytearray] = field(default_factory=list)

    async def ask_origin(self, origin: str, locale: str) -> OriginDecision:
        self.asked.append(("origin", (origin, locale)))
        if self.hold is not None:
            await self.hold.wait()
        return self.origin_answer

    async def choose_certificate(self, choice: CertificateChoice) -> Identity | None:
        self.asked.append(("choose", choice))
        return self.choose(choice)

    async def choose_key(self, choice: KeyChoice) -> KeyFile | Identity | KeyAnswer | None:
        self.asked.append(("key", choice))
        if self.choose_file is not None:
            return self.choose_file(choice)
        if choice.identities and not choice.several:
            return self.choose(CertificateChoice(choice.origin, choice.locale, choice.action, choice.identities))
        untried = next((f for f in choice.files if f.problem is None and not f.retry_after), None)
        return untried if untried is not None else (KeyAnswer.DONE if choice.several else None)

    async def get_pin(self, request: PinRequest) -> bytearray | None:
        self.asked.append(("pin", request))
        answer = self.pins.get(PurePath(request.location).name, self.pin) if request.location else self.pin
        if answer is None:
            return None
        pin = bytearray(answer.encode())
        self.given_pins.append(pin)
        return pin

    async def confirm(self, confirmation: Confirmation) -> bool:
        self.asked.append(("confirm", confirmation))
        return self.confirm_answer
