from __future__ import annotations

import pytest

from tanba.agent.prompts import PromptGate
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
