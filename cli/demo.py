"""`tanba demo`: a throw-away test PKI, the agent, and the demo portal page, in one command.

It makes a test PKI with PKCS#12 files (password 123456) in a temporary directory — or uses
the SoftHSM token of ``softhsm-setup.sh`` — starts the agent with the demo page's origin
allow-listed, serves the page from its own port (a separate origin, as a real portal is),
answers the test PKI's OCSP and CRL requests on the address its certificates name (so the
page's "Verify" says ``good``, or ``revoked`` for the revoked key it also offers), and prints
the address to open and which key files it made where (``--dir`` keeps them).  Questions are asked on this terminal unless
``--approver auto`` (scripted runs) answers them.  Nothing touches the user's own Tanba
state: approvals and the local token live in the demo's directory too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tanba import __version__

if TYPE_CHECKING:
    from tanba.agent.setup.revocation import RevocationServer
    from tanba.agent.setup.testpki import Manifest

#: the test PKI's PKCS#12 files offered, in this order (the auto approver picks the first that
#: fits); the revoked key comes last, so only a page that asks for it gets it
DEMO_IDENTITIES = ("rsa-sign", "rsa-auth", "ec-sign", "org-rsa-sign", "rsa-sign-revoked")
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
SOFTHSM_PIN = "1234"


@click.command()
@click.option("--port", "agent_port", type=int, default=13579, show_default=True,
              help="The agent's port; 0 picks a free one.")
@click.option("--page-port", type=int, default=13580, show_default=True,
              help="The demo page's port (its own origin http://localhost:PORT); 0 picks a free one.")
@click.option("--approver", type=click.Choice(["terminal", "auto"]), default="terminal", show_default=True,
              help="Who confirms: you on this terminal, or 'auto' for scripted runs (approves everything the page asks).")
@click.option("--softhsm", "softhsm_dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Use the SoftHSM token made by softhsm-setup.sh in this directory instead of PKCS#12 files.")
@click.option("--dir", "workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Make the test keys in DIR/pki (or reuse the ones a previous run made there) and keep the "
                   "demo's approvals and state in DIR. Without it everything goes to a temporary directory, "
                   "removed when the demo stops.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="warning",
              show_default=True)
def command(agent_port: int, page_port: int, approver: str, softhsm_dir: Path | None, workdir: Path | None,
            log_level: str) -> None:
    """Run the agent with test keys and serve the demo portal page.

    It makes a throw-away test PKI (PKCS#12 files, password 123456; one key is revoked),
    answers its OCSP and CRL requests on 127.0.0.1 so revocation is really checked, starts
    the agent with the page's origin allowed, and prints the page's address.
    """
    from tanba.agent.setup import logs

    logs.setup(log_level, None)
    with _workdir(workdir) as work:
        # The demo's approvals and local token stay in the demo's directory.
        os.environ["TANBA_CONFIG_DIR"] = str(work / "config")
        os.environ["TANBA_STATE_DIR"] = str(work / "state")
        try:
            asyncio.run(_run(work, agent_port, page_port, approver, softhsm_dir, kept=workdir is not None))
        except KeyboardInterrupt:
            pass


@contextlib.contextmanager
def _workdir(given: Path | None) -> Iterator[Path]:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given.resolve()
        return
    path = Path(tempfile.mkdtemp(prefix="tanba-demo-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class DemoKeys:
    """What the demo offers the agent, and what to tell the user about it."""

    manifest: Manifest
    p12: tuple[Path, ...]
    pkcs11: tuple[str, ...]
    #: the PIN the auto approver types (the SoftHSM token's, else the files' password)
    pin: str
    #: the national PKIs' (root, issuing CA) certificate pairs: GOST's, then bign's
    national: tuple[tuple[Path, Path], ...]
    lines: tuple[str, ...]


def _purpose(manifest: Manifest, path: Path) -> str:
    """A few words on what one offered file is for."""
    for ident in manifest.identities.values():
        if ident.p12 == path:
            words = ["login" if ident.usage == "auth" else "signing", "RSA" if ident.key == "rsa2048" else "EC P-256"]
            if ident.bin:
                words.append("an organisation's employee")
            if ident.status == "revoked":
                words.append("REVOKED: its signatures verify as revoked")
            return ", ".join(words)
    if "bign" in path.name:
        return "Belarusian bign key, login and signing"
    return "GOST 2015 key in NCA's profile, login and signing"


def _file_lines(pki: Path, made: bool, kept: bool, manifest: Manifest, offered: Sequence[Path],
                password: str) -> list[str]:
    count = sum(1 for _ in pki.rglob("*.p12"))
    if made:
        first = f"Made {count} test key files (PKCS#12, password {password}) in {pki}"
        first += "." if kept else " (removed when the demo stops; --dir DIR keeps them)."
    else:
        first = f"Using the {count} test key files (PKCS#12, password {password}) already in {pki}."
    lines = [first, f"The agent offers {len(offered)} of them:"]
    width = max(len(path.relative_to(pki).as_posix()) for path in offered)
    lines += [f"  {path.relative_to(pki).as_posix():<{width}}  {_purpose(manifest, path)}" for path in offered]
    return lines


def _keys(work: Path, softhsm_dir: Path | None, kept: bool) -> DemoKeys:
    from tanba.agent.setup.bign_pki import BignManifest, make_bign_pki
    from tanba.agent.setup.gost_pki import GostManifest, make_gost_pki
    from tanba.agent.setup.testpki import P12_PASSWORD, Manifest, make_test_pki

    if softhsm_dir is not None:
        pki = softhsm_dir.resolve() / "pki"
        manifest = Manifest.load(pki)
        os.environ["SOFTHSM2_CONF"] = str((softhsm_dir / "softhsm2.conf").resolve())
        module = os.environ.get("TANBA_PKCS11_MODULE", SOFTHSM_MODULE)
        files: tuple[Path, ...] = ()
        national: tuple[tuple[Path, Path], ...] = ()
        if (pki / "gost" / "manifest.json").exists():
            token_gost = GostManifest.load(pki / "gost")
            files, national = (token_gost.p12["gost-kz"],), ((token_gost.root_pem, token_gost.ca_pem),)
        if (pki / "bign" / "manifest.json").exists():
            token_bign = BignManifest.load(pki / "bign")
            files += (token_bign.p12["bign-person"],)
            national += ((token_bign.root_pem, token_bign.ca_pem),)
        files += (manifest.identities["rsa-sign-revoked"].p12,)
        lines = [f"Keys: the SoftHSM token 'tanba-test' ({module}); its PIN is {SOFTHSM_PIN}.",
                 *_file_lines(pki, False, True, manifest, files, P12_PASSWORD)]
        return DemoKeys(manifest, files, (f"AKKaztokenStore={module}",), SOFTHSM_PIN, national, tuple(lines))
    pki = work / "pki"
    made = not all((d / "manifest.json").exists() for d in (pki, pki / "gost", pki / "bign"))
    manifest = Manifest.load(pki) if (pki / "manifest.json").exists() else make_test_pki(pki)
    gost_dir = pki / "gost"
    gost = GostManifest.load(gost_dir) if (gost_dir / "manifest.json").exists() else make_gost_pki(gost_dir)
    bign_dir = pki / "bign"
    bign = BignManifest.load(bign_dir) if (bign_dir / "manifest.json").exists() else make_bign_pki(bign_dir)
    ordinary = tuple(name for name in DEMO_IDENTITIES if manifest.identities[name].status != "revoked")
    revoked = tuple(name for name in DEMO_IDENTITIES if manifest.identities[name].status == "revoked")
    files = (*(manifest.identities[name].p12 for name in ordinary), gost.p12["gost-kz"], bign.p12["bign-person"],
             *(manifest.identities[name].p12 for name in revoked))
    return DemoKeys(manifest, files, (), P12_PASSWORD, ((gost.root_pem, gost.ca_pem), (bign.root_pem, bign.ca_pem)),
                    tuple(_file_lines(pki, made, kept, manifest, files, P12_PASSWORD)))


def _revocation_server(manifest: Manifest) -> tuple[RevocationServer | None, str]:
    """The test PKI's OCSP responder and CRL server, started, and a line saying so."""
    from tanba.agent.setup.revocation import RevocationServer

    server = RevocationServer(manifest)
    try:
        server.start()
    except OSError as exc:
        return None, (f"Cannot answer the test PKI's OCSP and CRL requests on {server.url} ({exc.strerror}): "
                      "verify will say the revocation status is unknown.")
    return server, f"Revocation: the test PKI's OCSP responder and CRL answer on {server.url}"


async def _run(work: Path, agent_port: int, page_port: int, approver: str, softhsm_dir: Path | None,
               kept: bool) -> None:
    from tanba.agent.state.atomic import write_private
    from tanba.agent.setup.config import Settings
    from tanba.agent.demo.server import DemoServer
    from tanba.agent.setup.lifecycle import Agent, StartError
    from tanba.agent.transport.server import AgentServer
    from tanba.agent.verify.chain import ChainValidator

    keys = _keys(work, softhsm_dir, kept)
    manifest = keys.manifest
    roots = (manifest.root_pem, *(root for root, _ in keys.national))
    # The issuing CAs are known, not trusted: XML signatures and auth tokens carry only the leaf.
    issuers = (manifest.intermediate_pem, *(ca for _, ca in keys.national))
    validator = ChainValidator(roots, intermediates=issuers, revocation="soft", timeout=3.0)
    demo = DemoServer(f"http://localhost:{page_port}", "", validator)
    try:
        await demo.start()
    except OSError as exc:
        await validator.aclose()
        raise click.ClickException(f"cannot serve the demo page on port {page_port}: {exc.strerror} (try --page-port 0)") from exc
    responder, revocation_note = _revocation_server(manifest)
    pin_file = None
    if approver == "auto":
        pin_file = work / "pin"
        write_private(pin_file, keys.pin.encode())
    settings = Settings(
        port=agent_port, p12=keys.p12, pkcs11=keys.pkcs11, autodetect=False, allow_origin=(demo.origin,), tls=False,
        approver=approver, pin_file=pin_file, trust_anchor=roots, intermediate=issuers,
    )

    def ready(server: AgentServer) -> None:
        demo.agent_url = f"ws://127.0.0.1:{server.port}/v1"
        for line in server.services.consent.warnings():
            click.secho(line, fg="red", bold=True, err=True)
        click.echo(f"Tanba {__version__} demo: agent on {demo.agent_url} (approver: {approver})")
        for line in keys.lines:
            click.echo(line)
        if responder is None:
            click.secho(revocation_note, fg="yellow", err=True)
        else:
            click.echo(revocation_note)
        if approver == "terminal":
            click.echo("Tanba asks you here, on this terminal, before the page sees a certificate or gets a signature.")
        click.secho(f"Open {demo.origin}/ in your browser.", bold=True)
        click.echo("Ctrl+C stops the demo.")
        sys.stdout.flush()

    from tanba.cli.held_consent import serve_consent

    # as `tanba serve`: with the terminal approver, log lines wait until a question is answered
    agent = Agent(settings, version=__version__, make_consent=serve_consent)
    try:
        await agent.run(on_ready=ready)
    except StartError as exc:
        raise click.ClickException(f"{exc} (or run the demo on another port: --port 0)") from exc
    finally:
        if responder is not None:
            responder.stop()
        await demo.close()
        await validator.aclose()
