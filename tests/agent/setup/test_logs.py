"""The agent's log: no PIN and no document content, ever; a private, rotating file."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.process import TANBA, free_port
from tanba.agent.setup import logs
from tanba.agent.setup.testpki import Manifest
from websockets.asyncio.client import connect

PORTAL = "https://portal.test"
DOCUMENT = "Contract 4471: the party of the first part sells ONE CAMEL to the second part."
WRONG_PIN = "Wr0ngPin-88123"


def sign_with_pin(tmp_path: Path, p12: Path, pin: str, formats: tuple[str, ...]) -> list[dict[str, Any]]:
    """Run `tanba serve --log-level debug` with ``pin`` in the auto approver's file; sign DOCUMENT."""
    port = free_port()
    pin_file = tmp_path / f"pin-{len(pin)}"
    pin_file.write_text(pin + "\n")
    env = {**os.environ, "TANBA_CONFIG_DIR": str(tmp_path / "cfg"), "TANBA_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.Popen(
        [TANBA, "serve", "--approver", "auto", "--pin-file", str(pin_file), "--no-autodetect", "--p12", str(p12),
         "--allow-origin", PORTAL, "--port", str(port), "--log-level", "debug"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    assert proc.stdout is not None
    assert "listening on" in proc.stdout.readline()

    async def talk() -> list[dict[str, Any]]:
        replies = []
        async with connect(f"ws://127.0.0.1:{port}/v1", origin=PORTAL) as ws:  # type: ignore[arg-type]
            for i, fmt in enumerate(formats):
                data = f"<doc>{DOCUMENT}</doc>" if fmt == "xml" else DOCUMENT
                params = {"format": fmt, "data": [base64.b64encode(data.encode()).decode()]}
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": i, "method": "sign", "params": params}))
                while "method" in (reply := json.loads(await ws.recv())):
                    pass
                replies.append(reply)
        return replies

    try:
        return asyncio.run(talk())
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
        (tmp_path / "stderr.txt").open("a").write(err)


def test_logs_hold_no_pin_and_no_document(tmp_path: Path, pki: Manifest) -> None:
    ident = pki.identities["rsa-sign"]
    good = sign_with_pin(tmp_path, ident.p12, ident.p12_password, ("cms", "xml", "raw"))
    assert all("result" in r for r in good), good
    bad = sign_with_pin(tmp_path, ident.p12, WRONG_PIN, ("cms",))
    assert bad[0]["error"]["data"]["reason"] == "wrong_pin"

    log = (tmp_path / "state" / "tanba.log").read_text()
    console = (tmp_path / "stderr.txt").read_text()
    assert "auto approver: sign for https://portal.test -> approved" in log  # the log did record the run
    assert "wrong password for" in log  # and the wrong-PIN attempt too
    assert log.count("stopped") == 2
    audit = (tmp_path / "state" / "audit.log").read_text()
    assert [json.loads(line)["result"] for line in audit.splitlines()] == ["ok", "ok", "ok", "error"]
    b64_document = base64.b64encode(DOCUMENT.encode()).decode()
    for text in (log, console, audit):
        for secret in (ident.p12_password, WRONG_PIN, DOCUMENT, "ONE CAMEL", b64_document, b64_document[:24]):
            assert secret not in text, secret
    assert (tmp_path / "state" / "tanba.log").stat().st_mode & 0o777 == 0o600


@pytest.fixture
def captured(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "state" / "tanba.log"
    logs.setup("debug", path, console=False)
    yield path
    logs.setup("warning", None, console=False)  # back to Python's defaults for the other tests
    logging.getLogger("websockets").setLevel(logging.NOTSET)
    logs.forget_secrets()


def test_redaction_is_a_second_line_of_defence(captured: Path) -> None:
    log = logging.getLogger("tanba.test")
    logs.register_secret(b"918273")
    log.info("unlocking with %s now", "918273")
    log.info("request params: %s", {"pin": "4455", "data": base64.b64encode(os.urandom(300)).decode()})
    log.info("pin=7788 password: 'hunter22' Authorization: Bearer abcdefghijklmnop")
    try:
        raise ValueError("bad key material 918273")
    except ValueError:
        log.exception("failed")
    log.info("file %s on port 39182", "/home/user/keys/AUTH_RSA256_abc-123/file_2024-01.p12")
    log.info("digest %s", "ab" * 32)
    text = captured.read_text()
    for secret in ("918273", "4455", "7788", "hunter22", "abcdefghijklmnop"):
        assert secret not in text, secret
    assert "[400 chars redacted]" in text
    assert text.count("[redacted]") >= 5
    # What a person needs to understand the log stays.
    assert "/home/user/keys/AUTH_RSA256_abc-123/file_2024-01.p12 on port 39182" in text
    assert "digest " + "ab" * 32 in text
    assert "ValueError: bad key material [redacted]" in text


def test_secrets_are_not_kept_in_memory() -> None:
    logs.register_secret(bytearray(b"secret-pin-551"))
    try:
        assert b"secret-pin-551" not in repr(vars(logs._secrets)).encode()
        assert logs.redact("x secret-pin-551 y") == "x [redacted] y"
        assert logs.redact("x secret-pin-5512 y") == "x secret-pin-5512 y"  # a word, not a substring
    finally:
        logs.forget_secrets()


def test_log_file_rotates_and_stays_private(captured: Path) -> None:
    log = logging.getLogger("tanba.test")
    line = "x" * 1000
    for _ in range(logs.MAX_BYTES * (logs.BACKUPS + 2) // 1000):
        log.info("%s", line)
    files = sorted(captured.parent.glob("tanba.log*"))
    assert [f.name for f in files] == ["tanba.log", *(f"tanba.log.{i}" for i in range(1, logs.BACKUPS + 1))]
    for f in files:
        assert f.stat().st_size <= logs.MAX_BYTES + 2000
        assert f.stat().st_mode & 0o777 == 0o600
    assert captured.parent.stat().st_mode & 0o777 == 0o700


def test_websockets_frame_dumps_stay_out_even_at_debug(captured: Path) -> None:
    assert logging.getLogger("websockets").getEffectiveLevel() == logging.INFO
    logging.getLogger("websockets.server").debug("< TEXT '{\"data\":[\"Q29udHJhY3Q...' [120 bytes]")
    assert "Q29udHJhY3Q" not in captured.read_text()
