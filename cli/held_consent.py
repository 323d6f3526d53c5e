"""The consent UI of `tanba serve`, with the console quiet while the terminal asks.

The terminal approver writes its questions to the terminal the console log goes to; a
log line written while a question waits for its answer would land between the prompt and
what the user types.  :class:`QuietWhileAsking` holds console records for the time of
each question (:func:`tanba.agent.setup.logs.console_held`): they are written after the
answer, and the log file has them at once.  The desktop dialogs need no such care.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from tanba.agent.consent.base import ConsentUI, WrappedConsent
from tanba.agent.setup import logs
from tanba.agent.setup.config import Settings

T = TypeVar("T")


class QuietWhileAsking(WrappedConsent):
    """Forwards to ``inner``; console log records wait while a question is open."""

    async def _asked(self, question: Awaitable[T]) -> T:
        with logs.console_held():
            return await question


def serve_consent(settings: Settings) -> ConsentUI:
    """The consent UI the settings ask for; the terminal one keeps the console quiet."""
    from tanba.agent.consent import make_consent

    consent = make_consent(settings)
    return QuietWhileAsking(consent) if consent.name == "terminal" else consent
