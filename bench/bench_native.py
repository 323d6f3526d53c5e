"""End-to-end benchmark of the native API and of `tanba sign`.

    python bench/bench_native.py [--docs 1000] [--rounds 5] [--gib 1]

1. raw cryptography RSA-2048 PKCS#1 v1.5 signatures/s over precomputed SHA-256 digests;
2. a 1,000-document CAdES-BES ``sign`` request through ``/v1`` on a real agent (WebSocket,
   JSON, base64, auto approver, PKCS#12 key, the file unlocked per request as for a user):
   documents/s and the ratio to (1) (target >= 0.8);
3. `tanba sign FILE` (detached CMS) over a 1 GiB file against ``openssl dgst -sha256`` on the
   same file: wall-time ratio (target <= 1.1) and the peak RSS of the `tanba` process (target
   <= 64 MiB).  The file is sparse, in a temp dir, and deleted afterwards; both sides run
   with the file in the page cache.

Rates are the best of several interleaved rounds: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from websockets.asyncio.client import connect

from tanba.agent.consent.auto import AutoApprover
from tanba.agent.services import Services
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest, make_test_pki
from tanba.agent.state.audit import AuditLog
from tanba.agent.state.approvals import OriginStore
from tanba.agent.transport.server import AgentServer
from tanba.agent.transport.tracker import Tracker
from tanba.protocol.limits import Limits
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.registry import Stores

ORIGIN = "https://bench.test"


def raw_rate(key: rsa.RSAPrivateKey, n: int) -> float:
    digests = [os.urandom(32) for _ in range(n)]
    algorithm = utils.Prehashed(hashes.SHA256())
    start = time.perf_counter()
    for digest in digests:
        key.sign(digest, padding.PKCS1v15(), algorithm)
    return n / (time.perf_counter() - start)


async def v1_rate(server: AgentServer, n: int) -> float:
    data = [base64.b64encode(f"document number {i}: заявление".encode()).decode() for i in range(n)]
    request = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sign", "params": {"format": "cms", "data": data}})
    async with connect(f"ws://127.0.0.1:{server.port}/v1", origin=ORIGIN, max_size=None) as ws:
        start = time.perf_counter()
        await ws.send(request)
        while True:
            reply = json.loads(await ws.recv())
            if "method" not in reply:
                break
        elapsed = time.perf_counter() - start
    assert len(reply["result"]["signatures"]) == n, reply
    return n / elapsed


@asynccontextmanager
async def running_agent(
    p12: Path, password: str, tmp: Path, *, unlock_window: float = 0, audit: AuditLog | None = None
) -> AsyncIterator[AgentServer]:
    """A real agent on a free port serving ``p12`` to :data:`ORIGIN` (auto approver, the
    password in a PIN file), as the benches build it; ``unlock_window`` in minutes (0: the
    file is decrypted for every request, the default), ``audit`` the audit log it writes."""
    pin = tmp / "pin"
    pin.write_text(password)
    settings = Settings(port=0, allow_origin=(ORIGIN,), approver="auto", pin_file=pin, autodetect=False,
                        limits=Limits(max_message=256 * 1024 * 1024), unlock_window=unlock_window)
    stores = Stores([Pkcs12Store([p12])])
    services = Services(settings, AutoApprover(pin, [ORIGIN]), OriginStore(tmp / "origins.json"), "x" * 43,
                        "bench", stores=stores, audit=audit)
    server = AgentServer(services, Tracker())
    await server.start()
    try:
        yield server
    finally:
        await server.close()
        assert services.unlock_window is not None
        await services.unlock_window.close_all()
        await stores.close()
        if audit is not None:
            audit.close()


async def bench_v1(pki: Manifest, tmp: Path, docs: int, rounds: int) -> tuple[float, float]:
    ident = pki.identities["rsa-sign"]
    key = serialization.load_pem_private_key(ident.key_pem.read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    best_raw = best_v1 = 0.0
    async with running_agent(ident.p12, ident.p12_password, tmp) as server:
        for _ in range(rounds):
            best_raw = max(best_raw, raw_rate(key, docs))
            best_v1 = max(best_v1, await v1_rate(server, docs))
    return best_raw, best_v1


_TIMER = """
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps([time.perf_counter() - start, status, usage.ru_maxrss, proc.stderr.read().decode()]))
"""


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one run of ``cmd`` (in ``env``, default: this one's).

    Measured from a small helper process: a child forked from this (large) process would
    report this process's RSS as its own peak, whatever it does after exec.
    """
    out = subprocess.run([sys.executable, "-S", "-c", _TIMER, *cmd], capture_output=True, text=True, check=True,
                         env=env)
    elapsed, status, maxrss, err = json.loads(out.stdout)
    if status != 0:
        raise RuntimeError(f"{cmd[0]} failed: {err}")
    return float(elapsed), int(maxrss)


def bench_big_file(pki: Manifest, tmp: Path, gib: int, rounds: int) -> tuple[float, float, int]:
    big = tmp / "big.bin"
    with big.open("wb") as f:
        f.truncate(gib * 1024**3)
    pin = tmp / "pin"
    pin.write_text(pki.identities["rsa-sign"].p12_password)
    tanba = shutil.which("tanba", path=str(Path(sys.executable).parent)) or "tanba"
    ours = [tanba, "sign", str(big), "--p12", str(pki.identities["rsa-sign"].p12), "--pin-file", str(pin),
            "--out-dir", str(tmp / "out")]
    theirs = ["openssl", "dgst", "-sha256", str(big)]
    timed(theirs)  # warm the page cache
    best_ours = best_theirs = float("inf")
    peak = 0
    try:
        for _ in range(rounds):
            t, _ = timed(theirs)
            best_theirs = min(best_theirs, t)
            t, rss = timed(ours)
            best_ours = min(best_ours, t)
            peak = max(peak, rss)
    finally:
        big.unlink()
    return best_ours, best_theirs, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--gib", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tanba-bench-") as name:
        tmp = Path(name)
        pki = make_test_pki(tmp / "pki")
        raw, v1 = asyncio.run(bench_v1(pki, tmp, args.docs, args.rounds))
        print(f"raw RSA-2048 sign (cryptography, prehashed):        {raw:8.0f} /s")
        print(f"CAdES-BES batch of {args.docs} through /v1 (PKCS#12):  {v1:8.0f} /s   ratio {v1 / raw:.2f} (target >= 0.8)")
        ours, theirs, peak = bench_big_file(pki, tmp, args.gib, max(2, args.rounds // 2))
        print(f"tanba sign, detached CMS over {args.gib} GiB:          {ours:8.2f} s")
        print(f"openssl dgst -sha256 on the same file:            {theirs:8.2f} s   ratio {ours / theirs:.2f} (target <= 1.1)")
        print(f"peak RSS of tanba sign:                           {peak / 1024:8.1f} MiB (target <= 64)")


if __name__ == "__main__":
    main()
