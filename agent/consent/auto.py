"""The unattended approver, for tests and kiosks only.

It approves what allow-listed origins ask, picks the first matching certificate and
enters the PIN from a file; every other origin is refused, never approved.  Starting the
agent with it prints a loud warning, because a page on an allow-listed origin can then
sign without a human looking.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

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
from tanba.agent.state.secretfile import read_secret_file
from tanba.providers.base import Identity

log = logging.getLogger(__name__)


class AutoApprover(ConsentUI):
    name = "auto"

    def __init__(self, pin_file: Path, allowed_origins: Iterable[str]) -> None:
        self.pin_file = pin_file
        self.allowed = frozenset(allowed_origins)

    def _allowed(self, origin: str) -> bool:
        return origin in self.allowed

    async def ask_origin(self, origin: str, locale: str) -> OriginDecision:
        decision = OriginDecision.ALLOW_ONCE if self._allowed(origin) else OriginDecision.DENY
        log.warning("auto approver: origin %s -> %s", origin, decision.value)
        return decision

    async def choose_certificate(self, choice: CertificateChoice) -> Identity | None:
        if not self._allowed(choice.origin) or not choice.candidates:
            return None
        return choice.candidates[0]

    async def choose_key(self, choice: KeyChoice) -> KeyFile | Identity | KeyAnswer | None:
        """A visible certificate if there is one, else the next file not tried (the PIN file
        opens it); an unlisted origin gets nothing."""
        if not self._allowed(choice.origin):
            return None
        return await super().choose_key(choice)

    async def get_pin(self, request: PinRequest) -> bytearray | None:
        if not self._allowed(request.origin):
            return None
        if request.status.final_try:
            where = request.identity.location if request.identity is not None else request.location
            log.warning("auto approver: refusing to spend the final PIN try of %s", where)
            return None
        try:
            return read_secret_file(self.pin_file)
        except OSError as exc:
            log.error("auto approver: cannot read the PIN file %s: %s", self.pin_file, exc.strerror)
            return None

    async def confirm(self, confirmation: Confirmation) -> bool:
        approved = self._allowed(confirmation.origin)
        log.warning(
            "auto approver: %s for %s -> %s",
            confirmation.action.value,
            confirmation.origin,
            "approved" if approved else "refused",
        )
        return approved

    def warnings(self) -> Sequence[str]:
        origins = ", ".join(sorted(self.allowed)) or "(none)"
        return (
            "WARNING: approver 'auto' is for tests and kiosks only.",
            f"WARNING: pages from {origins} can sign WITHOUT any confirmation, using the PIN in {self.pin_file}.",
        )
