"""bign signing, belt-hash and verification speed, as ratios to peers measured in the same run (issue 16).

    python bench/bench_bign.py [--docs 1000] [--rounds 3] [--mib 100] [--skip-file]

1. belt-hash (STB 34.101.31) throughput on the C path (``tanba.crypto.belt.BeltHash``) over a
   buffer of ``--mib`` MiB of pseudo-random bytes, against :mod:`hashlib`'s SHA-256 and Tanba's
   own Streebog-256 (C path too) on the same buffer: MB/s and the ratios;
2. raw signatures/s: Tanba's bign (STB 34.101.45, ``gost.PrivateKey`` on ``BIGN_256``:
   bign-curve256v1, the standard's deterministic k) over precomputed belt-hash values against
   cryptography's RSA-2048 PKCS#1 v1.5 over precomputed digests (bench_native.py's peer, as in
   bench_gost.py), and verifications/s of both;
3. a ``--docs``-document CAdES-BES ``sign`` request through ``/v1`` on a real agent (auto
   approver, the bign key in ``bign-person.p12`` unlocked per request, as bench_gost.py's
   ``gost_v1_rate``): documents/s and the ratio to (2)'s RSA rate;
4. `tanba sign FILE` (detached CMS; the CLI as a subprocess, ``--p12 bign-person.p12
   --pin-file``) over a file of ``--mib`` MiB against the raw belt-hash of the same file in
   this process (one memory map, ``BeltHash.update``), with ``sha256sum`` and ``openssl dgst
   -sha256`` as a second reference: wall-time ratio (target: `tanba sign` <= 1.2 x the raw
   belt-hash — the hash dominates the command, so the ratio is what start-up, the PKCS#12
   unlock and the signature add on top of it) and the peak RSS of `tanba` (target <= 64 MiB,
   measured from bench_native's ``timed`` helper process with ``wait4``);
5. verification of a bign CMS whose signer has a 3-certificate chain (root, CA, leaf): p50
   milliseconds over repeated ``verify_cms`` calls with a ``ChainValidator`` on the root
   (the CA offered as an intermediate; revocation off).

Keys and certificates come from Tanba's own bign test PKI (agent/setup/bign_pki.py,
``make_bign_pki``: the key in STB 34.101.78's container inside a PKCS#12 file, password
123456).  Best of interleaved rounds, no absolute targets: the machine is shared and noisy.
The file of (4) is written out (not sparse), in the page cache for every side, and deleted
with the temp dir.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import mmap
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from bench_native import raw_rate, running_agent, timed, v1_rate  # this folder's scripts: the same peers, measured alike
from tanba.agent.formats.cms import CmsBuilder
from tanba.agent.setup.bign_pki import BignManifest, make_bign_pki
from tanba.agent.setup.gost_pki import new_key
from tanba.agent.verify.chain import ChainValidator
from tanba.agent.verify.cms import verify_cms
from tanba.crypto import accel, bign, gost
from tanba.crypto import hashes as national_hashes
from tanba.crypto.belt import BeltHash
from tanba.providers.pkcs12 import Pkcs12Store

MIB = 1 << 20


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def hash_rates(buffer: memoryview, rounds: int) -> dict[str, float]:
    """Best seconds of each hash over ``buffer``, rounds interleaved."""
    sides: dict[str, Callable[[], object]] = {
        "belt-hash": lambda: BeltHash(buffer).digest(),
        "sha256 (hashlib)": lambda: hashlib.sha256(buffer).digest(),
        "Streebog-256 (Tanba)": lambda: national_hashes.new("streebog256", buffer).digest(),
    }
    best = dict.fromkeys(sides, float("inf"))
    for _ in range(rounds):
        for name, fn in sides.items():
            best[name] = min(best[name], _seconds(fn))
    return best


def bign_rate(key: gost.PrivateKey, n: int) -> float:
    digests = [os.urandom(32) for _ in range(n)]
    start = time.perf_counter()
    for digest in digests:
        key.sign(digest)
    return n / (time.perf_counter() - start)


def bign_verify_rate(key: gost.PrivateKey, n: int) -> float:
    public = key.public_key
    pairs = [(d, key.sign(d)) for d in (os.urandom(32) for _ in range(n))]
    start = time.perf_counter()
    for digest, signature in pairs:
        assert public.verify(digest, signature)
    return n / (time.perf_counter() - start)


def rsa_verify_rate(key: rsa.RSAPrivateKey, n: int) -> float:
    algorithm = utils.Prehashed(hashes.SHA256())
    pairs = [(d, key.sign(d, padding.PKCS1v15(), algorithm)) for d in (os.urandom(32) for _ in range(n))]
    public = key.public_key()
    start = time.perf_counter()
    for digest, signature in pairs:
        public.verify(signature, digest, padding.PKCS1v15(), algorithm)
    return n / (time.perf_counter() - start)


async def bign_v1_rate(p12: Path, tmp: Path, password: str, n: int) -> float:
    """bench_native's /v1 batch on an agent holding the bign PKCS#12 file (bench_gost's gost_v1_rate)."""
    async with running_agent(p12, password, tmp) as server:
        return await v1_rate(server, n)


async def verify_p50(pki: BignManifest, rounds: int) -> tuple[float, int]:
    """p50 ms of verify_cms on a bign CMS (the signer's chain: leaf, CA, root), and the chain length."""
    p12 = pki.p12["bign-person"]
    store = Pkcs12Store([p12])
    [identity] = await store.unlock_file(p12, bytearray(pki.password.encode()))
    async with await store.open(identity, None) as signer:
        cms = await CmsBuilder(identity.certificate, identity.chain).sign(signer, b"verify me", detached=False)
    chain = 1 + len(identity.chain)
    validator = ChainValidator([pki.root_pem], intermediates=[pki.ca_pem], revocation="off")
    times = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            result = await verify_cms(cms, validator)
            times.append(time.perf_counter() - start)
            assert result.valid, result
    finally:
        await validator.aclose()
        await store.close()
    return statistics.median(times) * 1000, chain


def raw_belt_file(path: Path) -> float:
    """Seconds to belt-hash the file at ``path`` in this process: one map, one update."""
    start = time.perf_counter()
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        with memoryview(mapped) as view:
            BeltHash(view).digest()
    return time.perf_counter() - start


def big_file(pki: BignManifest, tmp: Path, big: Path, rounds: int) -> dict[str, float]:
    pin = tmp / "pin"
    pin.write_text(pki.password)
    tanba = shutil.which("tanba", path=str(Path(sys.executable).parent)) or "tanba"
    ours = [tanba, "sign", str(big), "--p12", str(pki.p12["bign-person"]), "--pin-file", str(pin),
            "--out-dir", str(tmp / "out")]
    refs = {"sha256sum": ["sha256sum", str(big)], "openssl dgst -sha256": ["openssl", "dgst", "-sha256", str(big)]}
    refs = {name: cmd for name, cmd in refs.items() if shutil.which(cmd[0])}
    raw_belt_file(big)  # warm the page cache
    best = dict.fromkeys(["tanba sign", "raw belt-hash", *refs], float("inf"))
    peak = 0
    for _ in range(rounds):
        best["raw belt-hash"] = min(best["raw belt-hash"], raw_belt_file(big))
        for name, cmd in refs.items():
            best[name] = min(best[name], timed(cmd)[0])
        t, rss = timed(ours)
        best["tanba sign"] = min(best["tanba sign"], t)
        peak = max(peak, rss)
    best["peak KiB"] = peak
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--skip-file", action="store_true", help="leave out the big-file `tanba sign` part")
    args = parser.parse_args()
    if accel.belt_speedups() is None:
        print("note: the belt C path is not available: pure-Python belt-hash figures", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="tanba-bench-bign-") as name:
        tmp = Path(name)
        pki = make_bign_pki(tmp / "pki")

        data = os.urandom(args.mib * MIB)
        with memoryview(data) as buffer:
            best = hash_rates(buffer, args.rounds)
        belt_t = best["belt-hash"]
        for hname, t in best.items():
            ratio = "" if hname == "belt-hash" else f": belt-hash runs at {t / belt_t:.2f} x its speed"
            print(f"{hname} over {args.mib} MiB: {t:.3f} s ({len(data) / t / 1e6:.0f} MB/s){ratio}")
        del data

        key = new_key(gost.BIGN_256, bign.CURVE256V1.oids[0])
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        rsa_best = bign_best = rsa_vfy = bign_vfy = 0.0
        for _ in range(args.rounds):
            rsa_best = max(rsa_best, raw_rate(rsa_key, args.docs))
            bign_best = max(bign_best, bign_rate(key, args.docs))
            rsa_vfy = max(rsa_vfy, rsa_verify_rate(rsa_key, args.docs))
            bign_vfy = max(bign_vfy, bign_verify_rate(key, args.docs))
        print(f"raw RSA-2048 (cryptography): {rsa_best:.0f} sig/s, {rsa_vfy:.0f} verify/s")
        print(f"raw bign-256 (deterministic k): {bign_best:.0f} sig/s = {bign_best / rsa_best:.2f} x RSA-2048; "
              f"{bign_vfy:.0f} verify/s = {bign_vfy / rsa_vfy:.2f} x RSA-2048")

        v1 = 0.0
        for _ in range(args.rounds):
            v1 = max(v1, asyncio.run(bign_v1_rate(pki.p12["bign-person"], tmp, pki.password, args.docs)))
        print(f"/v1 CAdES-BES batch of {args.docs}, bign-256 (PKCS#12): {v1:.0f} doc/s = {v1 / rsa_best:.2f} x "
              f"raw RSA-2048")

        p50, chain = asyncio.run(verify_p50(pki, 30))
        print(f"verify bign CMS, {chain}-certificate chain (revocation off): p50 {p50:.1f} ms")

        if not args.skip_file:
            big = tmp / "big.bin"
            with big.open("wb") as f:  # real bytes: a sparse file would flatter the page cache
                chunk = os.urandom(MIB)
                for _ in range(args.mib):
                    f.write(chunk)
            res = big_file(pki, tmp, big, args.rounds)
            ours, raw = res["tanba sign"], res["raw belt-hash"]
            refs = "".join(f"; {n} {res[n]:.2f} s" for n in ("sha256sum", "openssl dgst -sha256") if n in res)
            print(f"tanba sign {args.mib} MiB, bign-256: {ours:.2f} s vs raw belt-hash in-process {raw:.2f} s = "
                  f"{ours / raw:.2f} x (target <= 1.2){refs}; peak RSS {res['peak KiB'] / 1024:.1f} MiB "
                  f"(target <= 64)")


if __name__ == "__main__":
    main()
