"""Malformed input from an approved page: every kind gets its stable error on the same
socket (or the WebSocket close code the RFC prescribes), and the agent keeps serving.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from support.agent import PORTAL, browser, running_agent
from support.attack import BINARY, CONT, PING, TEXT, RawSocket, frame, request, rpc, still_serves
from support.consent import ScriptedConsent
from support.native import agent_with_keys, b64
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest

ALLOWED = Settings(allow_origin=(PORTAL,))
HELLO = '{"jsonrpc":"2.0","id":1,"method":"agent.hello"'

# (name, raw message) -> parse error: invalid_request, JSON-RPC code -32700, id null
NOT_STRICT_JSON: list[tuple[str, str | bytes]] = [
    ("invalid utf-8", b'{"jsonrpc":"2.0","id":1,"method":"agent.hello","params":{"s":"\xff\xfe"}}'),
    ("overlong utf-8", b'{"jsonrpc":"2.0","id":1,"method":"agent.hello","x":"\xc0\xaf"}'),
    ("utf-8 surrogate bytes", b'{"jsonrpc":"2.0","id":1,"method":"agent.hello","x":"\xed\xa0\x80"}'),
    ("truncated utf-8", b'{"jsonrpc":"2.0","id":1,"method":"agent.hello","x":"\xe2\x82"}'),
    ("lone high surrogate", HELLO + ',"params":{"s":"\\ud800"}}'),
    ("lone low surrogate", HELLO + ',"params":{"s":"a\\udfffb"}}'),
    ("surrogate in a key", HELLO + ',"params":{"\\udbff":1}}'),
    ("duplicate key", '{"jsonrpc":"2.0","id":1,"id":2,"method":"agent.hello"}'),
    ("duplicate method", '{"jsonrpc":"2.0","id":1,"method":"agent.hello","method":"sign"}'),
    ("duplicate nested key", HELLO + ',"params":{"a":1,"a":2}}'),
    ("NaN", HELLO + ',"params":{"x":NaN}}'),
    ("Infinity", HELLO + ',"params":{"x":Infinity}}'),
    ("-Infinity", HELLO + ',"params":{"x":-Infinity}}'),
    ("float overflow", HELLO + ',"params":{"x":1e99999}}'),
    ("huge integer", HELLO + ',"params":{"x":' + "9" * 5000 + "}}"),
    ("long fraction", HELLO + ',"params":{"x":0.' + "1" * 100 + "}}"),
    ("deep objects", '{"a":' * 33 + "1" + "}" * 33),
    ("deep arrays", HELLO + ',"params":{"x":' + "[" * 50_000 + "]" * 50_000 + "}}"),
    ("unclosed deep arrays", "[" * 90_000),
    ("trailing comma", HELLO + ",}"),
    ("trailing garbage", HELLO + "}x"),
    ("two objects", HELLO + "}" + HELLO + "}"),
    ("single quotes", "{'jsonrpc':'2.0','id':1,'method':'agent.hello'}"),
    ("comment", HELLO + "/* hi */}"),
    ("byte order mark", "\ufeff" + HELLO + "}"),
    ("raw control character", HELLO + ',"params":{"s":"a\x01b"}}'),
    ("not json", "not json"),
    ("empty", ""),
    ("whitespace", "  \n\t "),
    ("batch", "[" + HELLO + "}]"),
    ("empty batch", "[]"),
    ("top-level string", '"agent.hello"'),
    ("top-level number", "42"),
    ("top-level null", "null"),
]

# (name, message) -> envelope error: invalid_request, code -32600
BAD_ENVELOPES: list[tuple[str, dict[str, Any]]] = [
    ("no jsonrpc", {"id": 1, "method": "agent.hello"}),
    ("jsonrpc 1.0", {"jsonrpc": "1.0", "id": 1, "method": "agent.hello"}),
    ("jsonrpc as a number", {"jsonrpc": 2.0, "id": 1, "method": "agent.hello"}),
    ("notification", {"jsonrpc": "2.0", "method": "agent.hello"}),
    ("id null", {"jsonrpc": "2.0", "id": None, "method": "agent.hello"}),
    ("id true", {"jsonrpc": "2.0", "id": True, "method": "agent.hello"}),
    ("id float", {"jsonrpc": "2.0", "id": 1.5, "method": "agent.hello"}),
    ("id object", {"jsonrpc": "2.0", "id": {}, "method": "agent.hello"}),
    ("id list", {"jsonrpc": "2.0", "id": [1], "method": "agent.hello"}),
    ("id 2^53", {"jsonrpc": "2.0", "id": 2**53, "method": "agent.hello"}),
    ("id empty", {"jsonrpc": "2.0", "id": "", "method": "agent.hello"}),
    ("id too long", {"jsonrpc": "2.0", "id": "x" * 129, "method": "agent.hello"}),
    ("method missing", {"jsonrpc": "2.0", "id": 1}),
    ("method a number", {"jsonrpc": "2.0", "id": 1, "method": 7}),
    ("method null", {"jsonrpc": "2.0", "id": 1, "method": None}),
    ("method empty", {"jsonrpc": "2.0", "id": 1, "method": ""}),
    ("method too long", {"jsonrpc": "2.0", "id": 1, "method": "m" * 65}),
    ("params a list", {"jsonrpc": "2.0", "id": 1, "method": "agent.hello", "params": []}),
    ("params a string", {"jsonrpc": "2.0", "id": 1, "method": "agent.hello", "params": "x"}),
    ("params null", {"jsonrpc": "2.0", "id": 1, "method": "agent.hello", "params": None}),
    ("unknown member", {"jsonrpc": "2.0", "id": 1, "method": "agent.hello", "pin": "1234"}),
    ("result smuggled", {"jsonrpc": "2.0", "id": 1, "method": "agent.hello", "result": {}}),
]


async def test_every_kind_of_malformed_json_is_a_parse_error(tmp_path: Path) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server, browser(server) as ws:
        for name, message in NOT_STRICT_JSON:
            if isinstance(message, bytes):
                await ws.send(message, text=True)  # a text frame whose bytes are not UTF-8
                reply = json.loads(await ws.recv())
            else:
                reply = await rpc(ws, message)
            assert reply["id"] is None, name
            assert reply["error"]["data"]["reason"] == "invalid_request", (name, reply)
            assert reply["error"]["code"] in (-32700, -32600), (name, reply)  # parse error / not an object
            assert reply["error"]["message"], name
            # the same socket still answers the next honest request
            assert (await rpc(ws, request("agent.hello", id=name)))["result"]["name"] == "tanba", name
        await still_serves(server)


async def test_every_bad_envelope_is_invalid_request(tmp_path: Path) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server, browser(server) as ws:
        for name, message in BAD_ENVELOPES:
            reply = await rpc(ws, json.dumps(message))
            assert reply["error"]["data"]["reason"] == "invalid_request", (name, reply)
            assert reply["error"]["code"] == -32600, (name, reply)
            assert "result" not in reply
        assert (await rpc(ws, request("agent.hello", id="after")))["id"] == "after"
        await still_serves(server)


DOC = b64(b"document")
D32 = b64(b"\x01" * 32)

# (method, params, field): each is invalid_params naming the field, before any prompt
BAD_PARAMS: list[tuple[str, dict[str, Any], str]] = [
    # a PIN or password smuggled in a request (rule 4), in every method
    ("sign", {"format": "cms", "data": [DOC], "pin": "123456"}, "params.pin"),
    ("sign", {"format": "cms", "data": [DOC], "password": "123456"}, "params.password"),
    ("sign", {"format": "cms", "data": [DOC], "filter": {"pin": "1"}}, "params.filter.pin"),
    ("auth", {"challenge": "c" * 44, "pin": "1234"}, "params.pin"),
    ("certs.list", {"pin": "1234"}, "params.pin"),
    ("certs.list", {"filter": {"keyUsage": "sign", "PIN": "1"}}, "params.filter.PIN"),
    ("verify", {"format": "cms", "signature": DOC, "pin": "1"}, "params.pin"),
    ("agent.hello", {"pin": "1234"}, "params.pin"),
    # unknown fields
    ("sign", {"format": "cms", "data": [DOC], "origin": "https://egov.kz"}, "params.origin"),
    ("sign", {"format": "xml", "data": [DOC], "xml": {"signElement": "", "xpathEval": "x"}}, "params.xml.xpathEval"),
    ("auth", {"challenge": "c" * 44, "origin": "https://egov.kz"}, "params.origin"),
    # digests of the wrong length for their algorithm
    ("sign", {"format": "cms", "digests": [b64(b"\x01" * 20)], "digestAlgorithm": "sha256"}, "params.digests[0]"),
    ("sign", {"format": "raw", "digests": [D32], "digestAlgorithm": "sha384"}, "params.digests[0]"),
    ("sign", {"format": "raw", "digests": [D32, b64(b"\x01" * 33)], "digestAlgorithm": "sha256"}, "params.digests[1]"),
    ("sign", {"format": "cms", "digests": [b64(b"")], "digestAlgorithm": "sha256"}, "params.digests[0]"),
    # unknown algorithms
    ("sign", {"format": "cms", "digests": [D32], "digestAlgorithm": "md5"}, "params.digestAlgorithm"),
    ("sign", {"format": "cms", "digests": [D32], "digestAlgorithm": "SHA256"}, "params.digestAlgorithm"),
    ("sign", {"format": "cms", "data": [DOC], "digestAlgorithm": "gost34311"}, "params.digestAlgorithm"),
    ("sign", {"format": "xml", "data": [DOC], "xml": {"canonicalization": "none"}}, "params.xml.canonicalization"),
    ("sign", {"format": "pdf", "data": [DOC]}, "params.format"),
    ("verify", {"format": "pades", "signature": DOC}, "params.format"),
    # wrong types
    ("sign", {"format": "cms", "data": DOC}, "params.data"),
    ("sign", {"format": "cms", "data": [7]}, "params.data[0]"),
    ("sign", {"format": "cms", "data": [None]}, "params.data[0]"),
    ("sign", {"format": 1, "data": [DOC]}, "params.format"),
    ("sign", {"format": "cms", "data": [DOC], "detached": "false"}, "params.detached"),
    ("sign", {"format": "cms", "data": [DOC], "detached": 0}, "params.detached"),
    ("sign", {"format": "cms", "data": [DOC], "filter": []}, "params.filter"),
    ("sign", {"format": "cms", "data": [DOC], "filter": {"storages": "PKCS12"}}, "params.filter.storages"),
    ("auth", {"challenge": 12345678901234567890}, "params.challenge"),
    ("verify", {"format": "cms", "signature": ["x"]}, "params.signature"),
    # bad base64
    ("sign", {"format": "cms", "data": ["not base64!"]}, "params.data[0]"),
    ("sign", {"format": "cms", "data": ["YQ"]}, "params.data[0]"),  # missing padding
    ("sign", {"format": "cms", "data": ["-_-_"]}, "params.data[0]"),  # url-safe alphabet
    ("sign", {"format": "cms", "data": ["YW Jj"]}, "params.data[0]"),  # whitespace inside
    ("sign", {"format": "cms", "data": ["YWJj\n"]}, "params.data[0]"),
    ("sign", {"format": "cms", "data": ["YQ==YQ=="]}, "params.data[0]"),
    ("sign", {"format": "cms", "digests": ["%%%%"], "digestAlgorithm": "sha256"}, "params.digests[0]"),
    ("verify", {"format": "cms", "signature": "Zm9v!"}, "params.signature"),
    # shapes that make no sense
    ("sign", {"format": "cms"}, "params.data"),
    ("sign", {"format": "cms", "data": [DOC], "digests": [D32], "digestAlgorithm": "sha256"}, "params.data"),
    ("sign", {"format": "cms", "data": []}, "params.data"),
    ("auth", {"challenge": "short"}, "params.challenge"),
    ("auth", {"challenge": "ч" * 44}, "params.challenge"),
]


async def test_bad_params_are_refused_before_any_prompt(tmp_path: Path, pki: Manifest) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign", "rsa-auth"]) as server, browser(server) as ws:
        for i, (method, params, field) in enumerate(BAD_PARAMS):
            reply = await rpc(ws, request(method, params, id=i))
            assert reply["id"] == i
            assert reply["error"]["code"] == -32602, (method, params, reply)
            assert reply["error"]["data"]["reason"] == "invalid_params", (method, params, reply)
            assert reply["error"]["data"]["field"] == field, (method, params, reply)
        assert consent.asked == []  # the user was never bothered
        assert (await rpc(ws, request("agent.hello", id="after")))["id"] == "after"
        await still_serves(server)


async def test_a_pin_is_never_echoed_back(tmp_path: Path) -> None:
    """The value of a smuggled PIN never comes back in the error (field names do: the page chose them)."""
    secret = "PIN-731946"
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server, browser(server) as ws:
        for message in (
            request("sign", {"format": "cms", "data": [DOC], "pin": secret}),
            json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sign", "pin": secret}),
            '{"jsonrpc":"2.0","id":1,"method":"sign","params":{"pin":"' + secret + '","pin":"' + secret + '"}}',
        ):
            await ws.send(message)
            raw = await ws.recv()
            assert secret not in str(raw), raw
            assert json.loads(raw)["error"]["data"]["reason"] in ("invalid_params", "invalid_request")
        await still_serves(server)


async def test_unknown_methods(tmp_path: Path) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server, browser(server) as ws:
        for method in ("certs.steal", "__class__", "agent.hello ", "Sign", "progress", "../sign", "sign\x00"):
            reply = await rpc(ws, request(method, {}, id=method))
            assert reply["id"] == method
            assert reply["error"]["data"]["reason"] == "method_not_found", (method, reply)
            assert reply["error"]["code"] == -32601
        await still_serves(server)


# -- frames ------------------------------------------------------------------------------


async def test_binary_frames_are_refused_and_the_socket_stays(tmp_path: Path) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server:
        raw = await RawSocket.open(server)
        await raw.send(frame(BINARY, request("agent.hello").encode()))
        reply = (await raw.recv_data()).json()
        assert reply["error"]["data"] == {"reason": "invalid_request", "detail": "binary frames are not accepted: send JSON as text"}
        # fragmented binary message
        body = request("agent.hello", id=2).encode()
        await raw.send(frame(BINARY, body[:10], fin=False) + frame(CONT, body[10:20], fin=False) + frame(CONT, body[20:]))
        assert (await raw.recv_data()).json()["error"]["data"]["reason"] == "invalid_request"
        await raw.send(frame(TEXT, request("agent.hello", id=3).encode()))
        assert (await raw.recv_data()).json()["id"] == 3
        raw.close()
        await still_serves(server)


async def test_fragmented_text_is_one_message(tmp_path: Path) -> None:
    """RFC 6455 allows fragments; a request split into pieces (even inside a UTF-8
    character, with a ping in between) is answered as one."""
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server:
        raw = await RawSocket.open(server)
        body = json.dumps({"jsonrpc": "2.0", "id": "фрагмент", "method": "agent.hello"}, ensure_ascii=False).encode()
        cut = body.index("ф".encode()) + 1  # in the middle of a two-byte character
        await raw.send(
            frame(TEXT, body[:cut], fin=False) + frame(PING, b"p") + frame(CONT, body[cut:-3], fin=False) + frame(CONT, body[-3:])
        )
        reply = (await raw.recv_data()).json()
        assert reply["id"] == "фрагмент" and reply["result"]["name"] == "tanba"
        # invalid UTF-8 split over fragments: the agent's own codec answers, the socket stays
        await raw.send(frame(TEXT, b'{"jsonrpc":"2.0","id":1,"method":"\xe2', fin=False) + frame(CONT, b'\x28"}'))
        assert (await raw.recv_data()).json()["error"]["data"]["reason"] == "invalid_request"
        raw.close()
        await still_serves(server)


PROTOCOL_ERRORS: list[tuple[str, bytes]] = [
    ("continuation without a start", frame(CONT, b"{}")),
    ("new message inside a fragmented one", frame(TEXT, b'{"a":', fin=False) + frame(TEXT, b"1}")),
    ("reserved opcode 3", frame(0x3, b"{}")),
    ("reserved control opcode 0xB", frame(0xB, b"")),
    ("RSV1 without an extension", frame(TEXT, request("agent.hello").encode(), rsv=4)),
    ("fragmented ping", frame(PING, b"x", fin=False)),
    ("ping longer than 125 bytes", frame(PING, b"x" * 126)),
    ("close code 999", frame(0x8, (999).to_bytes(2, "big"))),
    ("close with one byte", frame(0x8, b"\x03")),
]


@pytest.mark.parametrize(("name", "data"), PROTOCOL_ERRORS, ids=[n for n, _ in PROTOCOL_ERRORS])
async def test_websocket_protocol_violations_close_with_1002(tmp_path: Path, name: str, data: bytes) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server:
        raw = await RawSocket.open(server)
        await raw.send(data)
        assert await raw.closed_by_agent() == 1002, name
        raw.close()
        await still_serves(server)


async def test_unmasked_client_frame_closes_with_1002(tmp_path: Path) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server:
        raw = await RawSocket.open(server)
        body = request("agent.hello").encode()
        await raw.send(bytes([0x81, len(body)]) + body)  # no mask bit
        assert await raw.closed_by_agent() == 1002
        raw.close()
        await still_serves(server)


async def test_schema_invalid_xml_signature_is_invalid_params(tmp_path: Path, pki: Manifest) -> None:
    """Found by tests/agent/test_fuzz_parsers.py: one renamed element inside SignedInfo."""
    from support.native import open_p12_signer
    from tanba.agent.formats.xmldsig import XmlSignOptions, sign_xml_batch

    signer = await open_p12_signer(pki, "rsa-sign")
    try:
        [signed] = await sign_xml_batch(signer, signer.identity.certificate, [b"<a><b>x</b></a>"], XmlSignOptions())
    finally:
        await signer.close()
    broken = signed.replace(b"<ds:CanonicalizationMethod", b"<ds:CanonicalizationMethodX", 1)
    settings = Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), autodetect=False)
    async with running_agent(tmp_path, ScriptedConsent(), settings) as server, browser(server) as ws:
        reply = await rpc(ws, request("verify", {"format": "xml", "signature": b64(broken)}))
        assert reply["error"]["data"]["reason"] == "invalid_params", reply
        await still_serves(server)
