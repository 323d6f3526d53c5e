"""From a request to an unlocked key, through the user's consent.

Every path to a private key or to certificate data goes through here, so the rules of
DESIGN.md hold in one place:

- one prompt at a time (``busy`` otherwise), and a cooldown for origins the user keeps
  denying;
- document signing uses signing keys only and ``auth`` authentication keys only (rule 5):
  the purpose is forced into the filter, whatever the page asked; a raw signature is never
  made with a key that can log in;
- the user sees the origin, the certificate and what is signed before the PIN is asked;
- the PIN comes from the consent UI only, is handed to the store once and wiped; a wrong
  PIN is reported, never retried; the final try is spent only after the UI warned;
- PKCS#12 files unlocked for a request are locked again when it ends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Literal

from tanba.agent.audit import AuditEvent, AuditLog
from tanba.agent.consent.base import (
    Action,
    CertificateChoice,
    Confirmation,
    DocumentSummary,
    PinRequest,
    wipe,
)
from tanba.agent.consent.base import ConsentUI
from tanba.agent.prompts import PromptGate
from tanba.agent.unlock import UnlockWindow
from tanba.protocol.errors import (
    Busy,
    InvalidParams,
    NoCertificate,
    OriginDenied,
    PinLocked,
    StoreError,
    TanbaError,
    TokenRemoved,
    UserCancelled,
    WrongPin,
)
from tanba.protocol.methods.filter import CertFilter
from tanba.protocol.methods.sign import RAW_WITH_LOGIN_KEY
from tanba.providers.base import Identity, PinStatus, Signer
from tanba.providers.certificate import cert_info
from tanba.providers.filter import select
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.registry import Stores

log = logging.getLogger(__name__)

Purpose = Literal["sign", "auth"]


#: failures that say the key itself cannot be used any more (a bad document, a cancelled
#: request or a dead TSA say nothing about it)
KEY_FAILURES: tuple[type[TanbaError], ...] = (TokenRemoved, StoreError, PinLocked, WrongPin)


def key_failed(exc: BaseException) -> bool:
    """Whether ``exc``, raised while signing, means the key should not stay open: one of
    :data:`KEY_FAILURES`, or anything unexpected."""
    if isinstance(exc, KEY_FAILURES):
        return True
    return not isinstance(exc, (TanbaError, asyncio.CancelledError))


def purpose_filter(f: CertFilter, purpose: Purpose) -> CertFilter:
    """The request's filter with the key usage the operation requires."""
    if f.key_usage is not None and f.key_usage != purpose:
        raise InvalidParams(
            f"a {purpose} operation uses {purpose} keys; filter.keyUsage {f.key_usage!r} cannot match",
            field="params.filter.keyUsage",
        )
    return replace(f, key_usage=purpose)


class KeyAccess:
    """One request's dealings with the user and the stores."""

    def __init__(
        self,
        stores: Stores,
        consent: ConsentUI,
        prompts: PromptGate,
        origin: str | None,
        locale: str,
        window: UnlockWindow | None = None,
        *,
        audit: AuditLog | None = None,
        method: str = "",
    ) -> None:
        self.audit = audit
        self.method = method
        self.stores = stores
        self.consent = consent
        self.prompts = prompts
        self.window = window if window is not None and window.enabled else None
        # Local programs (no Origin) are named as such in every prompt.
        self.origin = origin or "local program"
        self.locale = locale
        #: PKCS#12 files this request holds open (Pkcs12Store.hold); released at its end
        self._held: list[tuple[Pkcs12Store, Path]] = []

    async def _candidates(
        self, f: CertFilter, every_file: bool = False, usable: Callable[[Identity], bool] | None = None
    ) -> list[Identity]:
        """Identities matching ``f`` (and ``usable``, when given); locked PKCS#12 files are
        opened with a password asked from the user, one file at a time, until something
        matches (or, with ``every_file``, all of them: a listing shows every certificate)."""
        stores = self.stores
        now = dt.datetime.now(dt.UTC)

        async def matching() -> list[Identity]:
            found = select(await stores.all_identities(), f, now)
            return found if usable is None else [i for i in found if usable(i)]

        found = await matching()
        if found and not every_file:
            return found
        for store in stores.stores:
            if not isinstance(store, Pkcs12Store) or (f.storages is not None and store.storage not in f.storages):
                continue
            for path in store.locked_files():
                request = PinRequest(self.origin, self.locale, None, PinStatus(needs_pin=True), location=str(path))
                password = await self.consent.get_pin(request)
                if password is None:
                    raise UserCancelled("no password for the key file")
                try:
                    await store.unlock_file(path, password)
                finally:
                    wipe(password)
                self._hold(store, path)
                found = await matching()
                if found and not every_file:
                    return found
        return found

    async def _choose(self, candidates: Sequence[Identity], action: Action) -> Identity:
        if not candidates:
            raise NoCertificate("no certificate matches the request")
        if len(candidates) == 1:
            return candidates[0]  # the confirmation shows it
        choice = CertificateChoice(self.origin, self.locale, action, tuple(candidates))
        chosen = await self.consent.choose_certificate(choice)
        if chosen is None:
            raise UserCancelled("no certificate chosen")
        if chosen not in candidates:
            raise UserCancelled("the consent UI answered with a certificate it was not offered")
        return chosen

    async def _confirm(
        self,
        action: Action,
        identities: tuple[Identity, ...],
        documents: tuple[DocumentSummary, ...],
        unlocked_until: float | None = None,
    ) -> None:
        confirmation = Confirmation(self.origin, self.locale, action, identities, documents, unlocked_until)
        if not await self.consent.confirm(confirmation):
            self.prompts.denied(self.origin)
            raise UserCancelled(f"{action.value} not confirmed")
        self.prompts.approved(self.origin)

    async def _open(self, identity: Identity) -> Signer:
        store = self.stores.store_for(identity)
        if isinstance(store, Pkcs12Store) and self._file_of(identity) is None:
            # The file is open, but not by this request: another request or an unlock window
            # holds it.  This request's user proves the password too, and holds the file
            # while it signs, so the other holder's end does not lock it under this one.
            request = PinRequest(self.origin, self.locale, identity, PinStatus(needs_pin=True), identity.location)
            password = await self.consent.get_pin(request)
            if password is None:
                raise UserCancelled("no password for the key file")
            path = Path(identity.location)
            try:
                await store.check_password(path, password)
                if path in store.locked_files():  # its holder closed it meanwhile: reopen it
                    await store.unlock_file(path, password)
            finally:
                wipe(password)
            self._hold(store, path)
            return await store.open(identity, None)
        status = await store.pin_status(identity)
        if status.locked:
            raise PinLocked(f"PIN of {identity.location} is locked")
        pin: bytearray | None = None
        if status.needs_pin:
            pin = await self.consent.get_pin(PinRequest(self.origin, self.locale, identity, status))
            if pin is None:
                raise UserCancelled("no PIN given")
        try:
            # The UI showed the final-try warning (status.final_try) before the user typed.
            return await store.open(identity, pin, allow_final_try=status.final_try)
        finally:
            wipe(pin)

    def _hold(self, store: Pkcs12Store, path: Path) -> None:
        store.hold(path)
        self._held.append((store, path))

    def _relock(self, keep: Identity | None = None) -> None:
        """Release the files this request holds; the one whose key stays open in the unlock
        window passes to the window (released when it closes)."""
        kept = self._file_of(keep) if keep is not None else None
        for held in self._held:
            if held is not kept:
                held[0].release(held[1])
        self._held.clear()

    def _file_of(self, identity: Identity) -> tuple[Pkcs12Store, Path] | None:
        return next((h for h in self._held if str(h[1]) == identity.location), None)

    async def _raw_candidates(self, f: CertFilter) -> list[Identity]:
        """Candidates for a raw signature: never a key that can log in (rule 5).  When the
        request matched only such keys, it is refused saying why, not "no certificate"."""
        found = await self._candidates(f, usable=lambda i: not cert_info(i).can_authenticate)
        if not found and select(await self.stores.all_identities(), f, dt.datetime.now(dt.UTC)):
            raise InvalidParams(RAW_WITH_LOGIN_KEY, field="format")
        return found

    @asynccontextmanager
    async def signer(
        self, f: CertFilter, purpose: Purpose, documents: tuple[DocumentSummary, ...], *, raw: bool = False
    ) -> AsyncIterator[Signer]:
        """Ask the user (choose, confirm, PIN) and yield an open signer for the batch.

        ``raw``: the signer will sign caller-chosen bytes bare, so keys that can log in are
        not offered (and an ``auth`` operation cannot be raw at all)."""
        if raw and purpose == "auth":
            raise InvalidParams(RAW_WITH_LOGIN_KEY, field="format")
        f = purpose_filter(f, purpose)
        action = Action.SIGN if purpose == "sign" else Action.AUTH
        kept: Identity | None = None
        identity: Identity | None = None
        try:
            async with self.prompts.turn(self.origin):
                candidates = await (self._raw_candidates(f) if raw else self._candidates(f))
                identity = await self._choose(candidates, action)
                window = self.window
                reused = await window.current(self.origin, identity.id) if window else None
                until = window.until(self.origin, identity.id) if window else None
                await self._confirm(action, (identity,), documents, until)
                signer = reused or await self._open(identity)
            broken = False
            try:
                yield signer
            except BaseException as exc:
                broken = key_failed(exc)
                raise
            finally:
                if reused is not None:
                    if broken and window is not None:
                        await window.forget(self.origin, identity.id)  # e.g. the token went away
                elif window is not None and not broken and window.keep(self.origin, signer, self._closer(identity)):
                    kept = identity
                else:
                    await signer.close()
        except (TanbaError, asyncio.CancelledError) as exc:
            if not isinstance(exc, Busy) and not (isinstance(exc, OriginDenied) and identity is None):
                self._record(action, (identity,) if identity else (), documents, exc)
            raise
        else:
            self._record(action, (identity,) if identity else (), documents)
        finally:
            self._relock(keep=kept)

    def _record(
        self,
        action: Action,
        identities: Sequence[Identity],
        documents: Sequence[DocumentSummary],
        error: BaseException | None = None,
    ) -> None:
        """One audit line for an operation that reached the user (not for ``busy``)."""
        if self.audit is None:
            return
        if isinstance(error, asyncio.CancelledError):
            error = UserCancelled("the page went away")
        event = AuditEvent.build(
            self.origin, self.method or action.value, action.value,
            error=error, certificates=identities, documents=documents,
        )
        self.audit.record(event)

    def _closer(self, identity: Identity) -> Callable[[], None]:
        """What the unlock window runs when it closes ``identity``'s key: release its file."""
        file = self._file_of(identity)

        def close() -> None:
            if file is not None:
                file[0].release(file[1])

        return close

    async def disclose_one(self, f: CertFilter) -> Identity:
        """The one certificate the user picks among those matching ``f`` and agrees to show
        (NCALayer's ``getKeyInfo`` answers one)."""
        try:
            async with self.prompts.turn(self.origin):
                identity = await self._choose(await self._candidates(f), Action.DISCLOSE)
                await self._confirm(Action.DISCLOSE, (identity,), ())
        except (UserCancelled, NoCertificate, WrongPin, asyncio.CancelledError) as exc:
            self._record(Action.DISCLOSE, (), (), exc)
            raise
        finally:
            self._relock()
        self._record(Action.DISCLOSE, (identity,), ())
        return identity

    async def disclose(self, f: CertFilter) -> list[Identity]:
        """Certificates matching ``f``, once the user agreed to show them to the origin."""
        try:
            async with self.prompts.turn(self.origin):
                candidates = await self._candidates(f, every_file=True)
                if candidates:
                    await self._confirm(Action.DISCLOSE, tuple(candidates), ())
        except (UserCancelled, WrongPin, asyncio.CancelledError) as exc:
            self._record(Action.DISCLOSE, (), (), exc)
            raise
        finally:
            self._relock()
        if candidates:
            self._record(Action.DISCLOSE, candidates, ())
        return candidates
