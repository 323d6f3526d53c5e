"""Start-up time: `tanba serve` until it accepts a connection, and `tanba --help`.

Targets (issue 8): serve ≤ 0.5 s to the first accepted TCP connection, `--help` ≤ 0.3 s.
Each round runs, in turn, a bare ``python -c pass`` (the interpreter's own start, the floor
nothing can go under), `tanba --help`, and `tanba serve` (no key stores, a free port, a
throw-away state dir; once more with PKCS#11 module detection on, the default), so the three share the machine's mood; the table shows the median
and best of the rounds and each one's ratio to the bare interpreter.

    python bench/bench_startup.py [--rounds 7]

``--importtime`` prints serve's 15 slowest imports (``python -X importtime``), to find
what to make lazy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
TANBA = shutil.which("tanba", path=str(Path(PYTHON).parent)) or "tanba"
TARGETS = {"tanba --help": 0.3, "tanba serve → accept": 0.5, "  with autodetect": 0.5}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def serve_to_accept(env: dict[str, str], autodetect: bool = False) -> float:
    """Seconds from launching `tanba serve` to the first accepted TCP connection."""
    port = free_port()
    started = time.perf_counter()
    detect = "--autodetect" if autodetect else "--no-autodetect"
    proc = subprocess.Popen([TANBA, "serve", "--port", str(port), detect, "--no-log-file"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return time.perf_counter() - started
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"tanba serve exited with {proc.returncode}") from None
                if time.perf_counter() - started > 30:
                    raise RuntimeError("tanba serve did not listen within 30 s") from None
                time.sleep(0.001)
    finally:
        proc.terminate()
        proc.wait(10)


def importtime(env: dict[str, str]) -> list[tuple[int, str]]:
    port = free_port()
    proc = subprocess.Popen([PYTHON, "-X", "importtime", "-m", "tanba", "serve", "--port", str(port),
                             "--no-autodetect", "--no-log-file"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.01)
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    rows = []
    for line in err.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = line.split("|")
            rows.append((int(cumulative), name.rstrip()))
    return sorted(rows, reverse=True)[:15]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--importtime", action="store_true", help="show serve's slowest imports")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TANBA_CONFIG_DIR": f"{tmp}/cfg", "TANBA_STATE_DIR": f"{tmp}/state"}
        timed([TANBA, "--help"], env)  # warm the page cache and the .pyc files
        serve_to_accept(env)
        samples: dict[str, list[float]] = {"python -c pass": [], "tanba --help": [], "tanba serve → accept": [],
                                           "  with autodetect": []}
        for _ in range(args.rounds):
            samples["python -c pass"].append(timed([PYTHON, "-c", "pass"], env))
            samples["tanba --help"].append(timed([TANBA, "--help"], env))
            samples["tanba serve → accept"].append(serve_to_accept(env))
            samples["  with autodetect"].append(serve_to_accept(env, autodetect=True))
        bare = statistics.median(samples["python -c pass"])
        print(f"{'':24} {'median':>8} {'best':>8} {'× bare python':>14} {'target':>8}")
        figures = {}
        for name, values in samples.items():
            median = statistics.median(values)
            target = TARGETS.get(name)
            verdict = "" if target is None else (f"≤ {target:.1f} s " + ("ok" if median <= target else "MISSED"))
            print(f"{name:24} {median:7.3f}s {min(values):7.3f}s {median / bare:13.1f}× {verdict:>8}")
            figures[name] = {"median": median, "best": min(values), "ratio": median / bare}
        if args.json:
            print(json.dumps(figures, indent=2))
        if args.importtime:
            print("\nslowest imports of tanba serve (cumulative µs):")
            for micros, name in importtime(env):
                print(f"{micros:>9}  {name}")


if __name__ == "__main__":
    main()
