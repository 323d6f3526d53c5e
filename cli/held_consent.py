"""The consent UI of `tanba serve`, with the console quiet while the terminal asks.

The terminal approver writes its questions to the terminal the console log goes to; a
log line written while a question waits for its answer would land between the prompt and
what the user types.  :class:`QuietWhileAsking` holds console records for the time of
each question (:func:`tanba.agent.setup.logs.console_held`): they are written after the
answer, and the log file has them at once.  The desktop dialogs need no such care.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TypeVar

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
from tanba.agent.setup import logs
from tanba.agent.setup.config import Settings
from tanba.providers.base import Identity

T = TypeVar("T")


class QuietWhileAsking(ConsentUI):
    """Forwards to ``inner``; console log records wait while a question is open."""

    def __init__(self, inner: ConsentUI) -> None:
        self.inner = inner
        self.name = inner.name

    @staticmethod
    async def _asked(question: Awaitable[T]) -> T:
        with logs.console_held():
            return await question

    async def ask_origin(self, origin: str, locale: str) -> OriginDecision:
        return await self._asked(self.inner.ask_origin(origin, locale))

    async def choose_certificate(self, choice: CertificateChoice) -> Identity | None:
        return await self._asked(self.inner.choose_certificate(choice))

    async def choose_key(self, choice: KeyChoice) -> KeyFile | Identity | KeyAnswer | None:
        return await self._asked(self.inner.choose_key(choice))

    async def get_pin(self, request: PinRequest) -> bytearray | None:
        return await self._asked(self.inner.get_pin(request))

    async def confirm(self, confirmation: Confirmation) -> bool:
        return await self._asked(self.inner.confirm(confirmation))

    def warnings(self) -> Sequence[str]:
        return self.inner.warnings()


def serve_consent(settings: Settings) -> ConsentUI:
    """The consent UI the settings ask for; the terminal one keeps the console quiet."""
    from tanba.agent.consent import make_consent

    consent = make_consent(settings)
    return QuietWhileAsking(consent) if consent.name == "terminal" else consent
