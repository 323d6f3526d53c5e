"""GOST hash speed: Tanba's file hashing against OpenSSL's gost engine on the same file (issue 15).

    python bench/gost_hash.py [--size 256] [--rounds 3] [--pure]

A file of ``--size`` MiB of pseudo-random bytes (written out, not sparse) is made in a temp dir
and hashed, in interleaved rounds, by

* ``tanba.agent.formats.digest.hash_file`` (what `tanba sign` does with a file) for
  ``streebog256``, ``streebog512``, ``gost34311-95`` (GOST R 34.11-94, test S-boxes) and
  ``gost3411-94`` (the same with the CryptoPro S-boxes, through ``tanba.crypto.hashes``);
* ``openssl dgst -md_gost12_256`` / ``-md_gost12_512`` / ``-md_gost94`` with Debian's gost engine
  (an engine config of the bench's own in the temp dir; ``-md_gost94`` is the CryptoPro S-box
  set: the same work as GOST 34.311-95, and the same digest as ``gost3411-94``).

Printed: best seconds of each side, MB/s, the ratio Tanba / OpenSSL (target <= 1.1), and
whether the digests agree where both compute the same function.  ``--pure`` forces the
pure-Python hashes (``tanba.crypto.accel.use_pure``): use a small ``--size`` with it.
The file sits in the page cache for both sides and is deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tanba.agent.formats.digest import hash_file
from tanba.crypto import accel
from tanba.crypto import hashes as national_hashes
from tanba.providers.base import HashAlgorithm

ENGINE = Path("/usr/lib/x86_64-linux-gnu/engines-3/gost.so")
ENGINE_CONFIG = f"""openssl_conf = openssl_def
[openssl_def]
engines = engine_section
[engine_section]
gost = gost_section
[gost_section]
engine_id = gost
dynamic_path = {ENGINE}
default_algorithms = ALL
"""

MIB = 1 << 20


@dataclass(frozen=True)
class Pair:
    ours: str  # a tanba.crypto.hashes name
    theirs: str  # an openssl dgst option
    same_function: bool  # the two digests must agree


PAIRS = [
    Pair("streebog256", "-md_gost12_256", True),
    Pair("streebog512", "-md_gost12_512", True),
    Pair("gost34311-95", "-md_gost94", False),
    Pair("gost3411-94", "-md_gost94", True),
]


def write_file(path: Path, mib: int) -> None:
    rng = random.Random(15)
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(rng.randbytes(MIB))


def ours(path: Path, name: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    if name in {a.value for a in HashAlgorithm}:
        digest = hash_file(path, HashAlgorithm(name))
    else:  # gost3411-94 signs nothing in Tanba: hash the same way, through the hash object
        h = national_hashes.new(name)
        with open(path, "rb") as f:
            while chunk := f.read(8 * MIB):
                h.update(chunk)
        digest = h.digest()
    return time.perf_counter() - start, digest


def theirs(path: Path, option: str, env: dict[str, str]) -> tuple[float, bytes]:
    start = time.perf_counter()
    out = subprocess.run(["openssl", "dgst", option, "-r", str(path)], env=env, capture_output=True,
                         check=True, timeout=600).stdout
    elapsed = time.perf_counter() - start
    return elapsed, bytes.fromhex(out.split()[0].decode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256, help="file size in MiB (default 256)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds, best taken (default 3)")
    parser.add_argument("--pure", action="store_true", help="force the pure-Python hashes")
    args = parser.parse_args()
    if args.pure:
        accel.use_pure(True)
    print(f"Tanba's hashes: {'C extension' if accel.enabled() else 'pure Python'} "
          f"(extension built: {accel.available()}); file {args.size} MiB, best of {args.rounds} rounds")

    with tempfile.TemporaryDirectory(prefix="tanba-gost-hash-") as tmp:
        conf = Path(tmp) / "openssl-gost.cnf"
        conf.write_text(ENGINE_CONFIG)
        env = dict(os.environ, OPENSSL_CONF=str(conf))
        path = Path(tmp) / "document.bin"
        write_file(path, args.size)
        hash_file(path, HashAlgorithm.SHA256)  # read it once: both sides start from the page cache

        best: dict[tuple[str, str], float] = {}
        digests: dict[tuple[str, str], bytes] = {}
        for _ in range(args.rounds):
            for pair in PAIRS:
                for side, run in (("ours", lambda: ours(path, pair.ours)),
                                  ("theirs", lambda: theirs(path, pair.theirs, env))):
                    key = (pair.ours, side)
                    seconds, digest = run()
                    best[key] = min(best.get(key, seconds), seconds)
                    digests[key] = digest

    mb = args.size * MIB / 1e6
    print(f"{'tanba':>13} {'s':>7} {'MB/s':>6}   {'openssl dgst':<15} {'s':>7} {'MB/s':>6}   ratio  digests")
    for pair in PAIRS:
        a, b = best[(pair.ours, "ours")], best[(pair.ours, "theirs")]
        same = digests[(pair.ours, "ours")] == digests[(pair.ours, "theirs")]
        check = ("equal" if same else "DIFFER") if pair.same_function else "(other S-boxes)"
        print(f"{pair.ours:>13} {a:7.2f} {mb / a:6.1f}   {pair.theirs:<15} {b:7.2f} {mb / b:6.1f}   "
              f"{a / b:5.2f}  {check}")


if __name__ == "__main__":
    main()
