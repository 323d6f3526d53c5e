"""Bare signatures: checked with ``openssl dgst -verify`` against the certificate's key."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from support.native import open_p12_signer
from tanba.agent.formats.cms import PrecomputedDigest
from tanba.agent.formats.raw import sign_raw, sign_raw_batch
from tanba.agent.setup.testpki import Manifest
from tanba.protocol.errors import InvalidParams
from tanba.providers.base import HashAlgorithm, SignatureScheme, Signer


def openssl_verify(signer: Signer, tmp_path: Path, data: Path, signature: bytes,
                   alg: HashAlgorithm, scheme: SignatureScheme) -> subprocess.CompletedProcess[str]:
    pub = tmp_path / "pub.pem"
    pub.write_bytes(signer.identity.certificate.public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    (tmp_path / "sig.bin").write_bytes(signature)
    cmd = ["openssl", "dgst", f"-{alg.value}", "-verify", str(pub), "-signature", str(tmp_path / "sig.bin")]
    if scheme is SignatureScheme.RSA_PSS:
        cmd += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
    return subprocess.run([*cmd, str(data)], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("name", "scheme"),
    [("rsa-sign", SignatureScheme.RSA_PKCS1V15), ("rsa-sign", SignatureScheme.RSA_PSS),
     ("ec-sign", SignatureScheme.ECDSA)],
)
@pytest.mark.parametrize("alg", [a for a in HashAlgorithm if not a.national])  # GOST: test_raw_gost.py
async def test_raw_signature_verifies_with_openssl(
    pki: Manifest, tmp_path: Path, name: str, scheme: SignatureScheme, alg: HashAlgorithm
) -> None:
    signer = await open_p12_signer(pki, name)
    doc = tmp_path / "doc.txt"
    doc.write_bytes(b"integrator payload " * 1000)
    from_data, from_path, from_digest = await sign_raw_batch(
        signer,
        [doc.read_bytes(), doc, PrecomputedDigest(hashlib.new(alg.value, doc.read_bytes()).digest())],
        alg, scheme,
    )
    for signature in (from_data, from_path, from_digest):
        proc = openssl_verify(signer, tmp_path, doc, signature, alg, scheme)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Verified OK" in proc.stdout
    if scheme is SignatureScheme.ECDSA:
        assert from_data[0] == 0x30  # DER Ecdsa-Sig-Value, not r||s
    tampered = tmp_path / "other.txt"
    tampered.write_bytes(b"integrator payload?" * 1000)
    assert openssl_verify(signer, tmp_path, tampered, from_data, alg, scheme).returncode != 0


async def test_default_scheme_follows_the_key(pki: Manifest, tmp_path: Path) -> None:
    signer = await open_p12_signer(pki, "ec-sign")
    doc = tmp_path / "d"
    doc.write_bytes(b"x")
    signature = await sign_raw(signer, b"x")
    assert openssl_verify(signer, tmp_path, doc, signature, HashAlgorithm.SHA256,
                          SignatureScheme.ECDSA).returncode == 0


async def test_wrong_digest_length_or_scheme_is_invalid_params(pki: Manifest) -> None:
    signer = await open_p12_signer(pki, "rsa-sign")
    with pytest.raises(InvalidParams) as exc:
        await sign_raw(signer, PrecomputedDigest(bytes(32)), HashAlgorithm.SHA512)
    assert exc.value.reason == "invalid_params"
    with pytest.raises(InvalidParams):
        await sign_raw(signer, b"x", HashAlgorithm.SHA256, SignatureScheme.ECDSA)
