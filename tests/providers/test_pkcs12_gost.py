"""GOST keys in PKCS#12 files: NCA's real test files and Russian files the gost engine writes
in its three profiles.  Each opens with the right password only, lists its certificate, and
signs so that an independent check (the key's own certificate; the gost engine) accepts it."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import pytest

from support.gost_engine import openssl
from tanba.crypto import hashes
from tanba.protocol.errors import StoreError, WrongPin
from tanba.providers.base import HashAlgorithm, SignatureScheme
from tanba.providers.certificate import CertInfo
from tanba.providers.keyalg import gost_public_key
from tanba.providers.pkcs12 import Pkcs12Store

NCA = Path(__file__).resolve().parents[2] / "../shared/testdata/nca"
needs_nca = pytest.mark.skipif(not NCA.exists(), reason="NCA test data (../shared/testdata/nca) not present")
PASSWORD = b"Qwerty12"


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@needs_nca
@pytest.mark.parametrize("name", ["individual_valid.p12", "individual_revoked.p12", "legal_head.p12",
                                  "legal_employee.p12"])
async def test_nca_gost_files_open_list_and_sign(name: str) -> None:
    path = NCA / name
    store = Pkcs12Store([path], clock=Clock())
    [identity] = await store.unlock_file(path, bytearray(PASSWORD))
    info = CertInfo.from_certificate(identity.certificate, id=identity.id, storage="PKCS12")
    assert info.algorithm == "GOST3410-2015-512" and info.ncalayer_algorithm == "ECGOST3410-2015"
    assert info.iin is not None and len(info.iin) == 12
    assert info.purposes == ("sign", "auth")  # NCA's one key per person: login and signing
    digest = hashes.digest("streebog512", b"document")
    async with await store.open(identity, None) as signer:
        signature = await signer.sign_digest(digest, HashAlgorithm.STREEBOG512, SignatureScheme.GOST3410)
        with pytest.raises(Exception, match="signs streebog512"):
            await signer.sign_digest(hashlib.sha256(b"x").digest(), HashAlgorithm.SHA256, SignatureScheme.GOST3410)
    public = gost_public_key(identity.certificate)
    assert public.verify(digest, signature) and len(signature) == 128
    assert not public.verify(hashes.digest("streebog512", b"documenT"), signature)


@needs_nca
async def test_nca_file_wrong_password_is_wrong_pin_with_backoff() -> None:
    clock = Clock()
    path = NCA / "individual_valid.p12"
    store = Pkcs12Store([path], clock=clock)
    for _ in range(2):
        with pytest.raises(WrongPin):
            await store.unlock_file(path, bytearray(b"Qwerty13"))
    assert store.backoff_remaining(path) == 1.0
    clock.now += 1
    [identity] = await store.unlock_file(path, bytearray(PASSWORD))
    assert identity.storage == "PKCS12"


@needs_nca
async def test_locking_wipes_the_gost_key() -> None:
    path = NCA / "individual_valid.p12"
    store = Pkcs12Store([path], clock=Clock())
    [identity] = await store.unlock_file(path, bytearray(PASSWORD))
    signer = await store.open(identity, None)
    key = signer._gost_key  # noqa: SLF001 - the test looks at what locking leaves behind
    assert key is not None
    store.lock_file(path)
    assert not any(key._d)  # noqa: SLF001
    with pytest.raises(StoreError):
        await signer.sign_digest(bytes(64), HashAlgorithm.STREEBOG512, SignatureScheme.GOST3410)


@needs_nca
async def test_the_rsa_files_named_gost2004_still_open_through_openssl() -> None:
    # SOURCES.md calls them GOST 34.310-2004 keys; they hold RSA keys from "ҰКО 3.0 (RSA TEST)"
    path = NCA / "gost2004_sign_expired.p12"
    store = Pkcs12Store([path], clock=Clock())
    [identity] = await store.unlock_file(path, bytearray(PASSWORD))
    assert CertInfo.from_certificate(identity.certificate, id="x", storage="PKCS12").algorithm == "RSA-2048"


PROFILES = {
    "aes": [],
    "gost89": ["-keypbe", "gost89", "-certpbe", "gost89", "-macalg", "md_gost12_512"],
    "kuznyechik": ["-keypbe", "kuznyechik-ctr-acpkm", "-certpbe", "kuznyechik-ctr-acpkm", "-macalg", "md_gost12_512"],
}


def engine_p12(tmp: Path, algorithm: str, profile: str) -> Path:
    md = "-md_gost12_256" if algorithm == "gost2012_256" else "-md_gost12_512"
    openssl(tmp, "genpkey", "-algorithm", algorithm, "-pkeyopt", "paramset:A", "-out", "k.pem")
    openssl(tmp, "req", "-x509", "-new", "-key", "k.pem", "-subj", "/CN=Иванов Иван/C=RU", "-utf8", "-days", "30",
            "-out", "c.pem", md, "-addext", "keyUsage=digitalSignature,nonRepudiation",
            "-addext", "extendedKeyUsage=clientAuth,emailProtection")
    openssl(tmp, "pkcs12", "-export", "-inkey", "k.pem", "-in", "c.pem", "-out", "f.p12",
            "-passout", f"pass:{PASSWORD.decode()}", *PROFILES[profile])
    return tmp / "f.p12"


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("algorithm", ["gost2012_256", "gost2012_512"])
async def test_russian_files_in_every_engine_profile_sign_for_the_engine(
    tmp_path: Path, algorithm: str, profile: str
) -> None:
    path = engine_p12(tmp_path, algorithm, profile)
    store = Pkcs12Store([path], clock=Clock())
    with pytest.raises(WrongPin):
        await store.unlock_file(path, bytearray(b"qwerty12"))
    store = Pkcs12Store([path], clock=Clock())
    [identity] = await store.unlock_file(path, bytearray(PASSWORD))
    info = CertInfo.from_certificate(identity.certificate, id=identity.id, storage="PKCS12")
    size = 32 if algorithm == "gost2012_256" else 64
    assert info.algorithm == f"GOST3410-2012-{size * 8}" and info.purposes == ("sign", "auth")
    hash_alg = HashAlgorithm.STREEBOG256 if size == 32 else HashAlgorithm.STREEBOG512
    digest = secrets.token_bytes(size)
    async with await store.open(identity, None) as signer:
        signature = await signer.sign_digest(digest, hash_alg, SignatureScheme.GOST3410)
    (tmp_path / "dig").write_bytes(digest)
    (tmp_path / "sig").write_bytes(signature)
    ok = openssl(tmp_path, "pkeyutl", "-verify", "-certin", "-inkey", "c.pem", "-in", "dig", "-sigfile", "sig",
                 check=False)
    assert ok.returncode == 0, ok.stderr
    (tmp_path / "dig").write_bytes(bytes([digest[0] ^ 1]) + digest[1:])
    bad = openssl(tmp_path, "pkeyutl", "-verify", "-certin", "-inkey", "c.pem", "-in", "dig", "-sigfile", "sig",
                  check=False)
    assert bad.returncode != 0


async def test_right_password_unknown_cipher_is_a_store_error(tmp_path: Path) -> None:
    # Magma CTR-ACPKM (1.2.643.7.1.1.5.1.1): the MAC proves the password, the bags cannot be read
    openssl(tmp_path, "genpkey", "-algorithm", "gost2012_256", "-pkeyopt", "paramset:A", "-out", "k.pem")
    openssl(tmp_path, "req", "-x509", "-new", "-key", "k.pem", "-subj", "/CN=m", "-days", "3", "-out", "c.pem",
            "-md_gost12_256")
    openssl(tmp_path, "pkcs12", "-export", "-inkey", "k.pem", "-in", "c.pem", "-out", "m.p12",
            "-passout", "pass:Qwerty12", "-keypbe", "magma-ctr-acpkm", "-certpbe", "magma-ctr-acpkm")
    path = tmp_path / "m.p12"
    store = Pkcs12Store([path], clock=Clock())
    with pytest.raises(StoreError, match="password is right"):
        await store.unlock_file(path, bytearray(PASSWORD))
