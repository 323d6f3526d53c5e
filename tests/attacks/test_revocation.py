"""Revocation fetching under attack (issue 19, findings 4, 8 and 9b; DESIGN.md security rule 7).

``verify`` asks OCSP responders and CRL servers named by the signer's certificate.  A page
can hand it any signature, and a responder can answer anything, so: nothing is fetched for
a signature that does not verify or a chain that reaches no anchor, redirects are not
followed, bodies are bounded (a compressed body is refused, never inflated), each URL is
asked once per request, all signers of a request share one time budget and one fetch count,
the agent names itself only ``tanba``, nothing of a verify outlives its answer, and no task
is left to log its error.

Everything runs against the real local responder (tests/support/ocsp_server.py) and the
test PKI; certificates naming URLs of their own are issued here by the PKI's intermediate.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import logging
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from asn1crypto import cms as acms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key, pkcs7
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from support.agent import PORTAL, browser, running_agent
from support.consent import ScriptedConsent
from support.native import b64, open_p12_signer
from support.ocsp_server import BOMB_SIZE, HUGE_SIZE, RevocationServer, gzip_bomb
from tanba.agent.formats.xmldsig import sign_xml
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest
from tanba.agent.verify import chain
from tanba.agent.verify.chain import ChainValidator
from tanba.agent.verify.cms import verify_cms
from tanba.agent.verify.xml import verify_xml
from tanba.protocol.methods.verify import VerifyResult

DOC = "Хаттама № 7: комиссия шешімі.\n".encode()
Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
Signer = tuple[x509.Certificate, Key]


# -- signatures -----------------------------------------------------------------------------


def _intermediate(pki: Manifest) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pki.intermediate_pem.read_bytes())


def _identity(pki: Manifest, name: str) -> Signer:
    ident = pki.identities[name]
    key = load_pem_private_key(ident.key_pem.read_bytes(), password=None)
    assert isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
    return ident.certificate(), key


def _issue(pki: Manifest, count: int) -> list[Signer]:
    """``count`` signers issued by the test intermediate, signer i naming its own
    ``…/ocsp/i`` and ``…/crl/i`` on the test responder."""
    inter = _intermediate(pki)
    inter_key = load_pem_private_key(pki.intermediate_key_pem.read_bytes(), password=None)
    assert isinstance(inter_key, rsa.RSAPrivateKey)
    ski = inter.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    base = pki.ocsp_url.rsplit("/", 1)[0]
    now = dt.datetime.now(dt.timezone.utc)
    signers: list[Signer] = []
    for i in range(count):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Комиссия мүшесі {i}")]))
            .issuer_name(inter.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(f"{base}/ocsp/{i}"))]), critical=False)
            .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(f"{base}/crl/{i}")],
                relative_name=None, reasons=None, crl_issuer=None)]), critical=False)
            .sign(inter_key, hashes.SHA256())
        )
        signers.append((cert, key))
    return signers


def _cms(pki: Manifest, signers: Sequence[Signer], data: bytes = DOC) -> bytes:
    """One attached CMS with a SignerInfo per entry of ``signers`` (repeats allowed)."""
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data)
    for cert, key in signers:
        builder = builder.add_signer(cert, key, hashes.SHA256())
    # (after the signers: cryptography 50 drops a certificate added before them)
    builder = builder.add_certificate(_intermediate(pki))
    return builder.sign(Encoding.DER, [pkcs7.PKCS7Options.Binary])


def _break_signatures(der: bytes) -> bytes:
    """The same CMS with every signature value's last bit flipped."""
    info = acms.ContentInfo.load(der)
    for signer_info in info["content"]["signer_infos"]:
        value = signer_info["signature"].native
        signer_info["signature"] = value[:-1] + bytes([value[-1] ^ 1])
    out: bytes = info.dump(force=True)
    return out


async def _xml(pki: Manifest) -> bytes:
    signer = await open_p12_signer(pki, "rsa-sign")
    try:
        return await sign_xml(signer, pki.identities["rsa-sign"].certificate(), "<doc><a>Сәлем</a></doc>".encode())
    finally:
        await signer.close()


async def _verify(pki: Manifest, fmt: str, validator: ChainValidator) -> VerifyResult:
    if fmt == "xml":
        return await verify_xml(await _xml(pki), validator)
    return await verify_cms(_cms(pki, [_identity(pki, "rsa-sign")]), validator)


@contextmanager
def _traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


# -- finding 4: what a responder can make the agent do --------------------------------------


@pytest.mark.parametrize("fmt", ["cms", "xml"])
async def test_a_redirect_from_a_responder_is_not_followed(pki: Manifest, ocsp: RevocationServer, fmt: str) -> None:
    validator = ChainValidator([pki.root_pem], intermediates=[pki.intermediate_pem], timeout=4.0)
    with ocsp.modes(ocsp="redirect", crl="redirect"):
        result = await _verify(pki, fmt, validator)
        elsewhere = [seen.path for seen in ocsp.requests if not seen.path.startswith(("/ocsp", "/crl"))]
        asked = ocsp.hits["ocsp"] + ocsp.hits["crl"]
    assert asked >= 1  # the responders named by the certificate were asked ...
    assert elsewhere == []  # ... and the address they pointed to was not: not /admin/delete?all=1
    (signer,) = result.signers
    assert signer.chain_valid and signer.revocation == "unknown"  # a redirect is no answer, never "good"
    await validator.aclose()


@pytest.mark.parametrize("mode", ["gzip_bomb", "huge"])
async def test_a_compressed_or_endless_answer_is_not_read_whole(
    pki: Manifest, ocsp: RevocationServer, mode: str
) -> None:
    """A 250 KiB gzip body that inflates to 256 MiB, or 128 MiB sent plain without a
    length: the agent must not hold either in memory."""
    gzip_bomb()  # made before tracing: the test server runs in this process
    signature = _cms(pki, [_identity(pki, "rsa-sign")])
    validator = ChainValidator([pki.root_pem], timeout=20.0)
    with ocsp.modes(ocsp=mode, crl=mode), _traced():  # type: ignore[arg-type]
        result = await verify_cms(signature, validator)
        peak = tracemalloc.get_traced_memory()[1]
        assert ocsp.hits["ocsp"] >= 1
    size = BOMB_SIZE if mode == "gzip_bomb" else HUGE_SIZE
    assert peak < 40 * 1024 * 1024, f"{peak / 2**20:.0f} MiB held for a {size // 2**20} MiB answer"
    (signer,) = result.signers
    assert signer.chain_valid and signer.revocation == "unknown"
    await validator.aclose()


async def test_nothing_is_fetched_for_a_broken_signature_or_a_chain_without_anchor(
    pki: Manifest, ocsp: RevocationServer
) -> None:
    """32 signers whose signature values do not verify (a 3 KB message asked 64 requests),
    then 32 good signers under an anchor that is not theirs: not one request either time."""
    signers = [_identity(pki, "rsa-sign")] * 16 + [_identity(pki, "ec-sign")] * 16
    good = _cms(pki, signers)
    validator = ChainValidator([pki.root_pem], timeout=4.0)
    broken = await verify_cms(_break_signatures(good), validator)
    assert ocsp.requests == []
    assert not broken.valid and len(broken.signers) == 32
    assert all(s.problems[0] == "signature_invalid" and s.revocation == "unknown" for s in broken.signers)

    stranger = ChainValidator([pki.tsa_pem], timeout=4.0)  # chains to nothing here
    untrusted = await verify_cms(good, stranger)
    assert ocsp.requests == []
    assert not untrusted.valid
    assert all(s.signature_valid and not s.chain_valid for s in untrusted.signers)
    await validator.aclose()
    await stranger.aclose()


async def test_each_url_is_asked_once_per_request(pki: Manifest, ocsp: RevocationServer) -> None:
    validator = ChainValidator([pki.root_pem], timeout=6.0)
    same = await verify_cms(_cms(pki, [_identity(pki, "rsa-sign")] * 16), validator)
    assert same.valid and all(s.revocation == "good" for s in same.signers)
    assert ocsp.hits == {"ocsp": 1}  # one question about one certificate, asked once, not 16 times

    ocsp.reset()
    two = [_identity(pki, "rsa-sign")] * 8 + [_identity(pki, "ec-sign")] * 8
    with ocsp.modes(ocsp="down"):
        by_crl = await verify_cms(_cms(pki, two), validator)
        hits = dict(ocsp.hits)
    assert all(s.revocation == "good" for s in by_crl.signers)  # from the CRL
    assert hits["crl"] == 1  # one CRL URL: one download for all 16 signers
    assert hits["ocsp"] <= 2  # at most one question per certificate to the failing responder
    await validator.aclose()


async def test_many_signers_against_a_hanging_responder_share_one_time_budget(
    pki: Manifest, ocsp: RevocationServer
) -> None:
    """32 signers, each naming its own OCSP and CRL URL, all hanging: the request answers
    within its budget (not 32 budgets), every signer "unknown", within the fetch bound."""
    budget = 1.5
    signature = _cms(pki, _issue(pki, 32))
    offline = ChainValidator([pki.root_pem], revocation="off")
    start = time.monotonic()
    await verify_cms(signature, offline)
    without_network = time.monotonic() - start

    validator = ChainValidator([pki.root_pem], timeout=budget)
    with ocsp.modes(ocsp="hang", crl="hang"):
        start = time.monotonic()
        task = asyncio.create_task(verify_cms(signature, validator))
        done, _ = await asyncio.wait({task}, timeout=without_network + 6 * budget)
        elapsed = time.monotonic() - start
        asked = ocsp.hits["ocsp"] + ocsp.hits["crl"]
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert done, f"no answer after {elapsed:.1f}s for a {budget}s budget"
    assert elapsed < without_network + 2 * budget, f"{elapsed:.1f}s for a {budget}s budget"
    result = task.result()
    assert len(result.signers) == 32
    assert all(s.chain_valid and s.revocation == "unknown" for s in result.signers)  # never "good"
    assert 1 <= asked <= chain.MAX_FETCHES
    await validator.aclose()


@pytest.mark.parametrize("fmt", ["cms", "xml"])
async def test_responders_see_a_neutral_user_agent(pki: Manifest, ocsp: RevocationServer, fmt: str) -> None:
    validator = ChainValidator([pki.root_pem], intermediates=[pki.intermediate_pem], timeout=4.0)
    with ocsp.modes(ocsp="down"):  # OCSP and CRL both asked
        result = await _verify(pki, fmt, validator)
        agents = {seen.user_agent for seen in ocsp.requests}
    assert result.signers[0].revocation == "good"
    assert agents == {"tanba"}  # no library, no version
    await validator.aclose()


# -- finding 8 and 9b: nothing outlives a verify -------------------------------------------


@pytest.mark.parametrize("end", ["times_out", "is_cancelled"])
async def test_nothing_of_a_verify_outlives_it(pki: Manifest, ocsp: RevocationServer, end: str) -> None:
    """A 24 MiB signed document against a hanging responder: once the verify has answered
    (budget spent) or been cancelled (the page left), no task of it is still running and
    its buffers are freed at once, without a garbage collection."""
    signature = _cms(pki, [_identity(pki, "rsa-sign")], data=bytes(24 * 1024 * 1024))
    validator = ChainValidator([pki.root_pem], timeout=1.0 if end == "times_out" else 30.0)
    before = asyncio.all_tasks()
    gc.collect()
    gc.disable()
    try:
        with ocsp.modes(ocsp="hang", crl="hang"), _traced():
            baseline = tracemalloc.get_traced_memory()[0]
            task = asyncio.create_task(verify_cms(signature, validator))
            if end == "times_out":
                assert (await task).signers[0].revocation == "unknown"
            else:
                while not ocsp.hits["ocsp"]:
                    await asyncio.sleep(0.02)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            del task
            leftover = [t for t in asyncio.all_tasks() if t not in before]
            held = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        gc.enable()
    assert leftover == [], [t.get_coro() for t in leftover]
    assert held < 4 * 1024 * 1024, f"{held / 2**20:.1f} MiB still held"
    await validator.aclose()


async def test_a_page_leaving_mid_verify_leaves_no_big_buffers(
    tmp_path: Path, pki: Manifest, ocsp: RevocationServer
) -> None:
    """The reviewer's case: big verifies waiting on a hanging responder, and the page goes
    away.  The agent cancels them; their messages, decoded JSON, parameters and parsed
    signatures must go at once, not at the next garbage collection."""
    signature = _cms(pki, [_identity(pki, "rsa-sign")], data=bytes(8 * 1024 * 1024))
    message = json.dumps({"jsonrpc": "2.0", "method": "verify", "params": {"format": "cms", "signature": b64(signature)}})
    del signature
    settings = Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), autodetect=False)
    async with running_agent(tmp_path, ScriptedConsent(), settings) as server:
        server.services._validator = ChainValidator((pki.root_pem,), timeout=30.0, http=server.services.http)
        gc.collect()
        gc.disable()
        try:
            with ocsp.modes(ocsp="hang", crl="hang"), _traced():
                baseline = tracemalloc.get_traced_memory()[0]
                async with browser(server, max_size=None) as ws:
                    for i in range(4):
                        await ws.send(message.replace('"jsonrpc"', f'"id": {i}, "jsonrpc"', 1))
                    while ocsp.hits["ocsp"] < 4:
                        await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)  # the agent sees the page leave and cancels
                held = tracemalloc.get_traced_memory()[0] - baseline
        finally:
            gc.enable()
            await server.services.http.aclose()
    assert held < 8 * 1024 * 1024, f"{held / 2**20:.0f} MiB still held after the page left"


async def test_failing_responders_leave_no_task_error_in_the_log(
    tmp_path: Path, pki: Manifest, ocsp: RevocationServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Verifies whose OCSP and CRL requests time out answer "unknown"; nothing is left to
    log "Task exception was never retrieved", and no traceback reaches the log."""
    caplog.set_level(logging.INFO)
    signature = b64(_cms(pki, [_identity(pki, "rsa-sign")]))
    settings = Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), autodetect=False)
    async with running_agent(tmp_path, ScriptedConsent(), settings) as server:
        server.services._validator = ChainValidator((pki.root_pem,), timeout=0.6, http=server.services.http)
        with ocsp.modes(ocsp="hang", crl="hang"):
            async with browser(server) as ws:
                replies = []
                for i in range(3):
                    await ws.send(json.dumps({"jsonrpc": "2.0", "id": i, "method": "verify",
                                              "params": {"format": "cms", "signature": signature}}))
                for _ in range(3):
                    replies.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            await asyncio.sleep(1.0)  # what was left running would end (and fail) by now
        await server.services.http.aclose()
    gc.collect()
    assert all(reply["result"]["signers"][0]["revocation"] == "unknown" for reply in replies), replies
    stray = [r for r in caplog.records if "never retrieved" in r.getMessage()]
    assert stray == [], stray[0].getMessage()
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
