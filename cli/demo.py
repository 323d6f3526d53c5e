"""`tanba demo`: a throw-away test PKI, the agent, and the demo portal page, in one command.

It makes a test PKI with PKCS#12 files (password 123456) in a temporary directory — or uses
the SoftHSM token of ``softhsm-setup.sh`` — starts the agent with the demo page's origin
allow-listed, serves the page from its own port (a separate origin, as a real portal is),
and prints the address to open.  Questions are asked on this terminal unless
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
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tanba import __version__

if TYPE_CHECKING:
    from tanba.agent.setup.testpki import Manifest

#: the PKCS#12 files offered, in this order (the auto approver picks the first that fits)
DEMO_IDENTITIES = ("rsa-sign", "rsa-auth", "ec-sign", "org-rsa-sign")
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
              help="Keep the test PKI and the demo's state here [a temporary directory, removed at exit].")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="warning",
              show_default=True)
def command(agent_port: int, page_port: int, approver: str, softhsm_dir: Path | None, workdir: Path | None,
            log_level: str) -> None:
    """Run the agent with test keys and serve the demo portal page."""
    from tanba.agent.setup import logs

    logs.setup(log_level, None)
    with _workdir(workdir) as work:
        # The demo's approvals and local token stay in the demo's directory.
        os.environ["TANBA_CONFIG_DIR"] = str(work / "config")
        os.environ["TANBA_STATE_DIR"] = str(work / "state")
        try:
            asyncio.run(_run(work, agent_port, page_port, approver, softhsm_dir))
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


def _keys(work: Path, softhsm_dir: Path | None) -> tuple[Manifest, tuple[Path, ...], tuple[str, ...], str, str, tuple[Path, ...]]:
    """(the test PKI, PKCS#12 files, PKCS#11 specs, PIN, what to tell the user, the national
    PKIs' root and CA certificates: GOST's, then bign's)."""
    from tanba.agent.setup.bign_pki import BignManifest, make_bign_pki
    from tanba.agent.setup.gost_pki import GostManifest, make_gost_pki
    from tanba.agent.setup.testpki import P12_PASSWORD, Manifest, make_test_pki

    if softhsm_dir is not None:
        manifest = Manifest.load(softhsm_dir / "pki")
        os.environ["SOFTHSM2_CONF"] = str((softhsm_dir / "softhsm2.conf").resolve())
        module = os.environ.get("TANBA_PKCS11_MODULE", SOFTHSM_MODULE)
        gost_dir = softhsm_dir / "pki" / "gost"
        gost_files: tuple[Path, ...] = ()
        gost_cas: tuple[Path, ...] = ()
        note = ""
        if (gost_dir / "manifest.json").exists():
            token_gost = GostManifest.load(gost_dir)
            gost_files, gost_cas = (token_gost.p12["gost-kz"],), (token_gost.root_pem, token_gost.ca_pem)
            note = f" A GOST 2015 key (login and signing) in {gost_files[0]}; its password is {token_gost.password}."
        bign_dir = softhsm_dir / "pki" / "bign"
        if (bign_dir / "manifest.json").exists():
            token_bign = BignManifest.load(bign_dir)
            gost_files += (token_bign.p12["bign-person"],)
            gost_cas += (token_bign.root_pem, token_bign.ca_pem)
            note += (f" A Belarusian bign key in {token_bign.p12['bign-person']}; "
                     f"its password is {token_bign.password}.")
        return (manifest, gost_files, (f"AKKaztokenStore={module}",), SOFTHSM_PIN,
                f"Keys: the SoftHSM token 'tanba-test' ({module}); its PIN is {SOFTHSM_PIN}.{note}", gost_cas)
    pki = work / "pki"
    manifest = Manifest.load(pki) if (pki / "manifest.json").exists() else make_test_pki(pki)
    gost_dir = pki / "gost"
    gost = GostManifest.load(gost_dir) if (gost_dir / "manifest.json").exists() else make_gost_pki(gost_dir)
    bign_dir = pki / "bign"
    bign = BignManifest.load(bign_dir) if (bign_dir / "manifest.json").exists() else make_bign_pki(bign_dir)
    files = (*(manifest.identities[name].p12 for name in DEMO_IDENTITIES), gost.p12["gost-kz"],
             bign.p12["bign-person"])
    return (manifest, files, (), P12_PASSWORD,
            f"Keys: {len(files)} test PKCS#12 files in {pki} (one a GOST 2015 key for login and signing, "
            f"as NCA issues them, one a Belarusian bign key); their password is {P12_PASSWORD}.",
            (gost.root_pem, gost.ca_pem, bign.root_pem, bign.ca_pem))


async def _run(work: Path, agent_port: int, page_port: int, approver: str, softhsm_dir: Path | None) -> None:
    from tanba.agent.state.atomic import write_private
    from tanba.agent.setup.config import Settings
    from tanba.agent.demo.server import DemoServer
    from tanba.agent.setup.lifecycle import Agent, StartError
    from tanba.agent.transport.server import AgentServer
    from tanba.agent.verify.chain import ChainValidator

    manifest, p12, pkcs11, pin, keys_note, gost_cas = _keys(work, softhsm_dir)
    root = manifest.root_pem
    national_roots, national_cas = gost_cas[0::2], gost_cas[1::2]  # (root, CA) per national PKI
    # A portal knows its national CA's issuing certificates: auth tokens carry only the leaf.
    validator = ChainValidator([root, *national_roots], intermediates=[manifest.intermediate_pem, *national_cas],
                               revocation="soft", timeout=3.0)
    demo = DemoServer(f"http://localhost:{page_port}", "", validator)
    try:
        await demo.start()
    except OSError as exc:
        raise click.ClickException(f"cannot serve the demo page on port {page_port}: {exc.strerror} (try --page-port 0)") from exc
    pin_file = None
    if approver == "auto":
        pin_file = work / "pin"
        write_private(pin_file, pin.encode())
    settings = Settings(
        port=agent_port, p12=p12, pkcs11=pkcs11, autodetect=False, allow_origin=(demo.origin,), tls=False,
        # the intermediate too: XML signatures carry only the signer's certificate
        approver=approver, pin_file=pin_file, trust_anchor=(root, manifest.intermediate_pem, *gost_cas),
    )

    def ready(server: AgentServer) -> None:
        demo.agent_url = f"ws://127.0.0.1:{server.port}/v1"
        for line in server.services.consent.warnings():
            click.secho(line, fg="red", bold=True, err=True)
        click.echo(f"Tanba {__version__} demo: agent on {demo.agent_url} (approver: {approver})")
        click.echo(keys_note)
        if approver == "terminal":
            click.echo("Tanba asks you here, on this terminal, before the page sees a certificate or gets a signature.")
        click.secho(f"Open {demo.origin}/ in your browser.", bold=True)
        click.echo("Ctrl+C stops the demo.")
        sys.stdout.flush()

    agent = Agent(settings, version=__version__)
    try:
        await agent.run(on_ready=ready)
    except StartError as exc:
        raise click.ClickException(f"{exc} (or run the demo on another port: --port 0)") from exc
    finally:
        await demo.close()
        await validator.aclose()
