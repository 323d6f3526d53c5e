"""The consent UI: the only place the user approves sites, picks keys and types PINs.

Implementations: ``auto`` (tests and kiosks), ``terminal`` (a console), and the desktop
dialogs.  The agent never lets a web page answer any of these questions.  Every question
carries the requesting origin and the locale to speak in.  A PIN comes back as a
``bytearray`` that the caller zeroes after use (:func:`wipe`).
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from tanba.providers.base import Identity, PinStatus

T = TypeVar("T")


class OriginDecision(enum.Enum):
    ALLOW_ONCE = "once"
    ALLOW_ALWAYS = "always"
    DENY = "deny"


class Action(enum.StrEnum):
    SIGN = "sign"
    AUTH = "auth"
    DISCLOSE = "disclose"


@dataclass(frozen=True)
class DocumentSummary:
    """What the confirmation shows about one document: never the whole content.

    ``size`` is None when only the document's digest was sent (the page hashed it);
    ``digest_hex`` is then that digest, of ``digest_alg``.  ``preview`` is the start of the
    text, as it is (the dialogs draw it: :func:`tanba.agent.consent.dialogs.preview_lines`),
    when the document is small and readable; ``text_chars`` and ``text_lines`` count the
    whole text, so the dialog can say how much its preview leaves out (None: ``preview`` is
    all of it).  ``no_preview`` says why a document sent whole has no preview:
    ``"too_large"`` or ``"not_text"``.
    """

    size: int | None
    digest_alg: str
    digest_hex: str
    preview: str | None = None
    text_chars: int | None = None
    text_lines: int | None = None
    no_preview: str | None = None


@dataclass(frozen=True)
class CertificateChoice:
    origin: str
    locale: str
    action: Action
    candidates: tuple[Identity, ...]


@dataclass(frozen=True)
class KeyFile:
    """A key file (PKCS#12) the user may open with its password; its certificates stay
    unknown until then.  ``purposes`` is what the file's name says it serves (NCA's
    ``AUTH_RSA256_…`` auth, ``RSA256_…`` sign, ``GOSTKNCA_…`` and unnamed files both).
    ``problem`` says why opening it failed earlier in this request (``wrong_pin``,
    ``store_error``, ``pin_locked``, ``no_match``: it holds no certificate for this), and
    ``retry_after`` the seconds before its next password is tried (its backoff)."""

    location: str
    purposes: tuple[str, ...] = ("sign", "auth")
    problem: str | None = None
    retry_after: int | None = None

    @property
    def name(self) -> str:
        return self.location.replace("\\", "/").rsplit("/", 1)[-1] or self.location


class KeyAnswer(enum.Enum):
    """A listing's "go on with what is listed" (see :class:`KeyChoice`)."""

    DONE = "done"


@dataclass(frozen=True)
class KeyChoice:
    """Which key: the locked key files (by name) and the certificates already visible
    (tokens', files opened in this request).  The answer is a :class:`KeyFile` to open
    (its password is asked next), one of ``identities``, :attr:`KeyAnswer.DONE` (only when
    ``several``: show what is listed), or None (cancel).  ``last`` is the file the previous
    answer tried to open, when that failed (its ``problem`` says why)."""

    origin: str
    locale: str
    action: Action
    files: tuple[KeyFile, ...]
    identities: tuple[Identity, ...] = ()
    last: KeyFile | None = None
    several: bool = False


@dataclass(frozen=True)
class PinRequest:
    """A PIN for a token key, or the password of a locked PKCS#12 file.

    For a locked file there is no identity yet (its certificates are encrypted too):
    ``identity`` is None and ``location`` names the file.
    """

    origin: str
    locale: str
    identity: Identity | None
    status: PinStatus
    location: str = ""
    #: what the site asks to do with the key: every prompt names the site and the reason
    action: Action | None = None


@dataclass(frozen=True)
class Confirmation:
    """``unlocked_until`` (epoch seconds) is set when the unlock window is on: the key stays
    open for this origin until then, and the dialog says so."""

    origin: str
    locale: str
    action: Action
    identities: tuple[Identity, ...]
    documents: tuple[DocumentSummary, ...] = ()
    unlocked_until: float | None = None


class ConsentUI(abc.ABC):
    name: str

    @abc.abstractmethod
    async def ask_origin(self, origin: str, locale: str) -> OriginDecision:
        """May this site use Tanba at all?"""

    @abc.abstractmethod
    async def choose_certificate(self, choice: CertificateChoice) -> Identity | None:
        """Pick one of the candidates; None means the user cancelled."""

    async def choose_key(self, choice: KeyChoice) -> KeyFile | Identity | KeyAnswer | None:
        """Pick a key file to open or a visible certificate (see :class:`KeyChoice`).

        The default is the unattended one: a visible certificate through
        :meth:`choose_certificate` when there is one, else the first file not tried yet;
        a listing opens every file, then goes on."""
        if choice.identities and not choice.several:
            return await self.choose_certificate(
                CertificateChoice(choice.origin, choice.locale, choice.action, choice.identities)
            )
        untried = next((f for f in choice.files if f.problem is None and not f.retry_after), None)
        if untried is not None:
            return untried
        return KeyAnswer.DONE if choice.several else None

    @abc.abstractmethod
    async def get_pin(self, request: PinRequest) -> bytearray | None:
        """The PIN for ``request.identity``; None means cancelled.

        When ``request.status.final_try`` is set the UI must show the final-try warning
        and returning a PIN means the user accepted it.
        """

    @abc.abstractmethod
    async def confirm(self, confirmation: Confirmation) -> bool:
        """Show what will be disclosed or signed; True only on an explicit yes."""

    def warnings(self) -> Sequence[str]:
        """Lines to print loudly when the agent starts with this UI."""
        return ()


class WrappedConsent(ConsentUI):
    """Forwards every question to ``inner`` through :meth:`_asked`, which a wrapper
    overrides to do something around each one (note the open dialog, hold the console)."""

    def __init__(self, inner: ConsentUI) -> None:
        self.inner = inner
        self.name = inner.name

    async def _asked(self, question: Awaitable[T]) -> T:
        return await question

    async def ask_origin(self, origin: str, locale: str) -> OriginDecision:
        return await self._asked(self.inner.ask_origin(origin, locale))

    async def choose_certificate(self, choice: CertificateChoice) -> Identity | None:
        return await self._asked(self.inner.choose_certificate(choice))

    async def choose_key(self, choice: KeyChoice) -> KeyFile | Identity | KeyAnswer | None:
        return await self._asked(self.inner.choose_key(choice))

    async def get_pin(self, request: PinRequest) -> bytearray | None:
        return await self._asked(self.inner.get_pin(request))

    async def confirm(self, confirmation: Confirmation) -> bool:
        return await self._asked(self.inner.confirm(confirmation))

    def warnings(self) -> Sequence[str]:
        return self.inner.warnings()


def wipe(secret: bytearray | None) -> None:
    """Overwrite a PIN in place."""
    if secret is not None:
        for i in range(len(secret)):
            secret[i] = 0
