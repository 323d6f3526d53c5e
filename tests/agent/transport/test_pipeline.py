"""serve_one: the part of answering a message both endpoints share."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tanba.agent.transport.pipeline import Answer, Call, Endpoint, serve_one
from tanba.agent.transport.tracker import Tracker
from tanba.protocol.errors import InvalidParams, TanbaError


class _Call(Call[str]):
    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome
        self.closed = 0

    async def run(self) -> str:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        if self.outcome == "wait":
            await asyncio.Event().wait()
        return str(self.outcome)

    def render(self, result: str) -> Answer:
        return {"ok": result}

    def render_error(self, error: TanbaError) -> Answer:
        return {"error": error.reason}

    def close(self) -> None:
        self.closed += 1


class _Endpoint(Endpoint):
    def __init__(self, call: _Call | Answer) -> None:
        self.call = call

    def decode(self, text: bool, message: bytes) -> _Call | Answer:
        return self.call


async def _serve(outcome: Any, tracker: Tracker | None = None) -> tuple[list[Answer], _Call]:
    sent: list[Answer] = []

    async def send(answer: Answer) -> None:
        sent.append(answer)

    call = _Call(outcome)
    await serve_one(tracker or Tracker(), _Endpoint(call), True, b"x", send)
    return sent, call


async def test_a_result_and_a_refusal_are_rendered_by_the_endpoint_and_the_call_closed() -> None:
    sent, call = await _serve("r")
    assert sent == [{"ok": "r"}] and call.closed == 1
    sent, call = await _serve(InvalidParams("no"))
    assert sent == [{"error": "invalid_params"}] and call.closed == 1


async def test_an_unexpected_exception_is_internal_on_the_wire_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="tanba.agent.transport.pipeline"):
        sent, _ = await _serve(KeyError("secret path /home/u/key.p12"))
    assert sent == [{"error": "internal"}]
    assert len([r for r in caplog.records if r.exc_info]) == 1
    assert "secret" not in str(sent)


async def test_a_stopping_agent_answers_busy_and_an_undecodable_message_its_error() -> None:
    tracker = Tracker()
    tracker.draining = True
    sent, call = await _serve("r", tracker)
    assert sent == [{"error": "busy"}] and call.closed == 1
    answers: list[Answer] = []

    async def send(answer: Answer) -> None:
        answers.append(answer)

    await serve_one(Tracker(), _Endpoint({"bad": "frame"}), False, b"\xff", send)
    assert answers == [{"bad": "frame"}]


async def test_cancellation_passes_through_and_the_graceful_stop_sees_the_request() -> None:
    tracker = Tracker()
    task = asyncio.create_task(_serve("wait", tracker))
    await asyncio.sleep(0.01)
    assert task in tracker.requests  # a stop waits for it
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stopped = asyncio.create_task(_serve("wait", tracker))
    await asyncio.sleep(0.01)
    tracker.stop([stopped])  # the shutdown cuts it: answered busy, not left silent
    sent, _ = await stopped
    assert sent == [{"error": "busy"}]
