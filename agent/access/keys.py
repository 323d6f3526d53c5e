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
- locked parts (PKCS#12 files) unlocked for a request are locked again when it ends, unless
  the unlock window keeps the key;
- every operation that got the prompt slot leaves one audit line, whatever its end.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import PurePath

from tanba.agent.state.audit import AuditEvent, AuditLog
from tanba.agent.consent.base import (
    Action,
    CertificateChoice,
    Confirmation,
    DocumentSummary,
    KeyAnswer,
    KeyChoice,
    KeyFile,
    PinRequest,
    wipe,
)
from tanba.agent.access.gate import PromptGate
from tanba.agent.access.nomatch import NO_MATCH, why_none
from tanba.agent.access.unlock import UnlockWindow
from tanba.agent.consent.base import ConsentUI
from tanba.protocol.errors import (
    Busy,
    InvalidParams,
    NoCertificate,
    PinLocked,
    StoreError,
    TanbaError,
    TokenRemoved,
    UserCancelled,
    WrongPin,
)
from tanba.protocol.methods.certs import Unavailable
from tanba.protocol.methods.filter import CertFilter
from tanba.protocol.methods.filter import KeyUsage
from tanba.protocol.methods.sign import RAW_WITH_LOGIN_KEY
from tanba.providers.base import Identity, KeyStore, Lease, Locked, PinStatus, Signer
from tanba.providers.certificate import cert_info
from tanba.providers.filter import select
from tanba.providers.registry import Stores

#: what a request does with a key (sign documents, log in): which keys may serve it
Purpose = KeyUsage

log = logging.getLogger(__name__)



#: failures that say the key itself cannot be used any more (a bad document, a cancelled
#: request or a dead TSA say nothing about it)
KEY_FAILURES: tuple[type[TanbaError], ...] = (TokenRemoved, StoreError, PinLocked, WrongPin)


#: failures of one source that a listing reports and goes on past (a cancelled password
#: prompt still ends the listing: the user said no)
LISTING_FAILURES: tuple[type[TanbaError], ...] = (WrongPin, PinLocked, StoreError, TokenRemoved)


@dataclass(frozen=True)
class Listing:
    """What ``certs.list`` shows: the certificates, and the sources it could not read."""

    identities: list[Identity]
    unavailable: tuple[Unavailable, ...] = ()


#: unlock attempts one request makes before it gives up (a person retries a few times; a
#: consent UI that keeps answering the same failing file must not loop)
MAX_UNLOCK_ATTEMPTS = 10


def file_purposes(location: str) -> tuple[str, ...]:
    """What a key file's name says it serves: NCA names its files ``AUTH_RSA256_…`` (login
    only), ``RSA256_…`` (signing only) and ``GOSTKNCA_…`` (its dual-use GOST keys); any other
    name serves both, as far as its name tells."""
    name = PurePath(location).name.upper()
    if name.startswith("AUTH_"):
        return ("auth",)
    if name.startswith(("RSA256_", "RSA_", "SIGN_")):
        return ("sign",)
    return ("sign", "auth")


def _retry_after(exc: TanbaError) -> int | None:
    value = exc.data.get("retryAfter")
    return value if isinstance(value, int) else None


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
            field="filter.keyUsage",
        )
    return replace(f, key_usage=purpose)


@dataclass
class _Operation:
    """What one request did with the user, for its audit line and its end."""

    #: the request got the prompt slot: whatever happens next is audited (busy and a
    #: cooldown refusal come before it and are not)
    asked: bool = False
    identities: tuple[Identity, ...] = ()
    #: the identity whose key the unlock window keeps (its part's lease goes with it)
    kept: Identity | None = None


@dataclass
class _Key:
    """The key a request signs with.  Where it goes at the end:

    ============== ============== =========================================
    from window    signing failed  end
    ============== ============== =========================================
    yes            no             stays in the window
    yes            yes            the window forgets it (closed)
    no             no             kept by the window if it is on, else closed
    no             yes            closed
    ============== ============== =========================================
    """

    signer: Signer
    from_window: bool


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
        #: locked parts (PKCS#12 files) this request unlocked or proved, with their leases
        self._leases: dict[Locked, Lease] = {}

    # -- finding and unlocking ----------------------------------------------------------

    async def _unlock(
        self, store: KeyStore, part: Locked, identity: Identity | None = None, action: Action | None = None
    ) -> None:
        """Ask the user the part's secret and hold the part for this request.  During the
        part's backoff (a file after wrong passwords) the user is not asked: the answer is
        ``wrong_pin`` with the seconds to wait, and nothing is tried."""
        wait = store.retry_after(part)
        if wait > 0:
            raise WrongPin(f"{part.location}: wrong password given recently", retry_after=math.ceil(wait))
        request = PinRequest(
            self.origin, self.locale, identity, PinStatus(needs_pin=True), location=part.location, action=action
        )
        secret = await self.consent.get_pin(request)
        if secret is None:
            raise UserCancelled("no password for the key file")
        try:
            lease = await store.unlock(part, secret)
        finally:
            wipe(secret)
        self._leases[part] = lease

    def _offered(self, f: CertFilter) -> list[tuple[KeyStore, Locked]]:
        """Locked parts the request may open: in the filter's storages, and (by the file's
        name) able to serve the operation."""
        out = []
        for store in self.stores.stores:
            if f.storages is not None and store.storage not in f.storages:
                continue
            for part in store.locked():
                if f.key_usage is None or f.key_usage in file_purposes(part.location):
                    out.append((store, part))
        return out

    async def _candidates(
        self,
        f: CertFilter,
        usable: Callable[[Identity], bool] | None = None,
        action: Action = Action.SIGN,
    ) -> list[Identity]:
        """Identities matching ``f`` (and ``usable``, when given), found with the user: the
        certificates already visible and the locked key files are offered together
        (:class:`KeyChoice`); a file the user picks is opened with *its* password, and its
        certificates are then shown to pick from.  A wrong password is said in the next
        question (with the wait before the next try); the user tries again or picks another
        key.  With one locked file and nothing else there is nothing to pick: its password
        is asked at once.  Returns the chosen identity alone (or nothing matched: [])."""
        stores = self.stores

        async def matching() -> list[Identity]:
            found = select(await stores.all_identities(), f, dt.datetime.now(dt.UTC))
            return found if usable is None else [i for i in found if usable(i)]

        problems: dict[str, tuple[str, int | None]] = {}
        last: KeyFile | None = None
        failure: TanbaError | None = None
        attempts = 0

        def wait_of(store: KeyStore, part: Locked) -> int | None:
            """The file's backoff; a file that cannot be PKCS#12 is marked unreadable (said
            before any password), and the others stay usable."""
            nonlocal failure
            try:
                return math.ceil(store.retry_after(part)) or None
            except StoreError as exc:
                failure = failure or exc
                problems[part.location] = (exc.reason, None)
                return None

        while True:
            visible = await matching()
            offered = self._offered(f)
            if not offered:
                if not visible and failure is not None:
                    raise failure
                return visible
            waits = [wait_of(store, part) for store, part in offered]
            files = tuple(
                KeyFile(
                    part.location,
                    file_purposes(part.location),
                    problems.get(part.location, (None, None))[0],
                    wait,
                )
                for (store, part), wait in zip(offered, waits)
            )
            asked = bool(visible) or len(offered) > 1 or bool(problems)
            if not asked:
                answer: KeyFile | Identity | KeyAnswer | None = files[0]
            else:
                choice = KeyChoice(self.origin, self.locale, action, files, tuple(visible), last)
                answer = await self.consent.choose_key(choice)
            if answer is None or isinstance(answer, KeyAnswer):
                if failure is not None:
                    raise failure  # the user gave up after it: the page learns why
                raise UserCancelled("no key chosen")
            if isinstance(answer, Identity):
                if answer not in visible:
                    raise UserCancelled("the consent UI answered with a certificate it was not offered")
                return [answer]
            picked = next(((st, pt) for st, pt in offered if pt.location == answer.location), None)
            if picked is None:
                raise UserCancelled("the consent UI answered with a key file it was not offered")
            attempts += 1
            if attempts > MAX_UNLOCK_ATTEMPTS:
                raise failure or UserCancelled("too many attempts")
            store, part = picked
            before = {i.id for i in visible}
            try:
                await self._unlock(store, part, action=action)
            except LISTING_FAILURES as exc:
                log.info("%s cannot be opened: %s", part.location, exc.reason)
                failure = exc
                problems[part.location] = (exc.reason, _retry_after(exc))
                last = replace(files[[p for _, p in offered].index(part)], problem=exc.reason,
                               retry_after=wait_of(store, part))
                continue
            inside = [i for i in await matching() if i.id not in before and store.part_of(i) == part]
            if not inside:
                problems[part.location] = ("no_match", None)
                last = KeyFile(part.location, file_purposes(part.location), "no_match")
                continue
            if not asked:
                return inside
            # the file the user picked: its certificates, to see and pick from
            chosen = await self.consent.choose_certificate(
                CertificateChoice(self.origin, self.locale, action, tuple(inside))
            )
            if chosen is None:
                raise UserCancelled("no certificate chosen")
            if chosen not in inside:
                raise UserCancelled("the consent UI answered with a certificate it was not offered")
            return [chosen]

    async def _signing_candidates(
        self,
        f: CertFilter,
        raw: bool,
        identity_id: str | None,
        fits: Callable[[Identity], object] | None = None,
        action: Action = Action.SIGN,
    ) -> list[Identity]:
        """Candidates for a signature.  A raw one is never made with a key that can log in
        (rule 5): when the request matched only such keys, it is refused saying why, not
        "no certificate".  ``identity_id`` narrows to one certificate; ``fits`` raises
        ``invalid_params`` for a key that cannot sign the request (a hash a GOST key does not
        sign with): such keys are left out, and when only they matched, the request is
        refused with that reason."""

        def usable(identity: Identity) -> bool:
            if identity_id is not None and identity.id != identity_id:
                return False
            if fits is not None:
                try:
                    fits(identity)
                except InvalidParams:
                    return False
            return not (raw and cert_info(identity).can_authenticate)

        narrowed = raw or identity_id is not None or fits is not None
        found = await self._candidates(f, usable=usable if narrowed else None, action=action)
        if found:
            return found
        everything = select(await self.stores.all_identities(), f, dt.datetime.now(dt.UTC))
        if identity_id is not None:
            everything = [i for i in everything if i.id == identity_id]
            if not everything:
                raise NoCertificate(f"no certificate with id {identity_id}")
        if raw and any(cert_info(i).can_authenticate for i in everything):
            raise InvalidParams(RAW_WITH_LOGIN_KEY, field="format")
        if fits is not None and everything:
            fits(everything[0])  # raises why it does not fit
        return found

    async def _choose(self, candidates: Sequence[Identity], action: Action, f: CertFilter | None = None) -> Identity:
        if not candidates:
            if f is None:
                raise NoCertificate(NO_MATCH)
            raise NoCertificate(why_none(await self.stores.all_identities(), f, dt.datetime.now(dt.UTC)))
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

    async def _open(self, identity: Identity, action: Action | None = None) -> Signer:
        store = self.stores.store_for(identity)
        part = store.part_of(identity)
        if part is not None:
            if part not in self._leases:
                # The part is open, but not by this request: another request or an unlock
                # window holds it.  This request's user proves the secret too, and holds the
                # part while it signs, so the other holder's end does not lock it under this one.
                await self._unlock(store, part, identity, action)
            return await store.open(identity, None)
        status = await store.pin_status(identity)
        if status.locked:
            raise PinLocked(f"PIN of {identity.location} is locked")
        pin: bytearray | None = None
        if status.needs_pin:
            pin = await self.consent.get_pin(PinRequest(self.origin, self.locale, identity, status, action=action))
            if pin is None:
                raise UserCancelled("no PIN given")
        try:
            # The UI showed the final-try warning (status.final_try) before the user typed.
            return await store.open(identity, pin, allow_final_try=status.final_try)
        finally:
            wipe(pin)

    def _release(self, keep: Identity | None = None) -> None:
        """Give back the leases this request holds; the one whose key stays open in the
        unlock window passes to the window (released when it closes)."""
        kept = self._part_of(keep) if keep is not None else None
        for part, lease in self._leases.items():
            if part != kept:
                lease.release()
        self._leases.clear()

    def _part_of(self, identity: Identity) -> Locked | None:
        return next((p for p in self._leases if p.location == identity.location), None)

    def _closer(self, identity: Identity) -> Callable[[], None]:
        """What the unlock window runs when it closes ``identity``'s key: release its part."""
        part = self._part_of(identity)
        lease = self._leases.get(part) if part is not None else None
        return lease.release if lease is not None else (lambda: None)

    # -- the operations -----------------------------------------------------------------

    @asynccontextmanager
    async def _operation(self, action: Action, documents: tuple[DocumentSummary, ...]) -> AsyncIterator[_Operation]:
        """One audit line for every operation that got the prompt slot, whatever its end
        (``busy`` from inside, e.g. the agent stopping, is not one); the leases go back."""
        op = _Operation()
        try:
            yield op
        except (TanbaError, asyncio.CancelledError) as exc:
            if op.asked and not isinstance(exc, Busy):
                await self._record(action, op.identities, documents, exc)
            raise
        else:
            await self._record(action, op.identities, documents)  # in the file before the answer goes
        finally:
            self._release(keep=op.kept)

    @asynccontextmanager
    async def signer(
        self,
        f: CertFilter,
        purpose: Purpose | None,
        documents: tuple[DocumentSummary, ...],
        *,
        raw: bool = False,
        identity_id: str | None = None,
        fits: Callable[[Identity], object] | None = None,
    ) -> AsyncIterator[Signer]:
        """Ask the user (choose, confirm, PIN) and yield an open signer for the batch.

        ``purpose`` None: any key — only for a message Tanba itself chose (`tanba
        test-sign`).  ``raw``: the signer will sign caller-chosen bytes bare, so keys that
        can log in are not offered (and an ``auth`` operation cannot be raw at all).
        ``identity_id``: only that certificate (the command line's ``--id``)."""
        if raw and purpose == "auth":
            raise InvalidParams(RAW_WITH_LOGIN_KEY, field="format")
        if purpose is not None:
            f = purpose_filter(f, purpose)
        action = Action.AUTH if purpose == "auth" else Action.SIGN
        async with self._operation(action, documents) as op:
            async with self.prompts.turn(self.origin):
                op.asked = True
                candidates = await self._signing_candidates(f, raw, identity_id, fits, action)
                identity = await self._choose(candidates, action, f)
                op.identities = (identity,)
                key = await self._key_for(identity, action, documents)
            failed = False
            try:
                yield key.signer
            except BaseException as exc:
                failed = key_failed(exc)
                raise
            finally:
                if await self._end(key, identity, failed):
                    op.kept = identity

    async def _key_for(self, identity: Identity, action: Action, documents: tuple[DocumentSummary, ...]) -> _Key:
        """Confirm, then the key: the window's if it holds one for this site, else opened."""
        window = self.window
        reused = await window.current(self.origin, identity.id) if window else None
        until = window.until(self.origin, identity.id) if window else None
        await self._confirm(action, (identity,), documents, until)
        if reused is not None:
            return _Key(reused, from_window=True)
        return _Key(await self._open(identity, action), from_window=False)

    async def _end(self, key: _Key, identity: Identity, failed: bool) -> bool:
        """Where the key goes (see :class:`_Key`); True when the window keeps it."""
        window = self.window
        if key.from_window:
            if failed and window is not None:
                await window.forget(self.origin, identity.id)  # e.g. the token went away
            return False
        if window is not None and not failed and window.keep(self.origin, key.signer, self._closer(identity)):
            return True
        await key.signer.close()
        return False

    async def _record(
        self,
        action: Action,
        identities: Sequence[Identity],
        documents: Sequence[DocumentSummary],
        error: BaseException | None = None,
    ) -> None:
        """The operation's audit line, written before its answer (a cancelled request has
        none: its line is queued without waiting)."""
        if self.audit is None:
            return
        cancelled = isinstance(error, asyncio.CancelledError)
        if cancelled:
            error = UserCancelled("the page went away")
        event = AuditEvent.build(
            self.origin, self.method or action.value, action.value,
            error=error, certificates=identities, documents=documents,
        )
        if cancelled:
            self.audit.record(event)
        else:
            await self.audit.commit(event)

    async def disclose_one(self, f: CertFilter) -> Identity:
        """The one certificate the user picks among those matching ``f`` and agrees to show
        (NCALayer's ``getKeyInfo`` answers one)."""
        async with self._operation(Action.DISCLOSE, ()) as op:
            async with self.prompts.turn(self.origin):
                op.asked = True
                identity = await self._choose(await self._candidates(f, action=Action.DISCLOSE), Action.DISCLOSE, f)
                await self._confirm(Action.DISCLOSE, (identity,), ())
                op.identities = (identity,)
        return identity

    async def disclose(self, f: CertFilter) -> Listing:
        """Certificates matching ``f``, once the user agreed to show them to the origin,
        and the sources that could not be read (see :meth:`_listing`)."""
        async with self._operation(Action.DISCLOSE, ()) as op:
            async with self.prompts.turn(self.origin):
                op.asked = True
                listing = await self._listing(f)
                if listing.identities:
                    await self._confirm(Action.DISCLOSE, tuple(listing.identities), ())
                    op.identities = tuple(listing.identities)
        return listing

    async def _open_for_listing(
        self, f: CertFilter, considered: list[KeyStore]
    ) -> tuple[dict[str, tuple[KeyStore, Locked, TanbaError]], set[int]]:
        """The key files the user chooses to open for a listing, each with its password,
        asked as the site's question comes first (issue 17): the locked files and the
        certificates already visible are offered (:class:`KeyChoice` with ``several``), the
        user opens one file after another and then goes on (``KeyAnswer.DONE``); a single
        file with nothing visible is opened at once.  Returns the files that failed (by
        location, the last failure of each) and the stores (by id) a file was opened in."""
        failures: dict[str, tuple[KeyStore, Locked, TanbaError]] = {}
        opened: set[int] = set()
        done: set[str] = set()
        last: KeyFile | None = None
        attempts = 0
        waits: dict[str, int | None] = {}

        def wait(store: KeyStore, part: Locked) -> int | None:
            """Seconds before the file takes a password; a file that cannot be PKCS#12
            fails here, before any password is asked, and is not offered again."""
            try:
                return math.ceil(store.retry_after(part)) or None
            except StoreError as exc:
                failures[part.location] = (store, part, exc)
                done.add(part.location)
                return None

        while True:
            waiting = [(store, part) for store in considered for part in store.locked() if part.location not in done]
            waits = {part.location: wait(store, part) for store, part in waiting}
            waiting = [(store, part) for store, part in waiting if part.location not in done]
            if not waiting or all(waits[part.location] for _, part in waiting):
                break  # nothing left, or nothing that takes a password now: nothing to ask
            visible = select(await self.stores.all_identities(), f, dt.datetime.now(dt.UTC))
            files = tuple(
                KeyFile(part.location, file_purposes(part.location),
                        failures[part.location][2].reason if part.location in failures else None,
                        waits[part.location])
                for store, part in waiting
            )
            if not visible and len(waiting) == 1 and not failures:
                answer: KeyFile | Identity | KeyAnswer | None = files[0]
            else:
                choice = KeyChoice(self.origin, self.locale, Action.DISCLOSE, files, tuple(visible), last, several=True)
                answer = await self.consent.choose_key(choice)
            if answer is None:
                raise UserCancelled("the listing was cancelled")
            if not isinstance(answer, KeyFile):
                break  # go on with what is visible
            picked = next(((st, pt) for st, pt in waiting if pt.location == answer.location), None)
            if picked is None:
                raise UserCancelled("the consent UI answered with a key file it was not offered")
            attempts += 1
            if attempts > MAX_UNLOCK_ATTEMPTS:
                break
            store, part = picked
            try:
                await self._unlock(store, part, action=Action.DISCLOSE)
            except LISTING_FAILURES as exc:
                log.info("listing: %s cannot be read: %s", part.location, exc.reason)
                failures[part.location] = (store, part, exc)
                last = replace(files[[p for _, p in waiting].index(part)], problem=exc.reason,
                               retry_after=wait(store, part))
                if exc.reason not in ("wrong_pin",):
                    done.add(part.location)  # unreadable or locked: asking again cannot help
            else:
                failures.pop(part.location, None)
                done.add(part.location)
                opened.add(id(store))
                last = None
        for store in considered:  # a file left waiting out its backoff was not read either
            for part in store.locked():
                if part.location not in done and part.location not in failures and waits.get(part.location):
                    failures[part.location] = (store, part, WrongPin(
                        f"{part.location}: wrong password given recently; not tried", retry_after=waits[part.location]))
        return failures, opened

    async def _listing(self, f: CertFilter) -> Listing:
        """Every source's certificates matching ``f``: each locked part (PKCS#12 file) is
        unlocked with a secret asked from the user, one after another; a part that fails
        (wrong password, its backoff, unreadable) or a store that fails (a token's module)
        does not stop the others.  When at least one source was read, the failures are
        returned as :class:`Unavailable` (a file by its name only, not its folder); when
        none was, the first file's error is raised as before (only stores failed: nothing
        is listed, as before)."""
        stores = self.stores
        considered = [s for s in stores.stores if f.storages is None or s.storage in f.storages]
        failures, opened = await self._open_for_listing(f, considered)
        part_failures = list(failures.values())
        everything = await stores.all_identities()
        failed_stores = {failure.store: failure for failure in stores.failures}

        def read(store: KeyStore) -> bool:
            """The store answered, and it is not one whose every locked part failed."""
            if store.description in failed_stores:
                return False
            if id(store) in opened or not any(s is store for s, _, _ in part_failures):
                return True
            return any(store.owns(i) for i in everything)  # parts another holder keeps open

        if not any(read(store) for store in considered):
            if part_failures:
                raise part_failures[0][2]
            return Listing([])
        unavailable = [
            Unavailable(store.storage, exc.reason, PurePath(part.location).name, _retry_after(exc))
            for store, part, exc in part_failures
        ]
        unavailable += [
            Unavailable(store.storage, failed_stores[store.description].error.reason)
            for store in considered
            if store.description in failed_stores
        ]
        return Listing(select(everything, f, dt.datetime.now(dt.UTC)), tuple(unavailable))
