"""PKCS#12 files made from the test PKI's keys, each with a password of the test's choosing
(the PKI's own files all share one password, so "its password only" could not be told)."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from tanba.agent.setup.testpki import Manifest


def key_file(pki: Manifest, name: str, path: Path, password: str) -> Path:
    """The test PKI's ``name`` key and certificate in a PKCS#12 file at ``path`` with ``password``."""
    ident = pki.identities[name]
    key = serialization.load_pem_private_key(ident.key_pem.read_bytes(), None)
    data = pkcs12.serialize_key_and_certificates(
        b"key", key, ident.certificate(), None,  # type: ignore[arg-type]
        serialization.BestAvailableEncryption(password.encode()))
    path.write_bytes(data)
    return path
