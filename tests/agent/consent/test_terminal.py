"""The terminal approver, driven through its input and output streams."""

from __future__ import annotations

import io

from tanba.agent.consent.base import Action, CertificateChoice, Confirmation, DocumentSummary, OriginDecision, PinRequest
from tanba.agent.consent.terminal import TerminalApprover
from tanba.agent.setup.testpki import Manifest
from tanba.providers.base import Identity, PinStatus
from cryptography import x509


def ident(pki: Manifest, name: str) -> Identity:
    cert = x509.load_pem_x509_certificate(pki.identities[name].cert_pem.read_bytes())
    return Identity(id=name, storage="PKCS12", certificate=cert, chain=(), location=f"/keys/{name}.p12", key_ref=name)


def approver(answers: str) -> tuple[TerminalApprover, io.StringIO]:
    out = io.StringIO()
    return TerminalApprover(io.StringIO(answers), out), out


async def test_origin_question_in_russian() -> None:
    ui, out = approver("a\n")
    assert await ui.ask_origin("https://egov.kz", "ru") is OriginDecision.ALLOW_ALWAYS
    assert "https://egov.kz запрашивает доступ" in out.getvalue()
    ui, _ = approver("o\n")
    assert await ui.ask_origin("https://egov.kz", "en") is OriginDecision.ALLOW_ONCE
    ui, _ = approver("\n")
    assert await ui.ask_origin("https://egov.kz", "en") is OriginDecision.DENY


async def test_choose_shows_name_and_iin(pki: Manifest) -> None:
    a, b = ident(pki, "rsa-auth"), ident(pki, "rsa-sign")
    ui, out = approver("2\n")
    assert await ui.choose_certificate(CertificateChoice("https://egov.kz", "en", Action.SIGN, (a, b))) is b
    assert f"IIN{pki.identities['rsa-sign'].iin}" in out.getvalue()
    ui, _ = approver("7\n")
    assert await ui.choose_certificate(CertificateChoice("https://egov.kz", "en", Action.SIGN, (a, b))) is None


async def test_pin_with_final_try_warning(pki: Manifest) -> None:
    ui, out = approver("4321\n")
    status = PinStatus(needs_pin=True, retries_left=1, final_try=True)
    pin = await ui.get_pin(PinRequest("https://egov.kz", "en", ident(pki, "rsa-sign"), status))
    assert pin == bytearray(b"4321")
    assert "last try" in out.getvalue() and "1 tries left" in out.getvalue()
    ui, _ = approver("\n")
    assert await ui.get_pin(PinRequest("https://egov.kz", "en", ident(pki, "rsa-sign"), status)) is None


async def test_confirmation_shows_what_is_signed(pki: Manifest) -> None:
    ui, out = approver("y\n")
    docs = (DocumentSummary(12, "sha256", "ab" * 32, "<doc>hello</doc>"),)
    assert await ui.confirm(Confirmation("https://egov.kz", "en", Action.SIGN, (ident(pki, "rsa-sign"),), docs))
    shown = out.getvalue()
    assert "https://egov.kz asks to sign" in shown and "ab" * 32 in shown and "<doc>hello</doc>" in shown
    ui, _ = approver("yes please\n")
    assert not await ui.confirm(Confirmation("https://egov.kz", "en", Action.SIGN, (ident(pki, "rsa-sign"),), docs))


async def test_login_and_disclosure_ask_their_own_question_not_sign(pki: Manifest) -> None:
    """Issue 17 item 2: "Log in to …?" without a word of documents; "Show your certificates to …?"."""
    challenge = (DocumentSummary(44, "sha256", "cd" * 32),)
    ui, out = approver("y\n")
    assert await ui.confirm(Confirmation("https://egov.kz", "en", Action.AUTH, (ident(pki, "rsa-auth"),), challenge))
    shown = out.getvalue()
    assert "Log in to https://egov.kz? (y/n)" in shown
    assert "Sign?" not in shown and "44" not in shown and "ocument" not in shown
    ui, out = approver("y\n")
    assert await ui.confirm(Confirmation("https://egov.kz", "ru", Action.DISCLOSE, (ident(pki, "rsa-sign"), ident(pki, "rsa-auth"))))
    shown = out.getvalue()
    assert "Показать ваши сертификаты сайту https://egov.kz? (y/n)" in shown and "Подписать?" not in shown
    assert f"IIN{pki.identities['rsa-auth'].iin}" in shown  # each certificate the site will see


async def test_a_digest_is_shown_as_computed_by_the_site_never_zero_bytes(pki: Manifest) -> None:
    ui, out = approver("n\n")
    docs = (DocumentSummary(None, "sha256", "ef" * 32),)
    assert not await ui.confirm(Confirmation("https://egov.kz", "en", Action.SIGN, (ident(pki, "rsa-sign"),), docs))
    shown = out.getvalue()
    assert "digest computed by the site" in shown and "ef" * 32 in shown
    assert "0 B" not in shown and "0 bytes" not in shown


async def test_the_key_list_names_the_site_and_a_wrong_password_with_its_wait(pki: Manifest) -> None:
    from tanba.agent.consent.base import KeyChoice, KeyFile

    files = (KeyFile("/k/AUTH_RSA256_1.p12", ("auth",)), KeyFile("/k/b.p12", problem="wrong_pin", retry_after=2))
    token = ident(pki, "rsa-auth")
    ui, out = approver("3\n")
    choice = KeyChoice("https://egov.kz", "en", Action.AUTH, files, (token,), last=files[1])
    assert await ui.choose_key(choice) is token  # a token's certificate beside the files
    shown = out.getvalue()
    assert shown.index("Wrong password for b.p12.") < shown.index("https://egov.kz asks to log in. Choose a key:")
    assert "Next try of b.p12 in 2 s." in shown and "AUTH_RSA256_1.p12 (for login)" in shown
    ui, _ = approver("2\n")
    assert await ui.choose_key(choice) == files[1]
    ui, _ = approver("\n")
    assert await ui.choose_key(choice) is None  # Enter cancels


async def test_a_password_prompt_says_who_asks_and_why() -> None:
    ui, out = approver("secret\n")
    request = PinRequest("https://egov.kz", "kk", None, PinStatus(needs_pin=True), location="/k/a.p12", action=Action.SIGN)
    assert await ui.get_pin(request) == bytearray(b"secret")
    shown = out.getvalue()
    assert "https://egov.kz қол қоюды сұрайды." in shown and "a.p12 кілт файлының құпиясөзі" in shown
