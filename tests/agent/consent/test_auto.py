"""The auto approver approves only allow-listed origins and never spends a final try."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from tanba.agent.consent.auto import AutoApprover
from tanba.agent.consent.base import Action, CertificateChoice, Confirmation, OriginDecision, PinRequest, wipe
from tanba.providers.base import Identity, PinStatus


def identity(name: str) -> Identity:
    return Identity(id=name, storage="PKCS12", certificate=None, chain=(), location=name, key_ref=name)  # type: ignore[arg-type]


async def test_listed_origin_is_approved_and_gets_the_pin(tmp_path: Path) -> None:
    (tmp_path / "pin").write_text("1234\n")
    auto = AutoApprover(tmp_path / "pin", ["https://portal.test"])
    assert await auto.ask_origin("https://portal.test", "en") is OriginDecision.ALLOW_ONCE
    a, b = identity("a"), identity("b")
    assert await auto.choose_certificate(CertificateChoice("https://portal.test", "en", Action.SIGN, (a, b))) is a
    pin = await auto.get_pin(PinRequest("https://portal.test", "en", a, PinStatus(needs_pin=True)))
    assert pin == bytearray(b"1234")
    wipe(pin)
    assert pin == bytearray(4)
    assert await auto.confirm(Confirmation("https://portal.test", "en", Action.SIGN, (a,)))


async def test_unlisted_origin_is_refused_everything(tmp_path: Path) -> None:
    (tmp_path / "pin").write_text("1234")
    auto = AutoApprover(tmp_path / "pin", ["https://portal.test"])
    evil = "https://evil.test"
    a = identity("a")
    assert await auto.ask_origin(evil, "en") is OriginDecision.DENY
    assert await auto.choose_certificate(CertificateChoice(evil, "en", Action.SIGN, (a,))) is None
    assert await auto.get_pin(PinRequest(evil, "en", a, PinStatus(needs_pin=True))) is None
    assert not await auto.confirm(Confirmation(evil, "en", Action.SIGN, (a,)))


async def test_final_try_is_never_spent_automatically(tmp_path: Path) -> None:
    (tmp_path / "pin").write_text("1234")
    auto = AutoApprover(tmp_path / "pin", ["https://portal.test"])
    status = PinStatus(needs_pin=True, retries_left=1, final_try=True)
    assert await auto.get_pin(PinRequest("https://portal.test", "en", identity("a"), status)) is None


def test_warns_loudly(tmp_path: Path) -> None:
    lines = AutoApprover(tmp_path / "pin", ["https://portal.test"]).warnings()
    assert any("WITHOUT any confirmation" in line and "https://portal.test" in line for line in lines)
