"""The NCALayer endpoint's TSA: NCA's when ``tsa-url`` is unset, the configured one, none for ``""``.

NCA's real TSA is never contacted: the agent's HTTP client is a fake that records what it
is asked and answers like an unplugged network cable.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tanba.cli.serve import command as serve_command
from support.agent import PORTAL, browser, call, running_agent
from support.consent import ScriptedConsent
from support.native import agent_with_keys, b64, reason
from tanba.agent.http import FetchError, HttpClient
from tanba.agent.ncalayer.timestamps import NCA_TSA_URL, tsa_url
from tanba.agent.setup.config import Settings, build_settings, parse_config
from tanba.agent.setup.testpki import Manifest
from tanba.agent.transport.server import AgentServer
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.registry import Stores

DOC = b"timestamped document"
NOT_CONFIGURED = {
    "en": "No timestamp service configured (tsa-url): the signature cannot be timestamped.",
    "ru": "Служба меток времени не настроена (tsa-url): метку времени к подписи добавить нельзя.",
    "kk": "Уақыт белгісі қызметі бапталмаған (tsa-url): қолтаңбаға уақыт белгісін қосу мүмкін емес.",
}


class OfflineHttp(HttpClient):
    """Records every fetch; none reaches the network."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[tuple[str, str | None]] = []

    async def fetch(self, url: str, *, accept: str, max_bytes: int, timeout: float, body: bytes | None = None,
                    content_type: str | None = None) -> bytes:
        self.fetched.append((url, content_type))
        raise FetchError(f"{url}: no network in this test", "unreachable")


def settings(**kw: Any) -> Settings:
    return Settings(allow_origin=(PORTAL,), autodetect=False, **kw)


def test_unset_is_nca_s_tsa_empty_is_none_else_the_configured_one() -> None:
    assert NCA_TSA_URL == "http://tsp.pki.gov.kz"
    assert tsa_url(settings()) == "http://tsp.pki.gov.kz"
    assert tsa_url(settings(tsa_url="http://127.0.0.1:3180/tsa")) == "http://127.0.0.1:3180/tsa"
    assert tsa_url(settings(tsa_url="")) is None


def test_the_file_and_the_flag_pass_an_empty_tsa_url_through(tmp_path: Path) -> None:
    """``tsa-url = ""`` in the file and ``--tsa-url ""`` on the command line both mean off,
    and the flag overrides a URL in the file."""
    assert parse_config({"tsa-url": ""}, tmp_path) == {"tsa_url": ""}
    assert build_settings(parse_config({"tsa-url": ""}, tmp_path), {"tsa_url": None}).tsa_url == ""
    flags = serve_command.make_context("serve", ["--tsa-url", ""]).params
    assert flags["tsa_url"] == ""
    assert build_settings({"tsa_url": "http://tsa.example"}, {"tsa_url": flags["tsa_url"]}).tsa_url == ""
    unset = serve_command.make_context("serve", []).params
    assert build_settings({}, {"tsa_url": unset["tsa_url"]}).tsa_url is None


@asynccontextmanager
async def offline_agent(tmp_path: Path, pki: Manifest, user: ScriptedConsent, http: OfflineHttp,
                        conf: Settings) -> AsyncIterator[AgentServer]:
    stores = Stores([Pkcs12Store([pki.identities["rsa-sign"].p12])])
    try:
        async with running_agent(tmp_path, user, conf, stores=stores, http=http) as server:
            yield server
    finally:
        await stores.close()


@asynccontextmanager
async def page(server: AgentServer) -> AsyncIterator[ClientConnection]:
    async with connect(f"ws://127.0.0.1:{server.port}/", origin=PORTAL) as ws:  # type: ignore[arg-type]
        await ws.recv()  # greeting
        yield ws


async def ask(ws: ClientConnection, request: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(request))
    answer: dict[str, Any] = json.loads(await ws.recv())
    return answer


def create_cms_signature() -> dict[str, Any]:
    return {"module": "kz.gov.pki.knca.commonUtils", "method": "createCMSSignatureFromBase64",
            "args": ["PKCS12", "SIGNATURE", b64(DOC), False]}


def basics_detached(locale: str) -> dict[str, Any]:
    # ncalayer-js-client's basicsCMSParamsDetached
    return {"module": "kz.gov.pki.knca.basics", "method": "sign",
            "args": {"allowedStorages": ["PKCS12"], "format": "cms", "data": b64(DOC),
                     "signingParams": {"decode": True, "encapsulate": False, "digested": False, "tsaProfile": {}},
                     "signerParams": {"extKeyUsageOids": ["1.3.6.1.5.5.7.3.4"]}, "locale": locale}}


async def test_unset_tsa_url_asks_nca_s_tsa_on_the_ncalayer_endpoint(tmp_path: Path, pki: Manifest) -> None:
    http = OfflineHttp()
    async with offline_agent(tmp_path, pki, ScriptedConsent(pin="123456"), http, settings()) as server, page(server) as ws:
        common = await ask(ws, create_cms_signature())
        basics = await ask(ws, basics_detached("ru"))
    assert http.fetched == [(NCA_TSA_URL, "application/timestamp-query")] * 2
    assert common == {"code": "500", "message": "The timestamp service at http://tsp.pki.gov.kz did not answer."}
    assert basics == {"status": False, "code": "SIGNING_FAILURE", "details": "timestamp_failed",
                      "message": "Служба меток времени по адресу http://tsp.pki.gov.kz не ответила."}


async def test_v1_never_falls_back_to_nca_s_tsa(tmp_path: Path, pki: Manifest) -> None:
    http = OfflineHttp()
    user = ScriptedConsent(pin="123456")
    async with offline_agent(tmp_path, pki, user, http, settings()) as server, browser(server) as ws:
        reply = await call(ws, "sign", {"format": "cms", "data": [b64(DOC)], "timestamp": True})
    assert reason(reply) == "timestamp_failed"
    assert http.fetched == [] and user.asked == []  # refused before the dialog; no TSA contacted


@pytest.mark.parametrize("locale", ["ru", "kk", "en"])
async def test_empty_tsa_url_is_no_timestamp_service_and_nothing_is_contacted(
    tmp_path: Path, pki: Manifest, locale: str
) -> None:
    http = OfflineHttp()
    user = ScriptedConsent(pin="123456")
    async with offline_agent(tmp_path, pki, user, http, settings(tsa_url="")) as server, page(server) as ws:
        assert await ask(ws, {"module": "kz.gov.pki.knca.commonUtils", "method": "changeLocale", "args": [locale]}) == {"code": "200"}
        common = await ask(ws, create_cms_signature())
        basics = await ask(ws, basics_detached(locale))
        untimestamped = await ask(ws, {"module": "kz.gov.pki.knca.commonUtils", "method": "createCAdESFromBase64",
                                       "args": ["PKCS12", "SIGNATURE", b64(DOC), False]})
    assert common == {"code": "500", "message": NOT_CONFIGURED[locale]}
    assert basics == {"status": False, "code": "SIGNING_FAILURE", "message": NOT_CONFIGURED[locale],
                      "details": "timestamp_failed"}
    assert untimestamped["code"] == "200"  # signing without a timestamp still works
    assert http.fetched == []
    assert [kind for kind, _ in user.asked].count("confirm") == 1  # only the untimestamped one was confirmed


async def test_a_tsa_on_a_closed_port_did_not_answer(tmp_path: Path, pki: Manifest) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nobody listens
    url = f"http://127.0.0.1:{port}/tsa"
    conf = Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), autodetect=False, tsa_url=url)
    async with agent_with_keys(tmp_path, pki, ScriptedConsent(pin="123456"), p12=["rsa-sign"], settings=conf) as server:
        async with page(server) as ws:
            common = await ask(ws, create_cms_signature())
            basics = await ask(ws, basics_detached("kk"))
    assert common == {"code": "500", "message": f"The timestamp service at {url} did not answer."}
    assert basics["message"] == f"{url} мекенжайындағы уақыт белгісі қызметі жауап бермеді."
