"""The JS client (clients/js) against a live agent: Node's test runner, real PKCS#12 stores.

The agent runs in this test's event loop with the test PKI's PKCS#12 files and a scripted
user (approves signatures, types the file password, refuses unknown sites); Node runs
``clients/js/test/`` and is told where the agent is through the environment.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from support.consent import ScriptedConsent
from support.native import agent_with_keys
from support.process import free_port
from tanba.agent.services import Services
from tanba.agent.setup import tls
from tanba.agent.setup.config import Settings
from tanba.agent.state.approvals import OriginStore
from tanba.agent.transport.server import AgentServer
from tanba.agent.transport.tracker import Tracker
from tanba.agent.setup.testpki import P12_PASSWORD, Manifest

REPO = Path(__file__).resolve().parents[2]
ORIGIN = "https://portal.test"
DENIED = "https://stranger.test"
NODE = shutil.which("node") or "node"


def node_flags() -> list[str]:
    """Node 20 has WebSocket behind a flag; Node 22+ has it by default."""
    out = subprocess.run([NODE, "--version"], capture_output=True, text=True, check=True).stdout
    major = int(re.match(r"v(\d+)", out).group(1))  # type: ignore[union-attr]
    assert major >= 20, f"the JS client tests need Node >= 20.10 (found {out.strip()})"
    return ["--experimental-websocket"] if major < 22 else []


@asynccontextmanager
async def tls_agent(tmp_path: Path, name: str) -> AsyncIterator[tuple[AgentServer, Path]]:
    """An agent after `tanba tls install` (its own CA, in its own HOME): (server, the CA file)."""
    files = tls.TlsFiles(tmp_path / name / "tls")
    (tmp_path / name / "home").mkdir(parents=True)
    tls.install(home=tmp_path / name / "home", files=files)
    services = Services(settings=Settings(port=0, allow_origin=(ORIGIN,)), consent=ScriptedConsent(),
                        origins=OriginStore(tmp_path / name / "origins.json"), client_token="t" * 43,
                        version="9.9.9-test")
    server = AgentServer(services, Tracker(), ssl_context=tls.server_ssl_context(files))
    await server.start()
    try:
        yield server, files.ca
    finally:
        await server.close()


async def test_node_tests_of_the_client_pass_against_a_live_agent(pki: Manifest, tmp_path: Path) -> None:
    consent = ScriptedConsent(pin=P12_PASSWORD)
    settings = Settings(allow_origin=(ORIGIN,), trust_anchor=(pki.root_pem,), autodetect=False)
    async with (
        agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign", "rsa-auth"], settings=settings) as agent,
        tls_agent(tmp_path, "trusted") as (wss_agent, ca),
        tls_agent(tmp_path, "untrusted") as (untrusted_agent, _),
    ):
        env = {
            **os.environ,
            "NODE_EXTRA_CA_CERTS": str(ca),  # Node trusts the first install's CA, not the second's
            "TANBA_TLS_PORT": str(wss_agent.port),
            "TANBA_TLS_UNTRUSTED_PORT": str(untrusted_agent.port),
            "TANBA_AGENT_URL": f"ws://127.0.0.1:{agent.port}/v1",
            "TANBA_ORIGIN": ORIGIN,
            "TANBA_DENIED_ORIGIN": DENIED,
            "TANBA_DOWN_URL": f"ws://127.0.0.1:{free_port()}/v1",
            "TANBA_SIGN_IIN": str(pki.identities["rsa-sign"].iin),
            "TANBA_AUTH_IIN": str(pki.identities["rsa-auth"].iin),
            "NO_COLOR": "1",
        }
        log = tmp_path / "node-test.log"
        with log.open("wb") as sink:
            proc = await asyncio.create_subprocess_exec(
                NODE, *node_flags(), "--test", "--test-reporter=tap", "--test-timeout=30000",
                str(REPO / "clients/js/test/"), cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT,
            )
            try:
                await asyncio.wait_for(proc.wait(), 90)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                pytest.fail("node --test hung; its output so far:\n" + log.read_text("utf-8", "replace"))
    report = log.read_text("utf-8", "replace")
    print(report)
    assert proc.returncode == 0, report
    assert re.search(r"^# fail 0$", report, re.M), report
    passed = int(re.search(r"^# pass (\d+)$", report, re.M).group(1))  # type: ignore[union-attr]
    assert passed >= 22, report  # every node test ran: none silently dropped
    # The refused site really reached the agent's origin question (and was refused there).
    assert ("origin", (DENIED, "en")) in consent.asked


def test_the_client_packs_and_installs_as_an_npm_dependency(tmp_path: Path) -> None:
    """`npm pack` makes a package of exactly the module, its types and README, and a project
    that installs it imports `tanba-client` by name (no copying of files)."""
    npm = shutil.which("npm") or "npm"
    packed = subprocess.run([npm, "pack", str(REPO / "clients" / "js"), "--pack-destination", str(tmp_path),
                             "--json", "--loglevel=error"], capture_output=True, text=True, timeout=120, check=True)
    import json

    [info] = json.loads(packed.stdout)
    assert sorted(f["path"] for f in info["files"]) == ["README.md", "package.json", "tanba.d.ts", "tanba.js"]
    project = tmp_path / "portal"
    project.mkdir()
    (project / "package.json").write_text('{"name": "portal", "version": "1.0.0", "type": "module"}')
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--offline", "--loglevel=error",
                    str(tmp_path / info["filename"])], cwd=project, capture_output=True, text=True, timeout=120,
                   check=True)
    probe = subprocess.run([NODE, *node_flags(), "--input-type=module", "-e",
                            'import { connect, TanbaError, VERSION } from "tanba-client"; '
                            'console.log(typeof connect, typeof TanbaError, VERSION)'],
                           cwd=project, capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split()[:2] == ["function", "function"]
    installed = json.loads((project / "package.json").read_text())
    assert "tanba-client" in installed["dependencies"]
    assert (project / "node_modules" / "tanba-client" / "tanba.d.ts").exists()
