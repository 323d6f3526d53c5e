"""Pkcs11Store against a real SoftHSM token (a private copy per test).

The only fakes here stand in for token states SoftHSM cannot show: SoftHSM 2.6 never sets
CKF_USER_PIN_FINAL_TRY / CKF_USER_PIN_LOCKED (it only raises CKF_USER_PIN_COUNT_LOW after a
wrong PIN and never locks), and it has no protected authentication path (no pinpad reader
exists here).  Those tests drive the token-flags seam (`login`, `pin_status_from_flags`)
with a clearly labelled fake token object.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pkcs11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

import tanba.providers.pkcs11 as p11store
from tanba.agent.setup.testpki import Manifest
from tanba.protocol.errors import (
    InvalidParams,
    NoCertificate,
    PinLocked,
    StoreError,
    TokenRemoved,
    WrongPin,
)
from tanba.providers.base import HashAlgorithm, Identity, SignatureScheme
from tanba.providers.pkcs11 import Pkcs11Store, login, pin_status_from_flags

pytestmark = pytest.mark.softhsm

HASHES = {
    HashAlgorithm.SHA256: hashes.SHA256(),
    HashAlgorithm.SHA384: hashes.SHA384(),
    HashAlgorithm.SHA512: hashes.SHA512(),
}
MESSAGE = b"Tanba PKCS#11 test message"


@pytest.fixture
async def store(softhsm: Any) -> AsyncIterator[Pkcs11Store]:
    s = Pkcs11Store(Path(softhsm.module), "AKKaztokenStore", token_label=softhsm.label)
    try:
        yield s
    finally:
        await s.close()


async def by_name(store: Pkcs11Store, pki: Manifest, name: str) -> Identity:
    cka_id = pki.identities[name].cka_id_hex
    assert cka_id
    (found,) = [i for i in await store.identities() if i.id.endswith(":" + cka_id)]
    return found


def verify(cert: x509.Certificate, sig: bytes, message: bytes, h: HashAlgorithm,
           scheme: SignatureScheme) -> None:
    key = cert.public_key()
    if scheme is SignatureScheme.ECDSA:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(sig, message, ec.ECDSA(HASHES[h]))
    elif scheme is SignatureScheme.RSA_PSS:
        assert isinstance(key, rsa.RSAPublicKey)
        pss = padding.PSS(mgf=padding.MGF1(HASHES[h]), salt_length=h.digest_size)
        key.verify(sig, message, pss, HASHES[h])
    else:
        assert isinstance(key, rsa.RSAPublicKey)
        key.verify(sig, message, padding.PKCS1v15(), HASHES[h])


def digest(h: HashAlgorithm, message: bytes = MESSAGE) -> bytes:
    return hashlib.new(h.value, message).digest()


# -- listing ---------------------------------------------------------------------------


async def test_lists_token_certificates_without_a_pin(
    store: Pkcs11Store, pki: Manifest, softhsm: Any
) -> None:
    identities = await store.identities()
    on_token = {n: i for n, i in pki.identities.items() if i.cka_id_hex}
    assert len(identities) == len(on_token) == 4
    serial = identities[0].id.split(":")[1]
    for name, ti in on_token.items():
        (ident,) = [i for i in identities if i.id == f"p11:{serial}:{ti.cka_id_hex}"]
        assert ident.certificate == ti.certificate()
        assert ident.storage == "AKKaztokenStore"
        assert ident.location == f"{softhsm.label} ({serial})"
    # Ids are stable: a second store over the same token gives the same ids.
    again = Pkcs11Store(Path(softhsm.module), "AKKaztokenStore")
    try:
        assert sorted(i.id for i in await again.identities()) == sorted(i.id for i in identities)
    finally:
        await again.close()


async def test_ca_certificate_on_token_feeds_the_chain_not_the_list(
    store: Pkcs11Store, pki: Manifest, softhsm: Any, tmp_path: Path
) -> None:
    der = tmp_path / "intermediate.der"
    der.write_bytes(pki.certificate("intermediate_pem").public_bytes(Encoding.DER))
    subprocess.run(["pkcs11-tool", "--module", softhsm.module, "--token-label", softhsm.label,
                    "--login", "--pin", softhsm.pin, "--write-object", str(der), "--type", "cert",
                    "--id", "ca01", "--label", "intermediate"], check=True, capture_output=True)
    identities = await store.identities()
    assert len(identities) == 4  # the CA certificate is not an identity
    intermediate = pki.certificate("intermediate_pem")
    assert all(i.chain == (intermediate,) for i in identities)


async def test_other_token_label_lists_nothing(softhsm: Any) -> None:
    s = Pkcs11Store(Path(softhsm.module), "AKJaCartaStore", token_label="no-such-token")
    try:
        assert await s.identities() == []
    finally:
        await s.close()


# -- signing ---------------------------------------------------------------------------


@pytest.mark.parametrize("h", [h for h in HashAlgorithm if not h.national])
@pytest.mark.parametrize("scheme", [SignatureScheme.RSA_PKCS1V15, SignatureScheme.RSA_PSS])
async def test_rsa_signatures_verify(
    store: Pkcs11Store, pki: Manifest, softhsm: Any, h: HashAlgorithm, scheme: SignatureScheme
) -> None:
    ident = await by_name(store, pki, "rsa-sign")
    async with await store.open(ident, bytearray(softhsm.pin.encode())) as signer:
        sig = await signer.sign_digest(digest(h), h, scheme)
    verify(ident.certificate, sig, MESSAGE, h, scheme)


@pytest.mark.parametrize("h", [h for h in HashAlgorithm if not h.national])
async def test_ecdsa_signatures_are_der_and_verify(
    store: Pkcs11Store, pki: Manifest, softhsm: Any, h: HashAlgorithm
) -> None:
    ident = await by_name(store, pki, "ec-sign")
    async with await store.open(ident, bytearray(softhsm.pin.encode())) as signer:
        sigs = await signer.sign_digests([digest(h), digest(h, b"other")], h,
                                         SignatureScheme.ECDSA)
    assert sigs[0][0] == 0x30  # DER SEQUENCE, not raw r||s
    verify(ident.certificate, sigs[0], MESSAGE, h, SignatureScheme.ECDSA)
    verify(ident.certificate, sigs[1], b"other", h, SignatureScheme.ECDSA)


async def test_scheme_that_does_not_fit_the_key_is_refused(
    store: Pkcs11Store, pki: Manifest, softhsm: Any
) -> None:
    ident = await by_name(store, pki, "ec-auth")
    async with await store.open(ident, bytearray(softhsm.pin.encode())) as signer:
        with pytest.raises(InvalidParams):
            await signer.sign_digest(digest(HashAlgorithm.SHA256), HashAlgorithm.SHA256,
                                     SignatureScheme.RSA_PKCS1V15)
        with pytest.raises(InvalidParams):  # a SHA-384 digest announced as SHA-256
            await signer.sign_digest(digest(HashAlgorithm.SHA384), HashAlgorithm.SHA256,
                                     SignatureScheme.ECDSA)


async def test_two_concurrent_requests_on_one_token(
    store: Pkcs11Store, pki: Manifest, softhsm: Any
) -> None:
    rsa_id = await by_name(store, pki, "rsa-sign")
    ec_id = await by_name(store, pki, "ec-auth")
    h = HashAlgorithm.SHA256
    rsa_signer = await store.open(rsa_id, bytearray(softhsm.pin.encode()))
    ec_signer = await store.open(ec_id, bytearray(softhsm.pin.encode()))
    try:
        a, b, c = await asyncio.gather(
            rsa_signer.sign_digest(digest(h), h, SignatureScheme.RSA_PKCS1V15),
            rsa_signer.sign_digest(digest(h, b"two"), h, SignatureScheme.RSA_PSS),
            ec_signer.sign_digest(digest(h), h, SignatureScheme.ECDSA),
        )
    finally:
        await rsa_signer.close()
    verify(rsa_id.certificate, a, MESSAGE, h, SignatureScheme.RSA_PKCS1V15)
    verify(rsa_id.certificate, b, b"two", h, SignatureScheme.RSA_PSS)
    verify(ec_id.certificate, c, MESSAGE, h, SignatureScheme.ECDSA)
    # Closing one signer must not log the other out of the shared token login.
    d = await ec_signer.sign_digest(digest(h, b"after"), h, SignatureScheme.ECDSA)
    await ec_signer.close()
    verify(ec_id.certificate, d, b"after", h, SignatureScheme.ECDSA)


# -- PINs ------------------------------------------------------------------------------


async def test_wrong_pin_is_reported_and_never_retried(
    store: Pkcs11Store, pki: Manifest, softhsm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    real_login = p11store.login

    def counting_login(token: Any, pin: str | None, *, allow_final_try: bool) -> Any:
        calls.append(pin)
        return real_login(token, pin, allow_final_try=allow_final_try)

    monkeypatch.setattr(p11store, "login", counting_login)
    ident = await by_name(store, pki, "rsa-sign")
    with pytest.raises(WrongPin) as info:
        await store.open(ident, bytearray(b"0000"))
    assert info.value.reason == "wrong_pin"
    assert calls == ["0000"]  # one C_Login, no retry
    # SoftHSM only raises CKF_USER_PIN_COUNT_LOW: the number of tries left is unknown.
    assert info.value.retries_left is None
    status = await store.pin_status(ident)
    assert status.needs_pin and not status.locked and status.retries_left is None
    # The right PIN still works afterwards.
    async with await store.open(ident, bytearray(softhsm.pin.encode())) as signer:
        sig = await signer.sign_digest(digest(HashAlgorithm.SHA256), HashAlgorithm.SHA256,
                                       SignatureScheme.RSA_PKCS1V15)
    verify(ident.certificate, sig, MESSAGE, HashAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15)


async def test_wrong_pin_while_token_unlocked_is_refused(
    store: Pkcs11Store, pki: Manifest, softhsm: Any
) -> None:
    first = await store.open(await by_name(store, pki, "rsa-sign"), bytearray(b"1234"))
    try:
        with pytest.raises(WrongPin):
            await store.open(await by_name(store, pki, "ec-sign"), bytearray(b"9999"))
    finally:
        await first.close()


async def test_certificate_whose_key_is_gone_gives_no_certificate(
    store: Pkcs11Store, pki: Manifest, softhsm: Any
) -> None:
    ident = await by_name(store, pki, "rsa-auth")
    subprocess.run(["pkcs11-tool", "--module", softhsm.module, "--token-label", softhsm.label,
                    "--login", "--pin", softhsm.pin, "--delete-object", "--type", "privkey",
                    "--id", pki.identities["rsa-auth"].cka_id_hex or ""],
                   check=True, capture_output=True)
    with pytest.raises(NoCertificate):
        await store.open(ident, bytearray(b"1234"))


class FakeToken:
    """FAKE token (flags seam only): SoftHSM never reports final-try/locked and has no
    pinpad, so these states are simulated.  Records every C_Login attempt."""

    def __init__(self, flags: int, flags_after: int | None = None, reject: bool = False):
        self.flags = flags
        self.opened: list[object] = []
        self._after = flags if flags_after is None else flags_after
        self._reject = reject
        self.slot = self

    def get_token(self) -> FakeToken:
        return FakeToken(self._after)

    def open(self, user_pin: object = None) -> str:
        self.opened.append(user_pin)
        if self._reject:
            raise pkcs11.exceptions.PinIncorrect()
        return "session"


TF = pkcs11.TokenFlag
BASE = TF.TOKEN_INITIALIZED | TF.LOGIN_REQUIRED | TF.USER_PIN_INITIALIZED


def test_final_try_is_refused_without_consent_and_nothing_sent() -> None:
    token = FakeToken(BASE | TF.USER_PIN_FINAL_TRY)
    with pytest.raises(WrongPin) as info:
        login(token, "1234", allow_final_try=False)
    assert info.value.retries_left == 1
    assert token.opened == []
    assert login(token, "1234", allow_final_try=True) == "session"
    assert token.opened == ["1234"]


def test_wrong_pin_on_final_try_reports_lock() -> None:
    token = FakeToken(BASE | TF.USER_PIN_COUNT_LOW, BASE | TF.USER_PIN_FINAL_TRY, reject=True)
    with pytest.raises(WrongPin) as info:
        login(token, "0000", allow_final_try=False)
    assert info.value.retries_left == 1 and token.opened == ["0000"]
    token = FakeToken(BASE | TF.USER_PIN_FINAL_TRY, BASE | TF.USER_PIN_LOCKED, reject=True)
    with pytest.raises(PinLocked):
        login(token, "0000", allow_final_try=True)
    assert token.opened == ["0000"]


def test_locked_token_is_not_tried() -> None:
    token = FakeToken(BASE | TF.USER_PIN_LOCKED)
    with pytest.raises(PinLocked):
        login(token, "1234", allow_final_try=True)
    assert token.opened == []


def test_pinpad_logs_in_without_a_pin() -> None:
    # FAKE pinpad reader: no physical reader with a protected authentication path here.
    flags = BASE | TF.PROTECTED_AUTHENTICATION_PATH
    status = pin_status_from_flags(flags)
    assert status.pinpad and not status.needs_pin
    token = FakeToken(flags)
    login(token, None, allow_final_try=False)
    assert token.opened == [pkcs11.PROTECTED_AUTH]


def test_pin_status_words_from_flags() -> None:
    assert pin_status_from_flags(BASE | TF.USER_PIN_COUNT_LOW).retries_left is None
    final = pin_status_from_flags(BASE | TF.USER_PIN_FINAL_TRY)
    assert final.final_try and final.retries_left == 1 and final.needs_pin
    locked = pin_status_from_flags(BASE | TF.USER_PIN_LOCKED)
    assert locked.locked and locked.retries_left == 0 and not locked.final_try


# -- token removal and broken modules ---------------------------------------------------


async def test_token_removed_mid_operation_then_store_recovers(
    store: Pkcs11Store, pki: Manifest, softhsm: Any, tmp_path: Path
) -> None:
    ident = await by_name(store, pki, "rsa-sign")
    signer = await store.open(ident, bytearray(softhsm.pin.encode()))
    (token_dir,) = [d for d in softhsm.tokendir.iterdir() if d.is_dir()]
    away = tmp_path / "unplugged"
    shutil.move(token_dir, away)  # "unplug": SoftHSM's token files vanish
    h = HashAlgorithm.SHA256
    with pytest.raises(TokenRemoved) as info:
        await signer.sign_digest(digest(h), h, SignatureScheme.RSA_PKCS1V15)
    assert info.value.reason == "token_removed"
    await signer.close()  # closing a signer of a vanished token is quiet
    assert await store.identities() == []
    with pytest.raises(TokenRemoved):
        await store.pin_status(ident)
    shutil.move(away, token_dir)  # "plug it back in"
    assert len(await store.identities()) == 4
    async with await store.open(ident, bytearray(softhsm.pin.encode())) as again:
        sig = await again.sign_digest(digest(h), h, SignatureScheme.RSA_PKCS1V15)
    verify(ident.certificate, sig, MESSAGE, h, SignatureScheme.RSA_PKCS1V15)


@pytest.mark.parametrize("content", [None, b"not a shared library"])
async def test_module_that_fails_to_load_is_a_store_error(
    tmp_path: Path, content: bytes | None
) -> None:
    module = tmp_path / "libbroken-pkcs11.so"
    if content is not None:
        module.write_bytes(content)
    s = Pkcs11Store(module, "AKEToken5110Store")
    try:
        with pytest.raises(StoreError) as info:
            await s.identities()
        assert info.value.reason == "store_error"
        assert str(module) in str(info.value)
    finally:
        await s.close()
