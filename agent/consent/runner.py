"""A consent UI made of dialog models and a view that draws them.

:class:`DialogConsent` turns each :class:`~tanba.agent.consent.base.ConsentUI` question into
a model from :mod:`tanba.agent.consent.dialogs`, hands it to a :class:`View` and waits for
the end, with the rules every desktop front end shares:

* one dialog at a time;
* a dialog nobody answers within ``timeout`` seconds ends ``TIMED_OUT`` (= no);
* when the awaiting coroutine is cancelled (the page's WebSocket closed, the agent stops),
  the view closes the window and the dialog ends ``ABANDONED``; a PIN typed meanwhile is
  wiped;
* a view that fails (the display went away) answers no, and the failure is logged.

The Tk front end (:mod:`tanba.agent.consent.tk`) is such a view; tests drive the models
through a display-free view.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from tanba.agent.consent.base import (
    CertificateChoice,
    Confirmation,
    ConsentUI,
    KeyAnswer,
    KeyChoice,
    KeyFile,
    OriginDecision,
    PinRequest,
    wipe,
)
from tanba.agent.consent.dialogs import (
    DEFAULT_TIMEOUT,
    CertificateDialog,
    ConfirmDialog,
    Dialog,
    KeyDialog,
    OriginDialog,
    PinDialog,
)
from tanba.providers.base import Identity

log = logging.getLogger(__name__)


class View(Protocol):
    async def show(self, dialog: Dialog[Any]) -> None:
        """Draw ``dialog`` until it is done.

        Returns once the model's state left ``OPEN``; when cancelled, closes the window
        and lets the cancellation propagate.
        """


class DialogConsent(ConsentUI):
    name = "dialogs"

    def __init__(
        self,
        view: View,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.view = view
        self.timeout = timeout
        self.clock = clock
        self._lock = asyncio.Lock()
        #: every dialog shown, newest last (tests and the audit of what was asked)
        self.history: list[Dialog[Any]] = []

    async def run(self, dialog: Dialog[Any]) -> Dialog[Any]:
        """Show ``dialog`` until it ends one way or another; returns it."""
        async with self._lock:
            self.history.append(dialog)
            dialog.deadline = self.clock() + self.timeout
            try:
                await asyncio.wait_for(self.view.show(dialog), self.timeout)
            except TimeoutError:
                dialog.time_out()
                self._discard(dialog)
                log.info("%s dialog timed out", dialog.kind)
            except asyncio.CancelledError:
                dialog.abandon()
                self._discard(dialog)
                raise
            except Exception:
                log.exception("the %s dialog failed; answering no", dialog.kind)
                dialog.cancel()
                self._discard(dialog)
            if not dialog.done:  # a view that returned early
                dialog.cancel()
            return dialog

    @staticmethod
    def _discard(dialog: Dialog[Any]) -> None:
        """An answer that arrived too late (after a timeout or a closed socket) is dropped;
        a PIN in it is wiped."""
        late = dialog._answer
        if isinstance(late, bytearray) and dialog.answer is None:
            wipe(late)

    async def ask_origin(self, origin: str, locale: str) -> OriginDecision:
        dialog = OriginDialog(origin, locale, clock=self.clock)
        await self.run(dialog)
        return dialog.decision

    async def choose_certificate(self, choice: CertificateChoice) -> Identity | None:
        if not choice.candidates:
            return None
        dialog = CertificateDialog(choice, clock=self.clock)
        await self.run(dialog)
        return dialog.answer

    async def choose_key(self, choice: KeyChoice) -> KeyFile | Identity | KeyAnswer | None:
        if not choice.files and not choice.identities:
            return None
        dialog = KeyDialog(choice, clock=self.clock)
        await self.run(dialog)
        return dialog.answer

    async def get_pin(self, request: PinRequest) -> bytearray | None:
        dialog = PinDialog(request, clock=self.clock)
        await self.run(dialog)
        return dialog.answer

    async def confirm(self, confirmation: Confirmation) -> bool:
        dialog = ConfirmDialog(confirmation, clock=self.clock)
        await self.run(dialog)
        return dialog.approved
