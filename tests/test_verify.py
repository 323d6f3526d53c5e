"""tanba.verify, the documented back-end API, used as a portal would: a challenge from the
verifier, a token from the real agent's ``auth`` (RSA, ES256, ES384 keys in PKCS#12 files),
then the verifier's verdict.  Only names from ``tanba.verify`` are used to check."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from support.agent import PORTAL, browser, call, running_agent
from support.consent import ScriptedConsent
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import P12_PASSWORD, Manifest
from tanba.cli.main import main
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.registry import Stores
from tanba.verify import MemoryChallenges, TokenError, TokenVerifier, verify_signature


def es384_file(pki: Manifest, tmp_path: Path) -> Path:
    """A P-384 login key issued by the test PKI's intermediate (the PKI has none of its own)."""
    ca_key = serialization.load_pem_private_key(pki.intermediate_key_pem.read_bytes(), None)
    ca = x509.load_pem_x509_certificate(pki.intermediate_pem.read_bytes())
    key = ec.generate_private_key(ec.SECP384R1())
    now = dt.datetime.now(dt.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ЭЛЛИПТИКОВ 384"),
                      x509.NameAttribute(NameOID.SERIAL_NUMBER, "IIN900101300384"),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA384()))  # type: ignore[arg-type]
    path = tmp_path / "AUTH_ES384.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"es384", key, cert, [ca], serialization.BestAvailableEncryption(P12_PASSWORD.encode())))
    return path


async def agent_token(tmp_path: Path, p12: Path, challenge: str, origin: str = PORTAL) -> dict[str, Any]:
    """What the page's ``auth(challenge)`` returns from the real agent."""
    stores = Stores([Pkcs12Store([p12])])
    try:
        async with running_agent(tmp_path, ScriptedConsent(pin=P12_PASSWORD), Settings(allow_origin=(origin,)),
                                 stores=stores) as server, browser(server, origin=origin) as ws:
            answer = await call(ws, "auth", {"challenge": challenge})
    finally:
        await stores.close()
    assert "result" in answer, answer
    return dict(answer["result"])


def verifier(pki: Manifest, **kw: Any) -> TokenVerifier:
    kw.setdefault("intermediates", [pki.intermediate_pem])
    kw.setdefault("revocation", "off")
    return TokenVerifier(PORTAL, [pki.root_pem], **kw)


@pytest.mark.parametrize(("name", "algorithm"), [("rsa-auth", "RS256"), ("ec-auth", "ES256"), ("es384", "ES384")])
async def test_a_login_from_the_agent_is_accepted_once(pki: Manifest, tmp_path: Path, name: str, algorithm: str) -> None:
    p12 = es384_file(pki, tmp_path) if name == "es384" else pki.identities[name].p12
    check = verifier(pki)
    challenge = check.new_challenge()
    token = await agent_token(tmp_path, p12, challenge)
    login = await check.verify(token, challenge)
    assert login.accepted and login.chain_valid and login.algorithm == algorithm and not login.problems
    assert login.iin == (pki.identities[name].iin if name != "es384" else "900101300384")
    with pytest.raises(TokenError) as replay:  # the same token again: its challenge is spent
        await check.verify(token, challenge)
    assert replay.value.code == "challenge_unknown"


async def test_a_token_for_another_origin_or_an_unissued_challenge_is_refused(pki: Manifest, tmp_path: Path) -> None:
    check = verifier(pki)
    challenge = check.new_challenge()
    elsewhere = await agent_token(tmp_path, pki.identities["rsa-auth"].p12, challenge, origin="https://evil.test")
    with pytest.raises(TokenError) as caught:
        await check.verify(elsewhere, challenge)
    assert caught.value.code == "signature_invalid"
    with pytest.raises(TokenError) as unissued:
        await check.verify(elsewhere, base64.b64encode(b"x" * 32).decode())
    assert unissued.value.code == "challenge_unknown"


async def test_a_signing_key_cannot_log_in(pki: Manifest) -> None:
    # The agent never makes such a token (auth keys only); a forger with the signing key would:
    ident = pki.identities["rsa-sign"]
    key = serialization.load_pem_private_key(ident.key_pem.read_bytes(), None)
    check = verifier(pki)
    challenge = check.new_challenge()
    signed = hashlib.sha256(PORTAL.encode()).digest() + hashlib.sha256(challenge.encode()).digest()
    token = {"format": "web-eid:1.0", "algorithm": "RS256", "appVersion": "forged",
             "signature": base64.b64encode(key.sign(signed, padding.PKCS1v15(), hashes.SHA256())).decode(),  # type: ignore[union-attr, call-arg, arg-type]
             "unverifiedCertificate": base64.b64encode(
                 ident.certificate().public_bytes(serialization.Encoding.DER)).decode()}
    with pytest.raises(TokenError) as caught:
        await check.verify(token, challenge)
    assert caught.value.code == "not_auth_certificate"


async def test_an_untrusted_chain_is_not_accepted(pki: Manifest, tmp_path: Path) -> None:
    check = verifier(pki, intermediates=[])  # the portal forgot the issuing CA: no path
    challenge = check.new_challenge()
    token = await agent_token(tmp_path, pki.identities["rsa-auth"].p12, challenge)
    login = await check.verify(token, challenge)
    assert not login.accepted and not login.chain_valid and "chain_untrusted" in login.problems


async def test_revocation_is_required_by_default(pki: Manifest, tmp_path: Path) -> None:
    # a login key that names no OCSP responder and no CRL: whatever else runs, nothing can say "good"
    check = verifier(pki, revocation="require", timeout=1.0, crls=[])
    challenge = check.new_challenge()
    token = await agent_token(tmp_path, es384_file(pki, tmp_path), challenge)
    login = await check.verify(token, challenge)
    assert login.chain_valid and login.revocation != "good" and not login.accepted


def test_challenges_are_single_use_and_expire() -> None:
    store = MemoryChallenges(ttl=0.05, max_size=2)
    first, second = store.issue(), store.issue()
    assert len(base64.b64decode(first)) == 32 and first != second
    assert store.take(first) and not store.take(first)
    third = store.issue()
    assert not store.take("never issued")
    import time

    time.sleep(0.06)
    assert not store.take(second) and not store.take(third)  # expired
    bounded = MemoryChallenges(max_size=2)
    oldest = bounded.issue()
    bounded.issue()
    bounded.issue()
    assert not bounded.take(oldest)  # over max_size the oldest goes first
    with pytest.raises(ValueError):
        TokenVerifier("not an origin", [])


async def test_verify_signature_checks_a_cms_as_the_agent_does(pki: Manifest, tmp_path: Path) -> None:
    from support.native import open_p12_signer
    from tanba.agent.formats.cms import CmsBuilder

    signer = await open_p12_signer(pki, "rsa-sign")
    try:
        builder = CmsBuilder(signer.identity.certificate, signer.identity.chain)
        signature = await builder.sign(signer, b"doc", detached=True)
    finally:
        await signer.close()
    good = await verify_signature(signature, data=b"doc", trust_anchors=[pki.root_pem], revocation="off")
    bad = await verify_signature(signature, data=b"dog", trust_anchors=[pki.root_pem], revocation="off")
    assert good.valid and not bad.valid


def test_the_cli_checks_a_token_file(pki: Manifest, tmp_path: Path) -> None:
    import asyncio

    challenge = MemoryChallenges().issue()
    token = asyncio.run(agent_token(tmp_path, pki.identities["rsa-auth"].p12, challenge))  # the CLI runs its own loop
    (tmp_path / "token.json").write_text(json.dumps(token))
    args = ["verify-token", str(tmp_path / "token.json"), "--origin", PORTAL, "--trust-anchor", str(pki.root_pem),
            "--intermediate", str(pki.intermediate_pem), "--revocation", "off"]
    ok = CliRunner().invoke(main, [*args, "--challenge", challenge])
    assert ok.exit_code == 0 and ok.output.startswith("ACCEPTED") and pki.identities["rsa-auth"].iin in ok.output
    wrong = CliRunner().invoke(main, [*args, "--challenge", "other", "--json"])
    assert wrong.exit_code == 1 and json.loads(wrong.output)["error"] == "signature_invalid"
    other_site = CliRunner().invoke(main, [*args[:3], "https://evil.test", *args[4:], "--challenge", challenge])
    assert other_site.exit_code == 1 and "signature_invalid" in other_site.output
