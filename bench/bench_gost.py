"""GOST signing and verification speed, as ratios to peers measured in the same run (issue 15).

    python bench/bench_gost.py [--docs 1000] [--rounds 3] [--mib 256] [--skip-file]

1. raw signatures/s: cryptography's RSA-2048 PKCS#1 v1.5 over precomputed digests against
   Tanba's GOST R 34.10 for a GOST 2012-256 (CryptoPro-A), a GOST 2012-512 (TC26 512 A) and a
   KZ GOST 2015-512 key;
2. a 1,000-document CAdES-BES ``sign`` request through ``/v1`` on a real agent (auto approver,
   the key in a PKCS#12 file unlocked per request) for each GOST key: documents/s and the ratio
   to (1)'s RSA rate (targets: 2012-256 >= 0.5, the 512-bit keys >= 0.2);
3. verification of a GOST 2012-256 CMS whose signer has a 3-certificate chain (root, CA, leaf):
   p50 milliseconds over repeated ``verify_cms`` calls (target <= 20 ms);
4. `tanba sign FILE` (detached CMS) over a file of ``--mib`` MiB with each GOST key against
   ``openssl dgst`` with the gost engine (Streebog-256/512, and GOST R 34.11-94 for the KZ 2004
   key — CryptoPro S-boxes there, the test S-boxes here: the same work) on the same file:
   wall-time ratio (target <= 1.1) and the peak RSS of `tanba` (target <= 64 MiB).

Keys and certificates come from Tanba's own GOST test PKI code (agent/setup/gost_pki.py), written
as NCA-shaped PKCS#12 files.  Best of interleaved rounds: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import x509 as ax509
from cryptography.hazmat.primitives.asymmetric import rsa

from bench_native import raw_rate, running_agent, timed, v1_rate  # this folder's scripts: the same peers, measured alike
from gost_hash import ENGINE_CONFIG
from tanba.agent.formats.cms import CmsBuilder
from tanba.agent.setup.gost_pki import issue, new_key, nca_pkcs12
from tanba.agent.verify.chain import ChainValidator
from tanba.agent.verify.cms import verify_cms
from tanba.crypto import gost
from tanba.providers.pkcs12 import Pkcs12Store

PASSWORD = "123456"


@dataclass(frozen=True)
class Kind:
    name: str
    family: gost.Family
    curve: str
    engine_md: str  # the gost engine's digest for the same work


KINDS = (
    Kind("GOST 2012-256", gost.RU_2012_256, "1.2.643.2.2.35.1", "-md_gost12_256"),
    Kind("GOST 2012-512", gost.RU_2012_512, "1.2.643.7.1.2.1.2.1", "-md_gost12_512"),
    Kind("KZ GOST 2015-512", gost.KZ_2015_512, "1.2.398.3.10.1.1.2.2.1", "-md_gost12_512"),
    Kind("KZ GOST 2004", gost.KZ_2004, "1.2.398.3.10.1.1.1.1.1", "-md_gost94"),
)
_CA_EXT = [{"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": True}},
           {"extn_id": "key_usage", "critical": True, "extn_value": {"key_cert_sign", "crl_sign"}}]
_LEAF_EXT = [{"extn_id": "key_usage", "critical": True, "extn_value": {"digital_signature", "non_repudiation"}},
             {"extn_id": "extended_key_usage", "critical": False, "extn_value": ["1.3.6.1.5.5.7.3.4"]}]


@dataclass(frozen=True)
class Made:
    kind: Kind
    key: gost.PrivateKey
    p12: Path
    root_pem: Path
    chain_pems: tuple[Path, ...]


def _name(cn: str) -> ax509.Name:
    return ax509.Name.build({"country_name": "KZ", "common_name": cn})


def make(kind: Kind, tmp: Path) -> Made:
    """Root → CA → leaf of ``kind``, the leaf's key in an NCA-shaped PKCS#12 file."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    span = (now - dt.timedelta(days=1), now + dt.timedelta(days=30))
    root_key = new_key(kind.family, kind.curve)
    root = issue(root_key, _name(f"bench root {kind.name}"), None, *span, _CA_EXT)
    ca_key = new_key(kind.family, kind.curve)
    ca = issue(ca_key, _name(f"bench CA {kind.name}"), (root_key, root), *span, _CA_EXT)
    key = new_key(kind.family, kind.curve)
    leaf = issue(key, _name(f"bench signer {kind.name}"), (ca_key, ca), *span, _LEAF_EXT)
    slug = kind.name.replace(" ", "_")
    p12 = tmp / f"{slug}.p12"
    p12.write_bytes(nca_pkcs12(key, leaf, [ca, root], PASSWORD))
    root_pem, ca_pem = tmp / f"{slug}-root.der", tmp / f"{slug}-ca.der"
    root_pem.write_bytes(root.dump())
    ca_pem.write_bytes(ca.dump())
    return Made(kind, key, p12, root_pem, (ca_pem,))


def gost_rate(key: gost.PrivateKey, n: int) -> float:
    size = 32 if key.family.hash != "streebog512" else 64
    digests = [os.urandom(size) for _ in range(n)]
    start = time.perf_counter()
    for digest in digests:
        key.sign(digest)
    return n / (time.perf_counter() - start)


async def gost_v1_rate(made: Made, tmp: Path, n: int) -> float:
    """bench_native's /v1 batch on an agent holding ``made``'s PKCS#12 file."""
    async with running_agent(made.p12, PASSWORD, tmp) as server:
        return await v1_rate(server, n)


async def verify_p50(made: Made, rounds: int) -> float:
    store = Pkcs12Store([made.p12])
    [identity] = await store.unlock_file(made.p12, bytearray(PASSWORD.encode()))
    async with await store.open(identity, None) as signer:
        cms = await CmsBuilder(identity.certificate, identity.chain).sign(signer, b"verify me", detached=False)
    validator = ChainValidator([made.root_pem], intermediates=list(made.chain_pems), revocation="off")
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
    return statistics.median(times) * 1000




def big_file(made: Made, tmp: Path, big: Path, rounds: int) -> tuple[float, float, int]:
    pin = tmp / "pin"
    pin.write_text(PASSWORD)
    tanba = shutil.which("tanba", path=str(Path(sys.executable).parent)) or "tanba"
    ours = [tanba, "sign", str(big), "--p12", str(made.p12), "--pin-file", str(pin), "--out-dir", str(tmp / "out")]
    (tmp / "engine.cnf").write_text(ENGINE_CONFIG)  # gost_hash.py's
    env = dict(os.environ, OPENSSL_CONF=str(tmp / "engine.cnf"))
    theirs = ["openssl", "dgst", made.kind.engine_md, str(big)]
    timed(theirs, env)  # warm the page cache
    best_ours = best_theirs = float("inf")
    peak = 0
    for _ in range(rounds):
        t, _ = timed(theirs, env)
        best_theirs = min(best_theirs, t)
        t, rss = timed(ours)
        best_ours = min(best_ours, t)
        peak = max(peak, rss)
    return best_ours, best_theirs, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--skip-file", action="store_true", help="leave out the big-file `tanba sign` part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tanba-bench-gost-") as name:
        tmp = Path(name)
        made = {kind.name: make(kind, tmp) for kind in KINDS}
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        rsa_best = max(raw_rate(rsa_key, args.docs) for _ in range(args.rounds))
        print(f"raw RSA-2048 (cryptography): {rsa_best:.0f} sig/s")
        for kind in KINDS:
            best = max(gost_rate(made[kind.name].key, args.docs) for _ in range(args.rounds))
            print(f"raw {kind.name}: {best:.0f} sig/s = {best / rsa_best:.2f} x RSA-2048")
        for kind in KINDS[:3]:
            best = 0.0
            for _ in range(args.rounds):
                best = max(best, asyncio.run(gost_v1_rate(made[kind.name], tmp, args.docs)))
            print(f"/v1 CAdES-BES batch of {args.docs}, {kind.name}: {best:.0f} doc/s = {best / rsa_best:.2f} x "
                  f"raw RSA-2048")
        p50 = asyncio.run(verify_p50(made["GOST 2012-256"], 30))
        print(f"verify GOST 2012-256 CMS, 3-certificate chain: p50 {p50:.1f} ms")
        if not args.skip_file:
            big = tmp / "big.bin"
            with big.open("wb") as f:  # real bytes: a sparse file would flatter the page cache
                chunk = os.urandom(1 << 20)
                for _ in range(args.mib):
                    f.write(chunk)
            for kind in KINDS:
                ours, theirs, peak = big_file(made[kind.name], tmp, big, args.rounds)
                print(f"tanba sign {args.mib} MiB, {kind.name}: {ours:.2f} s vs openssl dgst {kind.engine_md} "
                      f"{theirs:.2f} s = {ours / theirs:.2f} x; peak RSS {peak / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
