"""Fault injection: the world breaks under the agent.  Nothing partial is returned as
success, every failure has its stable reason, no state file is left corrupt, and the agent
serves the next honest request.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from websockets.typing import Origin
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

import tanba.agent.access.signing as signing
from support.agent import PORTAL, browser
from support.attack import request, rpc, still_serves
from support.consent import ScriptedConsent
from support.native import agent_with_keys, b64
from support.ocsp_server import RevocationServer
from support.tsa_server import TsaServer
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest
from tanba.agent.state.approvals import OriginStore
from tanba.agent.verify.chain import ChainValidator
from tanba.cli.main import main
from tanba.providers.pkcs11 import Pkcs11Store
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.registry import Stores

REPO = Path(__file__).resolve().parents[2]
CHILD = REPO / "tests" / "support" / "agent_child.py"
DOC = "Өтініш".encode()


def settings_for(pki: Manifest, **kw: Any) -> Settings:
    return Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), autodetect=False, **kw)


# -- the token is pulled out mid-batch ------------------------------------------------------


@pytest.mark.softhsm
async def test_token_removed_mid_batch_returns_no_signatures(tmp_path: Path, pki: Manifest, softhsm: Any) -> None:
    consent = ScriptedConsent(pin="1234")  # the token's PIN; the file's password differs
    consent.pin = None
    pins = iter(["1234", "123456", "123456", "123456"])

    async def get_pin(pin_request: Any) -> bytearray | None:
        return bytearray(next(pins).encode())

    consent.get_pin = get_pin  # type: ignore[method-assign,assignment]
    (token_dir,) = [d for d in softhsm.tokendir.iterdir() if d.is_dir()]
    away = tmp_path / "unplugged"
    docs = [b64(f"document {i}".encode()) for i in range(3000)]
    params: dict[str, Any] = {"format": "cms", "data": docs, "filter": {"serialNumber": format(pki.identities["rsa-sign"].certificate().serial_number, "x")}}
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"], softhsm_module=softhsm.module) as server, browser(server) as ws:
        await ws.send(request("sign", {**params, "filter": {**params["filter"], "storages": ["AKKaztokenStore"]}}, id="batch"))
        messages: list[dict[str, Any]] = []
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 60))
            messages.append(message)
            if message.get("method") == "progress" and not away.exists():
                assert message["params"]["done"] < 3000, "the batch finished before the token could be pulled"
                shutil.move(token_dir, away)  # pull the token out
            if "id" in message:
                break
        final = messages[-1]
        assert "result" not in final, "a batch whose token vanished was reported as success"
        assert final["id"] == "batch"
        assert final["error"]["data"]["reason"] == "token_removed", final
        await still_serves(server)
        # the PKCS#12 file next to the token still signs; the token's key is simply not there
        p12 = await rpc(ws, request("sign", {**params, "data": docs[:3], "filter": {"storages": ["PKCS12"]}}, id="p12"))
        assert len(p12["result"]["signatures"]) == 3
        token_only = {**params["filter"], "storages": ["AKKaztokenStore"]}
        gone = await rpc(ws, request("sign", {**params, "data": docs[:3], "filter": token_only}, id="gone"))
        assert gone["error"]["data"]["reason"] in ("no_certificate", "token_removed"), gone
    # (Plugging the token back in is covered by tests/providers/test_pkcs11.py; SoftHSM only
    # rescans its token directory on C_Initialize, so here it would need the right timing.)


# -- timestamp authority down, slow or answering garbage ------------------------------------


@pytest.mark.parametrize("mode", ["http500", "garbage", "rejection", "wrong_nonce", "wrong_imprint", "hang", "down"])
async def test_tsa_failure_is_timestamp_failed_and_returns_no_signature(
    tmp_path: Path, pki: Manifest, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signing, "TSA_TIMEOUT", 1.0)  # the agent's own bound, shortened for the test
    with TsaServer(pki.tsa_pem, pki.tsa_key_pem, mode="ok" if mode == "down" else mode) as tsa:
        url = tsa.url
        if mode == "down":
            tsa.stop()  # nothing listens there any more
        consent = ScriptedConsent(pin="123456")
        settings = settings_for(pki, tsa_url=url)
        async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"], settings=settings) as server, browser(server) as ws:
            start = asyncio.get_running_loop().time()
            reply = await rpc(ws, request("sign", {"format": "cms", "data": [b64(DOC)] * 3, "timestamp": True}))
            assert asyncio.get_running_loop().time() - start < 10
            assert "result" not in reply
            assert reply["error"]["data"] == {"reason": "timestamp_failed"}  # details stay in the log
            # the same agent still signs without a timestamp
            assert "result" in await rpc(ws, request("sign", {"format": "cms", "data": [b64(DOC)]}, id=2))
            await still_serves(server)


# -- OCSP / CRL responders down, slow or answering garbage ----------------------------------


@pytest.mark.parametrize("mode", ["down", "drop", "garbage", "hang"])
async def test_revocation_responders_failing_give_unknown_not_an_error(
    tmp_path: Path, pki: Manifest, ocsp: RevocationServer, mode: str
) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"]) as server, browser(server) as ws:
        signed = await rpc(ws, request("sign", {"format": "cms", "data": [b64(DOC)], "detached": False}))
        cms = signed["result"]["signatures"][0]
        good = await rpc(ws, request("verify", {"format": "cms", "signature": cms}, id=2))
        assert good["result"]["signers"][0]["revocation"] == "good"
        # A real validator with a short network timeout, so that "hang" costs a second, not ten.
        server.services._validator = ChainValidator((pki.root_pem,), revocation="soft", timeout=1.0)
        with ocsp.modes(ocsp=mode, crl=mode):  # type: ignore[arg-type]
            start = asyncio.get_running_loop().time()
            reply = await rpc(ws, request("verify", {"format": "cms", "signature": cms}, id=3))
            assert asyncio.get_running_loop().time() - start < 8
        [signer] = reply["result"]["signers"]
        assert reply["result"]["valid"] is True and signer["chainValid"] is True
        assert signer["revocation"] == "unknown"  # never "good" without an answer
        await still_serves(server)


async def test_revoked_signer_stays_revoked_when_ocsp_answers_garbage_but_crl_works(
    tmp_path: Path, pki: Manifest, ocsp: RevocationServer
) -> None:
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign-revoked"]) as server, browser(server) as ws:
        signed = await rpc(ws, request("sign", {"format": "cms", "data": [b64(DOC)], "detached": False}))
        cms = signed["result"]["signatures"][0]
        with ocsp.modes(ocsp="garbage"):
            reply = await rpc(ws, request("verify", {"format": "cms", "signature": cms}, id=2))
        assert reply["result"]["signers"][0]["revocation"] == "revoked"
        assert reply["result"]["valid"] is False


# -- a PKCS#11 module that fails to load ----------------------------------------------------


@pytest.mark.parametrize("content", [b"not a shared library", b"\x7fELF\x02\x01\x01" + b"\x00" * 64, None])
async def test_broken_pkcs11_module_does_not_take_the_other_stores_down(
    tmp_path: Path, pki: Manifest, content: bytes | None
) -> None:
    module = tmp_path / "libvendor-pkcs11.so"
    if content is not None:
        module.write_bytes(content)
    consent = ScriptedConsent(pin="123456")
    registry = Stores([Pkcs11Store(module, "AKKaztokenStore"), Pkcs12Store([pki.identities["rsa-sign"].p12])])
    from support.agent import running_agent

    try:
        async with running_agent(tmp_path, consent, settings_for(pki), stores=registry) as server, browser(server) as ws:
            signed = await rpc(ws, request("sign", {"format": "raw", "data": [b64(DOC)]}))
            assert len(signed["result"]["signatures"]) == 1  # the PKCS#12 file still signs
            only_token = await rpc(ws, request("sign", {"format": "raw", "data": [b64(DOC)], "filter": {"storages": ["AKKaztokenStore"]}}, id=2))
            assert only_token["error"]["data"]["reason"] in ("store_error", "no_certificate"), only_token
            await still_serves(server)
    finally:
        await registry.close()


def test_serve_with_a_module_that_is_not_a_module_starts_or_says_why(tmp_path: Path) -> None:
    module = tmp_path / "libbroken.so"
    module.write_bytes(b"garbage")
    env = {"TANBA_CONFIG_DIR": str(tmp_path / "cfg"), "TANBA_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "tanba"), "serve", "--port", "0", "--no-autodetect", "--pkcs11", f"AKKaztokenStore={module}",
         "--approver", "terminal"],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on" in line, (line, proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


# -- corrupt configuration and state files --------------------------------------------------


CORRUPT_CONFIGS = [
    pytest.param(b'host = "127.0.0.1"\nport = [', "not valid TOML", id="truncated"),
    pytest.param(b'port = "13579"\n', "port: expected an integer", id="wrong-type"),
    pytest.param(b"[limits]\nmax-message = -1\n", "max_message must be positive", id="negative-limit"),
    pytest.param(b'allow-origin = ["null"]\n', "allow-origin", id="null-origin"),
    pytest.param(b'hots = "127.0.0.1"\n', "hots: unknown setting", id="typo"),
    pytest.param(b"\x00\x01\x02", "not valid TOML", id="binary"),
    pytest.param(b"\xff\xfe\x00garbage", "not valid", id="invalid-utf8"),
]


@pytest.mark.parametrize(("content", "says"), CORRUPT_CONFIGS)
def test_corrupt_config_file_stops_serve_with_a_message_naming_it(tmp_path: Path, content: bytes, says: str) -> None:
    config = tmp_path / "cfg" / "config.toml"
    config.parent.mkdir()
    config.write_bytes(content)
    env = {"TANBA_CONFIG_DIR": str(config.parent), "TANBA_STATE_DIR": str(tmp_path / "state")}
    for args in (["serve", "--port", "0"], ["serve", "--port", "0", "--config", str(config)]):
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 1, result.output
        assert result.output.startswith("Error: ") and says in result.output, result.output
        assert str(config) in result.output and "Traceback" not in result.output
    assert config.read_bytes() == content  # never rewritten behind the administrator's back


def test_non_loopback_host_in_the_config_file_stops_serve(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('host = "0.0.0.0"\n')
    result = CliRunner().invoke(main, ["serve", "--config", str(config)], env={"TANBA_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert result.output == "Error: host: 0.0.0.0 is not a loopback address; Tanba listens on loopback only\n"


@pytest.mark.parametrize("content", [b"{not json", b"\x00" * 100, b'{"version":1,"origins":{"null":1,"https://ok.test":"x"}}', b"[]", b""])
async def test_corrupt_origins_file_is_set_aside_and_nobody_is_let_in(tmp_path: Path, content: bytes) -> None:
    from support.agent import running_agent
    from tanba.agent.consent.base import OriginDecision

    (tmp_path / "origins.json").write_bytes(content)
    consent = ScriptedConsent(origin_answer=OriginDecision.DENY)
    async with running_agent(tmp_path, consent, Settings(allow_origin=(PORTAL,))) as server:
        from support.attack import refused

        assert await refused(server, origin="https://ok.test") == 403
        await still_serves(server)


# -- a full disk ------------------------------------------------------------------------------


@asynccontextmanager
async def child_agent(tmp_path: Path, *args: str) -> AsyncIterator[tuple[subprocess.Popen[str], int]]:
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
        assert line.startswith("PORT "), (line, proc.stderr.read() if proc.stderr and proc.poll() is not None else "")
        yield proc, int(line.split()[1])
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


async def hello(port: int, origin: str) -> dict[str, Any]:
    async with connect(f"ws://127.0.0.1:{port}/v1", origin=Origin(origin), open_timeout=5) as ws:
        return await rpc(ws, request("agent.hello"))


async def test_disk_full_when_saving_an_approval_keeps_the_old_file_and_the_agent(tmp_path: Path) -> None:
    """The user says "always allow" while the disk is full: the origins file keeps its old
    content (no half-written file, no temporary litter), the agent keeps serving, and the
    page the user just approved is served this time."""
    origins = tmp_path / "origins.json"
    OriginStore(origins).approve("https://first.test")
    before = origins.read_bytes()
    limit = len(before) + 10  # room for the old file, not for one more origin
    async with child_agent(tmp_path, "--origins", str(origins), "--origin-answer", "always",
                           "--fsize-limit", str(limit)) as (proc, port):
        assert (await hello(port, "https://first.test"))["result"]["name"] == "tanba"
        try:
            served: dict[str, Any] | None = await hello(port, "https://second-with-a-long-name.test")
        except Exception as exc:  # noqa: BLE001 - the outcome is asserted below
            served = None
            failure = exc
        assert origins.read_bytes() == before
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".origins")) == []
        assert proc.poll() is None, "the agent died on a full disk"
        assert (await hello(port, "https://first.test"))["result"]["name"] == "tanba"
        assert served is not None and served["result"]["name"] == "tanba", f"approved page refused: {failure!r}"


AUDIT_SCRIPT = textwrap.dedent(
    """
    import json, resource, signal, sys
    from pathlib import Path
    from tanba.agent.state.audit import AuditEvent, AuditLog
    path, limit = Path(sys.argv[1]), int(sys.argv[2])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    log = AuditLog(path, max_bytes=1 << 30)
    for i in range(50):
        log.record(AuditEvent(origin="https://portal.test", method="sign", action="sign", result="ok"))
    log.flush()
    print(json.dumps({"dropped": log.dropped}), flush=True)
    path.rename(path.with_name("audit.log.moved"))  # the administrator makes room
    log.record(AuditEvent(origin="https://portal.test", method="sign", action="sign", result="ok"))
    log.close()
    print(json.dumps({"dropped": log.dropped}), flush=True)
    """
)


def run_audit_on_a_full_disk(tmp_path: Path) -> tuple[list[dict[str, int]], Path, str]:
    path = tmp_path / "state" / "audit.log"
    proc = subprocess.run([sys.executable, "-c", AUDIT_SCRIPT, str(path), "1000"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr  # a full disk never kills the agent
    return [json.loads(line) for line in proc.stdout.splitlines()], path, proc.stderr


def test_audit_log_on_a_full_disk_drops_events_and_goes_on(tmp_path: Path) -> None:
    counts, path, stderr = run_audit_on_a_full_disk(tmp_path)
    assert counts[0]["dropped"] > 0  # 50 lines do not fit in 1000 bytes
    assert counts[1]["dropped"] == counts[0]["dropped"]  # room again: the next event is written
    assert stderr.count("cannot write") == 1  # logged once, not once per event
    assert len(path.read_text().splitlines()) == 1


def test_audit_log_on_a_full_disk_holds_only_whole_lines(tmp_path: Path) -> None:
    _, path, _ = run_audit_on_a_full_disk(tmp_path)
    for line in path.with_name("audit.log.moved").read_text().splitlines():
        json.loads(line)  # every line whole


# -- killed mid-batch and restarted ---------------------------------------------------------


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.5])
async def test_agent_killed_mid_batch_restarts_with_intact_state(tmp_path: Path, pki: Manifest, delay: float) -> None:
    """SIGKILL while a batch is signing and new sites are being approved (each approval
    rewrites the origins file): after a restart every state file parses, every approval that
    was answered is kept, and the agent signs again."""
    origins = tmp_path / "origins.json"
    p12 = str(pki.identities["rsa-sign"].p12)
    args = ["--origins", str(origins), "--origin-answer", "always", "--p12", p12, "--allow-origin", PORTAL]
    approved: list[str] = []
    async with child_agent(tmp_path, *args) as (proc, port):
        async with connect(f"ws://127.0.0.1:{port}/v1", origin=Origin(PORTAL), max_size=None) as ws:
            await ws.send(request("sign", {"format": "cms", "data": [b64(os.urandom(64)) for _ in range(2000)]}, id="batch"))

            async def approve_sites() -> None:
                for i in range(10_000):
                    origin = f"https://site-{i}.test"
                    try:
                        await hello(port, origin)
                    except (OSError, InvalidStatus, ConnectionClosed, TimeoutError):
                        continue  # busy while the batch's dialog runs, or the agent is gone
                    approved.append(origin)

            approver = asyncio.create_task(approve_sites())
            while not approved:
                await asyncio.sleep(0.01)
            await asyncio.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            await asyncio.gather(approver, return_exceptions=True)
    assert approved, "no approval happened before the kill"
    body = json.loads(origins.read_text())  # whole JSON, never half a file
    assert set(approved) <= set(body["origins"])
    assert (origins.stat().st_mode & 0o777) == 0o600
    assert not (tmp_path / "origins.json.corrupt").exists()
    async with child_agent(tmp_path, *args[:-4], "--origin-answer", "deny", "--p12", p12, "--allow-origin", PORTAL) as (_, port):
        for origin in approved[-3:]:  # remembered: served although the user would now say no
            assert (await hello(port, origin))["result"]["name"] == "tanba"
        async with connect(f"ws://127.0.0.1:{port}/v1", origin=Origin(PORTAL)) as ws:
            signed = await rpc(ws, request("sign", {"format": "cms", "data": [b64(DOC)]}))
            assert base64.b64decode(signed["result"]["signatures"][0])
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".origins.json.")]
    assert len(leftovers) <= 1  # at most the one temporary file the kill interrupted; never read
