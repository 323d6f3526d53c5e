"""`tanba sign FILE...`: sign files on the command line, without the daemon.

Same key path as the agent (certificate filter for signing keys, PIN handling), same
formats.  For detached CMS and raw signatures the files are hashed in 1 MiB chunks by a
worker thread that starts first, so a large file is hashed while the rest of Tanba loads
and the PIN is asked, and memory stays small.  Output goes next to each input (or into
``--out-dir``): ``NAME.cms`` for CMS, ``NAME.signed.xml`` for XML, ``NAME.sig`` for raw.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tanba.agent.formats.digest import hash_file
from tanba.cli.sources import serve_sources
from tanba.protocol.errors import TanbaError
from tanba.providers.base import HashAlgorithm

if TYPE_CHECKING:
    from tanba.agent.consent.base import DocumentSummary
    from tanba.cli.consent import CliConsent
    from tanba.providers.registry import Stores


def output_path(source: Path, fmt: str, out_dir: Path | None) -> Path:
    directory = out_dir if out_dir is not None else source.parent
    if fmt == "xml":
        return directory / f"{source.stem}.signed.xml"
    return directory / f"{source.name}.{'cms' if fmt == 'cms' else 'sig'}"


class HashingThread:
    """Digests of ``files`` computed by a daemon thread (an error is raised by ``result``)."""

    def __init__(self, files: Sequence[Path], hash_alg: HashAlgorithm) -> None:
        self.hash_alg = hash_alg
        self._abandoned = threading.Event()
        self._digests: list[bytes] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(files, hash_alg), name="hash", daemon=True)
        self._thread.start()

    def _run(self, files: Sequence[Path], hash_alg: HashAlgorithm) -> None:
        try:
            self._digests = [hash_file(f, hash_alg, abandoned=self._abandoned.is_set) for f in files]
        except BaseException as exc:  # handed to the waiting thread by result()
            self._error = exc

    def abandon(self) -> None:
        """The key signs another hash: stop at the next window (the thread's memory goes)."""
        self._abandoned.set()

    def result(self) -> list[bytes]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digests


def file_summary(path: Path) -> DocumentSummary:
    """Size only: `tanba sign` confirms by being run on named files (see CliConsent)."""
    from tanba.agent.consent.base import DocumentSummary

    return DocumentSummary(path.stat().st_size, "", "", None)


async def sign_files(
    files: list[Path], fmt: str, detached: bool, tsa_url: str | None, hash_alg: HashAlgorithm | None,
    stores: Stores, consent: CliConsent, sign_element: str, parent: str,
    hashing: HashingThread | None = None,
) -> list[bytes]:
    """Sign ``files`` through the agent's signing service; ``hashing`` is their digests being
    computed early (detached CMS, raw), with the hash the key most likely signs."""
    import asyncio

    from tanba.agent.formats.cms import CmsInput, PrecomputedDigest
    from tanba.agent.access.keys import KeyAccess
    from tanba.agent.access.gate import PromptGate
    from tanba.agent.access.signing import SignRequest, sign_batch

    items: Sequence[CmsInput] = [f.read_bytes() for f in files] if fmt == "xml" else list(files)
    xml = None
    if fmt == "xml":
        from tanba.agent.formats.xmldsig import XmlSignOptions

        xml = XmlSignOptions(sign_element=sign_element, parent=parent)
    request = SignRequest(
        format=fmt,  # type: ignore[arg-type]  # click.Choice
        items=items,
        hash_alg=hash_alg,
        # The command line names the files it signs; the key is unlocked while they are hashed.
        documents=tuple(file_summary(f) for f in files),
        detached=detached,
        xml=xml,
        timestamp_url=tsa_url,
    )

    async def digests(key_hash: HashAlgorithm) -> Sequence[CmsInput]:
        assert hashing is not None
        if key_hash is not hashing.hash_alg:
            # the key signs another hash than guessed: hash again at once (the guess stops)
            hashing.abandon()
            values = await asyncio.to_thread(lambda: [hash_file(f, key_hash) for f in files])
        else:
            values = await asyncio.to_thread(hashing.result)
        return [PrecomputedDigest(d) for d in values]

    access = KeyAccess(stores, consent, PromptGate(), None, "en")
    signed = await sign_batch(access, request, prepare=digests if hashing is not None else None)
    return signed.signatures


def _likely_hash(p12: Sequence[Path], pkcs11: Sequence[str]) -> HashAlgorithm:
    """SHA-256, or a GOST key's Streebog when the only key is one PKCS#12 file whose encrypted
    key has a GOST key's size, belt-hash when it is in the bign container
    (providers/pkcs12_peek.py: read without the password)."""
    if len(p12) == 1 and not pkcs11:
        from tanba.providers.pkcs12_peek import guess_hash

        guess = guess_hash(p12[0])
        if guess is not None:
            return HashAlgorithm(guess)
    return HashAlgorithm.SHA256


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["cms", "xml", "raw"]), default="cms", show_default=True)
@click.option("--detached/--attached", default=True, help="CMS: keep the document outside the signature [detached].")
@click.option("--timestamp", "tsa_url", metavar="URL", help="CMS: add an RFC 3161 timestamp from this TSA (CAdES-T).")
@click.option("--digest", type=click.Choice([a.value for a in HashAlgorithm]), default=None,
              help="Hash to sign [the key's own: sha256 for RSA/EC, streebog or gost34311-95 for GOST keys, "
                   "belt-hash (bash384/512) for bign keys].")
@click.option("--sign-element", default="", metavar="XPATH", help="XML: the element to sign [the document].")
@click.option("--parent", default="", metavar="XPATH", help="XML: where the Signature goes [the root].")
@click.option("--p12", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="PKCS#12 file (repeatable). [the config file's p12, as `tanba serve` offers them]")
@click.option("--pkcs11", multiple=True, metavar="[NAME=]MODULE", help="PKCS#11 module (repeatable).")
@click.option("--autodetect/--no-autodetect", default=None, help="Also use detected PKCS#11 modules [when none given].")
@click.option("--id", "wanted", help="Certificate id (from `tanba certs list`).")
@click.option("--pin-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Read the PIN from a file.")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), help="Write signatures here.")
def command(
    files: tuple[Path, ...], fmt: str, detached: bool, tsa_url: str | None, digest: str | None, sign_element: str,
    parent: str, p12: tuple[Path, ...], pkcs11: tuple[str, ...], autodetect: bool | None, wanted: str | None,
    pin_file: Path | None, out_dir: Path | None,
) -> None:
    """Sign files (CMS or XML) without the daemon."""
    if tsa_url is not None and fmt != "cms":
        raise click.BadParameter("timestamps apply to CMS", param_hint="--timestamp")
    # the keys `tanba serve` offers, when none are given: the config file's, and detected tokens
    sources = serve_sources(p12, pkcs11, autodetect)
    p12, pkcs11, autodetect = sources.p12, sources.modules, sources.autodetect
    hash_alg = HashAlgorithm(digest) if digest is not None else None
    # The hashing thread drops the GIL for every chunk it reads and hashes; a short switch
    # interval hands it back quickly while this thread imports and unlocks the key.
    sys.setswitchinterval(0.0002)
    hashing = None
    if fmt == "raw" or (fmt == "cms" and detached):
        # first, before the heavy imports below: the named hash, else the one the key most
        # likely signs (a wrong guess costs a second pass once the key is known)
        hashing = HashingThread(files, hash_alg or _likely_hash(p12, pkcs11))
    import asyncio

    async def run() -> list[bytes]:
        from tanba.cli.consent import CliConsent
        from tanba.providers.registry import Stores, build_stores

        try:
            stores = Stores(await build_stores(list(p12), list(pkcs11), autodetect, bign=sources.bign))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--pkcs11") from exc
        try:
            return await sign_files(list(files), fmt, detached, tsa_url, hash_alg, stores,
                                    CliConsent(wanted, pin_file), sign_element, parent, hashing)
        finally:
            await stores.close()

    try:
        outputs = asyncio.run(run())
    except TanbaError as exc:
        raise click.ClickException(f"{exc.reason}: {exc.detail or exc.reason}") from exc
    from tanba.agent.state.atomic import write_atomic

    for source, signed in zip(files, outputs, strict=True):
        target = output_path(source, fmt, out_dir)
        write_atomic(target, signed, 0o644)
        click.echo(f"{source} -> {target}")
