"""CAdES-T through a real RFC 3161 TSA on 127.0.0.1 (tests/support/tsa_server.py).

The resulting CMS is checked with ``openssl cms -verify`` and the token with
``openssl ts -verify`` against the signature value it stamps.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import cms as acms

from support.tsa_server import TsaServer
from support.native import open_p12_signer
from tanba.agent.formats.cms import CmsBuilder
from tanba.agent.formats.tsa import add_signature_timestamp, request_timestamp, shown_url
from tanba.agent.setup.testpki import Manifest
from tanba.protocol import i18n
from tanba.protocol.errors import InvalidParams, TimestampFailed


@pytest.fixture
def tsa(pki: Manifest) -> Iterator[TsaServer]:
    with TsaServer(pki.tsa_pem, pki.tsa_key_pem) as server:
        yield server


async def make_cms(pki: Manifest, name: str = "rsa-sign", data: bytes = b"application") -> bytes:
    signer = await open_p12_signer(pki, name)
    builder = CmsBuilder(signer.identity.certificate, signer.identity.chain)
    [cms_der] = await builder.sign_batch(signer, [data], detached=False)
    return cms_der


def tokens_of(cms_der: bytes) -> list[tuple[bytes, list[bytes]]]:
    """(signature value, [timestamp token DER]) per SignerInfo."""
    out = []
    for si in acms.ContentInfo.load(cms_der)["content"]["signer_infos"]:
        toks = [
            v.dump()
            for a in (si["unsigned_attrs"] or [])
            if a["type"].dotted == "1.2.840.113549.1.9.16.2.14"
            for v in a["values"]
        ]
        out.append((si["signature"].native, toks))
    return out


def openssl_ts_verify(pki: Manifest, tmp_path: Path, token: bytes, data: bytes) -> subprocess.CompletedProcess[str]:
    (tmp_path / "token.der").write_bytes(token)
    (tmp_path / "sigvalue.bin").write_bytes(data)
    return subprocess.run(
        ["openssl", "ts", "-verify", "-in", str(tmp_path / "token.der"), "-token_in",
         "-data", str(tmp_path / "sigvalue.bin"), "-CAfile", str(pki.root_pem),
         "-untrusted", str(pki.intermediate_pem)],
        capture_output=True, text=True, timeout=60,
    )


def openssl_resign(pki: Manifest, name: str, cms_der: bytes, tmp_path: Path) -> bytes:
    """``cms_der`` with one more signer (``name``'s key), added by ``openssl cms -resign``."""
    ident = pki.identities[name]
    (tmp_path / "one.p7s").write_bytes(cms_der)
    subprocess.run(
        ["openssl", "cms", "-resign", "-binary", "-inform", "DER", "-in", str(tmp_path / "one.p7s"),
         "-signer", str(ident.cert_pem), "-inkey", str(ident.key_pem), "-nodetach",
         "-outform", "DER", "-out", str(tmp_path / "two.p7s")],
        check=True, capture_output=True, timeout=60,
    )
    return (tmp_path / "two.p7s").read_bytes()


def openssl_cms_verify(pki: Manifest, tmp_path: Path, cms_der: bytes) -> subprocess.CompletedProcess[str]:
    (tmp_path / "t.p7s").write_bytes(cms_der)
    return subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "t.p7s"),
         "-CAfile", str(pki.root_pem), "-out", str(tmp_path / "content.out")],
        capture_output=True, text=True, timeout=60,
    )


async def test_cades_t_token_verifies_with_openssl_ts(pki: Manifest, tsa: TsaServer, tmp_path: Path) -> None:
    cms_der = await make_cms(pki)
    stamped = await add_signature_timestamp(cms_der, tsa.url, timeout=5)

    proc = openssl_cms_verify(pki, tmp_path, stamped)
    assert proc.returncode == 0, proc.stderr  # the BES signature is still intact
    [(signature, tokens)] = tokens_of(stamped)
    assert len(tokens) == 1
    proc = openssl_ts_verify(pki, tmp_path, tokens[0], signature)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Verification: OK" in proc.stdout
    # the token is bound to this signature value, not to anything else
    proc = openssl_ts_verify(pki, tmp_path, tokens[0], signature[:-1] + bytes([signature[-1] ^ 1]))
    assert proc.returncode != 0


async def test_every_signer_is_stamped_once(pki: Manifest, tsa: TsaServer, tmp_path: Path) -> None:
    first = await add_signature_timestamp(await make_cms(pki), tsa.url, timeout=5)
    assert tsa.requests == 1
    cosigned = openssl_resign(pki, "ec-sign", first, tmp_path)  # a second signer, added by OpenSSL
    both = await add_signature_timestamp(cosigned, tsa.url, timeout=5)
    assert tsa.requests == 2  # only the new signer asked for a token

    stamps = tokens_of(both)
    assert [len(toks) for _, toks in stamps] == [1, 1]
    assert tokens_of(first)[0] in stamps  # the first signer's stamp kept as it was (OpenSSL may reorder)
    assert openssl_cms_verify(pki, tmp_path, both).returncode == 0
    for signature, [token] in stamps:
        assert openssl_ts_verify(pki, tmp_path, token, signature).returncode == 0
    assert await add_signature_timestamp(both, tsa.url, timeout=5) == both


@pytest.mark.parametrize(
    ("mode", "words", "problem", "answer", "said"),
    [
        ("garbage", "not a valid RFC 3161", "bad_answer", "not_timestamp", "answered: not a valid RFC 3161 timestamp."),
        ("http500", "HTTP 500", "bad_answer", "http_status", "answered: HTTP 500."),
        ("wrong_nonce", "nonce", "bad_answer", "mismatch", "answered: a timestamp for another request."),
        ("wrong_imprint", "imprint", "bad_answer", "mismatch", "answered: a timestamp for another request."),
        ("rejection", "refused", "bad_answer", "refused", "answered: request refused (rejection)."),
        ("hang", "did not answer", "no_answer", "", "did not answer."),
    ],
)
async def test_broken_tsa_is_timestamp_failed_quickly(
    pki: Manifest, tsa: TsaServer, mode: str, words: str, problem: str, answer: str, said: str
) -> None:
    cms_der = await make_cms(pki)
    tsa.mode = mode
    started = time.monotonic()
    with pytest.raises(TimestampFailed) as exc:
        await add_signature_timestamp(cms_der, tsa.url, timeout=1.0)
    assert time.monotonic() - started < 2.5
    assert exc.value.reason == "timestamp_failed"
    assert words in exc.value.detail
    assert (exc.value.problem, exc.value.answer, exc.value.tsa_url) == (problem, answer, tsa.url)
    assert i18n.error_text(exc.value, "en") == f"The timestamp service at {tsa.url} {said}"


async def test_tsa_down_is_timestamp_failed(pki: Manifest) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nobody listens
    started = time.monotonic()
    with pytest.raises(TimestampFailed) as exc:
        await add_signature_timestamp(await make_cms(pki), f"http://127.0.0.1:{port}/", timeout=2)
    assert time.monotonic() - started < 2
    assert "unreachable" in exc.value.detail
    assert exc.value.problem == "no_answer"
    url = f"http://127.0.0.1:{port}/"
    assert i18n.error_text(exc.value, "en") == f"The timestamp service at {url} did not answer."
    assert i18n.error_text(exc.value, "ru") == f"Служба меток времени по адресу {url} не ответила."
    assert i18n.error_text(exc.value, "kk") == f"{url} мекенжайындағы уақыт белгісі қызметі жауап бермеді."


async def test_non_http_tsa_url_is_refused(pki: Manifest, tmp_path: Path) -> None:
    with pytest.raises(TimestampFailed) as exc:
        await request_timestamp(hashlib.sha256(b"x").digest(), f"file://{tmp_path}/tsr", timeout=1)
    assert exc.value.problem == "bad_url"
    assert i18n.error_text(exc.value, "en") == (
        f"The timestamp service address is not an http(s) URL (tsa-url): file://{tmp_path}/tsr"
    )


async def test_the_message_never_shows_the_tsa_s_credentials(pki: Manifest) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    secret = f"http://user:s3cret@127.0.0.1:{port}/tsa?apikey=s3cret#frag"
    with pytest.raises(TimestampFailed) as exc:
        await request_timestamp(hashlib.sha256(b"x").digest(), secret, timeout=2)
    for locale in ("ru", "kk", "en"):
        message = i18n.error_text(exc.value, locale)
        assert f"http://127.0.0.1:{port}/tsa" in message and "s3cret" not in message and "user" not in message


def test_shown_url() -> None:
    assert shown_url("http://tsp.pki.gov.kz") == "http://tsp.pki.gov.kz"
    assert shown_url("https://u:p@TSA.example:8443/ts?k=v#f") == "https://tsa.example:8443/ts"
    assert shown_url("http://[::1]:3180/") == "http://[::1]:3180/"
    assert shown_url("http://h:notaport/x?key=1").endswith("h:notaport/x") and "key" not in shown_url("http://h:x/?key")


def test_a_tsa_error_without_a_problem_keeps_the_generic_text() -> None:
    assert i18n.error_text(TimestampFailed("whatever"), "ru") == "Служба меток времени не ответила корректно."
    with pytest.raises(ValueError):
        TimestampFailed(problem="on_fire")


async def test_timestamping_garbage_cms_is_invalid_params(tsa: TsaServer) -> None:
    with pytest.raises(InvalidParams):
        await add_signature_timestamp(b"\x30\x00", tsa.url, timeout=1)
    assert tsa.requests == 0
