"""The attack suite against the NCALayer endpoint ``/``: the same gates as ``/v1``, answers
in NCALayer's own failure shapes, and the endpoint keeps serving (greeting, heartbeat,
``getActiveTokens``) after each attack.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from websockets.typing import Origin
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from support.agent import PORTAL, raw_handshake, running_agent, url
from support.attack import BINARY, CONT, TEXT, RawSocket, frame, refused
from support.consent import ScriptedConsent
from support.ncalayer import BASICS, CU, ask, greet, ncalayer_still_serves
from support.native import agent_with_keys
from tanba.agent.consent.base import OriginDecision
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest
from tanba.protocol import i18n
from tanba.protocol.errors import Busy, InvalidRequest
from tanba.protocol.limits import Limits

ALLOWED = Settings(allow_origin=(PORTAL,), autodetect=False)
DOC = base64.b64encode("Өтініш".encode()).decode()
MALFORMED = {"code": "500", "message": i18n.error_text(InvalidRequest(), "en")}


def sign_cades(key_type: str = "SIGNATURE", *extra: Any) -> dict[str, Any]:
    return {"module": CU, "method": "createCAdESFromBase64", "args": ["PKCS12", key_type, DOC, False, *extra]}


def basics(**args: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"allowedStorages": ["PKCS12"], "format": "cms", "data": DOC,
                            "signingParams": {"decode": True}, "signerParams": {}, "locale": "en"}
    base.update(args)
    return {"module": BASICS, "method": "sign", "args": base}


# -- the gates before the upgrade --------------------------------------------------------


@pytest.mark.parametrize(
    "origin", ["https://evil.test", "http://portal.test", "https://portal.test.evil.test", "https://xn--prtal-jye.test"]
)
async def test_foreign_origins_are_refused_on_the_ncalayer_path(tmp_path: Path, origin: str) -> None:
    consent = ScriptedConsent(origin_answer=OriginDecision.DENY)
    async with running_agent(tmp_path, consent, ALLOWED) as server:
        assert await refused(server, path="/", origin=origin) == 403
        assert consent.asked == [("origin", (origin, "en"))]
        await ncalayer_still_serves(server)


@pytest.mark.parametrize("origin", ["null", "file://", "https://portal.test@evil.test", None])
async def test_null_missing_and_malformed_origins_are_refused_unasked(tmp_path: Path, origin: str | None) -> None:
    consent = ScriptedConsent(origin_answer=OriginDecision.ALLOW_ALWAYS)
    async with running_agent(tmp_path, consent, ALLOWED) as server:
        headers = {"Host": f"127.0.0.1:{server.port}"}
        if origin is not None:
            headers["Origin"] = origin
        status, reply = await raw_handshake(server.port, headers, path="/")
        assert status == 403 and b"version" not in reply
        assert consent.asked == []
        await ncalayer_still_serves(server)


@pytest.mark.parametrize("host", ["rebind.test:{port}", "127.0.0.1:{other}", "evil.test", ""])
async def test_dns_rebinding_is_refused_on_the_ncalayer_path(tmp_path: Path, host: str) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server:
        headers = {"Origin": PORTAL, "Host": host.format(port=server.port, other=server.port + 1)}
        status, _ = await raw_handshake(server.port, headers, path="/")
        assert status == 403
        await ncalayer_still_serves(server)


# -- malformed messages ------------------------------------------------------------------


async def test_every_kind_of_malformed_json_is_a_common_failure(tmp_path: Path) -> None:
    bad: list[str | bytes] = [
        b'{"module":"kz.gov.pki.knca.commonUtils","method":"getActiveTokens","x":"\xff"}',
        '{"module":"kz.gov.pki.knca.commonUtils","method":"getActiveTokens","x":"\\ud800"}',
        '{"module":"kz.gov.pki.knca.commonUtils","module":"kz.gov.pki.knca.basics","method":"sign"}',
        '{"module":"kz.gov.pki.knca.commonUtils","method":"getActiveTokens","args":[NaN]}',
        '{"module":"kz.gov.pki.knca.commonUtils","method":"getActiveTokens","args":[1e99999]}',
        '{"module":"kz.gov.pki.knca.commonUtils","method":"getActiveTokens","args":[' + "9" * 1000 + "]}",
        '{"a":' * 40 + "1" + "}" * 40,
        "[" * 90_000,
        "[1,2]",
        '"getActiveTokens"',
        "",
        "--heartbeat-- ",
    ]
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server:
        async with connect(url(server, "/"), origin=Origin(PORTAL)) as ws:
            await greet(ws)
            for message in bad:
                if isinstance(message, bytes):
                    await ws.send(message, text=True)
                    reply = json.loads(await ws.recv())
                else:
                    reply = await ask(ws, message)
                assert reply == MALFORMED, message
                assert (await ask(ws, {"module": CU, "method": "getActiveTokens"}))["code"] == "200"
        await ncalayer_still_serves(server)


async def test_binary_and_fragmented_frames(tmp_path: Path) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server:
        raw = await RawSocket.open(server, path="/")
        assert (await raw.recv_data()).json() == {"result": {"version": "1.4"}}
        body = json.dumps({"module": CU, "method": "getActiveTokens", "uuid": 1}).encode()
        await raw.send(frame(BINARY, body))
        assert (await raw.recv_data()).json() == MALFORMED
        await raw.send(frame(TEXT, body[:5], fin=False) + frame(CONT, body[5:]))  # fragmented text: one message
        assert (await raw.recv_data()).json() == {"code": "200", "responseObject": [], "uuid": 1}
        await raw.send(frame(CONT, b"x"))  # a continuation with nothing to continue
        assert await raw.closed_by_agent() == 1002
        raw.close()
        await ncalayer_still_serves(server)


async def test_oversized_message_closes_with_1009(tmp_path: Path) -> None:
    settings = Settings(allow_origin=(PORTAL,), autodetect=False, limits=Limits(max_message=4096))
    async with running_agent(tmp_path, ScriptedConsent(), settings) as server:
        async with connect(url(server, "/"), origin=Origin(PORTAL), max_size=None) as ws:
            await greet(ws)
            await ws.send(json.dumps(sign_cades()).replace(DOC, "A" * 8192))
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            assert info.value.rcvd is not None and info.value.rcvd.code == 1009
        await ncalayer_still_serves(server)


BAD_REQUESTS: list[tuple[dict[str, Any], str]] = [
    # wrong JSON types: NCALayer's "argument type mismatch"
    ({"module": CU, "method": "createCAdESFromBase64", "args": ["PKCS12", "SIGNATURE", 42, False]}, "mismatch"),
    ({"module": CU, "method": "createCAdESFromBase64", "args": "PKCS12"}, "mismatch"),
    ({"module": CU, "method": "createCAdESFromBase64", "args": [["PKCS12"], "SIGNATURE", DOC, False]}, "mismatch"),
    # a PIN as an extra positional argument: too many arguments
    (sign_cades("SIGNATURE", "123456"), "count"),
    # bad base64, digests of a length no algorithm has
    ({"module": CU, "method": "createCAdESFromBase64", "args": ["PKCS12", "SIGNATURE", "not base64!", False]}, "params"),
    ({"module": CU, "method": "createCAdESFromBase64Hash", "args": ["PKCS12", "SIGNATURE", base64.b64encode(b"x" * 20).decode()]}, "params"),
    ({"module": CU, "method": "createCAdESFromBase64Hash", "args": ["PKCS12", "SIGNATURE", ""]}, "params"),
    ({"module": CU, "method": "createCAdESFromBase64", "args": ["", "SIGNATURE", DOC, False]}, "params"),
]


@pytest.mark.parametrize(("message", "kind"), BAD_REQUESTS)
async def test_bad_common_utils_requests_fail_before_any_prompt(
    tmp_path: Path, pki: Manifest, message: dict[str, Any], kind: str
) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"]) as server:
        async with connect(url(server, "/"), origin=Origin(PORTAL)) as ws:
            await greet(ws)
            reply = await ask(ws, {**message, "uuid": "bad"})
            assert reply["code"] == "500" and reply["uuid"] == "bad", reply
            assert reply["message"] != "action.canceled"
            if kind == "mismatch":
                assert reply["message"] == i18n.error_text(InvalidRequest(), "en") or "mismatch" in reply["message"]
        assert consent.asked == []
        await ncalayer_still_serves(server)


@pytest.mark.parametrize(
    "args",
    [
        {"data": 42},
        {"format": 7},
        {"signingParams": "decode"},
        {"signingParams": {"decode": "yes"}},
        {"format": "pdf"},
        {"data": []},
        {"data": "not base64!"},
        {"signingParams": {"decode": True, "digested": True}},  # "digest" of a document's length
    ],
)
async def test_bad_basics_requests_fail_before_any_prompt(tmp_path: Path, pki: Manifest, args: dict[str, Any]) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"]) as server:
        async with connect(url(server, "/"), origin=Origin(PORTAL)) as ws:
            await greet(ws)
            reply = await ask(ws, basics(**args))
            assert reply["status"] is False, reply
            assert reply["code"] in ("INVOCATION_ERROR", "INVALID_SIGNING_PARAMS"), reply
        assert consent.asked == []
        await ncalayer_still_serves(server)


@pytest.mark.parametrize(
    "where", ["args", "signingParams", "signerParams"],
)
async def test_basics_request_carrying_a_pin_is_refused(tmp_path: Path, pki: Manifest, where: str) -> None:
    consent = ScriptedConsent(pin="123456")
    message = basics()
    target = message["args"] if where == "args" else message["args"][where]
    target["pin"] = "123456"
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"]) as server:
        async with connect(url(server, "/"), origin=Origin(PORTAL)) as ws:
            await greet(ws)
            reply = await ask(ws, message)
        assert reply["status"] is False and reply["code"] == "INVALID_SIGNING_PARAMS", reply
        assert consent.asked == []


# -- keys of the wrong kind -----------------------------------------------------------------


@pytest.mark.parametrize("key_type", ["SIGNATURE", "ANY", "", "signature"])
async def test_auth_key_is_never_used_to_sign_a_document(tmp_path: Path, pki: Manifest, key_type: str) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-auth"]) as server:
        async with connect(url(server, "/"), origin=Origin(PORTAL)) as ws:
            await greet(ws)
            reply = await ask(ws, sign_cades(key_type))
            assert reply["code"] == "500" and reply["message"] == i18n.text("error.no_certificate", "en"), reply
            via_basics = await ask(ws, basics())
            assert via_basics["status"] is False and via_basics["details"] == "no_certificate"
        assert not any(kind == "confirm" for kind, _ in consent.asked)
        await ncalayer_still_serves(server)


async def test_sign_key_is_never_used_to_authenticate(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"]) as server:
        async with connect(url(server, "/"), origin=Origin(PORTAL)) as ws:
            await greet(ws)
            reply = await ask(ws, sign_cades("AUTHENTICATION"))
            assert reply["code"] == "500" and reply["message"] == i18n.text("error.no_certificate", "en"), reply
            auth = await ask(ws, basics(signerParams={"extKeyUsageOids": ["1.3.6.1.5.5.7.3.2"]}))
            assert auth["status"] is False and auth["details"] == "no_certificate"
        assert not any(kind == "confirm" for kind, _ in consent.asked)


# -- floods ----------------------------------------------------------------------------------


async def test_100_parallel_pages_give_one_dialog_and_99_busy(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    shown, release = asyncio.Event(), asyncio.Event()
    original = consent.confirm
    dialogs = 0

    async def slow(confirmation: Any) -> bool:
        nonlocal dialogs
        dialogs += 1
        shown.set()
        await release.wait()
        return await original(confirmation)

    consent.confirm = slow  # type: ignore[method-assign]
    settings = Settings(allow_origin=(PORTAL,), autodetect=False, limits=Limits(max_connections=128, max_per_origin=128))
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"], settings=settings) as server:
        pages = [await connect(url(server, "/"), origin=Origin(PORTAL)) for _ in range(100)]
        try:
            for ws in pages:
                await greet(ws)
            first = asyncio.create_task(ask(pages[0], sign_cades()))
            await asyncio.wait_for(shown.wait(), 10)
            replies = await asyncio.gather(*(ask(ws, sign_cades()) for ws in pages[1:]))
            busy = {"code": "500", "message": i18n.error_text(Busy(), "en")}
            assert replies == [busy] * 99
            assert dialogs == 1
            release.set()
            assert (await first)["code"] == "200"
        finally:
            for ws in pages:
                await ws.close()
        await ncalayer_still_serves(server)


async def test_message_flood_on_one_page(tmp_path: Path) -> None:
    n = 3000
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server:
        async with connect(url(server, "/"), origin=Origin(PORTAL)) as ws:
            await greet(ws)

            async def reader() -> list[Any]:
                return [await ws.recv() for _ in range(2 * n)]

            replies = asyncio.create_task(reader())
            for i in range(n):
                await ws.send(json.dumps({"module": CU, "method": "getActiveTokens", "uuid": i}))
                await ws.send("--heartbeat--")
            got = await asyncio.wait_for(replies, 60)
        answers = [json.loads(r) for r in got if r != "--heartbeat--"]
        busy = {"code": "500", "message": i18n.error_text(Busy(), "en")}
        served = [a["uuid"] for a in answers if a.get("code") == "200"]
        assert served == sorted(served) and len(served) + answers.count(busy) == n  # in order; the rest busy
        assert got.count("--heartbeat--") == n
        await ncalayer_still_serves(server)
