"""The revocation checks' shared HTTP session (agent/http.py) against the real local
OCSP responder."""

from __future__ import annotations

import asyncio
import gc
import warnings

import aiohttp
import pytest
from cryptography import x509
from support.ocsp_server import RevocationServer

from tanba.agent.http import HttpClient
from tanba.agent.setup.testpki import Manifest
from tanba.agent.verify.chain import ChainStatus, ChainValidator


def _leaf_and_intermediate(pki: Manifest, name: str) -> tuple[x509.Certificate, x509.Certificate]:
    return pki.identities[name].certificate(), x509.load_pem_x509_certificate(pki.intermediate_pem.read_bytes())


@pytest.fixture
def sessions_made(monkeypatch: pytest.MonkeyPatch) -> list[aiohttp.ClientSession]:
    made: list[aiohttp.ClientSession] = []
    real = aiohttp.ClientSession

    def counting(*args: object, **kwargs: object) -> aiohttp.ClientSession:
        session = real(*args, **kwargs)  # type: ignore[arg-type]
        made.append(session)
        return session

    monkeypatch.setattr(aiohttp, "ClientSession", counting)
    return made


async def test_checks_share_one_session_until_closed(
    pki: Manifest, ocsp: RevocationServer, sessions_made: list[aiohttp.ClientSession]
) -> None:
    validator = ChainValidator([pki.root_pem], timeout=10.0)
    for name in ("rsa-sign", "ec-sign", "rsa-sign"):
        leaf, inter = _leaf_and_intermediate(pki, name)
        assert await validator.validate(leaf, [inter]) == ChainStatus(True, "good", ())
    assert ocsp.hits["ocsp"] >= 3
    assert len(sessions_made) == 1  # not one session (and one TLS context) per check
    await validator.aclose()
    assert sessions_made[0].closed
    leaf, inter = _leaf_and_intermediate(pki, "rsa-sign-revoked")
    status = await validator.validate(leaf, [inter])  # a check after the close still works
    assert status.revocation == "revoked"
    assert len(sessions_made) == 2
    await validator.aclose()


async def test_a_given_session_is_the_owners_to_close(pki: Manifest, ocsp: RevocationServer) -> None:
    http = HttpClient()
    validator = ChainValidator([pki.root_pem], timeout=10.0, http=http)
    leaf, inter = _leaf_and_intermediate(pki, "rsa-sign")
    assert (await validator.validate(leaf, [inter])).revocation == "good"
    session = http.session()
    await validator.aclose()  # the agent's session outlives a validator (a config reload)
    assert not session.closed
    await http.aclose()
    assert session.closed


def test_a_validator_used_from_a_second_event_loop_still_checks(pki: Manifest, ocsp: RevocationServer) -> None:
    validator = ChainValidator([pki.root_pem], timeout=10.0)
    leaf, inter = _leaf_and_intermediate(pki, "rsa-sign")
    # Two asyncio.run calls: the first loop's session cannot serve the second loop.
    assert asyncio.run(validator.validate(leaf, [inter])).revocation == "good"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert asyncio.run(validator.validate(leaf, [inter])).revocation == "good"
        asyncio.run(validator.aclose())
        gc.collect()
    assert not [w for w in caught if "Unclosed" in str(w.message)]
