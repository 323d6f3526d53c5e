"""The requests being served and the dialogs open, so that a graceful stop can wait for the
first and close the second (see :mod:`tanba.agent.setup.lifecycle`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from tanba.protocol.errors import Busy


class Tracker:
    """The requests being served and the ones waiting on a dialog."""

    def __init__(self) -> None:
        self.draining = False
        self.requests: set[asyncio.Task[Any]] = set()
        self.dialogs: set[asyncio.Task[Any]] = set()
        self._stopped: set[asyncio.Task[Any]] = set()

    @asynccontextmanager
    async def request(self) -> AsyncIterator[None]:
        """Serve one request (of either endpoint, :func:`tanba.agent.transport.pipeline.serve_one`):
        refused with ``busy`` while stopping, waited for, answered ``busy`` if cut."""
        if self.draining:
            raise Busy("the agent is stopping")
        task = asyncio.current_task()
        assert task is not None
        self.requests.add(task)
        task.add_done_callback(self.requests.discard)
        try:
            yield
        except asyncio.CancelledError:
            if task not in self._stopped:
                raise
            task.uncancel()
            raise Busy("the agent stopped before this request finished") from None

    @contextmanager
    def dialog(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is None:
            yield
            return
        self.dialogs.add(task)
        try:
            yield
        finally:
            self.dialogs.discard(task)

    def stop(self, tasks: Sequence[asyncio.Task[Any]]) -> None:
        """Cancel ``tasks`` for the shutdown (their requests are answered ``busy``)."""
        for task in tasks:
            if not task.done():
                self._stopped.add(task)
                task.cancel()
