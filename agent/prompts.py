"""One prompt at a time per user, and a cooldown for sites that keep getting denied.

A page must not be able to bury the user under dialogs: while one question is open every
other request gets ``busy``; an origin the user denied three times in a row is refused
without asking for a while.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from tanba.protocol.errors import Busy, OriginDenied


@dataclass
class _History:
    denials: int = 0
    cooldown_until: float = 0.0


@dataclass
class PromptGate:
    max_denials: int = 3
    cooldown: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _active: str | None = None
    _history: dict[str, _History] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self._active is not None

    def check_cooldown(self, origin: str) -> None:
        history = self._history.get(origin)
        if history is not None and history.cooldown_until > self.clock():
            retry_after = int(history.cooldown_until - self.clock()) + 1
            raise OriginDenied(f"{origin} is cooling down after repeated denials", retryAfter=retry_after)

    @asynccontextmanager
    async def turn(self, origin: str) -> AsyncIterator[None]:
        """Hold the one prompt slot while asking the user about ``origin``."""
        self.check_cooldown(origin)
        if self._active is not None:
            raise Busy(f"a prompt for {self._active} is open")
        self._active = origin
        try:
            yield
        finally:
            self._active = None

    def denied(self, origin: str) -> None:
        history = self._history.setdefault(origin, _History())
        history.denials += 1
        if history.denials >= self.max_denials:
            history.denials = 0
            history.cooldown_until = self.clock() + self.cooldown

    def approved(self, origin: str) -> None:
        self._history.pop(origin, None)
