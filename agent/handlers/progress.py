"""``progress`` notifications for long batches, sent in order and throttled."""

from __future__ import annotations

import asyncio
import time

from tanba.agent.dispatch import RequestContext

MIN_INTERVAL = 0.25


class Progress:
    """Called synchronously by the formats as documents are processed; sends the latest
    count at most every quarter second, and the final one before the result."""

    def __init__(self, ctx: RequestContext, total: int) -> None:
        self.ctx = ctx
        self.total = total
        self._last_sent = 0.0
        self._sending: asyncio.Task[None] | None = None

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.total < 2 or (done < total and now - self._last_sent < MIN_INTERVAL):
            return
        self._last_sent = now
        previous = self._sending
        self._sending = asyncio.get_running_loop().create_task(self._send(previous, done, total))

    async def _send(self, previous: asyncio.Task[None] | None, done: int, total: int) -> None:
        if previous is not None:
            await previous
        await self.ctx.notify("progress", {"id": self.ctx.request_id, "done": done, "total": total})

    async def flush(self) -> None:
        if self._sending is not None:
            await self._sending
