"""The key-file flow (issue 17 items 1 and 3): the user sees the key files and the visible
certificates, picks one, types *that* file's password, picks a certificate in it; file names
of NCA's kind say which operation a file serves; a wrong password is said and can be retried."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from support.consent import ScriptedConsent
from support.keyfiles import key_file
from tanba.agent.access.gate import PromptGate
from tanba.agent.access.keys import KeyAccess, file_purposes
from tanba.agent.consent.base import KeyChoice, KeyFile, PinRequest
from tanba.agent.setup.testpki import Manifest
from tanba.protocol.errors import WrongPin
from tanba.protocol.methods.filter import CertFilter
from tanba.providers.base import HashAlgorithm, SignatureScheme
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.registry import Stores

import pytest

DIGEST = hashlib.sha256(b"doc").digest()
SITE = "https://portal.test"


def verifies(cert: x509.Certificate, signature: bytes) -> bool:
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    try:
        public.verify(signature, DIGEST, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    except Exception:
        return False
    return True


class Typist(ScriptedConsent):
    """Types the passwords of ``answers`` in order, whatever file asks."""

    def __init__(self, answers: list[str], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.answers = list(answers)

    async def get_pin(self, request: PinRequest) -> bytearray | None:
        self.asked.append(("pin", request))
        return bytearray(self.answers.pop(0).encode()) if self.answers else None


def pin_files(consent: ScriptedConsent) -> list[str]:
    return [Path(q.location).name for k, q in consent.asked if k == "pin"]


def by_name(wanted: str):  # type: ignore[no-untyped-def]
    return lambda choice: next(f for f in choice.files if f.name == wanted)


def test_nca_file_names_say_what_a_file_serves() -> None:
    assert file_purposes("/k/AUTH_RSA256_abc.p12") == ("auth",)
    assert file_purposes("/k/RSA256_abc.p12") == ("sign",)
    assert file_purposes("/k/GOSTKNCA_abc.p12") == ("sign", "auth")
    assert file_purposes("/k/my-key.p12") == ("sign", "auth")


async def test_three_files_the_second_picked_only_its_password_is_asked(pki: Manifest, tmp_path: Path) -> None:
    a = key_file(pki, "rsa-sign", tmp_path / "a.p12", "pass-a")
    b = key_file(pki, "org-rsa-sign", tmp_path / "b.p12", "pass-b")
    c = key_file(pki, "rsa-auth", tmp_path / "c.p12", "pass-c")
    consent = ScriptedConsent(pins={"b.p12": "pass-b"}, pin=None, choose_file=by_name("b.p12"))
    access = KeyAccess(Stores([Pkcs12Store([a, b, c])]), consent, PromptGate(), SITE, "en")
    async with access.signer(CertFilter(), "sign", ()) as signer:
        signature = await signer.sign_digest(DIGEST, HashAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15)
    assert [k for k, _ in consent.asked] == ["key", "pin", "choose", "confirm"]
    choice = consent.asked[0][1]
    assert isinstance(choice, KeyChoice) and [f.name for f in choice.files] == ["a.p12", "b.p12", "c.p12"]
    assert pin_files(consent) == ["b.p12"]  # not a.p12's, the first file's
    pin = consent.asked[1][1]
    assert pin.origin == SITE and pin.action is not None and pin.action.value == "sign"  # who asks, and why
    assert verifies(pki.identities["org-rsa-sign"].certificate(), signature)
    assert signer.identity.certificate == pki.identities["org-rsa-sign"].certificate()


async def test_a_signing_file_is_not_offered_for_login_nor_an_auth_file_for_signing(pki: Manifest, tmp_path: Path) -> None:
    sign = key_file(pki, "rsa-sign", tmp_path / "RSA256_1.p12", "123456")
    auth = key_file(pki, "rsa-auth", tmp_path / "AUTH_RSA256_1.p12", "123456")
    stores = Stores([Pkcs12Store([sign, auth])])
    consent = ScriptedConsent(pin="123456")
    async with KeyAccess(stores, consent, PromptGate(), SITE, "en").signer(CertFilter(), "auth", ()) as signer:
        assert signer.identity.certificate == pki.identities["rsa-auth"].certificate()
    # one file can serve a login: no choice to make, its password asked at once; RSA256_ never asked
    assert [k for k, _ in consent.asked] == ["pin", "confirm"] and pin_files(consent) == ["AUTH_RSA256_1.p12"]
    consent = ScriptedConsent(pin="123456")
    async with KeyAccess(stores, consent, PromptGate(), SITE, "en").signer(CertFilter(), "sign", ()) as signer:
        assert signer.identity.certificate == pki.identities["rsa-sign"].certificate()
    assert pin_files(consent) == ["RSA256_1.p12"]


async def test_a_file_opened_earlier_in_the_request_is_not_asked_again(pki: Manifest, tmp_path: Path) -> None:
    auth = key_file(pki, "rsa-auth", tmp_path / "first.p12", "p1")
    sign = key_file(pki, "rsa-sign", tmp_path / "second.p12", "p2")
    picks: list[KeyChoice] = []

    def pick(choice: KeyChoice) -> KeyFile:
        picks.append(choice)
        return choice.files[0]

    consent = ScriptedConsent(pins={"first.p12": "p1", "second.p12": "p2"}, choose_file=pick)
    access = KeyAccess(Stores([Pkcs12Store([auth, sign])]), consent, PromptGate(), SITE, "en")
    async with access.signer(CertFilter(), "sign", ()) as signer:
        assert signer.identity.certificate == pki.identities["rsa-sign"].certificate()
    # first.p12 holds only a login key: said, and not offered (nor asked) again
    assert [f.name for f in picks[1].files] == ["second.p12"]
    assert picks[1].last is not None and picks[1].last.name == "first.p12" and picks[1].last.problem == "no_match"
    assert pin_files(consent) == ["first.p12", "second.p12"]


async def test_a_wrong_password_is_said_and_the_user_tries_again(pki: Manifest, tmp_path: Path) -> None:
    a = key_file(pki, "rsa-sign", tmp_path / "a.p12", "pass-a")
    b = key_file(pki, "org-rsa-sign", tmp_path / "b.p12", "pass-b")
    choices: list[KeyChoice] = []

    def pick(choice: KeyChoice) -> KeyFile:
        choices.append(choice)
        return next(f for f in choice.files if f.name == "b.p12")

    consent = Typist(["wrong", "pass-b"], choose_file=pick)
    access = KeyAccess(Stores([Pkcs12Store([a, b])]), consent, PromptGate(), SITE, "en")
    async with access.signer(CertFilter(), "sign", ()) as signer:
        assert signer.identity.certificate == pki.identities["org-rsa-sign"].certificate()
    assert len(choices) == 2
    assert choices[1].last is not None and choices[1].last.name == "b.p12" and choices[1].last.problem == "wrong_pin"
    assert pin_files(consent) == ["b.p12", "b.p12"]


async def test_giving_up_after_a_wrong_password_answers_wrong_pin_with_the_wait(pki: Manifest, tmp_path: Path) -> None:
    a = key_file(pki, "rsa-sign", tmp_path / "a.p12", "pass-a")
    b = key_file(pki, "org-rsa-sign", tmp_path / "b.p12", "pass-b")
    choices: list[KeyChoice] = []

    def pick(choice: KeyChoice) -> KeyFile | None:
        choices.append(choice)
        return choice.files[1] if len(choices) <= 2 else None

    consent = Typist(["x", "y"], choose_file=pick)
    access = KeyAccess(Stores([Pkcs12Store([a, b])]), consent, PromptGate(), SITE, "en")
    with pytest.raises(WrongPin) as caught:
        async with access.signer(CertFilter(), "sign", ()):
            pass
    # the second wrong password starts the backoff: the list says how long b.p12 waits
    assert choices[2].last is not None and choices[2].last.retry_after == 1
    assert next(f for f in choices[2].files if f.name == "b.p12").retry_after == 1
    assert caught.value.data.get("retryAfter") == 1


async def test_a_file_that_is_not_pkcs12_does_not_spoil_the_others(pki: Manifest, tmp_path: Path) -> None:
    """A certificate configured as a key file among real ones: it is named unreadable in the
    key list, no password is asked for it, and the real file signs."""
    junk = tmp_path / "cert-not-key.p12"
    junk.write_bytes(pki.root_pem.read_bytes())
    real = key_file(pki, "rsa-sign", tmp_path / "real.p12", "pass-r")
    consent = ScriptedConsent(pins={"real.p12": "pass-r"}, pin=None)
    access = KeyAccess(Stores([Pkcs12Store([junk, real])]), consent, PromptGate(), SITE, "en")
    async with access.signer(CertFilter(), "sign", ()) as signer:
        signature = await signer.sign_digest(DIGEST, HashAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15)
    assert verifies(pki.identities["rsa-sign"].certificate(), signature)
    assert pin_files(consent) == ["real.p12"]
    choice = consent.asked[0][1]
    assert isinstance(choice, KeyChoice)
    assert [(f.name, f.problem) for f in choice.files] == [("cert-not-key.p12", "store_error"), ("real.p12", None)]
