"""Consent UIs; :func:`make_consent` picks the one the settings ask for."""

from __future__ import annotations

import logging

from tanba.agent.consent.base import ConsentUI
from tanba.agent.setup.config import Settings

log = logging.getLogger(__name__)


def make_consent(settings: Settings) -> ConsentUI:
    if settings.approver == "auto":
        from tanba.agent.consent.auto import AutoApprover

        assert settings.pin_file is not None  # Settings checks it
        return AutoApprover(settings.pin_file, settings.allow_origin)
    if settings.approver == "tk":
        from tanba.agent.consent.tk import TkConsent, display_available

        if display_available():
            return TkConsent()
        log.warning(
            "no display (DISPLAY is unset or its X server does not answer): "
            "consent questions are asked on the terminal instead"
        )
    from tanba.agent.consent.terminal import TerminalApprover

    return TerminalApprover()
