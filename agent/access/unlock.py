"""The optional unlock window: one PIN for a while, per site and per key.

Off by default.  When an administrator or user sets ``unlock-window = N`` (minutes), a key
the user unlocked for a site stays open for that site for N minutes: later requests from
the same origin for the same key are still confirmed one by one (security rule 3), but the
PIN is not asked again, and the confirmation says until when the key stays open.  Another
site, or another key, asks for its own PIN.  When the window ends the signer is closed (the
token logged out, the PKCS#12 key forgotten) by a timer, whether or not more requests come.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from tanba.providers.base import Signer

log = logging.getLogger(__name__)


@dataclass
class _Open:
    signer: Signer
    until: float  # time.time() when the window ends
    on_close: Callable[[], None]
    timer: asyncio.TimerHandle


class UnlockWindow:
    def __init__(self, minutes: float) -> None:
        if minutes < 0:
            raise ValueError("the unlock window cannot be negative")
        self.seconds = minutes * 60.0
        self._open: dict[tuple[str, str], _Open] = {}

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def get(self, origin: str, identity_id: str) -> Signer | None:
        entry = self._open.get((origin, identity_id))
        if entry is None or entry.until <= time.time():
            return None
        return entry.signer

    async def current(self, origin: str, identity_id: str) -> Signer | None:
        """The open signer for this site and key; an entry whose time is up is closed now
        (not left for its timer, which could otherwise lock the file under a new signer)."""
        key = (origin, identity_id)
        entry = self._open.get(key)
        if entry is None:
            return None
        if entry.until <= time.time():
            await self._expire(key)
            return None
        return entry.signer

    def until(self, origin: str, identity_id: str) -> float | None:
        """When the key stays open until, for the confirmation to show."""
        if self.get(origin, identity_id) is not None:
            return self._open[(origin, identity_id)].until
        return time.time() + self.seconds if self.enabled else None

    def keep(self, origin: str, signer: Signer, on_close: Callable[[], None]) -> bool:
        """Hold ``signer`` open for the window; False (nothing kept) when the window is off."""
        if not self.enabled:
            return False
        key = (origin, signer.identity.id)
        if key in self._open:
            return self._open[key].signer is signer  # already held (a reuse)
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.seconds, lambda: loop.create_task(self._expire(key)))
        self._open[key] = _Open(signer, time.time() + self.seconds, on_close, timer)
        log.info("key %s stays unlocked for %s for %.0f s", signer.identity.id, origin, self.seconds)
        return True

    async def _expire(self, key: tuple[str, str]) -> None:
        entry = self._open.pop(key, None)
        if entry is None:
            return
        entry.timer.cancel()
        try:
            await entry.signer.close()
        finally:
            entry.on_close()
        log.info("unlock window of %s for %s ended", key[1], key[0])

    async def forget(self, origin: str, identity_id: str) -> None:
        """Close one key now (it failed, e.g. the token was removed)."""
        await self._expire((origin, identity_id))

    async def close_all(self) -> None:
        for key in list(self._open):
            await self._expire(key)
