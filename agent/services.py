"""Everything a handler may use, built once by `tanba serve`."""

from __future__ import annotations

from dataclasses import dataclass, field

from tanba.agent.config import Settings
from tanba.agent.consent.base import ConsentUI
from tanba.agent.origins import OriginStore
from tanba.agent.prompts import PromptGate


@dataclass
class Services:
    settings: Settings
    consent: ConsentUI
    origins: OriginStore
    client_token: str
    version: str
    prompts: PromptGate = field(default_factory=PromptGate)

    def origin_allowed(self, origin: str) -> bool:
        """Allow-listed by the administrator or approved earlier by the user."""
        return origin in self.settings.allow_origin or self.origins.is_approved(origin)
