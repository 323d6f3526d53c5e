"""Per-request overhead of a small ``sign`` over ``/v1``, and the event loop during a PKCS#12 unlock (issue 18).

    python bench/bench_request.py [--requests 2000] [--rounds 3] [--hellos 300] [--profile FILE]

1. A real agent (``bench_native.running_agent``: AgentServer + Services, auto approver, the
   test PKI's RSA-2048 PKCS#12 key, the audit log on, logging as `tanba serve` does it, to a
   file; all in a temp dir) with an unlock window, so the key stays open after the first
   request.  One client sends ``--requests`` sequential ``sign`` requests (format cms, one
   small document) and times each, from send to answer: p50 / p90, against the p50 of one
   raw RSA-2048 PKCS#1 v1.5 signature over a precomputed SHA-256 digest (cryptography)
   measured in the same run.  Target: p50 <= 3 x the raw signature.

   a. the client in the agent's own process and event loop (as bench_native.py's clients):
      what the agent's code costs, with no process wake-ups in the figure;
   b. the client in a process of its own, as a browser is; beside it the same client
      against a bare websockets server in this process that parses the request, hashes
      the document, makes the same raw signature and answers as many bytes as the agent
      does — the floor any Python WebSocket signer has here — so that what Tanba adds to
      the wire's own cost reads off directly.
2. The default rule (no unlock window: the file is decrypted — PBKDF2, MAC, AES — and the
   key loaded for every request).  One client signs in a loop while a second connection
   sends ``agent.hello`` requests one after another (``--hellos``, 5 ms apart), both in a
   process of their own: the hello latency p50 / p99 against the same on an idle agent.
   A decryption that held the event loop — or the GIL: a client in the agent's process could
   not even send meanwhile, hence the separate process — would show in the busy figure.

Figures are the best round of ``--rounds`` (the machine is shared and noisy).  ``--profile
FILE`` writes a cProfile of the agent's side of (1b) (one more round) to FILE.
``--quiet-approver`` leaves out the one log line the auto approver writes per confirmation
(a WARNING, through the redacting rotating file handler): a test approver's cost, which a
real dialog does not have.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import hashlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Origin

from bench_native import ORIGIN, running_agent  # this folder's scripts: the agent built alike
from tanba.agent.setup import logs
from tanba.agent.setup.testpki import make_test_pki
from tanba.agent.state.audit import AuditLog

DOCUMENT = base64.b64encode("заявление № 1: small document".encode()).decode()
HELLO = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "agent.hello"})
_PKCS1 = padding.PKCS1v15()
_PREHASHED = utils.Prehashed(hashes.SHA256())


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def raw_p50(key: rsa.RSAPrivateKey, n: int) -> float:
    """The median seconds of one raw RSA-2048 PKCS#1 v1.5 signature over a SHA-256 digest."""
    out = []
    for _ in range(n):
        digest = os.urandom(32)
        start = time.perf_counter()
        key.sign(digest, _PKCS1, _PREHASHED)
        out.append(time.perf_counter() - start)
    return statistics.median(out)


def sign_request(request_id: int) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "sign",
                       "params": {"format": "cms", "data": [DOCUMENT]}})


# --- clients -------------------------------------------------------------------------------


async def call(ws: ClientConnection, message: str) -> dict[str, Any]:
    await ws.send(message)
    while True:
        reply = json.loads(await ws.recv())
        if "method" not in reply:  # not a notification: the answer
            if "result" not in reply:
                raise RuntimeError(f"request failed: {reply}")
            return dict(reply)


async def sign_latencies(url: str, n: int, warmup: int = 20) -> list[float]:
    """Seconds per sequential one-document ``sign`` on one connection (after ``warmup``)."""
    out = []
    async with connect(url, origin=Origin(ORIGIN), max_size=None) as ws:
        for i in range(warmup + n):
            message = sign_request(i)
            start = time.perf_counter()
            await call(ws, message)
            if i >= warmup:
                out.append(time.perf_counter() - start)
    return out


async def hello_latencies(url: str, n: int, gap: float = 0.005) -> list[float]:
    """Seconds per ``agent.hello``, one every ``gap`` seconds, on a connection of its own."""
    out = []
    async with connect(url, origin=Origin(ORIGIN)) as ws:
        await call(ws, HELLO)
        for _ in range(n):
            start = time.perf_counter()
            await call(ws, HELLO)
            out.append(time.perf_counter() - start)
            await asyncio.sleep(gap)
    return out


async def hello_under_load(url: str, n: int) -> dict[str, list[float]]:
    """``agent.hello`` latencies on a second connection while a first one signs in a loop,
    and the signer's own latencies meanwhile."""
    stop = asyncio.Event()
    signs: list[float] = []

    async def signer() -> None:
        async with connect(url, origin=Origin(ORIGIN)) as ws:
            i = 0
            while not stop.is_set():
                start = time.perf_counter()
                await call(ws, sign_request(i))
                signs.append(time.perf_counter() - start)
                i += 1

    task = asyncio.create_task(signer())
    while not signs and not task.done():  # the signer is under way
        await asyncio.sleep(0.01)
    try:
        hellos = await hello_latencies(url, n)
    finally:
        stop.set()
        await task
    return {"hello": hellos, "sign": signs}


async def client(mode: str, port: int, count: int) -> object:
    """What ``--client MODE`` runs (in a child process) and prints as JSON."""
    url = f"ws://127.0.0.1:{port}/v1"
    if mode == "sign":
        return await sign_latencies(url, count)
    if mode == "hello":
        return await hello_latencies(url, count)
    return await hello_under_load(url, count)


async def run_client(mode: str, port: int, count: int) -> Any:
    """Run ``--client mode`` in a child process against ``port``; its JSON answer."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--client", mode, "--port", str(port), "--count", str(count),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"client {mode} failed: {err.decode()}")
    return json.loads(out)


# --- the floor: a bare WebSocket signer ----------------------------------------------------


def floor_handler(key: rsa.RSAPrivateKey, answer: dict[str, Any]) -> Callable[[ServerConnection], Any]:
    """A websockets handler that does the least a signer must: parse the request, hash the
    document, sign, and answer ``answer``'s bytes (the agent's own answer: same size)."""
    result = answer["result"]
    filler = base64.b64decode(result["signatures"][0])[256:]  # as many bytes as the CMS around the signature

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            request = json.loads(message)
            document = base64.b64decode(request["params"]["data"][0])
            signature = key.sign(hashlib.sha256(document).digest(), _PKCS1, _PREHASHED)
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": {
                "signatures": [base64.b64encode(signature + filler).decode()],
                "certificate": result["certificate"], "chain": result["chain"]}}))

    return handler


# --- the runs --------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.3f} ms"


def best(rounds: list[tuple[list[float], float]]) -> tuple[float, float, float]:
    """The best p50 and p90 of the rounds, and the best raw p50 measured beside them."""
    return (min(statistics.median(lat) for lat, _ in rounds), min(percentile(lat, 90) for lat, _ in rounds),
            min(raw for _, raw in rounds))


async def kept_open(args: argparse.Namespace, tmp: Path, key: rsa.RSAPrivateKey, p12: Path, password: str) -> None:
    """(1): the key kept open by the unlock window."""
    audit = AuditLog(tmp / "audit.log")
    inproc: list[tuple[list[float], float]] = []
    outproc: list[tuple[list[float], float]] = []
    floor: list[tuple[list[float], float]] = []
    async with running_agent(p12, password, tmp, unlock_window=60, audit=audit) as server:
        url = f"ws://127.0.0.1:{server.port}/v1"
        async with connect(url, origin=Origin(ORIGIN)) as ws:
            answer = await call(ws, sign_request(0))
        handler = floor_handler(key, answer)
        async with serve(handler, "127.0.0.1", 0) as bare:
            bare_port = bare.sockets[0].getsockname()[1]
            for _ in range(args.rounds):
                inproc.append((await sign_latencies(url, args.requests), raw_p50(key, args.requests)))
                outproc.append((await run_client("sign", server.port, args.requests), raw_p50(key, args.requests)))
                floor.append((await run_client("sign", bare_port, args.requests), raw_p50(key, args.requests)))
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await run_client("sign", server.port, args.requests)
            profiler.disable()
            profiler.dump_stats(args.profile)
    p50, p90, raw = best(inproc)
    print(f"raw RSA-2048 PKCS#1 v1.5 signature (cryptography), p50:  {ms(raw)}")
    print(f"(1a) sign over /v1, key kept open, client in the agent's process:")
    print(f"     p50 {ms(p50)}  p90 {ms(p90)}   ratio {p50 / raw:.2f} (target <= 3)")
    p50, p90, raw = best(outproc)
    f50, f90, fraw = best(floor)
    print(f"(1b) the same, client in a process of its own (raw p50 {ms(raw).strip()}):")
    print(f"     p50 {ms(p50)}  p90 {ms(p90)}   ratio {p50 / raw:.2f}")
    print(f"     bare websockets signer, same client, same answer size (raw p50 {ms(fraw).strip()}):")
    print(f"     p50 {ms(f50)}  p90 {ms(f90)}   ratio {f50 / fraw:.2f};  Tanba adds {ms(p50 - f50).strip()} at p50")
    print(f"     audit lines lost: {audit.dropped}")


async def per_request_unlock(args: argparse.Namespace, tmp: Path, p12: Path, password: str) -> None:
    """(2): the default rule, the file decrypted for every request."""
    idle_rounds, busy_rounds = [], []
    async with running_agent(p12, password, tmp, audit=AuditLog(tmp / "audit2.log")) as server:
        for _ in range(args.rounds):
            idle_rounds.append(await run_client("hello", server.port, args.hellos))
            busy_rounds.append(await run_client("load", server.port, args.hellos))
    idle = min(idle_rounds, key=lambda r: percentile(r, 99))
    busy = min(busy_rounds, key=lambda r: percentile(r["hello"], 99))
    print(f"(2)  sign with the file decrypted per request, p50:  {ms(statistics.median(busy['sign']))}"
          f"   ({len(busy['sign'])} signed while the hellos ran)")
    print(f"     agent.hello on an idle agent,               p50 {ms(statistics.median(idle))}  "
          f"p99 {ms(percentile(idle, 99))}")
    print(f"     agent.hello while another connection signs, p50 {ms(statistics.median(busy['hello']))}  "
          f"p99 {ms(percentile(busy['hello'], 99))}  max {ms(max(busy['hello']))}")


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="tanba-bench-") as name:
        tmp = Path(name)
        logs.setup("info", tmp / "tanba.log", console=False)  # `tanba serve`'s log file (its console copy left out)
        if args.quiet_approver:
            logging.getLogger("tanba.agent.consent.auto").setLevel(logging.ERROR)
        pki = make_test_pki(tmp / "pki")
        ident = pki.identities["rsa-sign"]
        key = serialization.load_pem_private_key(ident.key_pem.read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        await kept_open(args, tmp, key, ident.p12, ident.p12_password)
        await per_request_unlock(args, tmp, ident.p12, ident.p12_password)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hellos", type=int, default=300)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--quiet-approver", action="store_true",
                        help="leave out the auto approver's WARNING line per confirmation (a dialog logs none)")
    parser.add_argument("--client", choices=("sign", "hello", "load"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(asyncio.run(client(args.client, args.port, args.count))))
    else:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
