"""Stopping and reloading the agent as a user (or systemd) does it: signals to a real
`tanba serve` with real PKCS#12 files, and the in-process Agent for dialogs."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from support.native import openssl_cms_sign, openssl_cms_verify
from support.ocsp_server import RevocationServer
from support.process import TANBA, free_port
from tanba.agent.consent.base import Confirmation, ConsentUI
from tanba.agent.setup.config import Settings
from tanba.agent.setup.lifecycle import Agent, load_settings
from tanba.agent.setup.testpki import Manifest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

PORTAL = "https://portal.test"
BATCH = 10_000  # the default max-batch; a couple of seconds of RSA signing here


def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "TANBA_CONFIG_DIR": str(tmp_path / "cfg"), "TANBA_STATE_DIR": str(tmp_path / "state")}


@contextmanager
def serve(tmp_path: Path, *args: str, pin: str = "123456") -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    (tmp_path / "pin").write_text(pin + "\n")
    proc = subprocess.Popen(
        [TANBA, "serve", "--approver", "auto", "--pin-file", str(tmp_path / "pin"), "--no-autodetect",
         "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(tmp_path),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on" in line, line + (proc.stderr.read() if proc.poll() is not None else "")
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def sign_request(n: int, id: int = 1) -> str:
    data = [base64.b64encode(f"document {i}".encode()).decode() for i in range(n)]
    return json.dumps({"jsonrpc": "2.0", "id": id, "method": "sign",
                       "params": {"format": "cms", "data": data, "detached": False}})


async def reply_to(ws: ClientConnection, id: int) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await ws.recv())
        if message.get("id") == id:
            return message


async def signing_started(ws: ClientConnection) -> None:
    """The final progress notification: every document is hashed, the key is signing."""
    while True:
        message = json.loads(await ws.recv())
        if message.get("method") == "progress" and message["params"]["done"] == message["params"]["total"]:
            return


def assert_state_intact(tmp_path: Path) -> None:
    token = (tmp_path / "state" / "client-token")
    assert len(token.read_text().strip()) >= 32
    assert token.stat().st_mode & 0o777 == 0o600
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    log = (tmp_path / "state" / "tanba.log").read_text()
    assert log.rstrip().endswith("stopped"), log[-500:]


def test_sigterm_during_a_batch_finishes_it_whole(tmp_path: Path, pki: Manifest) -> None:
    p12 = pki.identities["rsa-sign"].p12
    with serve(tmp_path, "--p12", str(p12), "--allow-origin", PORTAL) as (proc, port):

        async def talk() -> dict[str, Any]:
            async with connect(f"ws://127.0.0.1:{port}/v1", origin=PORTAL, max_size=None) as ws:  # type: ignore[arg-type]
                await ws.send(sign_request(BATCH))
                await signing_started(ws)
                proc.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.3)
                # Draining: no new connection, and no new request on this one.
                with pytest.raises(OSError):
                    await connect(f"ws://127.0.0.1:{port}/v1", origin=PORTAL, open_timeout=2)  # type: ignore[arg-type]
                await ws.send('{"jsonrpc":"2.0","id":2,"method":"agent.hello"}')
                late = await reply_to(ws, 2)
                assert late["error"]["data"]["reason"] == "busy", late
                return await reply_to(ws, 1)

        started = time.monotonic()
        reply = asyncio.run(talk())
        signatures = reply["result"]["signatures"]
        assert len(signatures) == BATCH
        for i in (0, BATCH - 1):
            content = openssl_cms_verify(pki, tmp_path, base64.b64decode(signatures[i]))
            assert content == f"document {i}"
        assert proc.wait(15) == 0
        assert time.monotonic() - started < 20
    assert_state_intact(tmp_path)


def test_sigterm_past_the_stop_timeout_answers_busy_never_a_part(tmp_path: Path, pki: Manifest) -> None:
    p12 = pki.identities["rsa-sign"].p12
    with serve(tmp_path, "--p12", str(p12), "--allow-origin", PORTAL, "--stop-timeout", "0") as (proc, port):

        async def talk() -> dict[str, Any] | None:
            async with connect(f"ws://127.0.0.1:{port}/v1", origin=PORTAL, max_size=None) as ws:  # type: ignore[arg-type]
                await ws.send(sign_request(BATCH))
                await signing_started(ws)
                proc.send_signal(signal.SIGTERM)
                try:
                    return await reply_to(ws, 1)
                except ConnectionClosed:
                    return None  # closed 1001 without an answer: also clean

        started = time.monotonic()
        reply = asyncio.run(talk())
        assert reply is not None and "result" not in reply, "a cancelled batch must not return signatures"
        assert reply["error"]["data"]["reason"] == "busy"
        assert proc.wait(15) == 0
        assert time.monotonic() - started < 15
    assert_state_intact(tmp_path)


def test_sighup_reloads_allow_origin_and_survives_a_bad_file(tmp_path: Path, pki: Manifest) -> None:
    config = tmp_path / "tanba.toml"
    config.write_text('allow-origin = ["https://a.test"]\n')
    p12 = pki.identities["rsa-sign"].p12
    with serve(tmp_path, "--config", str(config), "--p12", str(p12)) as (proc, port):
        url = f"ws://127.0.0.1:{port}/v1"

        async def status(origin: str) -> int:
            try:
                async with connect(url, origin=origin):  # type: ignore[arg-type]
                    return 101
            except InvalidStatus as exc:
                return exc.response.status_code

        async def sign_one(origin: str) -> dict[str, Any]:
            async with connect(url, origin=origin) as ws:  # type: ignore[arg-type]
                await ws.send(sign_request(1, id=7))
                return await reply_to(ws, 7)

        async def reloaded(origin: str, expected: int) -> None:
            for _ in range(100):
                if await status(origin) == expected:
                    return
                await asyncio.sleep(0.05)
            raise AssertionError(f"{origin} still not {expected} after SIGHUP")

        async def scenario() -> None:
            assert await status("https://a.test") == 101
            assert await status("https://b.test") == 403
            config.write_text('allow-origin = ["https://b.test"]\n')
            proc.send_signal(signal.SIGHUP)
            await reloaded("https://b.test", 101)
            assert await status("https://a.test") == 403
            # The auto approver follows too: b.test's signature is approved.
            assert len((await sign_one("https://b.test"))["result"]["signatures"]) == 1
            config.write_text("allow-origin = [\n")  # broken
            proc.send_signal(signal.SIGHUP)
            await asyncio.sleep(0.5)
            assert await status("https://b.test") == 101

        asyncio.run(scenario())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    log = (tmp_path / "state" / "tanba.log").read_text()
    assert "config reloaded; changed: allow-origin" in log
    assert f"config reload failed, keeping the running settings: {config}: not valid TOML" in log


def test_sighup_names_what_needs_a_restart(tmp_path: Path) -> None:
    config = tmp_path / "tanba.toml"
    config.write_text("")
    with serve(tmp_path, "--config", str(config), pin="1234") as (proc, port):
        config.write_text(f"host = \"::1\"\n[limits]\nmax-message = 1024\nmax-batch = 5\n")
        proc.send_signal(signal.SIGHUP)
        log_file = tmp_path / "state" / "tanba.log"
        for _ in range(100):
            if "config reloaded" in log_file.read_text():
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    log = log_file.read_text()
    assert "host, limits.max-message changed but take effect only after a restart" in log
    assert "config reloaded; changed: limits" in log


class WaitingUser(ConsentUI):
    """A person who leaves the confirmation dialog open (stands in for the desktop UI)."""

    name = "waiting"

    def __init__(self) -> None:
        self.shown = asyncio.Event()
        self.closed = False

    async def ask_origin(self, origin: str, locale: str) -> Any:
        raise AssertionError("allow-listed origin must not be asked")

    async def choose_certificate(self, choice: Any) -> Any:
        return choice.candidates[0]

    async def get_pin(self, request: Any) -> bytearray | None:
        return bytearray(b"123456")  # the test PKI's file password

    async def confirm(self, confirmation: Confirmation) -> bool:
        self.shown.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.closed = True
        return False


async def test_stop_closes_an_open_dialog_at_once(tmp_path: Path, pki: Manifest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANBA_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("TANBA_STATE_DIR", str(tmp_path / "state"))
    user = WaitingUser()
    settings = Settings(port=0, allow_origin=(PORTAL,), p12=(pki.identities["rsa-sign"].p12,), autodetect=False)
    agent = Agent(settings, version="test", stop_timeout=30, make_consent=lambda s: user)
    server = await agent.start()
    async with connect(f"ws://127.0.0.1:{server.port}/v1", origin=PORTAL) as ws:  # type: ignore[arg-type]
        await ws.send(sign_request(1))
        await asyncio.wait_for(user.shown.wait(), 10)
        started = time.monotonic()
        stopping = asyncio.create_task(agent.shutdown())
        reply = await asyncio.wait_for(reply_to(ws, 1), 5)
        await asyncio.wait_for(stopping, 5)
    assert reply["error"]["data"]["reason"] == "busy"
    assert user.closed
    assert time.monotonic() - started < 3  # not the 30 s stop timeout: a dialog is not waited for


async def test_second_signal_stops_without_waiting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANBA_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("TANBA_STATE_DIR", str(tmp_path / "state"))
    agent = Agent(Settings(port=0, autodetect=False), version="test", stop_timeout=60)
    await agent.start()
    never = asyncio.get_running_loop().create_future()
    slow = asyncio.create_task(asyncio.wait_for(never, 120))
    agent.tracker.requests.add(slow)  # a request that would run past any patience
    started = time.monotonic()
    agent.request_stop("SIGTERM")
    stopping = asyncio.create_task(agent.shutdown())
    await asyncio.sleep(0.2)
    assert not stopping.done()
    agent.request_stop("SIGTERM")
    await asyncio.wait_for(stopping, 10)
    assert slow.cancelled()
    assert time.monotonic() - started < 10


def test_sigint_stops_cleanly_like_sigterm(tmp_path: Path) -> None:
    with serve(tmp_path, pin="1234") as (proc, _):
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    assert_state_intact(tmp_path)


def test_tells_systemd_ready_reloading_and_stopping(tmp_path: Path) -> None:
    # The unit is Type=notify: without READY=1 systemd would kill the agent at start.
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(10)
        port = free_port()
        (tmp_path / "pin").write_text("1234")
        proc = subprocess.Popen(
            [TANBA, "serve", "--approver", "auto", "--pin-file", str(tmp_path / "pin"), "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**env(tmp_path), "NOTIFY_SOCKET": address})
        try:
            assert sock.recv(256) == b"READY=1"
            socket.create_connection(("127.0.0.1", port), timeout=2).close()  # READY means listening
            proc.send_signal(signal.SIGHUP)
            assert sock.recv(256).startswith(b"RELOADING=1\nMONOTONIC_USEC=")
            assert sock.recv(256) == b"READY=1"
            proc.send_signal(signal.SIGTERM)
            assert sock.recv(256) == b"STOPPING=1"
            assert proc.wait(10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


async def test_revocation_checks_keep_one_session_across_a_reload_and_stop_closes_it(
    tmp_path: Path, pki: Manifest, ocsp: RevocationServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANBA_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("TANBA_STATE_DIR", str(tmp_path / "state"))
    config = tmp_path / "tanba.toml"
    config.write_text(f'trust-anchor = ["{pki.root_pem}"]\nallow-origin = ["{PORTAL}"]\n')
    flags = {"port": 0, "autodetect": False}
    agent = Agent(load_settings(config, flags), version="test", config_path=config, flags=flags)
    server = await agent.start()
    cms = openssl_cms_sign(pki, "rsa-sign", _write(tmp_path / "doc", b"doc"), tmp_path / "doc.p7s")

    async def verify_once() -> dict[str, Any]:
        async with connect(f"ws://127.0.0.1:{server.port}/v1", origin=PORTAL) as ws:  # type: ignore[arg-type]
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "verify", "params": {
                "format": "cms", "signature": base64.b64encode(cms.read_bytes()).decode()}}))
            return await reply_to(ws, 1)

    assert (await verify_once())["result"]["signers"][0]["revocation"] == "good"
    session = agent.services.http.session()
    config.write_text(config.read_text() + "unlock-window = 1\n")
    assert await agent.reload()
    assert (await verify_once())["result"]["signers"][0]["revocation"] == "good"
    assert agent.services.http.session() is session  # a reload keeps it
    await agent.shutdown()
    assert session.closed


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


async def test_an_idle_ncalayer_page_that_was_served_does_not_hold_up_the_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANBA_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("TANBA_STATE_DIR", str(tmp_path / "state"))
    agent = Agent(Settings(port=0, autodetect=False, allow_origin=(PORTAL,)), version="test", stop_timeout=30)
    server = await agent.start()
    async with connect(f"ws://127.0.0.1:{server.port}/", origin=PORTAL) as page:  # type: ignore[arg-type]
        await page.recv()  # greeting
        for _ in range(3):
            await page.send(json.dumps({"module": "kz.gov.pki.knca.commonUtils", "method": "getActiveTokens"}))
            assert json.loads(await page.recv()) == {"code": "200", "responseObject": []}
        assert agent.tracker.requests == set()  # answered requests are no longer in flight
        started = time.monotonic()
        await asyncio.wait_for(agent.shutdown(), 10)
        assert time.monotonic() - started < 5  # not the 30 s kept for requests in flight
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(page.recv(), 5)


async def test_a_page_connected_before_a_reload_signs_with_the_reloaded_keys_on_both_endpoints(
    tmp_path: Path, pki: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13's bug: the config's p12 changes from rsa-sign.p12 to ec-sign.p12 and the
    agent reloads; a ``/`` page that connected before went on asking for rsa-sign.p12's
    password (with a PKCS#11 module it answered store_error — the old stores were closed).
    Requests look the services up when they start: the old connection gets the new key."""
    from support.consent import ScriptedConsent
    from cryptography import x509

    monkeypatch.setenv("TANBA_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("TANBA_STATE_DIR", str(tmp_path / "state"))
    config = tmp_path / "tanba.toml"
    config.write_text(f'allow-origin = ["{PORTAL}"]\np12 = ["{pki.identities["rsa-sign"].p12}"]\n')
    flags = {"port": 0, "autodetect": False}
    user = ScriptedConsent(pin="123456")
    agent = Agent(load_settings(config, flags), version="test", config_path=config, flags=flags,
                  make_consent=lambda s: user)
    server = await agent.start()
    doc = base64.b64encode(b"doc").decode()
    sign = {"module": "kz.gov.pki.knca.commonUtils", "method": "createCAdESFromBase64",
            "args": ["PKCS12", "SIGNATURE", doc, False]}
    try:
        async with connect(f"ws://127.0.0.1:{server.port}/", origin=PORTAL) as nca, \
                connect(f"ws://127.0.0.1:{server.port}/v1", origin=PORTAL) as v1:  # type: ignore[arg-type]
            await nca.recv()  # the greeting
            config.write_text(f'allow-origin = ["{PORTAL}"]\np12 = ["{pki.identities["ec-sign"].p12}"]\n')
            assert await agent.reload()
            await nca.send(json.dumps(sign))
            reply = json.loads(await asyncio.wait_for(nca.recv(), 30))
            assert reply["code"] == "200", reply
            await v1.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sign",
                                      "params": {"format": "cms", "data": [doc]}}))
            native = await reply_to(v1, 1)
        asked_files = [q.location for kind, q in user.asked if kind == "pin"]
        assert asked_files and all(loc == str(pki.identities["ec-sign"].p12) for loc in asked_files), asked_files
        signer = x509.load_pem_x509_certificate(native["result"]["certificate"].encode())
        assert signer == pki.identities["ec-sign"].certificate()
    finally:
        await agent.shutdown()
