"""Everything a handler may use, built once by `tanba serve`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography import x509

from tanba.agent.access.gate import PromptGate
from tanba.agent.access.unlock import UnlockWindow
from tanba.agent.consent.base import ConsentUI
from tanba.agent.http import HttpClient
from tanba.agent.setup.config import Settings
from tanba.agent.state.approvals import OriginStore
from tanba.agent.state.audit import AuditLog
from tanba.providers.base import HashAlgorithm
from tanba.providers.registry import Stores

if TYPE_CHECKING:
    from tanba.agent.formats.cms import CmsBuilder
    from tanba.agent.verify.chain import ChainValidator

#: CMS builders kept (one per certificate, chain, hash and chain flag in use)
BUILDER_CACHE_SIZE = 16


@dataclass
class Services:
    settings: Settings
    consent: ConsentUI
    origins: OriginStore
    client_token: str
    version: str
    prompts: PromptGate = field(default_factory=PromptGate)
    stores: Stores = field(default_factory=lambda: Stores([]))
    #: built from ``settings.unlock_window`` unless given
    unlock_window: UnlockWindow | None = None
    #: one line per disclosure, signature and login; None: nothing recorded (tests, tools)
    audit: AuditLog | None = None
    #: the HTTP session of every revocation check (kept across reloads, closed at shutdown)
    http: HttpClient = field(default_factory=HttpClient)
    _builders: dict[tuple[Any, ...], CmsBuilder] = field(default_factory=dict, repr=False)
    _validator: ChainValidator | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.unlock_window is None:
            self.unlock_window = UnlockWindow(self.settings.unlock_window)

    def origin_allowed(self, origin: str) -> bool:
        """Allow-listed by the administrator or approved earlier by the user."""
        return origin in self.settings.allow_origin or self.origins.is_approved(origin)

    def cms_builder(
        self, certificate: x509.Certificate, chain: Sequence[x509.Certificate], hash_alg: HashAlgorithm, include_chain: bool
    ) -> CmsBuilder:
        """A CAdES builder with everything constant per certificate encoded once."""
        from tanba.agent.formats.cms import CmsBuilder

        key = (certificate, tuple(chain), hash_alg, include_chain)
        builder = self._builders.get(key)
        if builder is None:
            if len(self._builders) >= BUILDER_CACHE_SIZE:
                self._builders.pop(next(iter(self._builders)))
            builder = CmsBuilder(certificate, chain, hash_alg, include_chain=include_chain)
            self._builders[key] = builder
        return builder

    def chain_validator(self) -> ChainValidator:
        """The validator of ``verify``: the configured trust anchors and intermediates, soft
        revocation, built as ``tanba verify`` builds it."""
        if self._validator is None:
            from tanba.agent.verify.chain import validator_from_settings

            self._validator = validator_from_settings(self.settings, revocation="soft", timeout=10.0, http=self.http)
        return self._validator
