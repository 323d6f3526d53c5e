"""Soak: 100,000 mixed honest requests from 50 clients against `tanba serve`.

    python bench/soak.py [--requests 100000] [--clients 50] [--only KIND ...]

Each client keeps one ``/v1`` and one ``/`` connection to the real agent (started as in
bench/fuzz_live.py: auto approver, PKCS#12 files, unlock window) and sends, in a random but
seeded order: ``agent.hello``, ``verify`` of a CAdES signature, ``sign`` (raw over a digest),
``certs.list``, ``auth``, and on ``/`` ``getActiveTokens`` and ``createCAdESFromBase64Hash``.

One prompt at a time is a security rule (DESIGN.md, rule 6), so with 50 clients requests
that need the user (sign, certs.list, auth) are often answered ``busy``; a client then
retries after a short random pause.  ``busy`` is the right answer while another prompt is
open, and every prompt ends within the dialog timeout (120 s), so a request counts as an
error when its final answer is not the expected success, or when it is still ``busy`` after
retrying for that long.  Reported: error count (target 0), latency percentiles (including
retries), busy retries, the longest wait for the prompt slot and how many requests needed
more than 200 tries (this benchmark's first, count-based limit), and the agent's RSS every
few seconds.  ``--only`` sends the named kinds alone, which tells which request a
cost or a memory growth follows.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz_live import ORIGIN, LiveAgent, live_agent  # noqa: E402

#: a request still ``busy`` after this long is an error: any prompt has ended by then
MAX_BUSY_WAIT = 120.0
#: the earlier, count-based limit, still reported
MANY_TRIES = 200
#: 50 clients hold two sockets each, all from one origin: above the default caps of 64
#: connections and 16 per origin, on purpose (a soak of honest load, not an admission test)
CONFIG = "unlock-window = 5\n[limits]\nmax-connections = 128\nmax-per-origin = 128\n"
MIX = [("hello", 30), ("verify", 15), ("sign", 20), ("certs", 5), ("auth", 5), ("tokens", 15), ("nca-sign", 10)]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Client:
    def __init__(self, agent: LiveAgent, n: int, seed: int, cms: str, stats: dict[str, Any],
                 mix: list[tuple[str, int]]) -> None:
        self.agent, self.n, self.rng, self.cms, self.stats = agent, n, random.Random(seed), cms, stats
        self.mix = mix
        self.native: ClientConnection | None = None
        self.ncalayer: ClientConnection | None = None
        self.next_id = 0

    async def open(self) -> None:
        base = f"ws://127.0.0.1:{self.agent.port}"
        self.native = await connect(base + "/v1", origin=ORIGIN, open_timeout=30, max_size=None)
        self.ncalayer = await connect(base + "/", origin=ORIGIN, open_timeout=30, max_size=None)
        await self.ncalayer.recv()  # greeting

    async def rpc(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        assert self.native is not None
        self.next_id += 1
        await self.native.send(json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}))
        while True:
            reply: dict[str, Any] = json.loads(await asyncio.wait_for(self.native.recv(), 60))
            if "method" not in reply:
                return reply

    async def nca(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.ncalayer is not None
        await self.ncalayer.send(json.dumps(message))
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(self.ncalayer.recv(), 60))
        return reply

    async def once(self, kind: str) -> tuple[bool, bool, str]:
        """(success, busy, answer kind) of one try."""
        digest = b64(hashlib.sha256(self.rng.randbytes(16)).digest())
        if kind == "hello":
            r = await self.rpc("agent.hello", {})
            return "result" in r, False, "result" if "result" in r else r["error"]["data"]["reason"]
        if kind in ("verify", "sign", "certs", "auth"):
            if kind == "verify":
                r = await self.rpc("verify", {"format": "cms", "signature": self.cms})
                ok = "result" in r and r["result"]["valid"] is True
            elif kind == "sign":
                r = await self.rpc("sign", {"format": "raw", "digests": [digest], "digestAlgorithm": "sha256"})
                ok = "result" in r and len(r["result"]["signatures"]) == 1
            elif kind == "certs":
                r = await self.rpc("certs.list", {"filter": {"keyUsage": "sign"}})
                ok = "result" in r and len(r["result"]["certificates"]) == 1
            else:
                r = await self.rpc("auth", {"challenge": b64(self.rng.randbytes(33))})
                ok = "result" in r and r["result"]["format"] == "web-eid:1.0"
            reason = "ok" if ok else r.get("error", {}).get("data", {}).get("reason", "unexpected")
            return ok, reason == "busy", reason
        cu = "kz.gov.pki.knca.commonUtils"
        if kind == "tokens":
            r = await self.nca({"module": cu, "method": "getActiveTokens"})
            return r == {"code": "200", "responseObject": []}, False, str(r.get("code"))
        r = await self.nca({"module": cu, "method": "createCAdESFromBase64Hash", "args": ["PKCS12", "SIGNATURE", digest]})
        ok = r.get("code") == "200" and bool(base64.b64decode(r.get("responseObject", "")))
        busy = r.get("code") == "500" and "busy" in str(self.stats["busy_texts"] & {r.get("message")})
        return ok, busy, "ok" if ok else ("busy" if busy else str(r.get("message")))

    async def run(self) -> None:
        kinds, weights = zip(*self.mix, strict=True)
        for _ in range(self.n):
            kind = self.rng.choices(kinds, weights)[0]
            start = time.perf_counter()
            tries = 0
            while True:
                tries += 1
                try:
                    ok, busy, answer = await self.once(kind)
                except Exception as exc:  # noqa: BLE001 - every failure is counted and the client reconnects
                    ok, busy, answer = False, False, f"{type(exc).__name__}"
                    await self.open()
                if not busy or time.perf_counter() - start > MAX_BUSY_WAIT:
                    break
                self.stats["busy_retries"] += 1
                await asyncio.sleep(self.rng.uniform(0.002, 0.02))
            if tries > 1:
                self.stats["busy_wait"].append(time.perf_counter() - start)
            self.stats["max_tries"] = max(self.stats["max_tries"], tries)
            self.stats["over_many_tries"] += tries > MANY_TRIES
            self.stats["latency"].append(time.perf_counter() - start)
            self.stats["latency_by_kind"].setdefault(kind, []).append(time.perf_counter() - start)
            self.stats["by_kind"][kind] += 1
            if not ok:
                self.stats["errors"] += 1
                self.stats["error_answers"][f"{kind}:{answer}"] += 1
            self.stats["done"] += 1


async def make_cms(agent: LiveAgent) -> str:
    async with connect(f"ws://127.0.0.1:{agent.port}/v1", origin=ORIGIN) as ws:
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sign",
                                  "params": {"format": "cms", "data": [b64("Өтініш".encode())], "detached": False}}))
        while True:
            reply = json.loads(await ws.recv())
            if "method" not in reply:
                return str(reply["result"]["signatures"][0])


async def soak(agent: LiveAgent, total: int, clients: int, seed: int, mix: list[tuple[str, int]]) -> dict[str, Any]:
    from tanba.protocol import i18n
    from tanba.protocol.errors import Busy

    stats: dict[str, Any] = {"done": 0, "errors": 0, "busy_retries": 0, "busy_wait": [], "max_tries": 0, "over_many_tries": 0,
                             "latency": [], "latency_by_kind": {}, "by_kind": Counter(),
                             "error_answers": Counter(), "busy_texts": {i18n.error_text(Busy(), l) for l in ("en", "ru", "kk")}}
    cms = await make_cms(agent)
    per = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    workers = [Client(agent, per[i], seed * 1000 + i, cms, stats, mix) for i in range(clients)]
    for w in workers:
        await w.open()
    rss: list[tuple[float, int, int]] = []
    start = time.monotonic()

    async def sampler() -> None:
        while True:
            rss.append((round(time.monotonic() - start, 1), stats["done"], agent.rss_kib()))
            if len(rss) % 6 == 1:
                print(f"  t={rss[-1][0]:>6.1f}s  {stats['done']:>7,} done  errors {stats['errors']}  "
                      f"RSS {rss[-1][2] / 1024:.1f} MiB", flush=True)
            await asyncio.sleep(5)

    sampling = asyncio.create_task(sampler())
    await asyncio.gather(*(w.run() for w in workers))
    elapsed = time.monotonic() - start
    sampling.cancel()
    rss.append((round(elapsed, 1), stats["done"], agent.rss_kib()))
    for w in workers:
        for ws in (w.native, w.ncalayer):
            if ws is not None:
                await ws.close()
    lat = sorted(stats["latency"])
    q = statistics.quantiles(lat, n=1000)
    return {
        "requests": stats["done"],
        "clients": clients,
        "seconds": round(elapsed, 1),
        "rate_per_s": round(stats["done"] / elapsed),
        "errors": stats["errors"],
        "error_answers": dict(stats["error_answers"]),
        "busy_retries": stats["busy_retries"],
        "requests_answered_busy_first": len(stats["busy_wait"]),
        "wait_for_the_prompt_slot_ms": {"p99": round(statistics.quantiles(stats["busy_wait"], n=100)[98] * 1000, 1),
                                        "max": round(max(stats["busy_wait"]) * 1000, 1)} if len(stats["busy_wait"]) > 1 else {},
        "max_tries": stats["max_tries"],
        f"requests_over_{MANY_TRIES}_tries": stats["over_many_tries"],
        "latency_ms": {"p50": round(q[499] * 1000, 1), "p90": round(q[899] * 1000, 1),
                       "p99": round(q[989] * 1000, 1), "max": round(lat[-1] * 1000, 1)},
        "mix": dict(stats["by_kind"]),
        "p50_ms_by_kind": {k: round(statistics.median(v) * 1000, 1) for k, v in sorted(stats["latency_by_kind"].items())},
        "rss_mib_over_time": [(t, n, round(kib / 1024, 1)) for t, n, kib in rss],
        "crashed": not agent.alive(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", choices=[k for k, _ in MIX], action="append",
                        help="send only these kinds (repeatable): to find which one a problem follows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tanba-soak-") as tmp, live_agent(Path(tmp), CONFIG) as agent:
        print(f"soak: {args.requests:,} requests from {args.clients} clients against tanba serve (pid {agent.proc.pid})",
              flush=True)
        mix = [(k, w) for k, w in MIX if not args.only or k in args.only]
        summary = asyncio.run(soak(agent, args.requests, args.clients, args.seed, mix))
    rss = summary["rss_mib_over_time"]
    print(json.dumps({k: v for k, v in summary.items() if k != "rss_mib_over_time"}, indent=2, ensure_ascii=False))
    print("RSS over time (s, requests done, MiB): " + ", ".join(f"({t}, {n}, {m})" for t, n, m in rss[:: max(1, len(rss) // 12)]))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    print(f"errors {summary['errors']} (target 0): {'PASS' if summary['errors'] == 0 and not summary['crashed'] else 'FAIL'}")
    sys.exit(0 if summary["errors"] == 0 and not summary["crashed"] else 1)


if __name__ == "__main__":
    main()
