"""An agent with real key stores (the test PKI's PKCS#12 files, the SoftHSM token) and
the real verifiers our signatures must satisfy (openssl, xmlsec1)."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from support.agent import PORTAL, running_agent
from support.consent import ScriptedConsent
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest
from tanba.agent.transport.server import AgentServer
from tanba.providers.base import KeyStore, Signer
from tanba.providers.pkcs11 import Pkcs11Store
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.registry import Stores


@asynccontextmanager
async def agent_with_keys(
    tmp_path: Path,
    pki: Manifest,
    consent: ScriptedConsent,
    p12: Sequence[str] = (),
    softhsm_module: str | None = None,
    settings: Settings | None = None,
) -> AsyncIterator[AgentServer]:
    stores: list[KeyStore] = []
    if p12:
        stores.append(Pkcs12Store([pki.identities[name].p12 for name in p12]))
    if softhsm_module is not None:
        stores.append(Pkcs11Store(Path(softhsm_module), "AKKaztokenStore"))
    settings = settings or Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), autodetect=False)
    registry = Stores(stores)
    try:
        async with running_agent(tmp_path, consent, settings, stores=registry) as server:
            yield server
    finally:
        await registry.close()


async def open_p12_signer(pki: Manifest, name: str) -> Signer:
    """An open signer on the test PKI's ``name`` file, through the real PKCS#12 store."""
    ident = pki.identities[name]
    store = Pkcs12Store([ident.p12])
    await store.unlock_file(ident.p12, bytearray(ident.p12_password.encode()))
    [identity] = await store.identities()
    return await store.open(identity, None)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def openssl_cms_sign(
    pki: Manifest, name: str, content: Path, out: Path, *, attached: bool = True, outform: str = "DER",
    extra: tuple[str, ...] = (),
) -> Path:
    """A CMS made by the real ``openssl cms -sign`` with the test PKI's ``name`` key (chain
    included): signatures for the verifier that do not come from Tanba's own builder."""
    ident = pki.identities[name]
    cmd = ["openssl", "cms", "-sign", "-binary", "-in", str(content), "-signer", str(ident.cert_pem),
           "-inkey", str(ident.key_pem), "-certfile", str(pki.intermediate_pem), "-outform", outform,
           "-out", str(out), *extra]
    if attached:
        cmd.append("-nodetach")
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return out


def openssl_cms_verify(pki: Manifest, tmp_path: Path, cms_der: bytes, content: bytes | None = None) -> str:
    """Run ``openssl cms -verify``; returns the verified content; raises on failure.

    The intermediate is trusted alongside the root: token certificates come without their
    chain, and OpenSSL 3.0's ``cms -verify`` does not build paths through ``-certfile``.
    """
    (tmp_path / "sig.der").write_bytes(cms_der)
    cafile = tmp_path / "ca.pem"
    cafile.write_bytes(pki.root_pem.read_bytes() + pki.intermediate_pem.read_bytes())
    cmd = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "sig.der"),
           "-CAfile", str(cafile), "-out", str(tmp_path / "out.bin")]
    if content is not None:
        (tmp_path / "content.bin").write_bytes(content)
        cmd += ["-content", str(tmp_path / "content.bin")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Verification successful" in proc.stderr, proc.stderr
    return (tmp_path / "out.bin").read_text("utf-8", "replace")


def xmlsec_verify(pki: Manifest, tmp_path: Path, xml: bytes) -> None:
    (tmp_path / "signed.xml").write_bytes(xml)
    proc = subprocess.run(
        ["xmlsec1", "--verify", "--trusted-pem", str(pki.root_pem), "--untrusted-pem", str(pki.intermediate_pem),
         str(tmp_path / "signed.xml")],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0 and "OK" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def reason(reply: dict[str, Any]) -> str:
    assert "error" in reply, reply
    return str(reply["error"]["data"]["reason"])
