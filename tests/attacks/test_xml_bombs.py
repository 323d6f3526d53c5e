"""Rule 7 for XML: small documents built to be slow must neither freeze the agent nor take
time or memory out of proportion to their size (issue 19, findings 2, 3 and 9a).

* ``verify`` of ``<r><a x="1"/>…</r>`` once froze the whole agent: the node count was a
  quadratic XPath run on the event loop (1.1 MB: 56 s during which no page was answered).
* signing a document with a few hundred namespace declarations at its root evaluated
  ``//namespace::*``: one node per element and declaration (164 KB: 25 s and 2.65 GB).
* ``verify`` of a signature whose certificate holds a key we cannot use (GOST, Ed25519)
  answered ``internal``.

The agent of the first tests runs in its own process (tests/support/agent_child.py), so
that a frozen agent shows as an unanswered ``agent.hello`` instead of freezing the test.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import re
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from support.agent import PORTAL, browser, call, running_agent
from support.attack import request, rpc, still_serves
from support.consent import ScriptedConsent
from support.native import agent_with_keys, b64, open_p12_signer
from support.ocsp_server import RevocationServer
from tanba.agent.formats.xmldsig import sign_xml, sign_xml_batch
from tanba.agent.formats.xmlparse import DEFAULT_MAX_NODES
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest

REPO = Path(__file__).resolve().parents[2]
CHILD = REPO / "tests" / "support" / "agent_child.py"
#: generous: an agent that answers at all answers a hello in milliseconds
HELLO_TIMEOUT = 30.0


def attribute_bomb(n: int) -> bytes:
    """The reviewer's document: ``n`` empty elements with one attribute each (11 bytes apiece)."""
    return b"<r>" + b'<a x="1"/>' * n + b"</r>"


def namespace_heavy(declarations: int, elements: int) -> bytes:
    """``declarations`` prefixes declared at the root, then ``elements`` empty children."""
    ns = "".join(f' xmlns:p{i}="urn:example:{i}"' for i in range(declarations))
    return f"<r{ns}>".encode() + b"<a/>" * elements + b"</r>"


@asynccontextmanager
async def child_agent(tmp_path: Path) -> AsyncIterator[int]:
    """A real agent in a process of its own, serving PORTAL; yields its port."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), "--origins", str(tmp_path / "origins.json"), "--allow-origin", PORTAL],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
        assert line.startswith("PORT "), line
        yield int(line.split()[1])
    finally:
        proc.kill()  # it may be stuck in a bomb on code without the fix
        proc.wait(10)


@asynccontextmanager
async def page(port: int) -> AsyncIterator[ClientConnection]:
    async with connect(f"ws://127.0.0.1:{port}/v1", origin=Origin(PORTAL), max_size=None, open_timeout=10) as ws:
        yield ws


@dataclass(frozen=True)
class Run:
    reply: dict[str, Any]  # the verify answer
    duration: float  # from sending verify to its answer
    longest_silence: float  # the longest wait for any hello of the other page meanwhile
    hellos: int


async def verify_while_another_page_says_hello(port: int, document: bytes) -> Run:
    """One page asks ``verify``; another says ``agent.hello`` again and again until the
    verify is answered, each hello within HELLO_TIMEOUT."""
    loop = asyncio.get_running_loop()
    async with page(port) as verifier, page(port) as other:
        assert (await call(other, "agent.hello", id="warm"))["result"]["name"] == "tanba"
        started = last = loop.time()
        verify = asyncio.create_task(call(verifier, "verify", {"format": "xml", "signature": b64(document)}))
        silences: list[float] = []
        while not verify.done():
            try:
                hello = await asyncio.wait_for(call(other, "agent.hello", id=len(silences)), HELLO_TIMEOUT)
            except TimeoutError:
                verify.cancel()
                raise AssertionError(f"agent.hello not answered within {HELLO_TIMEOUT} s while verify ran") from None
            assert hello["result"]["name"] == "tanba", hello
            now = loop.time()
            silences.append(now - last)
            last = now
            await asyncio.sleep(0.01)
        reply = await verify
        return Run(reply, loop.time() - started, max(silences), len(silences))


def assert_answered_meanwhile(run: Run) -> None:
    """The other page was never kept waiting for more than half of the verify's time: the
    verify ran beside the event loop, not on it (on it, one wait is the whole verify)."""
    assert run.longest_silence < run.duration / 2, run


# -- finding 2: parsing for verify ----------------------------------------------------------


async def test_verify_of_the_attribute_bomb_leaves_other_pages_answered(tmp_path: Path) -> None:
    """3.3 MB of ``<a x="1"/>``, within every bound: the page gets its answer (it is
    not a signature) while another page keeps being served."""
    async with child_agent(tmp_path) as port:
        run = await verify_while_another_page_says_hello(port, attribute_bomb(300_000))
        assert run.reply["error"]["data"]["reason"] == "invalid_params", run.reply
        assert run.reply["error"]["data"]["detail"] == "expected one ds:Signature, found 0"
        assert_answered_meanwhile(run)
        async with page(port) as ws:
            assert (await call(ws, "agent.hello", id="after"))["result"]["name"] == "tanba"


async def test_verify_of_a_document_over_the_node_bound_is_refused_early(tmp_path: Path) -> None:
    """15 MB, 3 million nodes: refused with a reason that names the bound, and no page waits."""
    async with child_agent(tmp_path) as port:
        run = await verify_while_another_page_says_hello(port, attribute_bomb(1_500_000))
        assert run.reply["error"]["data"] == {
            "reason": "invalid_params",
            "detail": f"XML with more than {DEFAULT_MAX_NODES} nodes is refused",
        }, run.reply
        assert_answered_meanwhile(run)


async def test_verify_time_grows_linearly_with_the_bomb(tmp_path: Path) -> None:
    """Twice the document, about twice the time (the quadratic count took four times).
    The two sizes take turns, so a busy machine slows both alike; the fastest of each counts."""
    sizes: dict[int, list[float]] = {60_000: [], 120_000: []}
    loop = asyncio.get_running_loop()
    async with child_agent(tmp_path) as port, page(port) as ws:
        params = {n: {"format": "xml", "signature": b64(attribute_bomb(n))} for n in sizes}
        for i in range(5):
            for n, times in sizes.items():
                started = loop.time()
                reply = await asyncio.wait_for(call(ws, "verify", params[n], id=f"{n}-{i}"), 120)
                times.append(loop.time() - started)
                assert reply["error"]["data"]["detail"] == "expected one ds:Signature, found 0", reply
    single, double = (min(times) for times in sizes.values())
    assert double / single < 3, (single, double)


async def test_verify_of_a_large_signed_document_runs_beside_the_event_loop(
    tmp_path: Path, pki: Manifest
) -> None:
    """signxml's work (C14N, digests) on a real signature is off the event loop too: a
    document of 120 namespace declarations and 30,000 elements takes it a second or so."""
    signer = await open_p12_signer(pki, "rsa-sign")
    try:
        signed = await sign_xml(signer, signer.identity.certificate, namespace_heavy(120, 30_000))
    finally:
        await signer.close()
    async with child_agent(tmp_path) as port:
        run = await verify_while_another_page_says_hello(port, signed)
        [signer_result] = run.reply["result"]["signers"]
        assert signer_result["signatureValid"] is True, run.reply  # no trust anchor here: chainValid is false
        assert_answered_meanwhile(run)


# -- finding 3: signing documents heavy with namespaces -------------------------------------


async def test_signing_a_document_with_200_namespaces_at_its_root_is_refused_clearly(
    tmp_path: Path, pki: Manifest
) -> None:
    """The reviewer's 164 KB document: a clear ``invalid_params`` naming the bound, at once."""
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"]) as server, browser(server) as ws:
        document = namespace_heavy(200, 40_000)
        reply = await rpc(ws, request("sign", {"format": "xml", "data": [b64(document)]}))
        assert reply["error"]["data"]["reason"] == "invalid_params", reply
        assert re.fullmatch(r"XML with more than \d+ namespace declarations in scope is refused",
                            reply["error"]["data"]["detail"]), reply
        await still_serves(server)


async def test_namespace_declarations_do_not_multiply_the_memory_signing_needs(pki: Manifest) -> None:
    """100 declarations over 30,000 elements (within the bounds) sign with the memory a
    document of the same size without them needs, not one object per element and prefix."""
    heavy = namespace_heavy(100, 30_000)
    plain = b"<r>" + b"<a/>" * ((len(heavy) - 7) // 4) + b"</r>"
    signer = await open_p12_signer(pki, "rsa-sign")

    async def peak(document: bytes) -> int:
        tracemalloc.start()
        try:
            await sign_xml_batch(signer, signer.identity.certificate, [document])
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    try:
        plain_peak, heavy_peak = await peak(plain), await peak(heavy)
    finally:
        await signer.close()
    assert heavy_peak < 3 * plain_peak, (len(heavy), plain_peak, heavy_peak)


# -- finding 9a: certificates with keys the verifier cannot use -----------------------------

RSA_ENCRYPTION = bytes.fromhex("06092a864886f70d010101")  # OID 1.2.840.113549.1.1.1, as DER
GOST_2004_KEY = bytes.fromhex("06092a830e030a01010101")  # OID 1.2.398.3.10.1.1.1.1: same length


def gost_keyed(cert: x509.Certificate) -> x509.Certificate:
    """``cert`` with its key algorithm renamed to KZ GOST 34.310-2004: a certificate that
    parses but whose key cryptography cannot load (its signature no longer matters here)."""
    der = cert.public_bytes(Encoding.DER)
    assert der.count(RSA_ENCRYPTION) == 1
    return x509.load_der_x509_certificate(der.replace(RSA_ENCRYPTION, GOST_2004_KEY))


def ed25519_cert() -> x509.Certificate:
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ed25519 signer")])
    now = dt.datetime.now(dt.timezone.utc)
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(7).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)).sign(key, None)
    )


def with_keyinfo(signed: bytes, certs: list[x509.Certificate]) -> bytes:
    start = signed.index(b"<ds:X509Data>")
    end = signed.index(b"</ds:X509Data>") + len(b"</ds:X509Data>")
    elements = b"".join(
        b"<ds:X509Certificate>" + base64.b64encode(c.public_bytes(Encoding.DER)) + b"</ds:X509Certificate>"
        for c in certs
    )
    return signed[:start] + b"<ds:X509Data>" + elements + b"</ds:X509Data>" + signed[end:]


def _ed25519(real: x509.Certificate, pki: Manifest) -> list[x509.Certificate]:
    return [ed25519_cert()]


def _gost(real: x509.Certificate, pki: Manifest) -> list[x509.Certificate]:
    return [gost_keyed(real)]


def _gost_then_signer(real: x509.Certificate, pki: Manifest) -> list[x509.Certificate]:
    return [gost_keyed(pki.identities["org-rsa-sign"].certificate()), real]


def _ec_then_signer(real: x509.Certificate, pki: Manifest) -> list[x509.Certificate]:
    return [pki.identities["ec-sign"].certificate(), real]


@pytest.mark.parametrize(
    ("keyinfo", "signed_by_one"),
    [(_gost, False), (_ed25519, False), (_gost_then_signer, True), (_ec_then_signer, True)],
    ids=["gost-key", "ed25519-key", "gost-key-then-signer", "ec-key-then-signer"],
)
async def test_certificates_with_keys_the_verifier_cannot_use_give_a_result_not_internal(
    tmp_path: Path, pki: Manifest, ocsp: RevocationServer, keyinfo: Any, signed_by_one: bool
) -> None:
    """A key we cannot use is reported (``unsupported_algorithm``), like the CMS verifier
    does; when another certificate of KeyInfo verifies, that one is the signer."""
    signer = await open_p12_signer(pki, "rsa-sign")
    real = signer.identity.certificate
    try:
        signed = await sign_xml(signer, real, "<zayavka><summa>1000 теңге</summa></zayavka>".encode())
    finally:
        await signer.close()
    settings = Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), intermediate=(pki.intermediate_pem,),
                        autodetect=False)
    async with running_agent(tmp_path, ScriptedConsent(), settings) as server, browser(server) as ws:
        reply = await rpc(ws, request("verify", {"format": "xml", "signature": b64(with_keyinfo(signed, keyinfo(real, pki)))}))
        assert "result" in reply, reply
        [result] = reply["result"]["signers"]
        if signed_by_one:
            assert reply["result"]["valid"] is True, reply
            assert result["signatureValid"] is True
            assert result["certificate"] == real.public_bytes(Encoding.PEM).decode()
        else:
            assert reply["result"]["valid"] is False
            assert result["signatureValid"] is False and result["problems"] == ["unsupported_algorithm"], reply
        await still_serves(server)


async def test_a_certificate_of_an_unknown_x509_version_is_invalid_params_not_internal(
    tmp_path: Path, pki: Manifest
) -> None:
    """Found by bench/fuzz_live.py: cryptography's InvalidVersion is no ValueError."""
    signer = await open_p12_signer(pki, "rsa-sign")
    real = signer.identity.certificate
    try:
        signed = await sign_xml(signer, real, b"<zayavka><summa>1000</summa></zayavka>")
    finally:
        await signer.close()
    der = real.public_bytes(Encoding.DER)
    v3 = bytes.fromhex("a003020102")  # [0] EXPLICIT INTEGER 2 (v3)
    assert der.count(v3) == 1
    bad = base64.b64encode(der.replace(v3, bytes.fromhex("a003020166")))  # version 102
    start = signed.index(b"<ds:X509Certificate>") + len(b"<ds:X509Certificate>")
    document = signed[:start] + bad + signed[signed.index(b"</ds:X509Certificate>"):]
    async with running_agent(tmp_path, ScriptedConsent(), Settings(allow_origin=(PORTAL,))) as server, \
            browser(server) as ws:
        reply = await rpc(ws, request("verify", {"format": "xml", "signature": b64(document)}))
        assert reply["error"]["data"] == {
            "reason": "invalid_params", "detail": "KeyInfo holds a certificate that cannot be read",
        }, reply
        await still_serves(server)
