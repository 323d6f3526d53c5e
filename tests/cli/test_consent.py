"""cli/consent.py: the command line's questions."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509

from tanba.agent.consent.base import PinRequest
from tanba.agent.setup.testpki import Manifest
from tanba.cli.consent import CliConsent
from tanba.providers.base import Identity, PinStatus


def ask(request: PinRequest) -> tuple[bytearray | None, str]:
    runner = CliRunner()
    with runner.isolation(input="1234\n") as streams:
        typed = asyncio.run(CliConsent().get_pin(request))
        return typed, streams[1].getvalue().decode()


def test_a_key_file_asks_its_password_and_a_token_its_pin(pki: Manifest, tmp_path: Path) -> None:
    """One wording everywhere (issue 17 item 9): `certs list`, `sign` and `test-sign` ask a
    key file's *password*; only a token asks a PIN."""
    typed, said = ask(PinRequest("tanba sign", "en", None, PinStatus(needs_pin=True), location="/keys/RSA256_x.p12"))
    assert typed == bytearray(b"1234") and said.startswith("Password for /keys/RSA256_x.p12")
    cert = x509.load_pem_x509_certificate(pki.identities["rsa-sign"].cert_pem.read_bytes())
    token = Identity(id="t1", storage="AKKaztokenStore", certificate=cert, chain=(), location="tanba-test", key_ref="k")
    typed, said = ask(PinRequest("tanba sign", "en", token, PinStatus(needs_pin=True)))
    assert typed == bytearray(b"1234") and said.startswith("PIN for ")
