"""SoftHSM RSA-2048 signing: bare python-pkcs11 versus Pkcs11Store's Signer.

    SOFTHSM2_CONF=... python bench/bench_pkcs11.py [--seconds 1.0] [--rounds 5]

Needs the test token of softhsm-setup.sh (SOFTHSM2_CONF exported; module from
TANBA_PKCS11_MODULE, default /usr/lib/softhsm/libsofthsm2.so).  Both sides sign SHA-256
DigestInfos with CKM_RSA_PKCS using the rsa-sign key; rounds are interleaved (bare,
sign_digest, sign_digests, bare, ...) and the best rate of each is kept.  The store's
side pays for its worker hop (queue + future); the target is a ratio of at least 0.9.

Note: one process loads the module once: the bare loop runs on the store's own worker
thread (one thread per module, the rule the store itself follows), timed inside the job
so it measures python-pkcs11 alone.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from pkcs11 import Attribute, Mechanism, ObjectClass

from tanba.providers.base import HashAlgorithm, SignatureScheme
from tanba.providers.pkcs11 import DIGEST_INFO_PREFIX, Pkcs11Store

MODULE = Path(os.environ.get("TANBA_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so"))
PIN = os.environ.get("TANBA_TEST_PIN", "1234")
DIGEST = hashlib.sha256(b"bench").digest()
BATCH = 32


def bare_loop(lib: Any, serial: bytes, cka_id: bytes, seconds: float) -> float:
    """Signatures per second with python-pkcs11 alone (runs on the module's thread)."""
    token = next(s.get_token() for s in lib.get_slots(token_present=True)
                 if s.get_token().serial == serial)
    with token.open() as session:
        # the store's session is logged in already: login state is per token
        key = next(iter(session.get_objects(
            {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: cka_id})))
        data = DIGEST_INFO_PREFIX[HashAlgorithm.SHA256] + DIGEST
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            key.sign(data, mechanism=Mechanism.RSA_PKCS)
            n += 1
    return n / elapsed


async def store_rate(signer: Any, seconds: float, batched: bool) -> float:
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        if batched:
            await signer.sign_digests([DIGEST] * BATCH, HashAlgorithm.SHA256,
                                      SignatureScheme.RSA_PKCS1V15)
            n += BATCH
        else:
            await signer.sign_digest(DIGEST, HashAlgorithm.SHA256, SignatureScheme.RSA_PKCS1V15)
            n += 1
    return n / elapsed


async def main(seconds: float, rounds: int) -> None:
    store = Pkcs11Store(MODULE, "SoftHSM")
    try:
        identity = next((i for i in await store.identities()
                         if isinstance(i.certificate.public_key(), rsa.RSAPublicKey)), None)
        if identity is None:
            raise SystemExit("no RSA key on the token: run  eval \"$(./softhsm-setup.sh)\"  first")
        ref = identity.key_ref
        signer = await store.open(identity, bytearray(PIN.encode()))
        best = {"bare": 0.0, "sign_digest": 0.0, "sign_digests": 0.0}
        async with signer:
            await store_rate(signer, 0.2, False)  # warm up
            for r in range(rounds):
                bare = await store.worker.run(bare_loop, ref.serial, ref.cka_id, seconds)
                one = await store_rate(signer, seconds, False)
                many = await store_rate(signer, seconds, True)
                best = {"bare": max(best["bare"], bare),
                        "sign_digest": max(best["sign_digest"], one),
                        "sign_digests": max(best["sign_digests"], many)}
                print(f"round {r + 1}: bare {bare:7.1f}/s  sign_digest {one:7.1f}/s  "
                      f"sign_digests {many:7.1f}/s")
        print(f"identity: {identity.id}")
        print(f"best bare python-pkcs11   : {best['bare']:7.1f} signatures/s")
        print(f"best Signer.sign_digest   : {best['sign_digest']:7.1f} signatures/s  "
              f"ratio {best['sign_digest'] / best['bare']:.3f}")
        print(f"best Signer.sign_digests  : {best['sign_digests']:7.1f} signatures/s  "
              f"ratio {best['sign_digests'] / best['bare']:.3f}  (batches of {BATCH})")
    finally:
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rounds))
