"""The one interface every key store implements.

A store lists identities (a certificate, its chain as found in the store, and how to reach
its private key) without asking for a PIN.  To sign, the agent asks the store for the PIN
status, gets the PIN from the consent UI, and opens a :class:`Signer`: one async primitive,
"sign this digest", kept open for the unlock's lifetime (a batch, or an unlock window), in
the spirit of pyHanko's ``Signer``.  Formats (CMS, XML-DSig, raw, auth) build on it.

Errors: implementations raise only the :mod:`tanba.protocol.errors` tree — ``wrong_pin``
(with retries left), ``pin_locked``, ``token_removed``, ``store_error``, ``no_certificate`` —
translating foreign exceptions with ``raise ... from exc``.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from tanba.protocol.methods.sign import DIGEST_SIZES, NATIONAL_DIGESTS

if TYPE_CHECKING:  # only annotations: importing this module stays cheap (`tanba sign` start-up)
    from cryptography import x509


class HashAlgorithm(enum.StrEnum):
    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"
    STREEBOG256 = "streebog256"
    STREEBOG512 = "streebog512"
    GOST34311 = "gost34311-95"
    BELT_HASH = "belt-hash"
    BASH384 = "bash384"
    BASH512 = "bash512"

    @property
    def digest_size(self) -> int:
        return DIGEST_SIZES[self.value]

    @property
    def national(self) -> bool:
        """A national hash (GOST, belt, bash: computed by :mod:`tanba.crypto.hashes`, not hashlib)."""
        return self.value in NATIONAL_DIGESTS


class SignatureScheme(enum.StrEnum):
    """How the digest is turned into a signature.

    RSA-PSS uses MGF1 with the same hash and a salt as long as the digest (the CMS and
    XML-DSig convention).  ECDSA signatures are returned DER-encoded (``Ecdsa-Sig-Value``),
    the form CMS needs; XML-DSig converts to r||s itself.
    """

    RSA_PKCS1V15 = "rsa-pkcs1v15"
    RSA_PSS = "rsa-pss"
    ECDSA = "ecdsa"
    #: GOST R 34.10 (KZ 34.310): the signature in the key family's byte order (NCA or RFC)
    GOST3410 = "gost3410"
    #: STB 34.101.45 bign: S0 || S1 as the standard writes it, deterministic k
    BIGN = "bign"

    @property
    def national(self) -> bool:
        """GOST or bign: the key signs the digest of its family's own hash, in its own order."""
        return self in (SignatureScheme.GOST3410, SignatureScheme.BIGN)


@dataclass(frozen=True, eq=False)
class Identity:
    """A certificate with a private key behind it, as one store sees it.

    ``id`` is stable across restarts and unique across stores (clients pass it back);
    ``storage`` is the NCALayer-style storage name (``PKCS12``, ``AKKaztokenStore``, ...);
    ``location`` is what a user recognises (a file path, "token label (serial)");
    ``key_ref`` is opaque to everyone but the store that made it.
    """

    id: str
    storage: str
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    location: str
    key_ref: Hashable = field(repr=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Identity) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


@dataclass(frozen=True)
class PinStatus:
    """What the consent UI must know before asking for a PIN.

    ``needs_pin`` is False when the PIN is typed on the reader (``pinpad``, PKCS#11's
    protected authentication path) or the store is already unlocked.  ``retries_left`` is
    None when the store cannot tell.  ``final_try``: one more wrong PIN locks the key; the
    agent refuses to spend it without an explicit warning to the user.
    """

    needs_pin: bool
    pinpad: bool = False
    retries_left: int | None = None
    final_try: bool = False
    locked: bool = False


class Signer(abc.ABC):
    """An unlocked private key.  Close it (or use ``async with``) when done."""

    identity: Identity

    @abc.abstractmethod
    async def sign_digest(
        self, digest: bytes, hash_alg: HashAlgorithm, scheme: SignatureScheme
    ) -> bytes:
        """Sign a precomputed digest of ``hash_alg`` with ``scheme``."""

    async def sign_digests(
        self, digests: Sequence[bytes], hash_alg: HashAlgorithm, scheme: SignatureScheme
    ) -> list[bytes]:
        """Sign many digests; stores override this to do it in one trip to their worker."""
        return [await self.sign_digest(d, hash_alg, scheme) for d in digests]

    @abc.abstractmethod
    async def close(self) -> None:
        """Forget the key (log out of the token, drop the loaded PKCS#12 key)."""

    async def __aenter__(self) -> Signer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


@dataclass(frozen=True)
class Locked:
    """A part of a store that shows its certificates only once unlocked with a secret: a
    PKCS#12 file (its certificates are encrypted too).  Tokens list without a PIN and have
    no such parts.  ``location`` is what the user recognises (the file's path)."""

    location: str
    ref: Hashable = field(repr=False)


class Lease(abc.ABC):
    """One holder's claim on an unlocked part (a request signing, an unlock window): the
    part stays unlocked while any lease on it is held, and locks when the last is released."""

    @abc.abstractmethod
    def release(self) -> None:
        """Give the claim back (at most once)."""


class KeyStore(abc.ABC):
    """A place keys live: one PKCS#12 file set, or one PKCS#11 module.

    Every store lists identities and opens their keys.  A store with :class:`Locked`
    parts also says which are locked, unlocks one with the user's secret for a holder
    (:meth:`unlock`, which proves the secret even when the part is already open for
    another holder), and how long a part makes the user wait after wrong secrets.  Callers
    never need to know which kind of store they talk to.
    """

    #: NCALayer-style storage name this store answers to.
    storage: str

    @property
    def description(self) -> str:
        """What a user recognises the store by (logs, `tanba doctor`)."""
        return self.storage

    def owns(self, identity: Identity) -> bool:
        """Whether ``identity`` is one of this store's."""
        return identity.storage == self.storage

    def locked(self) -> list[Locked]:
        """Parts whose certificates stay hidden until unlocked (none by default)."""
        return []

    def part_of(self, identity: Identity) -> Locked | None:
        """The lockable part ``identity`` lives in (None: the store has no such parts)."""
        return None

    async def unlock(self, part: Locked, secret: bytearray) -> Lease:
        """Prove ``secret`` for ``part`` and hold it unlocked for the caller.  The caller
        owns ``secret`` and zeroes it afterwards."""
        raise NotImplementedError(f"{self.description} has nothing to unlock")

    def retry_after(self, part: Locked) -> float:
        """Seconds before ``part`` accepts another secret (0: now)."""
        return 0.0

    @abc.abstractmethod
    async def identities(self) -> list[Identity]:
        """Certificates with a private key behind them, listed without a PIN."""

    @abc.abstractmethod
    async def pin_status(self, identity: Identity) -> PinStatus:
        """Read the token flags / backoff state the PIN dialog needs."""

    @abc.abstractmethod
    async def open(
        self, identity: Identity, pin: bytearray | None, *, allow_final_try: bool = False
    ) -> Signer:
        """Unlock ``identity``'s key with ``pin`` (None for pinpad readers).

        The caller owns ``pin`` and zeroes it afterwards; a store must not keep a reference
        to it.  Refuses with ``wrong_pin``/``pin_locked`` rather than spend the final try
        unless ``allow_final_try`` is set.
        """

    async def close(self) -> None:
        """Release the store (finalise modules, stop worker threads)."""
