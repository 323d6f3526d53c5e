"""`tanba demo` as a user runs it: the installed command, its printed lines, its page server
and its agent (auto approver), with the test PKI's revocation server it runs itself."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import queue
import re
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from support.process import TANBA, stop
from tanba.agent.setup.testpki import Manifest
from tanba.protocol.methods.verify import PROBLEMS

START_TIMEOUT = 120.0


@dataclass
class Demo:
    proc: subprocess.Popen[str]
    lines: list[str]
    page: str  # http://localhost:P
    agent: str  # ws://127.0.0.1:Q/v1
    workdir: Path  # its --dir


def _reader(stream: Any, into: queue.Queue[str | None]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))
    into.put(None)


@contextmanager
def running_demo(workdir: Path) -> Iterator[Demo]:
    """``tanba demo --approver auto`` on free ports, keeping its keys in ``workdir``;
    returns once it printed the page's address."""
    env = {**os.environ, "TANBA_CONFIG_DIR": str(workdir / "user-cfg"), "TANBA_STATE_DIR": str(workdir / "user-state")}
    proc = subprocess.Popen([TANBA, "demo", "--approver", "auto", "--port", "0", "--page-port", "0",
                             "--dir", str(workdir)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    lines: list[str] = []
    out: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, out), daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    try:
        page = None
        while page is None:
            line = out.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, "tanba demo exited early:\n" + "\n".join(lines)
            lines.append(line)
            if found := re.search(r"Open (http://localhost:\d+)/ in your browser", line):
                page = found.group(1)
        agent = next(m.group(1) for text in lines if (m := re.search(r"agent on (ws://\S+/v1)", text)))
        yield Demo(proc, lines, page, agent, workdir)
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("demo")) as running:
        yield running


def get(url: str, **headers: str) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


def test_it_says_how_many_key_files_it_made_and_where(tmp_path: Path) -> None:
    with running_demo(tmp_path) as first:
        made = [line for line in first.lines if line.startswith("Made ")]
    pki = tmp_path / "pki"
    count = len(list(pki.rglob("*.p12")))
    assert count >= 7
    assert made == [f"Made {count} test key files (PKCS#12, password 123456) in {pki}."]
    offered = first.lines[first.lines.index(next(line for line in first.lines if line.startswith("The agent offers"))) + 1:]
    listed = [line.split()[0] for line in offered if line.startswith("  ")]
    assert "rsa-sign.p12" in listed and "rsa-sign-revoked.p12" in listed
    assert all((pki / name).is_file() for name in listed)
    assert any("rsa-sign-revoked.p12" in line and "REVOKED" in line for line in offered)

    # --dir keeps them: the next run uses the same files and says so
    with running_demo(tmp_path) as second:
        assert f"Using the {count} test key files (PKCS#12, password 123456) already in {pki}." in second.lines
        assert not any(line.startswith("Made ") for line in second.lines)


def test_help_names_dir() -> None:
    result = subprocess.run([TANBA, "demo", "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    help_text = " ".join(result.stdout.split())
    assert "--dir DIRECTORY" in help_text and "DIR/pki" in help_text
    assert "OCSP" in help_text


def test_the_page_has_a_favicon(demo: Demo) -> None:
    status, ctype, body = get(demo.page + "/favicon.svg")
    assert status == 200 and ctype == "image/svg+xml" and body.lstrip().startswith(b"<svg")
    assert get(demo.page + "/favicon.ico")[:2] == (200, "image/svg+xml")  # what browsers ask for unbidden
    _, _, html = get(demo.page + "/")
    assert b'rel="icon" href="favicon.svg"' in html


def test_the_page_learns_the_browsers_language(demo: Demo) -> None:
    def locale(accept: str) -> Any:
        return json.loads(get(demo.page + "/config.json", **{"Accept-Language": accept})[2])["locale"]

    assert locale("kk-KZ,ru;q=0.8,en;q=0.5") == "kk"
    assert locale("de-DE,ru;q=0.7") == "ru"
    assert locale("de-DE") is None  # the page falls back to the browser's own list, then English
    messages = json.loads(get(demo.page + "/messages.json")[2])
    assert messages["kk"]["title"] == "Tanba демо-порталы" and messages["ru"]["title"] == "Демо-портал Tanba"
    # every text the page shows exists in all three languages
    assert set(messages["ru"]) == set(messages["kk"]) == set(messages["en"])
    # and every problem code verify may report reads as a sentence, never as the bare code
    assert {key.removeprefix("problem.") for key in messages["en"] if key.startswith("problem.")} == PROBLEMS


async def _sign_and_verify(demo: Demo, sign_filter: dict[str, Any]) -> dict[str, Any]:
    async with connect(demo.agent, origin=demo.page) as ws:  # type: ignore[arg-type]
        async def call(request_id: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}))
            while True:
                reply: dict[str, Any] = json.loads(await ws.recv())
                if reply.get("id") == request_id:
                    assert "result" in reply, reply
                    result: dict[str, Any] = reply["result"]
                    return result

        data = base64.b64encode("Заявление № 42".encode()).decode()
        signed = await call(1, "sign", {"format": "cms", "data": [data], "detached": False, "filter": sign_filter})
        return await call(2, "verify", {"format": "cms", "signature": signed["signatures"][0]})


def test_revocation_is_really_checked(demo: Demo) -> None:
    manifest = Manifest.load(demo.workdir / "pki")
    revocation_url = manifest.ocsp_url.rsplit("/", 1)[0] + "/"
    assert f"Revocation: the test PKI's OCSP responder and CRL answer on {revocation_url}" in demo.lines

    good = asyncio.run(_sign_and_verify(demo, {"keyUsage": "sign", "serialNumber": manifest.identities["rsa-sign"].serial_hex}))
    [signer] = good["signers"]
    assert good["valid"] is True and signer["revocation"] == "good" and signer["problems"] == []

    revoked_serial = manifest.identities["rsa-sign-revoked"].serial_hex
    revoked = asyncio.run(_sign_and_verify(demo, {"keyUsage": "sign", "serialNumber": revoked_serial}))
    [signer] = revoked["signers"]
    assert revoked["valid"] is False and signer["revocation"] == "revoked" and "revoked" in signer["problems"]
