"""The demo back end's Web eID check: right site + right challenge + auth certificate, or refused."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from tanba.agent.verify.token import TokenError, check_signature, verify_token
from tanba.agent.setup.testpki import Manifest
from tanba.agent.verify.chain import ChainValidator

ORIGIN = "http://localhost:13580"
CHALLENGE = base64.b64encode(b"c" * 32).decode()


def token(pki: Manifest, name: str, origin: str = ORIGIN, challenge: str = CHALLENGE) -> dict[str, str]:
    ident = pki.identities[name]
    key = serialization.load_pem_private_key(ident.key_pem.read_bytes(), None)
    signed = hashlib.sha256(origin.encode()).digest() + hashlib.sha256(challenge.encode()).digest()
    if isinstance(key, rsa.RSAPrivateKey):
        alg, sig = "RS256", key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(key.sign(signed, ec.ECDSA(hashes.SHA256())))
        alg, sig = "ES256", r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return {"format": "web-eid:1.0", "algorithm": alg, "signature": base64.b64encode(sig).decode(),
            "unverifiedCertificate": base64.b64encode(ident.certificate().public_bytes(Encoding.DER)).decode(),
            "appVersion": "test"}


@pytest.mark.parametrize("name", ["rsa-auth", "ec-auth"])
async def test_a_token_for_this_site_and_challenge_is_accepted_with_its_chain(pki: Manifest, name: str) -> None:
    validator = ChainValidator([pki.root_pem], intermediates=[pki.intermediate_pem], revocation="off")
    result = await verify_token(token(pki, name), ORIGIN, CHALLENGE, validator)
    assert result.accepted and result.chain_valid and result.iin == pki.identities[name].iin


async def test_without_the_intermediate_the_chain_is_not_trusted(pki: Manifest) -> None:
    result = await verify_token(token(pki, "rsa-auth"), ORIGIN, CHALLENGE, ChainValidator([pki.root_pem], revocation="off"))
    assert not result.accepted and not result.chain_valid


@pytest.mark.parametrize(("origin", "challenge"), [("https://evil.test", CHALLENGE), (ORIGIN, "x" * 44)])
def test_a_token_made_for_another_site_or_challenge_is_refused(pki: Manifest, origin: str, challenge: str) -> None:
    with pytest.raises(TokenError) as caught:
        check_signature(token(pki, "rsa-auth", origin, challenge), ORIGIN, CHALLENGE)
    assert caught.value.code == "signature_invalid"


def test_a_signing_certificate_cannot_log_in(pki: Manifest) -> None:
    with pytest.raises(TokenError) as caught:
        check_signature(token(pki, "rsa-sign"), ORIGIN, CHALLENGE)
    assert caught.value.code == "not_auth_certificate"


@pytest.mark.parametrize("change", [{"algorithm": "ES256"}, {"algorithm": "none"}, {"format": "jwt"},
                                    {"signature": "***"}, {"unverifiedCertificate": "AAAA"}])
def test_malformed_or_mismatched_tokens_are_refused(pki: Manifest, change: dict[str, str]) -> None:
    with pytest.raises(TokenError):
        check_signature({**token(pki, "rsa-auth"), **change}, ORIGIN, CHALLENGE)
