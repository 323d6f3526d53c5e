"""`tanba test-sign`: sign a fixed message with a certificate's key and verify it.

The quickest check that a token or file works end to end: listing, PIN, signing, and the
signature against the certificate's public key.  Prints ``OK`` with the subject and the
algorithm, or ``FAILED`` with the exact reason (wrong PIN and tries left, token removed ...),
and exits non-zero then.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import sys
from pathlib import Path

import click
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from tanba.agent.consent.terminal import describe
from tanba.protocol.errors import NoCertificate, PinLocked, TanbaError, WrongPin
from tanba.providers.base import HashAlgorithm, Identity, SignatureScheme
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.registry import Stores, build_stores

MESSAGE = b"Tanba test-sign: this message proves the key can sign.\n"

REASON_TEXT = {
    "wrong_pin": "wrong PIN",
    "pin_locked": "the PIN is locked",
    "token_removed": "the token was removed",
    "store_error": "the key store cannot be used",
    "no_certificate": "no usable certificate",
    "busy": "the key store is busy (wrong password given recently)",
    "user_cancelled": "cancelled",
}


def read_pin(pin_file: Path | None) -> bytearray:
    if pin_file is not None:
        data = bytearray(pin_file.read_bytes())
        while data and data[-1] in (0x0A, 0x0D):
            del data[-1]
        return data
    return bytearray(click.prompt("PIN", hide_input=True).encode("utf-8"))


def choose(identities: list[Identity], wanted: str | None) -> Identity:
    if wanted is not None:
        for identity in identities:
            if identity.id == wanted:
                return identity
        raise NoCertificate(f"no certificate with id {wanted}")
    now = dt.datetime.now(dt.timezone.utc)
    usable = [
        i for i in identities
        if i.certificate.not_valid_before_utc <= now <= i.certificate.not_valid_after_utc
        and isinstance(i.certificate.public_key(), (rsa.RSAPublicKey, ec.EllipticCurvePublicKey))
    ]
    if not usable:
        raise NoCertificate("no valid RSA or EC certificate found")
    if len(usable) == 1 or not sys.stdin.isatty():
        return usable[0]
    for n, identity in enumerate(usable, 1):
        click.echo(f"{n}. {describe(identity)}  [{identity.id}]")
    pick: int = click.prompt("Certificate", type=click.IntRange(1, len(usable)), default=1)
    return usable[pick - 1]


def verify(identity: Identity, signature: bytes) -> str:
    """Check ``signature`` over MESSAGE; returns the algorithm in words."""
    key = identity.certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, MESSAGE, padding.PKCS1v15(), hashes.SHA256())
        return f"RSA-{key.key_size} PKCS#1 v1.5 with SHA-256"
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(signature, MESSAGE, ec.ECDSA(hashes.SHA256()))
    return f"ECDSA {key.curve.name} with SHA-256"


async def run_test_sign(
    p12: list[Path], specs: list[str], autodetect: bool, wanted: str | None,
    pin_file: Path | None,
) -> str:
    stores = Stores(await build_stores(p12, specs, autodetect))
    pin: bytearray | None = None
    try:
        for store in stores.stores:
            if not isinstance(store, Pkcs12Store):
                continue
            for path in store.locked_files():  # the password comes before the certificates
                pin = pin if pin is not None else read_pin(pin_file)
                await store.unlock_file(path, pin)
        identities = await stores.all_identities()
        for failure in stores.failures:
            click.echo(f"warning: {failure.store}: {failure.error.reason}: {failure.error}",
                       err=True)
        identity = choose(identities, wanted)
        store = stores.store_for(identity)
        status = await store.pin_status(identity)
        if status.locked:
            raise PinLocked("the PIN is locked")
        allow_final_try = False
        if status.final_try:
            if pin_file is not None:
                raise WrongPin("final PIN try: not spent from a PIN file", 1)
            allow_final_try = click.confirm(
                "One more wrong PIN locks this key. Continue?", default=False)
            if not allow_final_try:
                raise WrongPin("final PIN try not spent", 1)
        if status.pinpad:
            click.echo("Enter the PIN on the reader's keypad.")
            pin = None
        elif pin is None and status.needs_pin:
            pin = read_pin(pin_file)
        scheme = (SignatureScheme.ECDSA
                  if isinstance(identity.certificate.public_key(), ec.EllipticCurvePublicKey)
                  else SignatureScheme.RSA_PKCS1V15)
        async with await store.open(identity, pin, allow_final_try=allow_final_try) as signer:
            signature = await signer.sign_digest(
                hashlib.sha256(MESSAGE).digest(), HashAlgorithm.SHA256, scheme)
        algorithm = verify(identity, signature)
        return f"OK: {describe(identity)}\n    {algorithm}; {identity.storage}"
    finally:
        if pin is not None:
            pin[:] = bytes(len(pin))
        await stores.close()


def failure_text(exc: TanbaError) -> str:
    text = REASON_TEXT.get(exc.reason, exc.reason)
    if isinstance(exc, WrongPin) and exc.retries_left is not None:
        text += f" ({exc.retries_left} {'try' if exc.retries_left == 1 else 'tries'} left)"
    return f"FAILED [{exc.reason}]: {text}: {exc.detail or exc.reason}"


@click.command("test-sign")
@click.option("--p12", "p12", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="A PKCS#12 file (repeatable).")
@click.option("--pkcs11", "specs", multiple=True, metavar="[NAME=]MODULE",
              help="A PKCS#11 module (repeatable).")
@click.option("--autodetect/--no-autodetect", default=None,
              help="Also use detected PKCS#11 modules (default: only when nothing is given).")
@click.option("--id", "wanted", help="The certificate id (as `tanba certs` shows it).")
@click.option("--pin-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Read the PIN from this file instead of asking.")
def command(p12: tuple[Path, ...], specs: tuple[str, ...], autodetect: bool | None,
            wanted: str | None, pin_file: Path | None) -> None:
    """Sign a test message with a certificate and verify the signature."""
    if autodetect is None:
        autodetect = not p12 and not specs
    try:
        line = asyncio.run(run_test_sign(list(p12), list(specs), autodetect, wanted, pin_file))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--pkcs11") from exc
    except TanbaError as exc:
        click.echo(failure_text(exc), err=True)
        raise SystemExit(1) from exc
    except InvalidSignature as exc:
        click.echo("FAILED [bad_signature]: the signature does not verify with the "
                   "certificate's public key (wrong key behind this certificate?)", err=True)
        raise SystemExit(1) from exc
    click.echo(line)
