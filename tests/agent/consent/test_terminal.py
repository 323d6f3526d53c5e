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
