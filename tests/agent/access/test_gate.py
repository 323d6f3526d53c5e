from __future__ import annotations

import pytest

from tanba.agent.access.gate import PromptGate, site_of
from tanba.protocol.errors import Busy, OriginDenied


async def test_one_prompt_at_a_time() -> None:
    gate = PromptGate()
    async with gate.turn("https://a.test"):
        assert gate.active
        with pytest.raises(Busy):
            async with gate.turn("https://b.test"):
                pass
    assert not gate.active
    async with gate.turn("https://b.test"):
        pass


async def test_three_denials_in_a_row_start_a_cooldown_that_ends() -> None:
    now = [1000.0]
    gate = PromptGate(cooldown=60, clock=lambda: now[0])
    gate.denied("https://a.test")
    gate.denied("https://a.test")
    gate.approved("https://a.test")  # an approval breaks the row
    gate.denied("https://a.test")
    gate.denied("https://a.test")
    gate.check_cooldown("https://a.test")
    gate.denied("https://a.test")
    with pytest.raises(OriginDenied) as info:
        async with gate.turn("https://a.test"):
            pass
    assert info.value.data["retryAfter"] == 61
    gate.check_cooldown("https://b.test")
    now[0] += 61
    gate.check_cooldown("https://a.test")


@pytest.mark.parametrize(
    ("origin", "site"),
    [
        ("https://a1.evil.test", "evil.test"),
        ("https://x.y.evil.test:8443", "evil.test"),
        ("https://egov.kz", "egov.kz"),
        ("https://idp.egov.kz", "egov.kz"),
        ("https://portal.gov.kz", "portal.gov.kz"),
        ("https://a.portal.gov.kz", "portal.gov.kz"),
        ("https://shop.com.kz", "shop.com.kz"),
        ("https://uni.edu.kz", "uni.edu.kz"),
        ("https://x.co.uk", "x.co.uk"),
        ("https://gov.kz", "gov.kz"),
        ("http://127.0.0.1:8080", "127.0.0.1"),
        ("http://[::1]:8080", "::1"),
        ("http://localhost:3000", "localhost"),
        ("http://app.localhost", "localhost"),
        ("local program", "local program"),
    ],
)
def test_site_of_an_origin(origin: str, site: str) -> None:
    assert site_of(origin) == site


def test_denials_count_per_site_and_a_row_is_forgotten_after_the_cooldown() -> None:
    now = [1000.0]
    gate = PromptGate(cooldown=60, clock=lambda: now[0])
    gate.denied("https://a.evil.test")
    gate.denied("https://b.evil.test")
    now[0] += 61  # an old row of denials no longer counts
    gate.denied("https://c.evil.test")
    gate.check_cooldown("https://d.evil.test")
    gate.denied("https://d.evil.test")
    gate.denied("https://e.evil.test")
    with pytest.raises(OriginDenied):
        gate.check_cooldown("https://evil.test")
    gate.approved("https://f.evil.test")  # an answer from a dialog opened before: the cooldown stays
    with pytest.raises(OriginDenied):
        gate.check_cooldown("https://g.evil.test")


def test_the_burst_limit_spares_origins_the_user_approved() -> None:
    now = [1000.0]
    gate = PromptGate(burst_denials=2, burst_window=30, clock=lambda: now[0])
    gate.approved("https://friend.test")
    gate.denied("https://one.test")
    now[0] += 10
    gate.denied("https://two.test")
    with pytest.raises(OriginDenied) as info:
        gate.check_cooldown("https://three.test")
    assert info.value.data["retryAfter"] == 21  # until the first denial is 30 s old
    gate.check_cooldown("https://friend.test")
    gate.denied("https://friend.test")  # a no makes it a stranger again
    with pytest.raises(OriginDenied):
        gate.check_cooldown("https://friend.test")
    now[0] += 30  # the last two denials (one.test's has left the window) are 30 s old
    gate.check_cooldown("https://three.test")
