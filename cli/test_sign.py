"""`tanba test-sign`: sign a fixed message with a certificate's key and verify it.

The quickest check that a token or file works end to end: listing, PIN, signing, and the
signature against the certificate's public key.  Prints ``OK`` with the subject and the
algorithm, or ``FAILED`` with the exact reason (wrong PIN and tries left, token removed ...),
and exits non-zero then.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import click
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from tanba.agent.consent.terminal import describe
from tanba.agent.formats.digest import hash_bytes
from tanba.protocol.errors import InvalidParams, NoCertificate, TanbaError, WrongPin
from tanba.providers.base import HashAlgorithm, Identity, SignatureScheme
from tanba.providers.keyalg import default_scheme, gost_public_key, key_family, signing_hash
from tanba.providers.registry import Stores, build_stores
from tanba.cli.sources import serve_sources

MESSAGE = b"Tanba test-sign: this message proves the key can sign.\n"

REASON_TEXT = {
    "wrong_pin": "wrong PIN",
    "pin_locked": "the PIN is locked",
    "token_removed": "the token was removed",
    "store_error": "the key store cannot be used",
    "no_certificate": "no usable certificate",
    "busy": "the agent is busy with another request",
    "user_cancelled": "cancelled",
}


def verify(identity: Identity, signature: bytes) -> str:
    """Check ``signature`` over MESSAGE; returns the algorithm in words."""
    family = key_family(identity.certificate)
    if family is not None:
        digest = hash_bytes(MESSAGE, HashAlgorithm(family.hash))
        if not gost_public_key(identity.certificate).verify(digest, signature):
            raise InvalidSignature("GOST signature does not verify")
        return f"{family.name} with {family.hash} ({family.order.value.upper()} byte order)"
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
    """The agent's own key path (KeyAccess: PIN status, final-try rule, pinpad, wiping)
    with the command line as the consent UI, over a message Tanba chose."""
    from tanba.agent.consent.base import DocumentSummary
    from tanba.agent.access.keys import KeyAccess
    from tanba.agent.access.gate import PromptGate
    from tanba.agent.setup.config import ConfigError, configured_bign_pkcs11
    from tanba.cli.consent import CliConsent
    from tanba.protocol.methods.filter import CertFilter

    try:
        bign = configured_bign_pkcs11()  # the config file's [bign-pkcs11], for bign tokens
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    stores = Stores(await build_stores(p12, specs, autodetect, bign=bign))
    document = DocumentSummary(len(MESSAGE), "sha256", hashlib.sha256(MESSAGE).hexdigest(), MESSAGE.decode())
    access = KeyAccess(stores, CliConsent(wanted, pin_file, announce=False), PromptGate(), None, "en")
    try:
        async with access.signer(CertFilter(), None, (document,), identity_id=wanted) as signer:
            identity = signer.identity
            for failure in stores.failures:
                click.echo(f"warning: {failure.store}: {failure.error.reason}: {failure.error}", err=True)
            hash_alg = signing_hash(identity.certificate, None)  # the key's own: SHA-256, or a GOST hash
            signature = await signer.sign_digest(hash_bytes(MESSAGE, hash_alg), hash_alg, _scheme(identity))
        algorithm = verify(identity, signature)
        return f"OK: {describe(identity)}\n    {algorithm}; {identity.storage}"
    finally:
        await stores.close()


def _scheme(identity: Identity) -> SignatureScheme:
    try:
        return default_scheme(identity.certificate)
    except InvalidParams as exc:
        raise NoCertificate(f"{describe(identity)}: test-sign knows RSA, EC and GOST keys") from exc


def failure_text(exc: TanbaError) -> str:
    text = REASON_TEXT.get(exc.reason, exc.reason)
    if isinstance(exc, WrongPin) and exc.retries_left is not None:
        text += f" ({exc.retries_left} {'try' if exc.retries_left == 1 else 'tries'} left)"
    if isinstance(exc, WrongPin) and exc.retry_after is not None:
        text += f" (wait {exc.retry_after} s before the next try)"
    return f"FAILED [{exc.reason}]: {text}: {exc.detail or exc.reason}"


@click.command("test-sign")
@click.option("--p12", "p12", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="A PKCS#12 file (repeatable). [the config file's p12, as `tanba serve` offers them]")
@click.option("--pkcs11", "specs", multiple=True, metavar="[NAME=]MODULE",
              help="A PKCS#11 module (repeatable).")
@click.option("--autodetect/--no-autodetect", default=None,
              help="Also use detected PKCS#11 modules [only when nothing is given, unless the config file says autodetect = false].")
@click.option("--id", "wanted", help="The certificate id (as `tanba certs` shows it).")
@click.option("--pin-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Read the PIN from this file instead of asking.")
def command(p12: tuple[Path, ...], specs: tuple[str, ...], autodetect: bool | None,
            wanted: str | None, pin_file: Path | None) -> None:
    """Sign a test message with a certificate and verify the signature."""
    sources = serve_sources(p12, specs, autodetect)  # none given: the keys `tanba serve` offers
    try:
        line = asyncio.run(run_test_sign(list(sources.p12), list(sources.modules), sources.autodetect, wanted, pin_file))
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
