"""The PKCS#12 key store against the test PKI's files (and a few made here with openssl)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from asn1crypto import cms as asn1_cms
from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption
from cryptography.hazmat.primitives.serialization import pkcs12 as crypto_pkcs12
from cryptography.hazmat.primitives.serialization.pkcs12 import serialize_key_and_certificates
from cryptography.x509.oid import NameOID
from tanba.agent.setup.testpki import Manifest
from tanba.protocol.errors import (
    InvalidParams,
    NoCertificate,
    StoreError,
    WrongPin,
)
from tanba.providers import pkcs12 as pkcs12_provider
from tanba.providers.base import HashAlgorithm, SignatureScheme
from tanba.providers.pkcs12 import PARALLEL_BATCH, Pkcs12Signer, Pkcs12Store, backoff_delay, identity_id

PASSWORD = b"123456"
SHA256 = HashAlgorithm.SHA256


class FakeClock:
    """Monotonic seconds the test moves by hand, so the backoff is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def openssl(*args: str) -> str:
    """Run the real openssl CLI (to make files cryptography cannot write); returns its output."""
    proc = subprocess.run(["openssl", *args], check=True, capture_output=True, text=True)
    return proc.stdout + proc.stderr


def pw(value: bytes = PASSWORD) -> bytearray:
    return bytearray(value)


async def unlocked_signer(path: Path, clock: FakeClock | None = None) -> tuple[Pkcs12Store, Pkcs12Signer]:
    store = Pkcs12Store([path], clock=clock or FakeClock())
    [identity] = await store.unlock_file(path, pw())
    signer = await store.open(identity, None)
    assert isinstance(signer, Pkcs12Signer)
    return store, signer


def verify_rsa(signer: Pkcs12Signer, signature: bytes, data: bytes, pad: padding.AsymmetricPadding,
               algorithm: hashes.HashAlgorithm) -> None:
    public = signer.identity.certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, data, pad, algorithm)


# --- listing --------------------------------------------------------------------------------


async def test_nothing_listed_before_the_password(pki: Manifest) -> None:
    path = pki.identities["rsa-sign"].p12
    store = Pkcs12Store([path])
    assert await store.identities() == []
    assert store.locked_files() == [path]
    identities = await store.unlock_file(path, pw())
    assert store.locked_files() == []
    assert await store.identities() == identities
    [identity] = identities
    cert = pki.identities["rsa-sign"].certificate()
    assert identity.certificate == cert
    assert identity.storage == "PKCS12" and identity.location == str(path)
    assert [c.subject for c in identity.chain] == [
        pki.certificate("intermediate_pem").subject, pki.certificate("root_pem").subject]
    assert (await store.pin_status(identity)).needs_pin is False


async def test_ids_are_stable_across_stores(pki: Manifest) -> None:
    path = pki.identities["ec-sign"].p12
    first = await Pkcs12Store([path]).unlock_file(path, pw())
    second = await Pkcs12Store([path], storage="PKCS12").unlock_file(path, pw())
    assert [i.id for i in first] == [i.id for i in second]
    fingerprint = pki.identities["ec-sign"].certificate().fingerprint(hashes.SHA256()).hex()
    assert first[0].id == "p12:" + fingerprint[:16] == identity_id(first[0].certificate)


async def test_lock_forgets_the_key(pki: Manifest) -> None:
    path = pki.identities["rsa-sign"].p12
    store, signer = await unlocked_signer(path)
    identity = signer.identity
    store.lock_file(path)
    assert await store.identities() == []
    assert (await store.pin_status(identity)).needs_pin is True
    with pytest.raises(StoreError):
        await signer.sign_digest(bytes(32), SHA256, SignatureScheme.RSA_PKCS1V15)
    with pytest.raises(WrongPin):
        await store.open(identity, None)


async def test_open_with_password_unlocks_for_that_signer_only(pki: Manifest) -> None:
    path = pki.identities["rsa-sign"].p12
    store = Pkcs12Store([path])
    [identity] = await store.unlock_file(path, pw())
    store.lock_file(path)
    async with await store.open(identity, pw()) as signer:
        sig = await signer.sign_digest(hashlib.sha256(b"x").digest(), SHA256, SignatureScheme.RSA_PKCS1V15)
        assert len(sig) == 256
    assert store.locked_files() == [path]  # closing the signer locked the file again


async def test_identity_of_another_store_is_refused(pki: Manifest) -> None:
    a, b = pki.identities["rsa-sign"].p12, pki.identities["ec-sign"].p12
    [identity] = await Pkcs12Store([a]).unlock_file(a, pw())
    with pytest.raises((NoCertificate, StoreError)):
        await Pkcs12Store([b]).open(identity, pw())


# --- wrong passwords and backoff ------------------------------------------------------------


async def test_wrong_password_backoff_grows_and_resets(pki: Manifest) -> None:
    path = pki.identities["rsa-sign"].p12
    clock = FakeClock()
    store = Pkcs12Store([path], clock=clock)

    with pytest.raises(WrongPin) as first:
        await store.unlock_file(path, pw(b"000000"))
    assert first.value.reason == "wrong_pin"
    assert "retriesLeft" not in first.value.data  # a file has no retry counter
    assert "retryAfter" not in first.value.data  # the first mistake costs nothing

    with pytest.raises(WrongPin) as second:
        await store.unlock_file(path, pw(b"111111"))
    assert second.value.data["retryAfter"] == 1

    # During the backoff even the right password is not tried: wrong_pin (the last try was
    # wrong) with the seconds still to wait, never busy (that is "another prompt is open").
    with pytest.raises(WrongPin) as waiting:
        await store.unlock_file(path, pw())
    assert waiting.value.reason == "wrong_pin"
    assert waiting.value.data["retryAfter"] == 1
    assert store.locked_files() == [path]

    clock.now += 1
    with pytest.raises(WrongPin) as third:
        await store.unlock_file(path, pw(b"222222"))
    assert third.value.data["retryAfter"] == 2
    clock.now += 1.5
    assert store.backoff_remaining(path) == pytest.approx(0.5)
    with pytest.raises(WrongPin) as rounded:
        await store.unlock_file(path, pw())
    assert rounded.value.data["retryAfter"] == 1  # 0.5 s left, in whole seconds, never 0

    clock.now += 0.5
    assert len(await store.unlock_file(path, pw())) == 1

    # Reset: the next mistake is a first mistake again.
    store.lock_file(path)
    with pytest.raises(WrongPin) as again:
        await store.unlock_file(path, pw(b"333333"))
    assert "retryAfter" not in again.value.data
    assert store.backoff_remaining(path) == 0


async def test_backoff_is_capped_at_30_seconds(pki: Manifest) -> None:
    path = pki.identities["ec-auth"].p12
    clock = FakeClock()
    store = Pkcs12Store([path], clock=clock)
    waits = []
    for _ in range(9):
        with pytest.raises(WrongPin) as err:
            await store.unlock_file(path, pw(b"nope"))
        wait = err.value.data.get("retryAfter", 0)
        waits.append(wait)
        clock.now += wait
    assert waits == [0, 1, 2, 4, 8, 16, 30, 30, 30]
    assert [backoff_delay(n) for n in (1, 2, 7, 100)] == [0, 1, 30, 30]


async def test_backoff_is_per_file(pki: Manifest) -> None:
    a, b = pki.identities["rsa-sign"].p12, pki.identities["ec-sign"].p12
    store = Pkcs12Store([a, b], clock=FakeClock())
    for _ in range(2):
        with pytest.raises(WrongPin):
            await store.unlock_file(a, pw(b"bad"))
    with pytest.raises(WrongPin) as waiting:
        await store.unlock_file(a, pw())
    assert waiting.value.data["retryAfter"] == 1
    assert len(await store.unlock_file(b, pw())) == 1


async def test_a_try_during_the_backoff_is_not_made(pki: Manifest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused during the wait: the file is not read, nothing is decrypted, and the refused
    try does not count as a wrong password (the backoff does not grow)."""
    path = pki.identities["rsa-sign"].p12
    clock = FakeClock()
    store = Pkcs12Store([path], clock=clock)
    for _ in range(2):
        with pytest.raises(WrongPin):
            await store.unlock_file(path, pw(b"bad"))
    calls: list[str] = []
    real_read, real_load = pkcs12_provider._read, pkcs12_provider._load

    def counting_read(*args: object) -> object:
        calls.append("read")
        return real_read(*args)  # type: ignore[arg-type]

    def counting_load(*args: object) -> object:
        calls.append("load")
        return real_load(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(pkcs12_provider, "_read", counting_read)
    monkeypatch.setattr(pkcs12_provider, "_load", counting_load)
    for attempt in (pw(), pw(b"bad")):
        with pytest.raises(WrongPin) as waiting:
            await store.unlock_file(path, attempt)
        assert waiting.value.data == {"retryAfter": 1}
        with pytest.raises(WrongPin):
            await store.check_password(path, attempt)
    assert calls == []  # no attempt made
    assert store.locked_files() == [path]

    clock.now += 1
    with pytest.raises(WrongPin) as third:
        await store.unlock_file(path, pw(b"bad"))
    assert third.value.data["retryAfter"] == 2  # the third wrong password, not the seventh
    assert calls == ["read", "load"]


# --- unreadable files -----------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"not a pkcs12 file at all", None])
async def test_corrupt_or_missing_file_is_a_store_error(tmp_path: Path, pki: Manifest, content: bytes | None) -> None:
    path = tmp_path / "broken.p12"
    if content is not None:
        path.write_bytes(content)
    clock = FakeClock()
    store = Pkcs12Store([path], clock=clock)
    for _ in range(3):  # not a password problem: no backoff builds up
        with pytest.raises(StoreError) as err:
            await store.unlock_file(path, pw())
        assert err.value.reason == "store_error"
        assert str(path) in str(err.value)


async def test_truncated_file_is_a_store_error(tmp_path: Path, pki: Manifest) -> None:
    path = tmp_path / "truncated.p12"
    data = pki.identities["rsa-sign"].p12.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError):
        await Pkcs12Store([path]).unlock_file(path, pw())


async def test_unconfigured_file_is_refused(pki: Manifest) -> None:
    store = Pkcs12Store([pki.identities["rsa-sign"].p12])
    with pytest.raises(StoreError):
        await store.unlock_file(pki.identities["ec-sign"].p12, pw())


async def test_right_password_but_unsupported_key_is_a_store_error_not_wrong_pin(tmp_path: Path) -> None:
    # An SM2 key stands for what cryptography cannot load (like the GOST keys of some
    # national files): the MAC proves the password right, so this must not say wrong_pin.
    key, cert, p12 = tmp_path / "sm2.key", tmp_path / "sm2.pem", tmp_path / "sm2.p12"
    openssl("genpkey", "-algorithm", "SM2", "-out", str(key))
    openssl("req", "-new", "-x509", "-key", str(key), "-out", str(cert), "-subj", "/CN=sm2", "-days", "5")
    openssl("pkcs12", "-export", "-inkey", str(key), "-in", str(cert), "-out", str(p12), "-passout", "pass:123456")
    store = Pkcs12Store([p12], clock=FakeClock())
    with pytest.raises(StoreError) as err:
        await store.unlock_file(p12, pw())
    assert "password is right" in str(err.value)
    with pytest.raises(WrongPin):
        await store.unlock_file(p12, pw(b"wrong"))


# --- legacy encryption and several keys -----------------------------------------------------


async def test_legacy_3des_file_from_the_pki_signs(pki: Manifest) -> None:
    path = pki.identities["rsa-sign-legacy"].p12
    _, signer = await unlocked_signer(path)
    digest = hashlib.sha256(b"legacy").digest()
    sig = await signer.sign_digest(digest, SHA256, SignatureScheme.RSA_PKCS1V15)
    verify_rsa(signer, sig, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


async def test_legacy_rc2_40_file_made_by_openssl_signs(pki: Manifest, tmp_path: Path) -> None:
    ident = pki.identities["rsa-sign"]
    path = tmp_path / "rc2.p12"
    openssl("pkcs12", "-export", "-legacy", "-inkey", str(ident.key_pem), "-in", str(ident.cert_pem),
            "-out", str(path), "-passout", "pass:123456")
    info = openssl("pkcs12", "-info", "-noout", "-legacy", "-in", str(path), "-passin", "pass:123456")
    assert "RC2-40" in info or "40BitRC2" in info
    _, signer = await unlocked_signer(path)
    assert signer.identity.certificate == ident.certificate()
    digest = hashlib.sha256(b"rc2").digest()
    sig = await signer.sign_digest(digest, SHA256, SignatureScheme.RSA_PKCS1V15)
    verify_rsa(signer, sig, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


def merged_p12(paths: list[Path], out: Path) -> Path:
    """One PFX holding every key and certificate of ``paths`` (same password, no MAC)."""
    infos = []
    for path in paths:
        infos.extend(asn1_pkcs12.Pfx.load(path.read_bytes()).authenticated_safe)
    auth = asn1_pkcs12.AuthenticatedSafe(infos)
    pfx = asn1_pkcs12.Pfx(
        {"version": "v3", "auth_safe": asn1_cms.ContentInfo({"content_type": "data", "content": auth.dump()})})
    out.write_bytes(pfx.dump())
    return out


async def test_file_with_several_keys_lists_and_signs_with_each(pki: Manifest, tmp_path: Path) -> None:
    rsa_ident, ec_ident = pki.identities["rsa-sign"], pki.identities["ec-sign"]
    path = merged_p12([rsa_ident.p12, ec_ident.p12], tmp_path / "two.p12")
    store = Pkcs12Store([path])
    identities = await store.unlock_file(path, pw())
    assert {i.certificate for i in identities} == {rsa_ident.certificate(), ec_ident.certificate()}
    digest = hashlib.sha256(b"two keys").digest()
    for identity in identities:
        async with await store.open(identity, None) as signer:
            public = identity.certificate.public_key()
            if isinstance(public, rsa.RSAPublicKey):
                sig = await signer.sign_digest(digest, SHA256, SignatureScheme.RSA_PKCS1V15)
                public.verify(sig, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
            else:
                assert isinstance(public, ec.EllipticCurvePublicKey)
                sig = await signer.sign_digest(digest, SHA256, SignatureScheme.ECDSA)
                public.verify(sig, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    with pytest.raises(WrongPin):
        await Pkcs12Store([path]).unlock_file(path, pw(b"bad"))


# --- signing --------------------------------------------------------------------------------


@pytest.mark.parametrize("hash_alg,algorithm", [
    (HashAlgorithm.SHA256, hashes.SHA256()), (HashAlgorithm.SHA384, hashes.SHA384()),
    (HashAlgorithm.SHA512, hashes.SHA512())])
async def test_rsa_pkcs1_and_pss_verify(pki: Manifest, hash_alg: HashAlgorithm, algorithm: hashes.HashAlgorithm) -> None:
    _, signer = await unlocked_signer(pki.identities["rsa-sign"].p12)
    digest = hashlib.new(hash_alg.value, b"document").digest()
    prehashed = utils.Prehashed(algorithm)
    sig = await signer.sign_digest(digest, hash_alg, SignatureScheme.RSA_PKCS1V15)
    verify_rsa(signer, sig, digest, padding.PKCS1v15(), prehashed)
    pss = await signer.sign_digest(digest, hash_alg, SignatureScheme.RSA_PSS)
    # salt as long as the digest, MGF1 with the same hash: verified with exactly that
    verify_rsa(signer, pss, digest, padding.PSS(padding.MGF1(algorithm), algorithm.digest_size), prehashed)


async def test_ecdsa_der_signature_verifies(pki: Manifest) -> None:
    _, signer = await unlocked_signer(pki.identities["ec-sign"].p12)
    digest = hashlib.sha384(b"document").digest()
    sig = await signer.sign_digest(digest, HashAlgorithm.SHA384, SignatureScheme.ECDSA)
    assert sig[0] == 0x30  # DER Ecdsa-Sig-Value
    public = signer.identity.certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(sig, digest, ec.ECDSA(utils.Prehashed(hashes.SHA384())))


async def test_sign_digests_batch_verifies(pki: Manifest) -> None:
    _, signer = await unlocked_signer(pki.identities["rsa-sign"].p12)
    digests = [hashlib.sha256(bytes([i])).digest() for i in range(5)]
    sigs = await signer.sign_digests(digests, SHA256, SignatureScheme.RSA_PKCS1V15)
    assert len(sigs) == 5
    for digest, sig in zip(digests, sigs, strict=True):
        verify_rsa(signer, sig, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


async def test_big_batch_is_signed_off_the_event_loop_in_order(pki: Manifest) -> None:
    _, signer = await unlocked_signer(pki.identities["rsa-sign"].p12)
    digests = [hashlib.sha256(i.to_bytes(2, "big")).digest() for i in range(PARALLEL_BATCH * 3 + 1)]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    task = asyncio.create_task(ticker())
    sigs = await signer.sign_digests(digests, SHA256, SignatureScheme.RSA_PKCS1V15)
    task.cancel()
    assert ticks > 1  # the loop kept running while the batch was signed
    assert len(sigs) == len(digests)
    for digest, sig in zip(digests, sigs, strict=True):  # each signature matches its own digest
        verify_rsa(signer, sig, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


async def test_wrong_digest_length_is_rejected(pki: Manifest) -> None:
    _, signer = await unlocked_signer(pki.identities["rsa-sign"].p12)
    with pytest.raises(InvalidParams):
        await signer.sign_digest(hashlib.sha512(b"x").digest(), SHA256, SignatureScheme.RSA_PKCS1V15)
    with pytest.raises(InvalidParams):
        await signer.sign_digest(b"short", HashAlgorithm.SHA384, SignatureScheme.RSA_PSS)
    with pytest.raises(InvalidParams):
        await signer.sign_digests([bytes(32), bytes(31)], SHA256, SignatureScheme.RSA_PKCS1V15)


async def test_scheme_must_fit_the_key(pki: Manifest) -> None:
    _, rsa_signer = await unlocked_signer(pki.identities["rsa-sign"].p12)
    with pytest.raises(InvalidParams):
        await rsa_signer.sign_digest(bytes(32), SHA256, SignatureScheme.ECDSA)
    _, ec_signer = await unlocked_signer(pki.identities["ec-sign"].p12)
    for scheme in (SignatureScheme.RSA_PKCS1V15, SignatureScheme.RSA_PSS):
        with pytest.raises(InvalidParams):
            await ec_signer.sign_digest(bytes(32), SHA256, scheme)


async def test_store_close_forgets_every_key(pki: Manifest, tmp_path: Path) -> None:
    path = tmp_path / "copy.p12"
    shutil.copy(pki.identities["ec-auth"].p12, path)
    store, signer = await unlocked_signer(path)
    await store.close()
    assert await store.identities() == []
    with pytest.raises(StoreError):
        await signer.sign_digest(bytes(32), SHA256, SignatureScheme.ECDSA)


# --- the decryption and the rest of the agent ------------------------------------------------


def main_thread_runs_during(work: Callable[[], object]) -> tuple[float, float]:
    """Run ``work`` in a thread while this one wakes every half millisecond: the longest this
    thread waited to run, and how long ``work`` took."""
    done = threading.Event()

    def run() -> None:
        work()
        done.set()

    thread = threading.Thread(target=run)
    start = last = time.perf_counter()
    longest = 0.0
    thread.start()
    while not done.is_set():
        time.sleep(0.0005)
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    thread.join()
    return longest, time.perf_counter() - start


@pytest.mark.parametrize("name", ["rsa-sign", "ec-sign"])
def test_decrypting_a_file_leaves_the_gil_to_the_event_loop(pki: Manifest, name: str) -> None:
    # The unlock runs in a worker thread; that helps only if the thread lets go of the GIL:
    # OpenSSL's load_pkcs12 holds it for the whole decryption (and the RSA key check), and the
    # event loop would wait for all of it.  Three tries: a busy machine may stall a thread.
    ident = pki.identities[name]
    data = ident.p12.read_bytes()
    attempts = [main_thread_runs_during(lambda: pkcs12_provider._load(data, PASSWORD, ident.p12)) for _ in range(3)]
    assert any(longest < elapsed / 2 for longest, elapsed in attempts), attempts


async def test_rsa_and_ec_files_are_read_by_tanba_s_reader(pki: Manifest, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("load_pkcs12 holds the GIL: not for files Tanba's reader can read")

    monkeypatch.setattr(crypto_pkcs12, "load_pkcs12", refuse)
    for name in ("rsa-sign", "ec-sign", "rsa-sign-legacy"):
        _, signer = await unlocked_signer(pki.identities[name].p12)
        assert signer.identity.certificate == pki.identities[name].certificate()
    with pytest.raises(WrongPin):
        await Pkcs12Store([pki.identities["rsa-sign"].p12], clock=FakeClock()).unlock_file(
            pki.identities["rsa-sign"].p12, pw(b"wrong"))


async def test_a_damaged_rsa_key_is_refused_at_unlock(tmp_path: Path) -> None:
    # cryptography's own key check is skipped on load (30 ms holding the GIL); the self-test
    # signature stands in for it: private values that do not fit the public key are refused
    good = rsa.generate_private_key(65537, 2048)
    n = good.private_numbers()
    broken = rsa.RSAPrivateNumbers(
        p=n.p, q=n.q, d=n.d ^ 2, dmp1=n.dmp1 ^ 2, dmq1=n.dmq1, iqmp=n.iqmp, public_numbers=n.public_numbers
    ).private_key(unsafe_skip_rsa_key_validation=True)
    ca = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "damaged")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(broken.public_key())
            .serial_number(7).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(ca, hashes.SHA256()))
    path = tmp_path / "damaged.p12"
    path.write_bytes(serialize_key_and_certificates(b"d", broken, cert, None, BestAvailableEncryption(PASSWORD)))
    with pytest.raises(StoreError, match="damaged"):
        await Pkcs12Store([path], clock=FakeClock()).unlock_file(path, pw())
