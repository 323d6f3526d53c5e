"""Consent UIs; :func:`make_consent` picks the one the settings ask for."""

from __future__ import annotations

import logging

from tanba.agent.config import Settings
from tanba.agent.consent.base import ConsentUI

log = logging.getLogger(__name__)


def make_consent(settings: Settings) -> ConsentUI:
    if settings.approver == "auto":
        from tanba.agent.consent.auto import AutoApprover

        assert settings.pin_file is not None  # Settings checks it
        return AutoApprover(settings.pin_file, settings.allow_origin)
    from tanba.agent.consent.terminal import TerminalApprover

    if settings.approver == "tk":
        log.warning("the desktop (tk) dialogs are not part of this build yet; asking on the terminal instead")
    return TerminalApprover()
