"""CAdES-BES SignedData: every CMS here is checked by the real ``openssl cms -verify``.

Signing goes through the real PKCS#12 store (``Pkcs12Store``) over the test PKI's files.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tracemalloc
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from asn1crypto import cms as acms
from cryptography.hazmat.primitives.serialization import Encoding

from support.native import open_p12_signer
from tanba.agent.formats.cms import CmsBuilder, PrecomputedDigest
from tanba.agent.setup.testpki import Manifest
from tanba.protocol.errors import InternalError, InvalidParams
from tanba.providers.base import HashAlgorithm, SignatureScheme, Signer

H = HashAlgorithm
S = SignatureScheme


def openssl_verify(
    pki: Manifest,
    tmp_path: Path,
    cms_der: bytes,
    content: Path | bytes | None = None,
    cafile: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    sig = tmp_path / "sig.p7s"
    sig.write_bytes(cms_der)
    out = tmp_path / "out.bin"
    cmd = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(sig),
           "-CAfile", str(cafile or pki.root_pem), "-out", str(out)]
    if isinstance(content, bytes):
        (tmp_path / "content.bin").write_bytes(content)
        content = tmp_path / "content.bin"
    if content is not None:
        cmd += ["-content", str(content)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def assert_verifies(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, proc.stderr
    assert "Verification successful" in proc.stderr


def signer_infos(cms_der: bytes) -> list[acms.SignerInfo]:
    return list(acms.ContentInfo.load(cms_der)["content"]["signer_infos"])


CASES = [
    ("rsa-sign", S.RSA_PKCS1V15),
    ("rsa-sign", S.RSA_PSS),
    ("ec-sign", S.ECDSA),
]


@pytest.mark.parametrize("hash_alg", [H.SHA256, H.SHA384, H.SHA512])  # RSA and EC keys: SHA-2
@pytest.mark.parametrize(("name", "scheme"), CASES)
async def test_attached_and_detached_verify_with_openssl(
    pki: Manifest, tmp_path: Path, name: str, scheme: SignatureScheme, hash_alg: HashAlgorithm
) -> None:
    signer = await open_p12_signer(pki, name)
    builder = CmsBuilder(signer.identity.certificate, signer.identity.chain, hash_alg, scheme)
    data = "Заявление № 1\n".encode() * 50
    [attached] = await builder.sign_batch(signer, [data], detached=False)
    [detached] = await builder.sign_batch(signer, [data], detached=True)

    assert_verifies(openssl_verify(pki, tmp_path, attached))
    assert (tmp_path / "out.bin").read_bytes() == data
    assert_verifies(openssl_verify(pki, tmp_path, detached, content=data))
    assert data not in detached
    # the algorithm identifiers say what was used
    si = signer_infos(detached)[0]
    assert si["digest_algorithm"]["algorithm"].native == hash_alg.value
    expected_sig_alg = {S.RSA_PKCS1V15: "rsassa_pkcs1v15", S.RSA_PSS: "rsassa_pss",
                        S.ECDSA: f"{hash_alg.value}_ecdsa"}[scheme]
    assert si["signature_algorithm"]["algorithm"].native == expected_sig_alg


async def test_tampered_content_fails_openssl(pki: Manifest, tmp_path: Path) -> None:
    signer = await open_p12_signer(pki, "rsa-sign")
    builder = CmsBuilder(signer.identity.certificate, signer.identity.chain)
    [cms_der] = await builder.sign_batch(signer, [b"pay 100 KZT"], detached=True)
    proc = openssl_verify(pki, tmp_path, cms_der, content=b"pay 900 KZT")
    assert proc.returncode != 0
    assert "Verification successful" not in proc.stderr


async def test_signed_attributes_are_cades_bes(pki: Manifest) -> None:
    signer = await open_p12_signer(pki, "ec-sign")
    cert = signer.identity.certificate
    builder = CmsBuilder(cert, signer.identity.chain, H.SHA384)
    when = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    [cms_der] = await builder.sign_batch(signer, [b"doc"], signing_time=when)

    ci = acms.ContentInfo.load(cms_der)
    si = ci["content"]["signer_infos"][0]
    assert si.dump(force=True) == si.dump()  # canonical DER
    encodings = [a.dump() for a in si["signed_attrs"]]
    assert encodings == sorted(encodings)  # DER SET OF order: what verifiers re-hash
    assert si["version"].native == "v1"
    sid = si["sid"].chosen
    assert sid["serial_number"].native == cert.serial_number
    attrs = {a["type"].native: a["values"][0] for a in si["signed_attrs"]}
    assert set(attrs) == {"content_type", "message_digest", "signing_time", "signing_certificate_v2"}
    assert attrs["content_type"].native == "data"
    assert attrs["message_digest"].native == hashlib.sha384(b"doc").digest()
    assert attrs["signing_time"].name == "utc_time"
    assert attrs["signing_time"].native == when
    ess = attrs["signing_certificate_v2"]["certs"][0]
    assert ess["cert_hash"].native == hashlib.sha256(cert.public_bytes(Encoding.DER)).digest()
    assert ess["issuer_serial"]["serial_number"].native == cert.serial_number
    # the certificate set: signer then chain
    certs = [c.chosen.dump() for c in ci["content"]["certificates"]]
    assert certs[0] == cert.public_bytes(Encoding.DER)
    assert len(certs) == 1 + len(signer.identity.chain)


async def test_without_chain_needs_certfile(pki: Manifest, tmp_path: Path) -> None:
    signer = await open_p12_signer(pki, "rsa-sign")
    builder = CmsBuilder(signer.identity.certificate, signer.identity.chain, include_chain=False)
    [cms_der] = await builder.sign_batch(signer, [b"x"], detached=False)
    assert len(acms.ContentInfo.load(cms_der)["content"]["certificates"]) == 1
    assert openssl_verify(pki, tmp_path, cms_der).returncode != 0
    # OpenSSL 3.0's `cms -verify -certfile` only looks there for the signer's certificate,
    # not for chain building (and `cms` has no -untrusted): give the intermediate as a CA.
    bundle = tmp_path / "cas.pem"
    bundle.write_bytes(pki.root_pem.read_bytes() + pki.intermediate_pem.read_bytes())
    assert_verifies(openssl_verify(pki, tmp_path, cms_der, cafile=bundle))


class CountingSigner(Signer):
    """Delegates to a real signer and counts trips (a PKCS#11 token pays per trip)."""

    def __init__(self, inner: Signer) -> None:
        self.identity = inner.identity
        self.inner = inner
        self.calls: list[int] = []

    async def sign_digest(self, digest: bytes, hash_alg: HashAlgorithm, scheme: SignatureScheme) -> bytes:
        self.calls.append(1)
        return await self.inner.sign_digest(digest, hash_alg, scheme)

    async def sign_digests(
        self, digests: Sequence[bytes], hash_alg: HashAlgorithm, scheme: SignatureScheme
    ) -> list[bytes]:
        self.calls.append(len(digests))
        return await self.inner.sign_digests(digests, hash_alg, scheme)

    async def close(self) -> None:
        await self.inner.close()


async def test_batch_one_signer_trip_each_cms_bound_to_its_document(
    pki: Manifest, tmp_path: Path
) -> None:
    signer = CountingSigner(await open_p12_signer(pki, "rsa-sign"))
    builder = CmsBuilder(signer.identity.certificate, signer.identity.chain)
    docs = [f"document {i}".encode() for i in range(5)]
    seen: list[tuple[int, int]] = []
    out = await builder.sign_batch(signer, docs, detached=True, progress=lambda d, t: seen.append((d, t)))
    assert signer.calls == [5]
    assert seen[-1] == (5, 5) and len(seen) == 5
    assert len(set(out)) == 5
    assert_verifies(openssl_verify(pki, tmp_path, out[3], content=docs[3]))
    assert openssl_verify(pki, tmp_path, out[3], content=docs[2]).returncode != 0


async def test_digest_mode_detached(pki: Manifest, tmp_path: Path) -> None:
    signer = await open_p12_signer(pki, "ec-sign")
    builder = CmsBuilder(signer.identity.certificate, signer.identity.chain, H.SHA512)
    doc = tmp_path / "doc.pdf"
    doc.write_bytes(b"%PDF-1.7 test" * 1000)
    digest = hashlib.sha512(doc.read_bytes()).digest()
    [cms_der] = await builder.sign_batch(signer, [PrecomputedDigest(digest)], detached=True)
    assert_verifies(openssl_verify(pki, tmp_path, cms_der, content=doc))


async def test_digest_mode_rejects_wrong_length_and_attached(pki: Manifest) -> None:
    signer = CountingSigner(await open_p12_signer(pki, "rsa-sign"))
    builder = CmsBuilder(signer.identity.certificate, (), H.SHA384)
    with pytest.raises(InvalidParams) as exc:
        await builder.sign_batch(signer, [PrecomputedDigest(bytes(32))], detached=True)
    assert exc.value.reason == "invalid_params"
    assert "48" in exc.value.detail
    with pytest.raises(InvalidParams):
        await builder.sign_batch(signer, [PrecomputedDigest(bytes(48))], detached=False)
    assert signer.calls == []  # nothing was signed


async def test_scheme_must_fit_the_key(pki: Manifest) -> None:
    cert = pki.identities["rsa-sign"].certificate()
    with pytest.raises(InvalidParams):
        CmsBuilder(cert, (), H.SHA256, S.ECDSA)
    with pytest.raises(InvalidParams):
        CmsBuilder(pki.identities["ec-sign"].certificate(), (), H.SHA256, S.RSA_PSS)


async def test_streams_chunks_and_paths_sign_the_same_content(pki: Manifest, tmp_path: Path) -> None:
    signer = await open_p12_signer(pki, "rsa-sign")
    builder = CmsBuilder(signer.identity.certificate, signer.identity.chain)
    data = bytes(range(256)) * 9000  # ~2.3 MB, not a multiple of the chunk size
    path = tmp_path / "doc.bin"
    path.write_bytes(data)
    items = [path, io.BytesIO(data), iter([data[:1000], data[1000:]])]
    for detached in (True, False):
        for cms_der in await builder.sign_batch(signer, items, detached=detached):
            proc = openssl_verify(pki, tmp_path, cms_der, content=path if detached else None)
            assert_verifies(proc)


async def test_large_file_detached_is_never_held_in_memory(pki: Manifest, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        block = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB of non-zero bytes
        for _ in range(50):
            f.write(block)
    signer = await open_p12_signer(pki, "rsa-sign")
    builder = CmsBuilder(signer.identity.certificate, signer.identity.chain)
    tracemalloc.start()
    try:
        [cms_der] = await builder.sign_batch(signer, [big], detached=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes while signing a 50 MiB file"
    assert_verifies(openssl_verify(pki, tmp_path, cms_der, content=big))


async def test_unreadable_path_is_invalid_params(pki: Manifest, tmp_path: Path) -> None:
    signer = await open_p12_signer(pki, "rsa-sign")
    builder = CmsBuilder(signer.identity.certificate, ())
    with pytest.raises(InvalidParams):
        await builder.sign_batch(signer, [tmp_path / "missing.pdf"], detached=True)


async def test_signing_time_is_now_by_default(pki: Manifest) -> None:
    signer = await open_p12_signer(pki, "rsa-sign")
    [cms_der] = await CmsBuilder(signer.identity.certificate, ()).sign_batch(signer, [b"x"])
    attrs = {a["type"].native: a["values"][0].native for a in signer_infos(cms_der)[0]["signed_attrs"]}
    assert abs(attrs["signing_time"] - datetime.now(timezone.utc)) < timedelta(minutes=1)


async def test_signer_of_another_certificate_is_refused(pki: Manifest) -> None:
    # a CMS naming one certificate but signed by another key would never verify
    other = CountingSigner(await open_p12_signer(pki, "org-rsa-sign"))
    builder = CmsBuilder(pki.identities["rsa-sign"].certificate(), ())
    with pytest.raises(InternalError):
        await builder.sign_batch(other, [b"x"])
    assert other.calls == []


async def test_one_builder_follows_the_signing_time_from_second_to_second(pki: Manifest) -> None:
    # the signed attributes are made once per second of signingTime and reused within it
    signer = await open_p12_signer(pki, "rsa-sign")
    builder = CmsBuilder(signer.identity.certificate, ())
    first = datetime(2031, 5, 6, 7, 8, 9, 100, tzinfo=timezone.utc)
    times = [first, first + timedelta(microseconds=500_000), first + timedelta(seconds=1), first]
    signed = [(await builder.sign_batch(signer, [b"doc"], signing_time=when))[0] for when in times]
    attrs = [{a["type"].native: a["values"][0].native for a in signer_infos(der)[0]["signed_attrs"]}
             for der in signed]
    assert [a["signing_time"] for a in attrs] == [when.replace(microsecond=0) for when in times]
    assert all(a["message_digest"] == hashlib.sha256(b"doc").digest() for a in attrs)
