"""The unit's MemoryDenyWriteExecute= holds for what the agent runs: Python, cryptography,
lxml/signxml and a PKCS#11 module loaded in-process.

systemd's option refuses memory that is writable and executable at once; the kernel's
``prctl(PR_SET_MDWE)`` does the same for a process and its children.  The agent runs here
under it, signing with a PKCS#12 file (CMS and XML) and with SoftHSM (a real PKCS#11
module) — if anything needed W+X memory, it would fail with EACCES.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import SoftHSM
from support.process import free_port
from tanba.agent.setup.testpki import Manifest
from websockets.asyncio.client import connect

PR_SET_MDWE = 65
PR_GET_MDWE = 66
UNDER_MDWE = f"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl({PR_SET_MDWE}, 1, 0, 0, 0) != 0 or libc.prctl({PR_GET_MDWE}, 0, 0, 0, 0) != 1:
    sys.exit("PR_SET_MDWE failed: errno %d" % ctypes.get_errno())
import mmap
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except PermissionError:
    pass
else:
    sys.exit("W+X memory still allowed: MDWE is not in force")
os.execv(sys.executable, [sys.executable, "-m", "tanba", *sys.argv[1:]])
"""
PORTAL = "https://portal.test"


def sign_under_mdwe(tmp_path: Path, pin: str, stores: list[str], formats: list[str]) -> list[dict[str, Any]]:
    port = free_port()
    (tmp_path / "pin").write_text(pin)
    env = {**os.environ, "TANBA_CONFIG_DIR": str(tmp_path / "cfg"), "TANBA_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.Popen(
        [sys.executable, "-c", UNDER_MDWE, "serve", "--approver", "auto", "--pin-file", str(tmp_path / "pin"),
         "--allow-origin", PORTAL, "--no-autodetect", "--port", str(port), *stores],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on" in line, line + (proc.stderr.read() if proc.poll() is not None else "")

    async def talk() -> list[dict[str, Any]]:
        out = []
        async with connect(f"ws://127.0.0.1:{port}/v1", origin=PORTAL) as ws:  # type: ignore[arg-type]
            for i, fmt in enumerate(formats):
                data = base64.b64encode(b"<a>hardened</a>").decode()
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": i, "method": "sign",
                                          "params": {"format": fmt, "data": [data]}}))
                while "method" in (reply := json.loads(await ws.recv())):
                    pass
                out.append(reply)
        return out

    try:
        return asyncio.run(talk())
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0


def test_pkcs12_cms_and_xml_signing_under_memory_deny_write_execute(tmp_path: Path, pki: Manifest) -> None:
    ident = pki.identities["rsa-sign"]
    replies = sign_under_mdwe(tmp_path, ident.p12_password, ["--p12", str(ident.p12)], ["cms", "xml"])
    assert all("result" in r for r in replies), replies


def test_pkcs11_module_signing_under_memory_deny_write_execute(tmp_path: Path, softhsm: SoftHSM) -> None:
    replies = sign_under_mdwe(tmp_path, softhsm.pin, ["--pkcs11", f"AKKaztokenStore={softhsm.module}"], ["cms"])
    assert "result" in replies[0], replies
