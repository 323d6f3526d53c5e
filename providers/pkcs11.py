"""Keys on PKCS#11 tokens (smart cards, USB tokens, SoftHSM).

* Tokens are chosen by label or serial, never by slot number (slot ids move when readers
  come and go).  Without a filter, every token of the module is listed.
* Certificates are public objects: they are listed without logging in.  A certificate with
  a CKA_ID is offered as an identity (CA certificates, by BasicConstraints, are not: they
  only feed chains); its private key is found at ``open`` by the
  same CKA_ID.  The chain is made of the other certificates on the token that issue it.
* Identity ids: ``p11:<token serial>:<hex CKA_ID>``, stable across restarts and slots.
  Should two certificates share a CKA_ID on one token, both ids get ``:<first 16 hex of
  the SHA-256 fingerprint>`` appended.
* PINs: the token flags decide (see :func:`pin_status_from_flags`, :func:`check_login`).
  When the next wrong PIN would lock the token (``CKF_USER_PIN_FINAL_TRY``), ``open``
  refuses without ``allow_final_try`` and raises ``WrongPin(retries_left=1)`` *without*
  sending the PIN: the caller shows the final-try warning and asks again.  A wrong PIN is
  never retried; ``retriesLeft`` comes from the flags read after the failure (1 on final
  try, else unknown).  Pinpad readers (``CKF_PROTECTED_AUTHENTICATION_PATH``) log in with
  no PIN: the user types it on the reader.
* PKCS#11 login state is per token for the whole process, so the module's worker keeps one
  logged-in session per token, shared by the signers opened on it.  Opening a second signer
  while the token is unlocked checks the PIN against an HMAC of the one that unlocked it
  (a mismatch is ``wrong_pin`` and costs no token try); the last signer closed logs out.
* GOST keys (CKK_GOSTR3410, and the TC26 vendor type CKK_GOSTR3410_512) are paired with their
  certificates like RSA and EC keys.  They sign a digest Tanba computes: ``CKM_GOSTR3410``
  for 256-bit keys, the TC26 vendor ``CKM_GOSTR3410_512`` for 512-bit ones.  The token
  returns the signature in PKCS#11's layout (s || r, each big-endian: what SoftHSM, through
  the gost engine, writes); :func:`_gost_signature` turns it into the key family's byte
  order.  The vendor numbers cross python-pkcs11's closed enums in one place ("the
  python-pkcs11 boundary" below).
* bign keys (STB 34.101.45) have no public PKCS#11 numbers: each vendor defines its own
  mechanism and key type.  With a :class:`~tanba.providers.registry.BignPkcs11` (the
  ``[bign-pkcs11]`` config table) a bign-256 certificate's private key is found by that key
  type and signs the 32-byte belt-hash digest with that mechanism; the 48-byte S0 || S1 is
  returned as the token gives it.  Without it bign identities are still listed, and opening
  one is a StoreError naming the config keys (no PIN is sent).
* python-pkcs11 takes the PIN as ``str``: the PIN is decoded for the ``C_Login`` call and
  that immutable copy cannot be wiped (the caller's bytearray can, and is theirs to zero).

Every module call runs on the module's :class:`ModuleWorker` thread.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11e
from pkcs11.attributes import AttributeMapper, handle_ulong

from tanba.crypto.gost import ByteOrder, Family, Kind
from tanba.protocol.errors import (
    InvalidParams,
    NoCertificate,
    PinLocked,
    StoreError,
    TanbaError,
    TokenRemoved,
    WrongPin,
)
from tanba.providers.base import (
    HashAlgorithm,
    Identity,
    KeyStore,
    PinStatus,
    SignatureScheme,
    Signer,
)
from tanba.providers.chain import build_chain
from tanba.providers.keyalg import key_family
from tanba.providers.pkcs11_worker import ModuleWorker, acquire_worker
from tanba.providers.registry import BignPkcs11

log = logging.getLogger(__name__)

#: DER DigestInfo prefixes (AlgorithmIdentifier with NULL parameters + OCTET STRING header).
DIGEST_INFO_PREFIX: dict[HashAlgorithm, bytes] = {
    HashAlgorithm.SHA256: bytes.fromhex("3031300d060960864801650304020105000420"),
    HashAlgorithm.SHA384: bytes.fromhex("3041300d060960864801650304020205000430"),
    HashAlgorithm.SHA512: bytes.fromhex("3051300d060960864801650304020305000440"),
}
_PSS_PARAMS: dict[HashAlgorithm, tuple[Mechanism, pkcs11.MGF, int]] = {
    HashAlgorithm.SHA256: (Mechanism.SHA256, pkcs11.MGF.SHA256, 32),
    HashAlgorithm.SHA384: (Mechanism.SHA384, pkcs11.MGF.SHA384, 48),
    HashAlgorithm.SHA512: (Mechanism.SHA512, pkcs11.MGF.SHA512, 64),
}

#: Return codes that mean the token (or the session on it) is gone.
_REMOVED = (
    p11e.DeviceRemoved,
    p11e.TokenNotPresent,
    p11e.TokenNotRecognised,
    p11e.SessionHandleInvalid,
    p11e.SessionClosed,
    p11e.DeviceError,
    p11e.SlotIDInvalid,
    p11e.NoSuchToken,
)
#: Codes a vanished token may also produce; the token's presence decides.
_MAYBE_REMOVED = (
    p11e.ObjectHandleInvalid,
    p11e.KeyHandleInvalid,
    p11e.GeneralError,
    p11e.FunctionFailed,
    p11e.UserNotLoggedIn,
)


# -- the python-pkcs11 boundary: vendor key types and mechanisms ----------------------
#
# python-pkcs11 0.10.1 takes a mechanism only as a member of its ``Mechanism`` enum
# (``MechanismWithParam`` checks ``isinstance``) and decodes CKA_KEY_TYPE with
# ``KeyType(value)``, which raises ValueError on a vendor key type -- also inside
# ``key.sign``, which reads the key's type first.  Upstream PR #217 (raw mechanism numbers)
# is not merged.  So, here and nowhere else:
#
# * the TC26 vendor numbers (and the bign numbers an administrator configures, see
#   :class:`BignNumbers`) become pseudo-members of those enums, made the way ``enum``
#   itself makes pseudo-members of ``Flag`` values (``int.__new__`` plus ``_name_`` and
#   ``_value_``): they pass python-pkcs11's ``isinstance`` checks, its C layer copies their
#   integer value into CK_MECHANISM / the attribute template, and the enums themselves are
#   not touched (nothing in python-pkcs11 is patched);
# * logged-in sessions are opened with an ``AttributeMapper`` (python-pkcs11's public hook
#   for attribute decoding, a ``Token.open`` argument) whose CKA_KEY_TYPE decoder returns
#   those pseudo-members, and plain ints for key types nobody here knows, instead of raising.
#
# Should python-pkcs11 learn the numbers (or take raw ints), only this section changes.

#: TC26 vendor range (DESIGN.md, "National algorithms")
CKK_GOSTR3410_512 = 0xD4321003
CKM_GOSTR3410_512 = 0xD4321006


def _pseudo_member(enum_type: Any, value: int, name: str) -> Any:
    member = int.__new__(enum_type, value)
    member._name_ = name
    member._value_ = value
    return member


KEY_GOSTR3410_512: KeyType = _pseudo_member(KeyType, CKK_GOSTR3410_512, "GOSTR3410_512")
MECHANISM_GOSTR3410_512: Mechanism = _pseudo_member(Mechanism, CKM_GOSTR3410_512, "GOSTR3410_512")
_VENDOR_KEY_TYPES: dict[int, KeyType] = {CKK_GOSTR3410_512: KEY_GOSTR3410_512}


@dataclass(frozen=True)
class BignNumbers:
    """A configured :class:`BignPkcs11` as python-pkcs11 takes it: pseudo-members of its
    enums, made per store (nothing global changes, two modules may use different numbers)."""

    mechanism: Mechanism
    key_type: KeyType

    @classmethod
    def of(cls, config: BignPkcs11) -> BignNumbers:
        return cls(
            _pseudo_member(Mechanism, config.mechanism, f"VENDOR_BIGN_{config.mechanism:#010x}"),
            _pseudo_member(KeyType, config.key_type, f"VENDOR_BIGN_{config.key_type:#010x}"),
        )


def _unpack_key_type(raw: bytes, extra: dict[int, KeyType] | None = None) -> KeyType | int:
    value = int(handle_ulong[1](raw))
    if value in _VENDOR_KEY_TYPES:
        return _VENDOR_KEY_TYPES[value]
    if extra and value in extra:
        return extra[value]
    try:
        return KeyType(value)
    except ValueError:
        return value  # another vendor's key type: never equal to one Tanba looks for


class VendorAttributeMapper(AttributeMapper):
    """python-pkcs11's attribute mapper, decoding vendor key types instead of raising;
    ``extra`` adds configured ones (the bign key type)."""

    def __init__(self, extra: Sequence[KeyType] = ()) -> None:
        super().__init__()
        known = {int(k): k for k in extra}
        self.register_handler(Attribute.KEY_TYPE, lambda v: handle_ulong[0](int(v)),
                              lambda raw: _unpack_key_type(raw, known))


class VendorTypesToken:
    """A python-pkcs11 Token whose sessions open with :class:`VendorAttributeMapper`
    (what :func:`login` needs of a token, nothing more)."""

    def __init__(self, token: Any, extra: Sequence[KeyType] = ()) -> None:
        self._token = token
        self._extra = tuple(extra)

    @property
    def flags(self) -> int:
        return int(self._token.flags)

    @property
    def slot(self) -> Any:
        return self._token.slot

    def open(self, **kwargs: Any) -> Any:
        return self._token.open(attribute_mapper=VendorAttributeMapper(self._extra), **kwargs)


#: key type and signing mechanism per GOST key size (bytes per coordinate)
_GOST_KEY_TYPES: dict[int, KeyType] = {32: KeyType.GOSTR3410, 64: KEY_GOSTR3410_512}
_GOST_MECHANISMS: dict[int, Mechanism] = {32: Mechanism.GOSTR3410, 64: MECHANISM_GOSTR3410_512}


def _gost_signature(raw: bytes, family: Family) -> bytes:
    """A GOST signature as the token returns it (PKCS#11: s || r, each big-endian) in the
    byte order of the key's family: the one place token signatures are reordered."""
    n = family.size
    if len(raw) != 2 * n:
        raise StoreError(f"the token returned a {len(raw)}-byte GOST signature, not {2 * n}")
    if family.order is ByteOrder.RFC:
        return raw
    s, r = raw[:n], raw[n:]
    return r[::-1] + s[::-1]  # NCA: r || s, each little-endian


#: the bign family the configured mechanism signs: bign-256 with belt-hash (bign-with-hbelt)
_BIGN_TOKEN_FAMILY = "BIGN-256"

_BIGN_UNCONFIGURED = (
    "bign keys on PKCS#11 tokens sign with the module's vendor-defined bign mechanism, which "
    "Tanba does not guess: set mechanism and key-type in the [bign-pkcs11] table of the config "
    "file to the numbers in the token vendor's PKCS#11 documentation"
)


def _bign_signature(raw: bytes, family: Family) -> bytes:
    """A bign signature as the token returns it.

    Assumption (no vendor documentation is public): the token returns S0 || S1 exactly as
    STB 34.101.45 writes the signature (little-endian octet strings, 16 + 32 bytes for
    bign-256), so it is returned as is -- unlike GOST, PKCS#11 defines no layout of its own
    for bign.  Only the length is checked.
    """
    if len(raw) != family.signature_size:
        raise StoreError(
            f"the token returned a {len(raw)}-byte bign signature, not {family.signature_size}"
        )
    return raw


# -- token flags: the seam the PIN logic is tested at ---------------------------------


def pin_status_from_flags(flags: int) -> PinStatus:
    """What the PIN dialog needs, from ``CK_TOKEN_INFO.flags``.

    PKCS#11 does not give retry counts: ``CKF_USER_PIN_COUNT_LOW`` means "low, number
    unknown" (``retries_left`` None), ``CKF_USER_PIN_FINAL_TRY`` means exactly one.
    """
    pinpad = bool(flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH)
    locked = bool(flags & TokenFlag.USER_PIN_LOCKED)
    final_try = bool(flags & TokenFlag.USER_PIN_FINAL_TRY) and not locked
    return PinStatus(
        needs_pin=bool(flags & TokenFlag.LOGIN_REQUIRED) and not pinpad,
        pinpad=pinpad,
        retries_left=0 if locked else (1 if final_try else None),
        final_try=final_try,
        locked=locked,
    )


def check_login(flags: int, *, allow_final_try: bool) -> None:
    """Refuse a login the flags say must not be tried (nothing is sent to the token)."""
    if flags & TokenFlag.USER_PIN_LOCKED:
        raise PinLocked("the token's user PIN is locked")
    if flags & TokenFlag.USER_PIN_FINAL_TRY and not allow_final_try:
        raise WrongPin("final PIN try: not spent without the user's explicit consent", 1)


def wrong_pin_error(flags_after: int | None) -> TanbaError:
    """The error for a rejected PIN, from the flags read after the failure."""
    if flags_after is not None and flags_after & TokenFlag.USER_PIN_LOCKED:
        return PinLocked("wrong PIN; the token locked its user PIN")
    final = flags_after is not None and bool(flags_after & TokenFlag.USER_PIN_FINAL_TRY)
    return WrongPin("the token rejected the PIN", 1 if final else None)


def login(token: Any, pin: str | None, *, allow_final_try: bool) -> Any:
    """Open a session on ``token`` and log the user in, once; returns the session.

    ``token`` is a python-pkcs11 Token (``flags``, ``open``, ``slot.get_token()``).
    """
    flags = int(token.flags)
    check_login(flags, allow_final_try=allow_final_try)
    if flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH:
        user_pin: object = pkcs11.PROTECTED_AUTH
    elif not flags & TokenFlag.LOGIN_REQUIRED:
        return token.open()
    elif pin is None:
        raise InvalidParams("this token needs a PIN")
    else:
        user_pin = pin
    try:
        return token.open(user_pin=user_pin)
    except (p11e.PinIncorrect, p11e.PinInvalid, p11e.PinLenRange) as exc:
        try:
            flags_after: int | None = int(token.slot.get_token().flags)
        except pkcs11.PKCS11Error:
            flags_after = None
        raise wrong_pin_error(flags_after) from exc
    except p11e.PinLocked as exc:
        raise PinLocked("the token's user PIN is locked") from exc


# -- logged-in sessions, shared per token by every signer of the module ----------------


@dataclass(eq=False)
class _Login:
    serial: bytes
    session: Any
    generation: int
    pin_mac_key: bytes
    pin_mac: bytes | None
    refs: int = 0
    keys: dict[bytes, Any] = field(default_factory=dict)


def _logins(worker: ModuleWorker) -> dict[bytes, _Login]:
    # Only ever touched on the worker thread.
    table: dict[bytes, _Login] = worker.state.setdefault("logins", {})
    return table


def _pin_mac(key: bytes, pin: str | None) -> bytes | None:
    return None if pin is None else hmac.new(key, pin.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class _KeyRef:
    serial: bytes
    cka_id: bytes


class Pkcs11Store(KeyStore):
    """The identities on one PKCS#11 module's tokens (optionally one token)."""

    def __init__(
        self,
        module: Path,
        storage: str,
        *,
        token_label: str | None = None,
        token_serial: str | None = None,
        bign: BignPkcs11 | None = None,
    ) -> None:
        self.module = Path(module)
        self.storage = storage
        self.token_label = token_label
        self.token_serial = token_serial
        #: the module's bign numbers (config ``[bign-pkcs11]``); None: bign keys cannot sign
        self.bign: BignNumbers | None = None if bign is None else BignNumbers.of(bign)
        self._worker: ModuleWorker | None = acquire_worker(self.module)

    @property
    def worker(self) -> ModuleWorker:
        if self._worker is None:
            raise StoreError(f"PKCS#11 store for {self.module} is closed")
        return self._worker

    async def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(lib, *args)`` on the module thread, PKCS#11 errors translated."""
        worker = self.worker
        try:
            return await worker.run(_translated, fn, args)
        except TokenRemoved:
            worker.mark_stale()
            raise

    # -- listing ---------------------------------------------------------------------

    async def identities(self) -> list[Identity]:
        tokens: list[tuple[str, bytes, list[tuple[bytes, bytes]]]] = await self.call(
            _list_certificates, self.worker, self.token_label, self.token_serial
        )
        found: list[Identity] = []
        for label, serial, objects in tokens:
            found.extend(self._token_identities(label, serial, objects))
        return found

    def _token_identities(
        self, label: str, serial: bytes, objects: list[tuple[bytes, bytes]]
    ) -> list[Identity]:
        certs: list[tuple[bytes, x509.Certificate]] = []
        seen: set[tuple[bytes, bytes]] = set()
        for cka_id, der in objects:
            if (cka_id, der) in seen:
                continue
            seen.add((cka_id, der))
            try:
                certs.append((cka_id, x509.load_der_x509_certificate(der)))
            except ValueError:
                log.warning("unreadable certificate on token %r (CKA_ID %s)", label, cka_id.hex())
        leaves = [(i, c) for i, c in certs if i and not _is_ca(c)]
        id_counts: dict[bytes, int] = {}
        for cka_id, _ in leaves:
            id_counts[cka_id] = id_counts.get(cka_id, 0) + 1
        serial_text = serial.decode("ascii", "replace").strip() or label
        result = []
        for cka_id, cert in leaves:
            ident = f"p11:{serial_text}:{cka_id.hex()}"
            if id_counts[cka_id] > 1:
                ident += ":" + cert.fingerprint(hashes.SHA256()).hex()[:16]
            result.append(
                Identity(
                    id=ident,
                    storage=self.storage,
                    certificate=cert,
                    chain=build_chain(cert, [c for _, c in certs]),
                    location=f"{label} ({serial_text})",
                    key_ref=_KeyRef(serial, cka_id),
                )
            )
        return result

    # -- PIN and signing -------------------------------------------------------------

    @property
    def description(self) -> str:
        return f"{self.storage} ({self.module})"

    def owns(self, identity: Identity) -> bool:
        return identity.storage == self.storage and isinstance(identity.key_ref, _KeyRef)

    def _ref(self, identity: Identity) -> _KeyRef:
        if not isinstance(identity.key_ref, _KeyRef) or identity.storage != self.storage:
            raise NoCertificate(f"{identity.id} does not belong to {self.module}")
        return identity.key_ref

    async def pin_status(self, identity: Identity) -> PinStatus:
        ref = self._ref(identity)
        flags: int = await self.call(_token_flags, ref.serial)
        return pin_status_from_flags(flags)

    async def open(
        self, identity: Identity, pin: bytearray | None, *, allow_final_try: bool = False
    ) -> Signer:
        ref = self._ref(identity)
        try:
            pin_text = None if pin is None else bytes(pin).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WrongPin("the PIN is not valid UTF-8") from exc
        key_type = _key_type(identity.certificate, self.bign)  # before any PIN is sent
        extra = () if self.bign is None else (self.bign.key_type,)
        entry: _Login = await self.call(
            _open_key, self.worker, ref, pin_text, allow_final_try, key_type, extra
        )
        del pin_text
        return Pkcs11Signer(self, identity, entry, ref.cka_id)

    async def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.release()


class Pkcs11Signer(Signer):
    """A private key on a logged-in token; every signature is one hop to the worker."""

    def __init__(self, store: Pkcs11Store, identity: Identity, entry: _Login, cka_id: bytes):
        self.identity = identity
        self._store = store
        self._entry: _Login | None = entry
        self._cka_id = cka_id
        self._family = key_family(identity.certificate)
        self._is_ec = self._family is None and _key_type(identity.certificate) == pkcs11.KeyType.EC

    async def sign_digest(
        self, digest: bytes, hash_alg: HashAlgorithm, scheme: SignatureScheme
    ) -> bytes:
        return (await self.sign_digests([digest], hash_alg, scheme))[0]

    async def sign_digests(
        self, digests: Sequence[bytes], hash_alg: HashAlgorithm, scheme: SignatureScheme
    ) -> list[bytes]:
        if self._entry is None:
            raise StoreError("this signer is closed")
        for digest in digests:
            if len(digest) != hash_alg.digest_size:
                raise InvalidParams(f"a {hash_alg} digest is {hash_alg.digest_size} bytes")
        family = self._family
        if family is not None:
            if family.kind is Kind.BIGN:
                return await self._sign_bign(family, digests, hash_alg, scheme)
            if scheme is not SignatureScheme.GOST3410:
                raise InvalidParams(f"a {family.name} key cannot sign with {scheme}")
            if hash_alg.value != family.hash:
                raise InvalidParams(f"a {family.name} key signs {family.hash} digests, not {hash_alg.value}")
            # The token takes the digest as the hash wrote it (and reads it little-endian,
            # as both byte orders do): only the signature needs reordering.
            signatures: list[bytes] = await self._store.call(
                _sign, self._store.worker, self._entry, self._cka_id, list(digests),
                _GOST_MECHANISMS[family.size], None,
            )
            return [_gost_signature(sig, family) for sig in signatures]
        if scheme.national or (scheme is SignatureScheme.ECDSA) != self._is_ec:
            raise InvalidParams(f"{scheme} does not fit this key")
        param: Any = None
        if scheme is SignatureScheme.RSA_PKCS1V15:
            mechanism, payloads = Mechanism.RSA_PKCS, [DIGEST_INFO_PREFIX[hash_alg] + d for d in digests]
        elif scheme is SignatureScheme.RSA_PSS:
            mechanism, payloads, param = Mechanism.RSA_PKCS_PSS, list(digests), _PSS_PARAMS[hash_alg]
        else:
            mechanism, payloads = Mechanism.ECDSA, list(digests)
        raw: list[bytes] = await self._store.call(
            _sign, self._store.worker, self._entry, self._cka_id, payloads, mechanism, param
        )
        if scheme is SignatureScheme.ECDSA:
            return [_ecdsa_der(sig) for sig in raw]
        return raw

    async def _sign_bign(
        self, family: Family, digests: Sequence[bytes], hash_alg: HashAlgorithm, scheme: SignatureScheme
    ) -> list[bytes]:
        assert self._entry is not None
        if scheme is not SignatureScheme.BIGN:
            raise InvalidParams(f"a {family.name} key cannot sign with {scheme}")
        if hash_alg is not HashAlgorithm.BELT_HASH:
            raise InvalidParams(f"a {family.name} key on a token signs belt-hash digests, not {hash_alg.value}")
        numbers = self._store.bign
        if numbers is None:
            raise StoreError(_BIGN_UNCONFIGURED)
        # The mechanism takes the 32-byte belt-hash value as the hash wrote it (STB 34.101.45's
        # H, the input of bign-with-hbelt).
        signatures: list[bytes] = await self._store.call(
            _sign, self._store.worker, self._entry, self._cka_id, list(digests), numbers.mechanism, None,
        )
        return [_bign_signature(sig, family) for sig in signatures]

    async def close(self) -> None:
        entry, self._entry = self._entry, None
        if entry is None or self._store._worker is None:
            return
        try:
            await self._store.call(_release_login, self._store.worker, entry)
        except TanbaError:
            log.info("closing the token session failed (token gone?)", exc_info=True)


# -- jobs: run on the worker thread ---------------------------------------------------


def _translated(lib: Any, fn: Any, args: tuple[Any, ...]) -> Any:
    try:
        return fn(lib, *args)
    except TanbaError:
        raise
    except _REMOVED as exc:
        raise TokenRemoved("the token was removed") from exc
    except pkcs11.PKCS11Error as exc:
        serial = next((a.serial for a in args if isinstance(a, (_KeyRef, _Login))), None)
        if isinstance(exc, _MAYBE_REMOVED) and serial is not None and not _present(lib, serial):
            raise TokenRemoved("the token was removed") from exc
        raise StoreError(f"PKCS#11 error: {type(exc).__name__}") from exc
    except Exception as exc:  # python-pkcs11 also raises plain Python errors
        raise StoreError(f"PKCS#11 module call failed: {exc!r}") from exc


def _present(lib: Any, serial: bytes) -> bool:
    try:
        _find_token(lib, serial)
    except (pkcs11.PKCS11Error, TokenRemoved):
        return False
    return True


def _find_token(lib: Any, serial: bytes) -> Any:
    for slot in lib.get_slots(token_present=True):
        try:
            token = slot.get_token()
        except pkcs11.PKCS11Error:  # a token whose info cannot be read is not usable
            continue
        if token.serial == serial:
            return token
    raise TokenRemoved("the token is not present")


def _list_certificates(
    lib: Any, worker: ModuleWorker, label: str | None, serial: str | None
) -> list[tuple[str, bytes, list[tuple[bytes, bytes]]]]:
    result = []
    for slot in lib.get_slots(token_present=True):
        try:
            token = slot.get_token()
        except pkcs11.PKCS11Error:
            # A token that vanished under the module; SoftHSM needs a re-initialisation
            # to forget it, real readers do no harm with one.
            log.info("token in slot %s unreadable: skipped", slot.slot_id, exc_info=True)
            worker.mark_stale()
            continue
        if not token.flags & TokenFlag.TOKEN_INITIALIZED:
            continue  # an empty slot of SoftHSM, a blank card
        if label is not None and token.label != label:
            continue
        if serial is not None and token.serial.decode("ascii", "replace").strip() != serial:
            continue
        try:
            objects = _token_certificates(token)
        except _REMOVED:
            log.info("token %r went away while listing: skipped", token.label, exc_info=True)
            continue
        result.append((token.label, token.serial, objects))
    return result


def _token_certificates(token: Any) -> list[tuple[bytes, bytes]]:
    objects: list[tuple[bytes, bytes]] = []
    with token.open() as session:  # no login: certificates are public objects
        for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
            try:
                if int(obj[Attribute.CERTIFICATE_TYPE]) != pkcs11.CertificateType.X_509:
                    continue
                cka_id = bytes(obj[Attribute.ID] or b"")
                objects.append((cka_id, bytes(obj[Attribute.VALUE])))
            except (p11e.AttributeTypeInvalid, p11e.AttributeSensitive):
                continue
    return objects


def _token_flags(lib: Any, serial: bytes) -> int:
    return int(_find_token(lib, serial).flags)


def _open_key(
    lib: Any,
    worker: ModuleWorker,
    ref: _KeyRef,
    pin: str | None,
    allow_final_try: bool,
    key_type: pkcs11.KeyType,
    extra_key_types: Sequence[KeyType] = (),
) -> _Login:
    table = _logins(worker)
    entry = table.get(ref.serial)
    if entry is not None and entry.generation != worker.generation:
        del table[ref.serial]  # the module was re-initialised: that session is gone
        entry = None
    if entry is None:
        token = _find_token(lib, ref.serial)
        session = login(VendorTypesToken(token, extra_key_types), pin, allow_final_try=allow_final_try)
        key = os.urandom(32)
        entry = _Login(ref.serial, session, worker.generation, key, _pin_mac(key, pin))
        table[ref.serial] = entry
    elif entry.pin_mac is not None and (
        pin is None or not hmac.compare_digest(entry.pin_mac, _pin_mac(entry.pin_mac_key, pin) or b"")
    ):
        raise WrongPin("the PIN differs from the one that unlocked this token")
    if ref.cka_id not in entry.keys:
        keys = list(
            entry.session.get_objects(
                {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: ref.cka_id}
            )
        )
        keys = [k for k in keys if k.key_type == key_type]
        if not keys:
            if entry.refs == 0:
                _drop_login(worker, entry)
            raise NoCertificate(f"no private key with CKA_ID {ref.cka_id.hex()} on the token")
        entry.keys[ref.cka_id] = keys[0]
    entry.refs += 1
    return entry


def _sign(
    lib: Any,
    worker: ModuleWorker,
    entry: _Login,
    cka_id: bytes,
    payloads: list[bytes],
    mechanism: Mechanism,
    param: Any,
) -> list[bytes]:
    if entry.generation != worker.generation:
        raise TokenRemoved("the token was removed (module re-initialised since login)")
    key = entry.keys[cka_id]
    return [bytes(key.sign(p, mechanism=mechanism, mechanism_param=param)) for p in payloads]


def _release_login(lib: Any, worker: ModuleWorker, entry: _Login) -> None:
    entry.refs -= 1
    if entry.refs <= 0:
        _drop_login(worker, entry)


def _drop_login(worker: ModuleWorker, entry: _Login) -> None:
    table = _logins(worker)
    if table.get(entry.serial) is entry:
        del table[entry.serial]
    entry.keys.clear()
    if entry.generation == worker.generation:
        entry.session.close()  # C_Logout + C_CloseSession


# -- certificates ---------------------------------------------------------------------


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _key_type(cert: x509.Certificate, bign: BignNumbers | None = None) -> pkcs11.KeyType:
    family = key_family(cert)
    if family is not None and family.kind is Kind.BIGN:
        if bign is None:
            raise StoreError(_BIGN_UNCONFIGURED)
        if family.name != _BIGN_TOKEN_FAMILY:
            raise StoreError(f"the configured bign mechanism signs belt-hash digests with "
                             f"{_BIGN_TOKEN_FAMILY} keys, not {family.name} keys")
        return bign.key_type
    if family is not None:
        return _GOST_KEY_TYPES[family.size]
    public = cert.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return pkcs11.KeyType.RSA
    if isinstance(public, ec.EllipticCurvePublicKey):
        return pkcs11.KeyType.EC
    raise NoCertificate(f"unsupported key type {type(public).__name__}")


def _ecdsa_der(raw: bytes) -> bytes:
    half = len(raw) // 2
    return encode_dss_signature(
        int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
    )
