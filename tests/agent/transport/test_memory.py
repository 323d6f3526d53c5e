"""A big document does not leave the agent big: agent/transport/memory.py, seen from outside.

The agent is the real `tanba serve` in its own process; its resident memory is read from
/proc.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.process import TANBA, free_port
from websockets.sync.client import ClientConnection, connect

from tanba.agent.setup.testpki import Manifest
from tanba.agent.transport import memory

PORTAL = "https://portal.test"
MiB = 1024 * 1024


def rss_mib(pid: int) -> float:
    found = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    assert found is not None
    return int(found.group(1)) / 1024


def settled_rss(pid: int) -> float:
    """The RSS once it stops moving (the agent finishes what it was doing)."""
    last = rss_mib(pid)
    for _ in range(20):
        time.sleep(0.25)
        now = rss_mib(pid)
        if abs(now - last) < 0.5:
            return now
        last = now
    return last


def sign(ws: ClientConnection, data: bytes, id: int) -> dict[str, object]:
    ws.send(json.dumps({"jsonrpc": "2.0", "id": id, "method": "sign", "params": {
        "format": "cms", "data": [base64.b64encode(data).decode()], "detached": False}}))
    while True:
        reply: dict[str, object] = json.loads(ws.recv(timeout=120))
        if "method" not in reply:
            return reply


@pytest.mark.skipif(not memory.configure(), reason="glibc only")
def test_the_idle_agent_gives_back_what_big_documents_took(tmp_path: Path, pki: Manifest) -> None:
    ident = pki.identities["rsa-sign"]
    (tmp_path / "pin").write_text(ident.p12_password + "\n")
    port = free_port()
    env = {**os.environ, "TANBA_CONFIG_DIR": str(tmp_path / "cfg"), "TANBA_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.Popen(
        [TANBA, "serve", "--approver", "auto", "--pin-file", str(tmp_path / "pin"), "--no-autodetect", "--no-tls",
         "--port", str(port), "--allow-origin", PORTAL, "--p12", str(ident.p12)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    try:
        assert proc.stdout is not None and "listening on" in proc.stdout.readline()
        with connect(f"ws://127.0.0.1:{port}/v1", origin=PORTAL, max_size=None) as ws:  # type: ignore[arg-type]
            assert "result" in sign(ws, b"small", 1)  # everything a signature needs is loaded
            idle = settled_rss(proc.pid)
            for id, size in enumerate((8, 24, 32), start=2):  # after the first, glibc kept the rest
                reply = sign(ws, os.urandom(size * MiB), id)
                assert "result" in reply
                del reply
            assert "result" in sign(ws, b"next", 5)  # the page goes on with small requests
            after = settled_rss(proc.pid)
        closed = settled_rss(proc.pid)
    finally:
        proc.terminate()
        proc.wait(15)
    # Each document passes through several buffers of its size (base64 text, bytes, the
    # CMS); they all go back, with the page still open and after it left.
    assert after - idle < 8, (idle, after)
    assert closed - idle < 8, (idle, closed)


HEAPS = r'''
import ctypes, sys, tempfile, threading
from tanba.agent.transport import memory
if sys.argv[1] == "configured":
    assert memory.configure()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
start = threading.Barrier(8)
def work():  # what worker threads do to the heap: many medium blocks at once
    start.wait()
    for _ in range(200):
        blocks = [bytes(2000 + i) for i in range(300)]
        del blocks
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    fp = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    print(open(out.name).read().count("<heap nr="))
'''


@pytest.mark.skipif(not memory.configure(), reason="glibc only")
def test_worker_threads_share_the_capped_heaps() -> None:
    """Each busy thread would get a heap of its own (up to 8 per core), each keeping the
    high-water mark of what its thread parsed; configured, there are ARENAS in all."""
    def heaps(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", HEAPS, mode], capture_output=True, text=True, check=True)
        return int(out.stdout)

    assert heaps("configured") <= memory.ARENAS
    assert heaps("default") > memory.ARENAS  # what the cap prevents
