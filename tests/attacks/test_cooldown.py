"""Cooldown bypasses: a page that the user keeps denying must not get fresh questions by
inventing fresh names, and the agent must not remember every name it invents.

Finding 7 of the outside review (issue 19): the cooldown was per origin, so twelve
subdomains got twelve questions, and the record of denied origins only grew.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.agent import PORTAL, running_agent
from support.attack import refused, still_serves
from support.consent import ScriptedConsent
from tanba.agent.access.gate import PromptGate
from tanba.agent.consent.base import OriginDecision
from tanba.agent.setup.config import Settings
from tanba.protocol.errors import OriginDenied

ALLOWED = Settings(allow_origin=(PORTAL,))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def origins_asked(consent: ScriptedConsent) -> list[str]:
    return [question[0] for kind, question in consent.asked if kind == "origin"]


async def test_twelve_subdomains_of_a_denied_site_get_three_questions(tmp_path: Path) -> None:
    clock = Clock()
    consent = ScriptedConsent(origin_answer=OriginDecision.DENY)
    async with running_agent(tmp_path, consent, ALLOWED, prompts=PromptGate(clock=clock)) as server:
        for n in range(1, 13):
            assert await refused(server, origin=f"https://a{n}.evil.test") == 403
        # three questions, then the whole site cools down: a9.evil.test is refused unasked
        assert origins_asked(consent) == ["https://a1.evil.test", "https://a2.evil.test", "https://a3.evil.test"]
        assert await refused(server, origin="http://evil.test:8080") == 403  # scheme and port do not help
        assert len(origins_asked(consent)) == 3
        # another site is still asked; so is evil.test once the cooldown is over
        assert await refused(server, origin="https://neighbour.test") == 403
        clock.now += 301
        assert await refused(server, origin="https://a13.evil.test") == 403
        assert origins_asked(consent)[3:] == ["https://neighbour.test", "https://a13.evil.test"]
        await still_serves(server)


async def test_fresh_sites_get_at_most_ten_questions_a_minute(tmp_path: Path) -> None:
    clock = Clock()
    consent = ScriptedConsent(origin_answer=OriginDecision.ALLOW_ONCE)
    gate = PromptGate(clock=clock)
    async with running_agent(tmp_path, consent, ALLOWED, prompts=gate) as server:
        await still_serves(server, origin="https://friend.test")  # the user let this one in
        consent.origin_answer = OriginDecision.DENY
        for n in range(30):  # one question each: below every site's own cooldown
            assert await refused(server, origin=f"https://site{n}.test") == 403
            clock.now += 1
        assert origins_asked(consent)[1:] == [f"https://site{n}.test" for n in range(10)]
        with pytest.raises(OriginDenied) as info:  # what a /v1 request of a fresh origin hears
            gate.check_cooldown("https://site30.test")
        assert 0 < info.value.data["retryAfter"] <= 60
        # the site the user approved is still asked (and let in again)
        consent.origin_answer = OriginDecision.ALLOW_ONCE
        await still_serves(server, origin="https://friend.test")
        assert origins_asked(consent)[-1] == "https://friend.test"
        # a minute after the tenth denial, fresh sites are asked again
        clock.now += 61
        consent.origin_answer = OriginDecision.DENY
        assert await refused(server, origin="https://later.test") == 403
        assert origins_asked(consent)[-1] == "https://later.test"
        assert len(origins_asked(consent)) == 1 + 10 + 1 + 1
        await still_serves(server)


@contextmanager
def traced() -> Iterator[Callable[[], int]]:
    """Trace allocations; yields a function giving the bytes kept since the start."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]

        def kept() -> int:
            gc.collect()
            return tracemalloc.get_traced_memory()[0] - base

        yield kept
    finally:
        tracemalloc.stop()


def test_forty_thousand_denied_origins_keep_the_record_bounded() -> None:
    clock = Clock()
    with traced() as kept:
        gate = PromptGate(clock=clock)
        for n in range(40_000):
            gate.denied(f"https://x{n}.site{n}.test")
            clock.now += 0.001  # 40 s in all: no cooldown has ended yet
        size = kept()
    assert size < 512 * 1024, f"{size} bytes kept for 40,000 denied origins"
    # the newest sites are still remembered: two more denials start a cooldown
    gate.denied("https://x39999.site39999.test")
    gate.denied("https://x39999.site39999.test")
    clock.now += 61  # past the burst window, so only the site's own cooldown speaks
    with pytest.raises(OriginDenied):
        gate.check_cooldown("https://www.site39999.test")
    gate.check_cooldown("https://www.site0.test")  # dropped past the cap: asked again


def test_expired_cooldowns_are_forgotten() -> None:
    clock = Clock()
    with traced() as kept:
        gate = PromptGate(clock=clock)
        for n in range(600):
            for _ in range(3):
                gate.denied(f"https://site{n}.test")
        cooling = kept()
        with pytest.raises(OriginDenied):
            gate.check_cooldown("https://site599.test")
        clock.now += 301
        gate.check_cooldown("https://site599.test")  # the cooldowns are over ...
        after = kept()
    # ... and their records gone (what stays is the table, sized for at most MAX_SITES)
    assert cooling > 50_000 and after < cooling / 2, (cooling, after)


async def test_a_page_that_walks_away_from_its_question_cools_down_like_a_denied_one(tmp_path: Path) -> None:
    """A page that opens a socket (the user is asked) and closes it before the answer,
    over and over, must not flash questions forever: walking away counts as a denial."""
    import asyncio

    hold = asyncio.Event()  # the user never answers
    consent = ScriptedConsent(origin_answer=OriginDecision.ALLOW_ONCE, hold=hold)
    async with running_agent(tmp_path, consent, ALLOWED) as server:
        for _ in range(5):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(
                f"GET /v1 HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nOrigin: https://flash.evil.test\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            await writer.drain()
            for _ in range(50):  # until the question is up (or the agent answered at once)
                if server.services.prompts.active or reader.at_eof():
                    break
                await asyncio.sleep(0.01)
            writer.close()
            for _ in range(200):
                if not server.services.prompts.active:
                    break
                await asyncio.sleep(0.01)
        assert origins_asked(consent) == ["https://flash.evil.test"] * 3
        hold.set()
        await still_serves(server)


async def test_an_allow_listed_portal_is_served_while_others_exhaust_the_overall_limit(tmp_path: Path) -> None:
    """Ten denials of fresh sites a minute close the door to fresh origins — not to the
    portal the administrator listed, which is never asked at all."""
    consent = ScriptedConsent(origin_answer=OriginDecision.DENY)
    gate = PromptGate(clock=Clock())
    async with running_agent(tmp_path, consent, ALLOWED, prompts=gate) as server:
        for n in range(12):
            assert await refused(server, origin=f"https://site{n}.test") == 403
        await still_serves(server)  # PORTAL is allow-listed
        gate.check_cooldown(PORTAL)  # and its requests are not refused by the limit
