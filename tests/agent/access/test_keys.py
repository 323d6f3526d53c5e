"""KeyAccess: the one consent-guarded path to keys, driven directly."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from support.consent import ScriptedConsent
from tanba.agent.access.gate import PromptGate
from tanba.agent.access.keys import KeyAccess, purpose_filter
from tanba.agent.setup.testpki import Manifest
from tanba.protocol.errors import InvalidParams
from tanba.protocol.methods.filter import CertFilter
from tanba.providers.base import HashAlgorithm, SignatureScheme
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.registry import Stores

DIGEST = hashlib.sha256(b"doc").digest()


def test_purpose_is_forced_into_the_filter() -> None:
    assert purpose_filter(CertFilter(), "sign").key_usage == "sign"
    assert purpose_filter(CertFilter(iin="123456789012"), "auth") == CertFilter(key_usage="auth", iin="123456789012")
    with pytest.raises(InvalidParams):
        purpose_filter(CertFilter(key_usage="auth"), "sign")


async def test_a_file_shared_by_two_requests_stays_open_until_both_are_done(pki: Manifest) -> None:
    """Request A unlocked the file and signs; request B, between A's prompt and A's end, uses
    the same open file (after typing the password itself).  A ending must not lock the file
    under B's signer; B ending locks it."""
    store = Pkcs12Store([pki.identities["rsa-sign"].p12])
    stores, prompts = Stores([store]), PromptGate()
    a_user, b_user = ScriptedConsent(pin="123456"), ScriptedConsent(pin="123456")
    a = KeyAccess(stores, a_user, prompts, "https://a.test", "en")
    b = KeyAccess(stores, b_user, prompts, "https://b.test", "en")
    async with a.signer(CertFilter(), "sign", ()) as a_signer:
        async with b.signer(CertFilter(), "sign", ()) as b_signer:
            assert [k for k, _ in b_user.asked] == ["confirm", "pin"]  # B proved the password too
            await a_signer.sign_digest(DIGEST, HashAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15)
        assert not store.locked_files()  # B is done, A still holds the file
        await a_signer.sign_digest(DIGEST, HashAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15)
    assert store.locked_files()  # the last holder locked it
    a2 = KeyAccess(stores, a_user, prompts, "https://a.test", "en")
    async with a2.signer(CertFilter(), "sign", ()) as signer:
        await signer.sign_digest(DIGEST, HashAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15)


async def test_the_first_holder_ending_first_keeps_the_second_signing(pki: Manifest) -> None:
    store = Pkcs12Store([pki.identities["rsa-sign"].p12])
    stores, prompts = Stores([store]), PromptGate()
    a = KeyAccess(stores, ScriptedConsent(pin="123456"), prompts, "https://a.test", "en")
    b = KeyAccess(stores, ScriptedConsent(pin="123456"), prompts, "https://b.test", "en")
    a_cm = a.signer(CertFilter(), "sign", ())
    await a_cm.__aenter__()
    async with b.signer(CertFilter(), "sign", ()) as b_signer:
        await a_cm.__aexit__(None, None, None)  # A finishes while B is still signing
        signature = await b_signer.sign_digest(DIGEST, HashAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15)
        assert signature
    assert store.locked_files()
