"""Fuzz a live agent: a million generated messages against `tanba serve` on 127.0.0.1.

    python bench/fuzz_live.py [--messages 1000000] [--connections 8] [--seed 1]

The agent is the real program (`tanba serve`, approver ``auto`` with a PIN file, two PKCS#12
files, a fresh test PKI) in its own process.  Messages are valid requests of both endpoints
(``/v1`` JSON-RPC and ``/`` NCALayer), mutated: values replaced by other types, keys added
(``pin`` among them) or removed, bytes flipped, tokens inserted (NaN, lone surrogates,
invalid UTF-8, duplicate keys, deep nesting), messages cut short, or plain garbage.  Half
the connections speak ``/v1``, half ``/``; each sends a message and waits for its answer.

``verify`` gets inputs of its own (issue 19): real signatures the agent under test made
at the start (CMS attached and detached, XML-DSig) whose *decoded* bytes are mutated — DER
bit flips, truncations, length bytes changed, whole elements repeated (many SignerInfos,
certificates), and for XML elements and namespace declarations multiplied, deep nesting,
DOCTYPE and entity declarations, digest and signature values altered — then sent
base64-encoded again.

Reported (targets from issue 9):
- crashes: the agent process exited (target 0);
- hangs: a message unanswered for 30 s (target 0);
- RSS growth: the agent's resident memory at the end against after the first 10 % of the
  messages (target < 5 %);
and, as findings to read: ``internal`` answers (an exception the agent did not expect),
connections the agent closed, and the mix of answers.  The seed makes a run reproducible.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.typing import Origin
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tanba.agent.setup.testpki import Manifest, make_test_pki
from tanba.protocol import i18n
from tanba.protocol.errors import InternalError

ORIGIN = "https://fuzz.test"
HANG_SECONDS = 30.0
INTERNAL_TEXTS = {i18n.error_text(InternalError(), loc) for loc in ("en", "ru", "kk")}


# -- the agent under test --------------------------------------------------------------------


@dataclass
class LiveAgent:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    pki: Manifest

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        return int(match.group(1)) if match else 0

    def alive(self) -> bool:
        return self.proc.poll() is None


@contextlib.contextmanager
def live_agent(workdir: Path, config: str = "") -> Iterator[LiveAgent]:
    """`tanba serve` on a free port with the auto approver and two PKCS#12 files."""
    pki = make_test_pki(workdir / "pki")
    pin = workdir / "pin"
    pin.write_text(pki.identities["rsa-sign"].p12_password + "\n")
    config_file = workdir / "config.toml"
    config_file.write_text(config)
    tanba = Path(sys.executable).parent / "tanba"
    cmd = [str(tanba), "serve", "--config", str(config_file), "--port", "0", "--no-autodetect", "--no-tls",
           "--approver", "auto", "--pin-file", str(pin), "--allow-origin", ORIGIN,
           "--p12", str(pki.identities["rsa-sign"].p12), "--p12", str(pki.identities["rsa-auth"].p12),
           "--trust-anchor", str(pki.root_pem), "--log-level", "error", "--no-log-file"]
    env = {**os.environ, "TANBA_CONFIG_DIR": str(workdir / "cfg"), "TANBA_STATE_DIR": str(workdir / "state")}
    log = workdir / "agent.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        port = 0
        deadline = time.monotonic() + 60
        while not port and time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            if not line:
                raise RuntimeError(f"tanba serve exited: {log.read_text()[-2000:]}")
            found = re.search(r"ws://127\.0\.0\.1:(\d+)/v1", line)
            if found:
                port = int(found.group(1))
        yield LiveAgent(proc, port, log, pki)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


# -- the generator ---------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Samples:
    """Real signatures made by the agent under test: what ``verify`` mutations start from."""

    document: bytes
    cms_attached: bytes
    cms_detached: bytes
    xml: bytes


async def signed_samples(agent: LiveAgent) -> Samples:
    """Ask the live agent (auto approver) for one signature of each kind ``verify`` reads."""
    document = "Өтініш №42: verify seed".encode()
    xml_doc = "<Өтініш><a x='1'>мәтін</a><b/></Өтініш>".encode()
    requests: list[dict[str, Any]] = [
        {"format": "cms", "data": [b64(document)], "detached": False},
        {"format": "cms", "data": [b64(document)]},
        {"format": "xml", "data": [b64(xml_doc)]},
    ]
    out: list[bytes] = []
    async with connect(f"ws://127.0.0.1:{agent.port}/v1", origin=Origin(ORIGIN), max_size=None) as ws:
        for i, params in enumerate(requests):
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": f"seed{i}", "method": "sign", "params": params}))
            while True:
                reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if "method" not in reply:
                    break
            if "result" not in reply:
                raise RuntimeError(f"the agent did not make a seed signature: {reply}")
            out.append(base64.b64decode(reply["result"]["signatures"][0]))
    return Samples(document, out[0], out[1], out[2])


def seeds(pki: Manifest, samples: Samples | None = None) -> tuple[list[dict[str, Any]], list[Any]]:
    """Valid messages of each endpoint, the starting points of every mutation."""
    doc = "Өтініш №42".encode()
    digest = b64(hashlib.sha256(doc).digest())
    cert = pki.identities["rsa-sign"].certificate()
    serial = format(cert.serial_number, "x")
    native: list[dict[str, Any]] = [
        {"method": "agent.hello"},
        {"method": "certs.list", "params": {}},
        {"method": "certs.list", "params": {"filter": {"keyUsage": "sign", "iin": pki.identities["rsa-sign"].iin}}},
        {"method": "sign", "params": {"format": "raw", "digests": [digest], "digestAlgorithm": "sha256"}},
        {"method": "sign", "params": {"format": "cms", "data": [b64(doc)], "detached": False,
                                      "filter": {"serialNumber": serial}}},
        {"method": "sign", "params": {"format": "xml", "data": [b64(b"<a><b>x</b><s/></a>")], "xml": {"parent": "/a/s"}}},
        {"method": "auth", "params": {"challenge": b64(b"c" * 33)}},
        {"method": "verify", "params": {"format": "cms", "signature": b64(b"0\x80" + doc)}},
        {"method": "verify", "params": {"format": "xml", "signature": b64(b"<a><ds:Signature xmlns:ds='x'/></a>")}},
    ]
    if samples is not None:
        native += [
            {"method": "verify", "params": {"format": "cms", "signature": b64(samples.cms_attached)}},
            {"method": "verify", "params": {"format": "cms", "signature": b64(samples.cms_detached),
                                            "data": b64(samples.document)}},
            {"method": "verify", "params": {"format": "xml", "signature": b64(samples.xml)}},
        ]
    cu = "kz.gov.pki.knca.commonUtils"
    ncalayer: list[Any] = [
        {"module": cu, "method": "getActiveTokens"},
        {"module": cu, "method": "getKeyInfo", "args": ["PKCS12"]},
        {"module": cu, "method": "changeLocale", "args": ["ru"]},
        {"module": cu, "method": "createCAdESFromBase64", "args": ["PKCS12", "SIGNATURE", b64(doc), True], "uuid": "u1"},
        {"module": cu, "method": "createCAdESFromBase64Hash", "args": ["PKCS12", "SIGNATURE", digest]},
        {"module": cu, "method": "signXml", "args": ["PKCS12", "SIGNATURE", "<a><b>x</b></a>", "", ""]},
        {"module": "kz.gov.pki.knca.basics", "method": "sign",
         "args": {"allowedStorages": ["PKCS12"], "format": "cms", "data": b64(doc),
                  "signingParams": {"decode": True, "encapsulate": True}, "signerParams": {"iin": ""}, "locale": "en"}},
        {"module": "kz.digiflow.mobile.extensions", "method": "getVersion"},
        "--heartbeat--",
    ]
    return native, ncalayer


TOKENS = [b"NaN", b"Infinity", b"-1e99999", b"\\ud800", b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"{", b"}", b"[", b"]",
          b'"', b",", b":", b"null", b"true", b"9" * 60, b'"pin":"123456",', b'"id":2,', b"\x00", b"\\", b"/*"]


class Generator:
    def __init__(self, seed: int, native: list[dict[str, Any]], ncalayer: list[Any], max_bytes: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.native, self.ncalayer = native, ncalayer
        self.max_bytes = max_bytes
        self.ids = 0

    def value(self, depth: int = 0) -> Any:
        r = self.rng
        kind = r.randrange(12 if depth < 3 else 8)
        if kind == 0:
            return None
        if kind == 1:
            return r.random() < 0.5
        if kind == 2:
            return r.choice([0, -1, 2**53, -(2**63), 10**30, r.randrange(-1000, 1000)])
        if kind == 3:
            return r.choice([0.5, -0.0, 1e308, 1e-308, r.random()])
        if kind == 4:
            return "".join(chr(r.choice([r.randrange(32, 127), r.randrange(0x400, 0x4FF), r.randrange(0x1F600, 0x1F64F)]))
                           for _ in range(r.randrange(0, 40)))
        if kind == 5:
            return b64(r.randbytes(r.choice([0, 1, 20, 32, 48, 64, 100])))
        if kind == 6:
            return r.choice(["cms", "xml", "raw", "sha256", "sha512", "md5", "SIGNATURE", "AUTHENTICATION", "PKCS12", "sign", "auth"])
        if kind == 7:
            return "x" * r.choice([0, 1, 1000, 70000])
        if kind in (8, 9):
            return [self.value(depth + 1) for _ in range(r.randrange(0, 4))]
        return {r.choice(["pin", "filter", "data", "format", "x", "", "keyUsage"]): self.value(depth + 1)
                for _ in range(r.randrange(0, 4))}

    def mutate_tree(self, node: Any, depth: int = 0) -> Any:
        r = self.rng
        if isinstance(node, dict) and node and r.random() < 0.7:
            key = r.choice(list(node))
            action = r.randrange(4)
            out = dict(node)
            if action == 0:
                del out[key]
            elif action == 1:
                out[r.choice(["pin", "password", "extra", key + "x", "params", "id", "jsonrpc"])] = self.value()
            elif action == 2:
                out[key] = self.value()
            else:
                out[key] = self.mutate_tree(node[key], depth + 1)
            return out
        if isinstance(node, list) and node and r.random() < 0.7:
            out_list = list(node)
            i = r.randrange(len(out_list))
            out_list[i] = self.mutate_tree(out_list[i], depth + 1) if r.random() < 0.5 else self.value()
            if r.random() < 0.2:
                out_list *= r.randrange(2, 50)
            return out_list
        return self.value()

    def mutate_bytes(self, data: bytes) -> bytes:
        r = self.rng
        buf = bytearray(data)
        for _ in range(r.randrange(1, 4)):
            op = r.randrange(6)
            at = r.randrange(len(buf) + 1)
            if op == 0 and buf:
                buf[min(at, len(buf) - 1)] ^= 1 << r.randrange(8)
            elif op == 1:
                buf[at:at] = r.choice(TOKENS)
            elif op == 2:
                del buf[at : at + r.randrange(1, 10)]
            elif op == 3:
                del buf[at:]
            elif op == 4:
                n = r.choice([2, 31, 33, 200, 5000])
                buf = bytearray(b'{"a":' * n + bytes(buf) + b"}" * n) if r.random() < 0.5 else bytearray(b"[" * n + bytes(buf))
            else:
                buf[at:at] = r.randbytes(r.randrange(1, 16))
        return bytes(buf)

    def mutate_der(self, der: bytes) -> bytes:
        """DER-aware damage: lengths and tags changed, elements repeated or cut."""
        r = self.rng
        buf = bytearray(der)
        for _ in range(r.randrange(1, 4)):
            op = r.randrange(7)
            at = r.randrange(len(buf)) if buf else 0
            if op == 0 and buf:  # a bit flip anywhere
                buf[at] ^= 1 << r.randrange(8)
            elif op == 1:  # cut short
                del buf[r.randrange(len(buf) + 1):]
            elif op == 2 and buf:  # a length byte after a constructed tag changed
                tags = [i for i in range(len(buf) - 1) if buf[i] in (0x30, 0x31, 0xA0, 0xA1, 0x04, 0x02, 0x06)]
                if tags:
                    i = r.choice(tags) + 1
                    buf[i] = r.choice([0x00, 0x7F, 0x80, 0x81, 0x82, 0x84, 0x89, 0xFF, buf[i] ^ 1])
            elif op == 3 and buf:  # a slice repeated (many signers, certificates, attributes)
                start = r.randrange(len(buf))
                chunk = bytes(buf[start : start + r.randrange(1, 400)])
                buf[start:start] = chunk * r.choice([1, 2, 8, 32])
            elif op == 4:  # random bytes inserted
                buf[at:at] = r.randbytes(r.randrange(1, 16))
            elif op == 5 and buf:  # a slice dropped
                del buf[at : at + r.randrange(1, 64)]
            else:  # wrapped in one more SEQUENCE of an indefinite or a wrong length
                buf = bytearray(r.choice([b"\x30\x80", b"\x30\x83\x00\x00\x01", b"\x30\x00"]) + bytes(buf))
        return bytes(buf)

    def mutate_xml(self, xml: bytes) -> bytes:
        """XML-aware damage: bombs of the shapes that froze parsers, and altered values."""
        r = self.rng
        text = xml.decode("utf-8")
        op = r.randrange(9)
        root_end = text.find(">")
        if op == 0:  # many namespace declarations at the root
            decls = "".join(f' xmlns:n{i}="urn:n{i}"' for i in range(r.choice([10, 200, 1000])))
            text = text[:root_end] + decls + text[root_end:]
        elif op == 1:  # many small elements (quadratic node counting)
            text = text[: root_end + 1] + '<e x="1"/>' * r.choice([100, 5000, 60000]) + text[root_end + 1 :]
        elif op == 2:  # deep nesting
            n = r.choice([50, 300, 5000])
            text = text[: root_end + 1] + "<d>" * n + "</d>" * n + text[root_end + 1 :]
        elif op == 3:  # DOCTYPE with entities (expansion, external)
            dtd = r.choice([
                '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
                '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
                '<!DOCTYPE r SYSTEM "http://127.0.0.1:1/dtd">',
            ])
            text = dtd + text
        elif op == 4:  # a value inside the signature changed
            for tag in ("DigestValue>", "SignatureValue>", "X509Certificate>"):
                i = text.find(tag)
                if i >= 0 and r.random() < 0.5:
                    j = i + len(tag) + r.randrange(1, 20)
                    text = text[:j] + r.choice("AZaz09+/=") + text[j + 1 :]
        elif op == 5:  # an element of the signature repeated
            for tag in ("ds:Reference", "ds:Transform", "ds:X509Certificate", "ds:Signature"):
                i, j = text.find("<" + tag), text.find("</" + tag + ">")
                if 0 <= i < j and r.random() < 0.5:
                    whole = text[i : j + len(tag) + 3]
                    text = text[:i] + whole * r.choice([2, 10, 200]) + text[i:]
                    break
        elif op == 6:  # attributes multiplied on one element
            attrs = "".join(f' a{i}="{i}"' for i in range(r.choice([10, 2000, 30000])))
            text = text[:root_end] + attrs + text[root_end:]
        elif op == 7:  # an algorithm URI swapped
            text = text.replace("rsa-sha256", r.choice(["rsa-sha1", "gost34310-gost34311", "x", "dsa-sha1"]), 1)
        else:  # bytes damaged
            return self.mutate_bytes(text.encode("utf-8"))
        return text.encode("utf-8")

    def mutate_verify(self, base: dict[str, Any]) -> dict[str, Any]:
        params = dict(base["params"])
        signature = base64.b64decode(params["signature"])
        if params["format"] == "xml":
            params["signature"] = b64(self.mutate_xml(signature))
        else:
            params["signature"] = b64(self.mutate_der(signature))
            if "data" in params and self.rng.random() < 0.2:
                params["data"] = b64(self.mutate_bytes(base64.b64decode(params["data"])))
        return {**base, "params": params}

    def message(self, ncalayer: bool) -> bytes:
        while True:
            data = self._message(ncalayer)
            if self.max_bytes is None or len(data) <= self.max_bytes:
                return data

    def _message(self, ncalayer: bool) -> bytes:
        r = self.rng
        if r.random() < 0.03:
            return r.randbytes(r.randrange(0, 200))
        if ncalayer:
            base: Any = r.choice(self.ncalayer)
        else:
            self.ids += 1
            base = {"jsonrpc": "2.0", "id": self.ids, **r.choice(self.native)}
        if isinstance(base, str):  # the heartbeat
            return base.encode() if r.random() < 0.5 else self.mutate_bytes(base.encode())
        roll = r.random()
        if base.get("method") == "verify" and len(base["params"].get("signature", "")) > 200 and roll < 0.7:
            obj = base if roll < 0.05 else self.mutate_verify(base)  # real signatures, damaged inside
        elif roll < 0.15:
            obj = base  # unchanged: the honest request among the noise
        elif roll < 0.6:
            obj = self.mutate_tree(base)
        else:
            return self.mutate_bytes(json.dumps(base, ensure_ascii=r.random() < 0.5).encode())
        return json.dumps(obj, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Tally:
    sent: int = 0
    hangs: int = 0
    internal: int = 0
    agent_closes: int = 0
    answers: Counter[str] | None = None

    def __post_init__(self) -> None:
        self.answers = Counter()


def classify(reply: str | bytes) -> str:
    if reply == "--heartbeat--":
        return "heartbeat"
    try:
        obj = json.loads(reply)
    except ValueError:
        return "not-json"
    if "jsonrpc" in obj:
        return "result" if "result" in obj else "error:" + str(obj["error"]["data"]["reason"])
    if "code" in obj and "status" not in obj:
        if obj["code"] == "500" and obj.get("message") in INTERNAL_TEXTS:
            return "internal"
        return "common:" + str(obj["code"])
    if "status" in obj:
        return "basics:" + (obj.get("code") or ("ok" if obj.get("body", {}).get("result") is not None else "cancel"))
    if obj.get("errorCode") == "MODULE_NOT_FOUND":
        return "module_not_found"
    return "other"


async def worker(agent: LiveAgent, gen: Generator, tally: Tally, quota: int, ncalayer: bool) -> None:
    path = "/" if ncalayer else "/v1"
    ws: ClientConnection | None = None
    done = 0
    while done < quota and agent.alive():
        if ws is None:
            try:
                ws = await connect(f"ws://127.0.0.1:{agent.port}{path}", origin=Origin(ORIGIN), max_size=None,
                                   open_timeout=HANG_SECONDS, ping_interval=None)
            except (OSError, InvalidHandshake, TimeoutError):
                await asyncio.sleep(0.1)
                continue
            if ncalayer:
                await ws.recv()  # the greeting
        message = gen.message(ncalayer)
        try:
            await ws.send(message, text=True)
            tally.sent += 1
            done += 1
            while True:
                reply = await asyncio.wait_for(ws.recv(), HANG_SECONDS)
                if not ncalayer and '"method":"progress"' in str(reply):
                    continue
                break
        except TimeoutError:
            tally.hangs += 1
            await ws.close()
            ws = None
            continue
        except ConnectionClosed:
            tally.agent_closes += 1
            ws = None
            continue
        kind = classify(reply)
        if kind in ("internal", "error:internal", "basics:GENERAL_ERROR"):
            tally.internal += 1
        assert tally.answers is not None
        tally.answers[kind] += 1
    if ws is not None:
        await ws.close()


async def run(agent: LiveAgent, total: int, connections: int, seed: int, max_bytes: int | None = None) -> dict[str, Any]:
    native, ncalayer = seeds(agent.pki, await signed_samples(agent))
    tally = Tally()
    baseline = 0
    rss: list[tuple[int, int]] = [(0, agent.rss_kib())]

    async def sampler() -> None:
        nonlocal baseline
        while True:
            await asyncio.sleep(1)
            if not agent.alive():
                return
            rss.append((tally.sent, agent.rss_kib()))
            if not baseline and tally.sent >= total // 10:
                baseline = rss[-1][1]
            if rss[-1][0] and len(rss) % 30 == 0:
                print(f"  {tally.sent:>9,} messages  RSS {rss[-1][1] / 1024:.1f} MiB  hangs {tally.hangs}  "
                      f"internal {tally.internal}", flush=True)

    start = time.monotonic()
    sampling = asyncio.create_task(sampler())
    per = total // connections
    quotas = [per + (1 if i < total % connections else 0) for i in range(connections)]
    await asyncio.gather(*(worker(agent, Generator(seed * 1000 + i, native, ncalayer, max_bytes), tally, quotas[i], i % 2 == 1)
                           for i in range(connections)))
    elapsed = time.monotonic() - start
    sampling.cancel()
    crashed = not agent.alive()
    final = agent.rss_kib() if not crashed else 0
    baseline = baseline or rss[min(1, len(rss) - 1)][1]
    log_text = agent.log.read_text(errors="replace")
    assert tally.answers is not None
    return {
        "messages": tally.sent,
        "seconds": round(elapsed, 1),
        "rate_per_s": round(tally.sent / elapsed),
        "crashes": int(crashed),
        "hangs": tally.hangs,
        "internal_answers": tally.internal,
        "connections_closed_by_agent": tally.agent_closes,
        "tracebacks_in_log": log_text.count("Traceback"),
        "rss_mib": {"baseline_at_10pct": round(baseline / 1024, 1), "final": round(final / 1024, 1),
                    "max": round(max(v for _, v in rss) / 1024, 1)},
        "rss_growth_pct": round(100 * (final - baseline) / baseline, 2) if final else None,
        "answers": dict(tally.answers.most_common()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--max-bytes", type=int, default=None,
                        help="only messages up to this size (to tell a leak from the high-water mark of big messages)")
    parser.add_argument("--config", default="unlock-window = 5\n",
                        help="the agent's config file [unlock-window = 5: the PIN is asked once per site and key, "
                        "each signature still confirmed, so the run fuzzes the wire rather than PBKDF2]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tanba-fuzz-") as tmp, live_agent(Path(tmp), args.config) as agent:
        print(f"fuzzing tanba serve (pid {agent.proc.pid}, port {agent.port}) with {args.messages:,} messages, "
              f"{args.connections} connections, seed {args.seed}", flush=True)
        summary = asyncio.run(run(agent, args.messages, args.connections, args.seed, args.max_bytes))
        if summary["tracebacks_in_log"] or summary["internal_answers"]:
            print("--- agent log (last 3000 characters) ---\n" + agent.log.read_text(errors="replace")[-3000:])
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    verdict = summary["crashes"] == 0 and summary["hangs"] == 0 and (summary["rss_growth_pct"] or 0) < 5
    print(f"crashes {summary['crashes']} (target 0), hangs {summary['hangs']} (target 0), "
          f"RSS growth {summary['rss_growth_pct']} % (target < 5 %): {'PASS' if verdict else 'FAIL'}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    sys.exit(0 if verdict else 1)


if __name__ == "__main__":
    main()
