"""PKCS#12 files as a key store (storage ``PKCS12``).

National PKCS#12 files encrypt their certificate bag, so nothing can be listed before the
password: the consent UI asks for the files in :meth:`Pkcs12Store.locked_files`, calls
:meth:`~Pkcs12Store.unlock_file` with the password, and from then on the file's identities
are listed and sign without a password until :meth:`~Pkcs12Store.lock_file` (or
:meth:`~Pkcs12Store.close`).  The loaded key objects live for the unlock's lifetime; a
signature is one call into cryptography, with no parsing and no thread hop.

Reading a file: files with a SHA-family MAC — RSA and EC files, NCA's GOST files — are
decrypted by Tanba's own reader (:mod:`~tanba.providers.pkcs12_decode`): the MAC tells a
wrong password (``wrong_pin``) from unreadable contents, every key bag is decrypted (a file
may hold several keys, each paired with its certificate by public key), and RSA and EC keys
are loaded by cryptography from the decrypted PKCS#8.  The reader runs in a worker thread
and lets go of the GIL for the expensive part (PBKDF2 is hashlib's), so the event loop keeps
answering other connections while a file is decrypted — the default rule does that for
every request.  cryptography's ``load_pkcs12`` (OpenSSL) holds the GIL for the whole
decryption and key check, tens of milliseconds during which no other connection is
served; it reads only what Tanba's reader cannot (files without a MAC, ciphers the reader
lacks).  cryptography's RSA key check (primality of p and q: ~30 ms holding the GIL) is
skipped on load; one self-test signature, verified, refuses a damaged key instead.

Wrong passwords: files have no retry counter, so each file gets a backoff.  After the n-th
wrong password in a row the file refuses attempts for 0, 1, 2, 4, 8 ... s (capped at 30 s);
``wrong_pin`` carries ``data.retryAfter`` (whole seconds) when the next attempt has to wait,
and an attempt during that time is refused with ``wrong_pin`` and the seconds still to wait
without trying the password (nothing is read or decrypted, no attempt is counted), so nothing
sleeps while holding the dialog.  ``busy`` keeps its one meaning, another prompt is open.
A right password resets the backoff.

GOST keys (NCA's files, Russian files) sign with :mod:`tanba.crypto.gost`; they are wiped
when the file locks.  Russian files (a Streebog MAC) go to OpenSSL first and, refused, to
Tanba's reader.  When the password is right (the MAC matches) but the contents cannot be
read — explicit EC parameters, an unknown cipher — the error is ``store_error`` naming the
encryption algorithms found, never ``wrong_pin``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.serialization import pkcs12
from tanba.crypto import gost
from tanba.crypto.gost import UnsupportedKey
from tanba.protocol.errors import (
    InvalidParams,
    NoCertificate,
    StoreError,
    WrongPin,
)
from tanba.providers.base import (
    HashAlgorithm,
    Identity,
    KeyStore,
    Lease,
    Locked,
    PinStatus,
    SignatureScheme,
    Signer,
)
from tanba.providers import gost_asn1, pkcs12_decode
from tanba.providers.chain import build_chain
from tanba.providers.keyalg import gost_public_key, key_family, national_scheme
from tanba.providers.pkcs12_decode import mac_ok

log = logging.getLogger(__name__)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | gost.PrivateKey

MAX_BACKOFF = 30.0
_MAX_FILE_SIZE = 1 << 20  # a PKCS#12 file with a few keys is a few KiB

_HASHES: dict[str, hashes.HashAlgorithm] = {
    HashAlgorithm.SHA256: hashes.SHA256(),
    HashAlgorithm.SHA384: hashes.SHA384(),
    HashAlgorithm.SHA512: hashes.SHA512(),
}
_PREHASHED = {name: utils.Prehashed(h) for name, h in _HASHES.items()}
_PKCS1 = padding.PKCS1v15()
_PSS = {name: padding.PSS(padding.MGF1(h), h.digest_size) for name, h in _HASHES.items()}
_ECDSA = {name: ec.ECDSA(p) for name, p in _PREHASHED.items()}


def identity_id(cert: x509.Certificate) -> str:
    """``"p12:"`` + the first 16 hex digits of the certificate's SHA-256: stable across restarts."""
    return "p12:" + cert.fingerprint(hashes.SHA256()).hex()[:16]


def backoff_delay(failures: int) -> float:
    """Seconds to wait after ``failures`` wrong passwords in a row: 0, 1, 2, 4 ... <= 30."""
    if failures <= 1:
        return 0.0
    return float(min(MAX_BACKOFF, 2 ** (failures - 2)))


# --- reading the file -------------------------------------------------------------------


@dataclass
class _Pfx:
    """What can be read from a PFX without the password."""

    asn1: Any
    plain_key_bags: list[bytes]  # DER EncryptedPrivateKeyInfo / PrivateKeyInfo
    algorithms: list[str]  # encryption algorithm names found, for error messages


def _parse_pfx(data: bytes, path: Path) -> _Pfx:
    try:
        pfx = asn1_pkcs12.Pfx.load(data, strict=True)
        key_bags: list[bytes] = []
        algorithms: list[str] = []
        for content_info in pfx.authenticated_safe:
            kind = content_info["content_type"].native
            if kind == "data":
                contents = asn1_pkcs12.SafeContents.load(content_info["content"].native)
                _walk_bags(contents, key_bags, algorithms)
            elif kind == "encrypted_data":
                eci = content_info["content"]["encrypted_content_info"]
                algorithms.append(eci["content_encryption_algorithm"]["algorithm"].native)
            else:
                algorithms.append(str(kind))
    except (ValueError, TypeError, KeyError) as exc:
        raise StoreError(f"{path} is not a readable PKCS#12 file ({exc})") from exc
    return _Pfx(pfx, key_bags, algorithms)


def _walk_bags(contents: Any, key_bags: list[bytes], algorithms: list[str]) -> None:
    for bag in contents:
        bag_id = bag["bag_id"].native
        value = bag["bag_value"]
        if bag_id == "pkcs8_shrouded_key_bag":
            algorithms.append(value["encryption_algorithm"]["algorithm"].native)
            key_bags.append(value.untag().dump(force=True))
        elif bag_id == "key_bag":
            key_bags.append(value.untag().dump(force=True))
        elif bag_id == "safe_contents":
            _walk_bags(value, key_bags, algorithms)


@dataclass
class _Loaded:
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    key: PrivateKey


#: MAC digests Tanba's reader checks with hashlib (the PKCS#12 KDF of RFC 7292 appendix B)
_SHA_MACS = frozenset({"sha1", "sha224", "sha256", "sha384", "sha512"})
_MAX_MAC_ITERATIONS = 10_000_000


def _sha_mac(pfx: Any) -> bool:
    """Whether the file carries a SHA-family MAC Tanba's reader can check, so that reader
    tells a wrong password from unreadable contents on its own."""
    try:
        mac_data = pfx["mac_data"]
        if mac_data.native is None:
            return False
        return (mac_data["mac"]["digest_algorithm"]["algorithm"].native in _SHA_MACS
                and 0 < mac_data["iterations"].native <= _MAX_MAC_ITERATIONS)
    except (ValueError, TypeError, KeyError):
        return False


def _load(data: bytes, password: bytes, path: Path) -> list[_Loaded]:
    """Decrypt the file; raises WrongPin or StoreError.  Runs in a worker thread.

    Tanba's reader first for files with a SHA MAC: it leaves the GIL to the event loop,
    where OpenSSL's ``load_pkcs12`` holds it for the whole decryption (see the module's
    notes); OpenSSL reads what that reader cannot, and files without a MAC."""
    parsed = _parse_pfx(data, path)
    own_error: StoreError | None = None
    if _sha_mac(parsed.asn1):
        try:
            return _load_own(data, password, path)  # WrongPin: the MAC said so
        except StoreError as exc:
            own_error = exc
        except (ValueError, TypeError, KeyError, IndexError) as exc:  # e.g. a password that is not UTF-8
            log.debug("%s: Tanba's reader failed (%s); trying OpenSSL's", path, exc)
    try:
        bundle = pkcs12.load_pkcs12(data, password)
    except (ValueError, UnsupportedAlgorithm) as exc:
        if own_error is None and mac_ok(parsed.asn1, password) is False:
            raise WrongPin(f"wrong password for {path}") from exc
        # OpenSSL refused the contents (a GOST key, or a cipher it does not have): Tanba's
        # own reader decrypts the bags; it tells a wrong password from unreadable contents.
        try:
            if own_error is not None:
                raise own_error
            return _load_own(data, password, path)
        except StoreError as own:
            algorithms = ", ".join(sorted(set(parsed.algorithms))) or "none"
            raise StoreError(
                f"{path}: the password is right but the contents cannot be read "
                f"(encryption: {algorithms}): {own.detail}"
            ) from exc
    certs = [c.certificate for c in ([bundle.cert] if bundle.cert else []) + list(bundle.additional_certs)]
    keys: list[Any]
    if len(parsed.plain_key_bags) > 1:
        try:
            keys = [serialization.load_der_private_key(der, password) for der in parsed.plain_key_bags]
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise StoreError(f"{path}: one of its {len(parsed.plain_key_bags)} keys cannot be read: {exc}") from exc
    else:
        keys = [bundle.key] if bundle.key is not None else []
    return _pair(keys, certs, path)


def _load_own(data: bytes, password: bytes, path: Path) -> list[_Loaded]:
    decoded = pkcs12_decode.decode(data, password, str(path))
    certs: list[x509.Certificate] = []
    for der, _ in decoded.certificates:
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            raise StoreError(f"{path}: a certificate in it cannot be read: {exc}") from exc
    keys: list[Any] = []
    for der, _ in decoded.keys:
        try:
            keys.append(gost_asn1.private_key_from_pkcs8(der))
            continue
        except UnsupportedKey as exc:
            gost_error = exc
        try:
            # cryptography's RSA key check (primality of p and q: ~30 ms for RSA-2048, all of
            # it holding the GIL) is skipped; _check_rsa proves the key works instead.
            key = serialization.load_der_private_key(der, None, unsafe_skip_rsa_key_validation=True)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise StoreError(f"{path}: its key cannot be read ({gost_error}; {exc})") from exc
        if isinstance(key, rsa.RSAPrivateKey):
            _check_rsa(key, path)
        keys.append(key)
    return _pair(keys, certs, path)


_SELF_TEST_DIGEST = hashlib.sha256(b"tanba: RSA key self-test").digest()


def _check_rsa(key: rsa.RSAPrivateKey, path: Path) -> None:
    """One signature, verified with the key's public half: a key whose private values do not
    fit its modulus and exponent is refused at unlock, not at its first signature.  (That
    the public half is the certificate's, :func:`_pair` checks.)"""
    algorithm = _PREHASHED[HashAlgorithm.SHA256]
    try:
        signature = key.sign(_SELF_TEST_DIGEST, _PKCS1, algorithm)
        key.public_key().verify(signature, _SELF_TEST_DIGEST, _PKCS1, algorithm)
    except (InvalidSignature, ValueError) as exc:
        raise StoreError(f"{path}: its RSA key is damaged (a signature made with it does not verify)") from exc


def _gost_point(cert: x509.Certificate) -> bytes | None:
    if key_family(cert) is None:
        return None
    try:
        return gost_public_key(cert).to_bytes()
    except InvalidParams:
        return None


def _pair(keys: Sequence[Any], certs: Sequence[x509.Certificate], path: Path) -> list[_Loaded]:
    """Each key with the certificate of its public key (keys without one are skipped)."""
    if not keys:
        raise StoreError(f"{path} holds no private key")
    loaded: list[_Loaded] = []
    for key in keys:
        leaf: x509.Certificate | None
        if isinstance(key, gost.PrivateKey):
            point = key.public_key.to_bytes()
            leaf = next((c for c in certs if _gost_point(c) == point), None)
        elif isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            public = key.public_key()
            leaf = next((c for c in certs if key_family(c) is None and _public_key(c) == public), None)
        else:
            raise StoreError(f"{path}: unsupported key type {type(key).__name__} (RSA, EC and GOST only)")
        if leaf is None:
            log.warning("%s: a private key has no certificate in the file; skipped", path)
            continue
        loaded.append(_Loaded(leaf, build_chain(leaf, certs), key))
    if not loaded:
        raise StoreError(f"{path} holds no certificate for its private key")
    return loaded


def _public_key(cert: x509.Certificate) -> Any:
    try:
        return cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return None


# --- the store --------------------------------------------------------------------------


@dataclass(eq=False)
class _Unlocked:
    path: Path
    keys: dict[str, tuple[Identity, PrivateKey]]
    alive: bool = True


@dataclass
class _FileState:
    failures: int = 0
    not_before: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Pkcs12Store(KeyStore):
    """PKCS#12 files offered as one storage (``PKCS12`` by default).

    ``clock`` (monotonic seconds) is injectable so the backoff can be tested without sleeping.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        storage: str = "PKCS12",
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage = storage
        self._paths = list(dict.fromkeys(Path(p).expanduser().absolute() for p in paths))
        self._clock = clock
        self._state = {p: _FileState() for p in self._paths}
        self._unlocked: dict[Path, _Unlocked] = {}
        #: users of an unlocked file (requests, unlock windows): see hold() / release()
        self._holders: dict[Path, int] = {}

    @property
    def paths(self) -> list[Path]:
        return list(self._paths)

    def _known(self, path: Path) -> Path:
        norm = Path(path).expanduser().absolute()
        if norm not in self._state:
            raise StoreError(f"{path} is not one of this store's PKCS#12 files")
        return norm

    # -- the KeyStore interface of locked parts (files) --------------------------------

    @property
    def description(self) -> str:
        return f"{self.storage} ({', '.join(str(p) for p in self._paths)})"

    def owns(self, identity: Identity) -> bool:
        try:
            self._path_of(identity)
        except (NoCertificate, StoreError):
            return False
        return True

    def locked(self) -> list[Locked]:
        return [Locked(str(p), p) for p in self.locked_files()]

    def part_of(self, identity: Identity) -> Locked:
        path = self._path_of(identity)
        return Locked(str(path), path)

    async def unlock(self, part: Locked, secret: bytearray) -> Lease:
        """Unlock the file (or, when another holder has it open, prove the password: this
        holder's user types it too) and hold it for the caller."""
        path = self._known(Path(str(part.ref)))
        if path in self._unlocked:
            await self.check_password(path, secret)
        if path not in self._unlocked:  # locked, or its holder closed it meanwhile
            await self.unlock_file(path, secret)
        self.hold(path)
        return _FileLease(self, path)

    def retry_after(self, part: Locked) -> float:
        """Seconds before the part takes a password; StoreError for a file that cannot be
        a PKCS#12 file (callers ask this before they ask the password)."""
        path = Path(str(part.ref))
        self.check_shape(path)
        return self.backoff_remaining(path)

    def check_shape(self, path: Path) -> None:
        """StoreError ``… is not a PKCS#12 file (why)`` when the file's first bytes show it
        is none (a PEM certificate, a document, a cut file): said before any password is
        asked, and cheap (a few bytes read, no parser)."""
        from tanba.providers.pkcs12_peek import shape_problem

        norm = self._known(path)
        problem = shape_problem(norm)
        if problem is not None:
            raise StoreError(f"{norm} is not a PKCS#12 file ({problem}); no password was asked")

    # -- files ----------------------------------------------------------------------

    def locked_files(self) -> list[Path]:
        """Configured files whose password has not been given (their certificates are unknown)."""
        return [p for p in self._paths if p not in self._unlocked]

    def backoff_remaining(self, path: Path) -> float:
        """Seconds before ``path`` accepts another password attempt (0 when it does now)."""
        state = self._state[self._known(path)]
        return max(0.0, state.not_before - self._clock())

    async def unlock_file(self, path: Path, password: bytearray) -> list[Identity]:
        """Check ``password`` and load the file's keys; returns its identities.

        The caller owns ``password`` (and zeroes it); it is turned into ``bytes`` only for
        the cryptography call and not kept.
        """
        norm = self._known(path)
        state = self._state[norm]
        async with state.lock:
            loaded = await self._load_checked(norm, state, password)
            self._drop(norm)
            keys: dict[str, tuple[Identity, PrivateKey]] = {}
            for item in loaded:
                ident = Identity(
                    id=identity_id(item.certificate),
                    storage=self.storage,
                    certificate=item.certificate,
                    chain=item.chain,
                    location=str(norm),
                    key_ref=(str(norm), identity_id(item.certificate)),
                )
                keys.setdefault(ident.id, (ident, item.key))
            self._unlocked[norm] = _Unlocked(norm, keys)
            log.info("unlocked %s: %d key(s)", norm, len(keys))
            return [ident for ident, _ in keys.values()]

    async def check_password(self, path: Path, password: bytearray) -> None:
        """Prove ``password`` opens ``path`` without touching its unlocked state.

        For a file another site's unlock window keeps open: this site's user still types
        the password.  Wrong passwords count towards the same backoff as :meth:`unlock_file`.
        """
        norm = self._known(path)
        state = self._state[norm]
        async with state.lock:
            await self._load_checked(norm, state, password)

    async def _load_checked(self, norm: Path, state: _FileState, password: bytearray) -> list[_Loaded]:
        self.check_shape(norm)
        wait = state.not_before - self._clock()
        if wait > 0:
            raise WrongPin(f"{norm}: wrong password given recently; not tried", retry_after=math.ceil(wait))
        try:
            data = await asyncio.to_thread(_read, norm)
            loaded = await asyncio.to_thread(_load, data, bytes(password), norm)
        except WrongPin as exc:
            state.failures += 1
            delay = backoff_delay(state.failures)
            state.not_before = self._clock() + delay
            if delay:
                exc.data["retryAfter"] = math.ceil(delay)
            log.info("wrong password for %s (%d in a row)", norm, state.failures)
            raise
        state.failures, state.not_before = 0, 0.0
        return loaded

    def hold(self, path: Path) -> None:
        """Keep an unlocked file open for one more user of it (a request, an unlock window)."""
        norm = self._known(path)
        if norm not in self._unlocked:
            raise StoreError(f"{norm} is locked")
        self._holders[norm] = self._holders.get(norm, 0) + 1

    def release(self, path: Path) -> None:
        """One user is done with the file; the last one locks it (its keys are forgotten)."""
        norm = self._known(path)
        left = self._holders.get(norm, 0) - 1
        if left > 0:
            self._holders[norm] = left
        else:
            self._drop(norm)

    def lock_file(self, path: Path) -> None:
        """Forget the file's keys; open signers on it stop working."""
        self._drop(self._known(path))

    def _drop(self, path: Path) -> None:
        self._holders.pop(path, None)
        unlocked = self._unlocked.pop(path, None)
        if unlocked is not None:
            unlocked.alive = False
            for _, key in unlocked.keys.values():
                if isinstance(key, gost.PrivateKey):
                    key.wipe()
            unlocked.keys.clear()

    async def identities(self) -> list[Identity]:
        seen: set[str] = set()
        out: list[Identity] = []
        for path in self._paths:
            unlocked = self._unlocked.get(path)
            for ident, _ in unlocked.keys.values() if unlocked else ():
                if ident.id not in seen:  # the same certificate in two files: list it once
                    seen.add(ident.id)
                    out.append(ident)
        return out

    def _path_of(self, identity: Identity) -> Path:
        ref = identity.key_ref
        if identity.storage != self.storage or not (isinstance(ref, tuple) and len(ref) == 2):
            raise NoCertificate(f"{identity.id} does not belong to storage {self.storage}")
        return self._known(Path(ref[0]))

    async def pin_status(self, identity: Identity) -> PinStatus:
        return PinStatus(needs_pin=self._path_of(identity) not in self._unlocked)

    async def open(self, identity: Identity, pin: bytearray | None, *, allow_final_try: bool = False) -> Signer:
        """A signer for ``identity``; unlocks its file with ``pin`` if needed.

        When this call did the unlock, closing the signer locks the file again (the unlock
        lasted for that batch); a file unlocked by :meth:`unlock_file` stays unlocked.
        """
        path = self._path_of(identity)
        owns = False
        if path not in self._unlocked:
            if pin is None:
                raise WrongPin(f"{path} needs its password")
            await self.unlock_file(path, pin)
            owns = True
        unlocked = self._unlocked[path]
        entry = unlocked.keys.get(identity.id)
        if entry is None:
            raise NoCertificate(f"{identity.id} is not in {path}")
        return Pkcs12Signer(entry[0], entry[1], unlocked, self if owns else None)

    async def close(self) -> None:
        for path in list(self._unlocked):
            self._drop(path)


class _FileLease(Lease):
    def __init__(self, store: Pkcs12Store, path: Path) -> None:
        self._store: Pkcs12Store | None = store
        self._path = path

    def release(self) -> None:
        if self._store is not None:
            self._store.release(self._path)
            self._store = None


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            data = fh.read(_MAX_FILE_SIZE + 1)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > _MAX_FILE_SIZE:
        raise StoreError(f"{path} is too large for a PKCS#12 file")
    return data


#: batches at least this long are signed in worker threads
PARALLEL_BATCH = 32
MAX_SIGNING_THREADS = 4
_CORES = os.cpu_count() or 1


class Pkcs12Signer(Signer):
    """A loaded PKCS#12 key.  Signing is a direct cryptography call (about 1 ms for RSA-2048),
    or Tanba's own GOST R 34.10 for national keys."""

    def __init__(self, identity: Identity, key: PrivateKey, unlocked: _Unlocked, owner: Pkcs12Store | None) -> None:
        self.identity = identity
        self._rsa_key = key if isinstance(key, rsa.RSAPrivateKey) else None
        self._ec_key = key if isinstance(key, ec.EllipticCurvePrivateKey) else None
        self._gost_key = key if isinstance(key, gost.PrivateKey) else None
        self._unlocked = unlocked
        self._owner = owner

    def _check(self, hash_alg: HashAlgorithm, scheme: SignatureScheme) -> int:
        """Refuse what cannot be signed; returns the digest size expected."""
        if not self._unlocked.alive or (self._rsa_key is None and self._ec_key is None and self._gost_key is None):
            raise StoreError(f"{self.identity.location} is locked; unlock it again to sign")
        if self._gost_key is not None:
            family = self._gost_key.family
            if scheme is not national_scheme(family):
                raise InvalidParams(f"a {family.name} key cannot sign with {scheme!r}")
            if hash_alg.value != family.hash:
                raise InvalidParams(f"a {family.name} key signs {family.hash} digests, not {hash_alg.value}")
            return hash_alg.digest_size
        if hash_alg not in _HASHES:
            raise InvalidParams(f"unsupported digest algorithm {hash_alg!r}")
        size = hash_alg.digest_size
        if self._rsa_key is not None:
            if scheme != SignatureScheme.RSA_PKCS1V15 and scheme != SignatureScheme.RSA_PSS:
                raise InvalidParams(f"an RSA key cannot sign with {scheme!r}")
        elif scheme != SignatureScheme.ECDSA:
            raise InvalidParams(f"an EC key cannot sign with {scheme!r}")
        return size

    def _sign(self, digest: bytes, hash_alg: HashAlgorithm, scheme: SignatureScheme) -> bytes:
        try:
            if self._gost_key is not None:
                return self._gost_key.sign(digest)
            if self._rsa_key is not None:
                pad = _PKCS1 if scheme == SignatureScheme.RSA_PKCS1V15 else _PSS[hash_alg]
                return self._rsa_key.sign(digest, pad, _PREHASHED[hash_alg])
            if self._ec_key is None:
                raise StoreError(f"{self.identity.location} is locked; unlock it again to sign")
            return self._ec_key.sign(digest, _ECDSA[hash_alg])
        except UnsupportedKey as exc:  # the key was wiped: its file was locked meanwhile
            raise StoreError(f"{self.identity.location} is locked; unlock it again to sign") from exc
        except ValueError as exc:  # e.g. PSS with a hash too large for a small key
            raise InvalidParams(f"cannot sign: {exc}") from exc

    async def sign_digest(self, digest: bytes, hash_alg: HashAlgorithm, scheme: SignatureScheme) -> bytes:
        size = self._check(hash_alg, scheme)
        if len(digest) != size:
            raise InvalidParams(f"a {hash_alg} digest is {size} bytes, got {len(digest)}")
        if self._gost_key is not None:  # Python arithmetic (and, once, the curve's table): off the loop
            return await asyncio.to_thread(self._sign, digest, hash_alg, scheme)
        return self._sign(digest, hash_alg, scheme)

    async def sign_digests(
        self, digests: Sequence[bytes], hash_alg: HashAlgorithm, scheme: SignatureScheme
    ) -> list[bytes]:
        size = self._check(hash_alg, scheme)
        if any(len(d) != size for d in digests):
            raise InvalidParams(f"every {hash_alg} digest must be {size} bytes")
        sign = self._sign

        def sign_all(chunk: Sequence[bytes]) -> list[bytes]:
            return [sign(d, hash_alg, scheme) for d in chunk]

        # GOST signatures are Python arithmetic (0.25-1 ms each, and the curve's comb table
        # on first use): every batch goes to a thread, so the event loop keeps answering.
        threshold = PARALLEL_BATCH if self._gost_key is None else 1
        if len(digests) < threshold:
            return sign_all(digests)
        # A big batch would hold the event loop for a quarter second per thousand RSA
        # signatures.  cryptography releases the GIL while signing, so the batch is split
        # over worker threads: off the loop, and on every core.
        workers = min(_CORES, MAX_SIGNING_THREADS) if self._gost_key is None else 1
        step = -(-len(digests) // workers)
        parts = await asyncio.gather(
            *(asyncio.to_thread(sign_all, digests[i : i + step]) for i in range(0, len(digests), step))
        )
        return [signature for part in parts for signature in part]

    async def close(self) -> None:
        self._rsa_key = self._ec_key = None
        self._gost_key = None
        owner, self._owner = self._owner, None
        if owner is not None and owner._unlocked.get(self._unlocked.path) is self._unlocked:
            owner.lock_file(self._unlocked.path)
