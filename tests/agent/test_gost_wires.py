"""GOST keys through the running agent.  NCA's real GOST 2015 key (one key per person), on both wires:
``/v1`` sign (CMS attached/detached, XML, raw refused) and auth, NCALayer's commonUtils
(createCAdESFromBase64 SIGNATURE and AUTHENTICATION, …Hash with a Streebog digest, signXml(s))
and basics (cms, xml, login filter); expired keys under allowExpired; Russian keys on /v1.
Every KZ CMS is checked by tests/support/gost_cms.py, every Russian one by the gost engine."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from support.agent import PORTAL, browser, call, running_agent
from support.consent import ScriptedConsent
from support.gost_cms import check_gost_cms
from tanba.agent.setup.config import Settings
from tanba.crypto import hashes
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.registry import Stores

NCA = Path(__file__).resolve().parents[2] / "../shared/testdata/nca"
needs_nca = pytest.mark.skipif(not NCA.exists(), reason="NCA test data (../shared/testdata/nca) not present")
IIN = "123456789011"
DOC = "Өтініш / Заявление №7".encode()
XML = "<request><iin>123456789011</iin><text>Заявление</text></request>"


@asynccontextmanager
async def nca_agent(tmp_path: Path, consent: ScriptedConsent, *names: str) -> AsyncIterator[Any]:
    stores = Stores([Pkcs12Store([NCA / n for n in names or ("individual_valid.p12",)])])
    settings = Settings(allow_origin=(PORTAL,), autodetect=False)
    try:
        async with running_agent(tmp_path, consent, settings, stores=stores) as server:
            yield server
    finally:
        await stores.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@needs_nca
async def test_v1_sign_cms_attached_detached_and_over_a_digest(tmp_path: Path) -> None:
    consent = ScriptedConsent(pin="Qwerty12")
    async with nca_agent(tmp_path, consent) as server, browser(server) as ws:
        attached = await call(ws, "sign", {"format": "cms", "data": [b64(DOC)], "detached": False})
        detached = await call(ws, "sign", {"format": "cms", "data": [b64(DOC)]}, id=2)
        digest = hashes.digest("streebog512", DOC)
        over_digest = await call(ws, "sign", {"format": "cms", "digests": [b64(digest)],
                                              "digestAlgorithm": "streebog512"}, id=3)
        wrong_hash = await call(ws, "sign", {"format": "cms", "digests": [b64(hashlib.sha256(DOC).digest())],
                                             "digestAlgorithm": "sha256"}, id=4)
    cert, content = check_gost_cms(base64.b64decode(attached["result"]["signatures"][0]))
    assert content == DOC and IIN in cert.subject.rfc4514_string()
    check_gost_cms(base64.b64decode(detached["result"]["signatures"][0]), DOC)
    check_gost_cms(base64.b64decode(over_digest["result"]["signatures"][0]), DOC)
    with pytest.raises(AssertionError):
        check_gost_cms(base64.b64decode(detached["result"]["signatures"][0]), DOC + b"!")
    # a GOST key signs only with its own hash: refused before anyone is asked, saying why
    assert wrong_hash["error"]["data"]["reason"] == "invalid_params"
    assert "streebog512" in wrong_hash["error"]["message"] + str(wrong_hash["error"]["data"])
    assert [k for k, _ in consent.asked].count("confirm") == 3


@needs_nca
async def test_v1_raw_is_refused_with_the_dual_use_key(tmp_path: Path) -> None:
    consent = ScriptedConsent(pin="Qwerty12")
    async with nca_agent(tmp_path, consent) as server, browser(server) as ws:
        raw = await call(ws, "sign", {"format": "raw", "data": [b64(DOC)]})
    assert raw["error"]["data"]["reason"] == "invalid_params"  # it would be a login token (rule 5)
    assert not any(k == "confirm" for k, _ in consent.asked)


@needs_nca
async def test_v1_auth_token_with_the_one_key(tmp_path: Path) -> None:
    from tanba.agent.verify.token import check_signature

    consent = ScriptedConsent(pin="Qwerty12")
    challenge = b64(b"n" * 33)
    async with nca_agent(tmp_path, consent) as server, browser(server) as ws:
        reply = await call(ws, "auth", {"challenge": challenge})
    token = reply["result"]
    assert token["algorithm"] == "GOST3410-2012-512" and len(base64.b64decode(token["signature"])) == 128
    cert = check_signature(token, PORTAL, challenge)
    assert IIN in cert.subject.rfc4514_string()
    with pytest.raises(Exception, match="does not match"):
        check_signature(token, "https://evil.test", challenge)
    confirmation = next(v for k, v in consent.asked if k == "confirm")
    assert confirmation.action.value == "auth"  # the dialog says "log in"


async def ncalayer(ws: Any, method: str, *args: Any, module: str = "kz.gov.pki.knca.commonUtils") -> Any:
    import json

    named = module.endswith("basics")  # basics takes one object of named args
    await ws.send(json.dumps({"module": module, "method": method, "args": args[0] if named else list(args)}))
    return json.loads(await ws.recv())


@needs_nca
async def test_ncalayer_common_utils_with_the_gost_key(tmp_path: Path) -> None:
    import json

    from websockets.asyncio.client import connect

    consent = ScriptedConsent(pin="Qwerty12")
    async with nca_agent(tmp_path, consent) as server:
        async with connect(f"ws://127.0.0.1:{server.port}/", origin=PORTAL) as ws:  # type: ignore[arg-type]
            assert json.loads(await ws.recv()) == {"result": {"version": "1.4"}}
            info = await ncalayer(ws, "getKeyInfo", "PKCS12")
            sign = await ncalayer(ws, "createCAdESFromBase64", "PKCS12", "SIGNATURE", b64(DOC), True)
            login = await ncalayer(ws, "createCAdESFromBase64", "PKCS12", "AUTHENTICATION", b64(b"challenge"), True)
            digest = await ncalayer(ws, "createCAdESFromBase64Hash", "PKCS12", "SIGNATURE",
                                    b64(hashes.digest("streebog512", DOC)))
            sha = await ncalayer(ws, "createCAdESFromBase64Hash", "PKCS12", "SIGNATURE", b64(hashlib.sha256(DOC).digest()))
            xml = await ncalayer(ws, "signXml", "PKCS12", "SIGNATURE", XML, "", "")
            xmls = await ncalayer(ws, "signXmls", "PKCS12", "AUTHENTICATION", [XML, "<a>два</a>"], "", "")
    assert info["code"] == "200" and info["responseObject"]["algorithm"] == "ECGOST3410-2015"
    assert IIN in info["responseObject"]["subjectDn"]
    for answer in (sign, login, digest, xml, xmls):
        assert answer["code"] == "200", answer
    assert check_gost_cms(sign["responseObject"])[1] == DOC
    assert check_gost_cms(login["responseObject"])[1] == b"challenge"
    check_gost_cms(digest["responseObject"], DOC)
    assert sha["code"] == "500"  # a 32-byte digest is no Streebog-512 digest
    assert "gostr34102015-gostr34112015-512" in xml["responseObject"] and "<ds:Signature" in xml["responseObject"]
    assert len(xmls["responseObject"]) == 2
    actions = [v.action.value for k, v in consent.asked if k == "confirm"]
    assert actions == ["disclose", "sign", "auth", "sign", "sign", "auth"]  # getKeyInfo discloses


@needs_nca
async def test_ncalayer_basics_cms_xml_and_login_filter(tmp_path: Path) -> None:
    import json

    from websockets.asyncio.client import connect

    consent = ScriptedConsent(pin="Qwerty12")
    login_signer = {"extKeyUsageOids": ["1.3.6.1.5.5.7.3.2"], "chain": []}
    async with nca_agent(tmp_path, consent) as server:
        async with connect(f"ws://127.0.0.1:{server.port}/", origin=PORTAL) as ws:  # type: ignore[arg-type]
            await ws.recv()
            cms_answer = await ncalayer(ws, "sign", {
                "allowedStorages": ["PKCS12"], "format": "cms", "data": b64(DOC),
                "signingParams": {"decode": True, "encapsulate": True},
                "signerParams": {"extKeyUsageOids": ["1.3.6.1.5.5.7.3.4"], "iin": IIN}, "locale": "ru",
            }, module="kz.gov.pki.knca.basics")
            xml_answer = await ncalayer(ws, "sign", {
                "allowedStorages": ["PKCS12"], "format": "xml", "data": XML,
                "signingParams": {}, "signerParams": {"extKeyUsageOids": ["1.3.6.1.5.5.7.3.4"]}, "locale": "ru",
            }, module="kz.gov.pki.knca.basics")
            login = await ncalayer(ws, "sign", {
                "allowedStorages": ["PKCS12"], "format": "cms", "data": b64(b"login-nonce"),
                "signingParams": {"decode": True, "encapsulate": True}, "signerParams": login_signer, "locale": "kk",
            }, module="kz.gov.pki.knca.basics")
            raw = await ncalayer(ws, "sign", {
                "allowedStorages": ["PKCS12"], "format": "raw", "data": b64(DOC),
                "signingParams": {"decode": True}, "signerParams": {}, "locale": "ru",
            }, module="kz.gov.pki.knca.basics")
    assert cms_answer["status"] is True, cms_answer
    assert check_gost_cms(cms_answer["body"]["result"])[1] == DOC
    assert xml_answer["status"] is True and "gostr34102015-gostr34112015-512" in xml_answer["body"]["result"][0]
    assert login["status"] is True and check_gost_cms(login["body"]["result"])[1] == b"login-nonce"
    assert raw["status"] is False  # a raw signature by a login-capable key is never made
    actions = [v.action.value for k, v in consent.asked if k == "confirm"]
    assert actions == ["sign", "sign", "auth"]


@pytest.mark.parametrize("source", ["gost-pki-2004", pytest.param("nca-rsa", marks=needs_nca)])
async def test_expired_keys_sign_only_where_allow_expired_says_so(tmp_path: Path, source: str) -> None:
    import json

    from websockets.asyncio.client import connect

    from tanba.agent.setup.gost_pki import make_gost_pki

    if source == "gost-pki-2004":
        gost = make_gost_pki(tmp_path / "gost")
        path, pin = gost.p12["gost-kz-2004-expired"], gost.password
    else:  # NCA's files named gost2004_*: RSA keys of "ҰКО 3.0 (RSA TEST)", expired in 2022
        path, pin = NCA / "gost2004_sign_expired.p12", "Qwerty12"
    consent = ScriptedConsent(pin=pin)
    stores = Stores([Pkcs12Store([path])])

    def basics(allow: bool | None) -> dict[str, Any]:
        signing: dict[str, Any] = {"decode": True, "encapsulate": True}
        if allow is not None:
            signing["allowExpired"] = allow
        return {"allowedStorages": ["PKCS12"], "format": "cms", "data": b64(DOC), "signingParams": signing,
                "signerParams": {"extKeyUsageOids": ["1.3.6.1.5.5.7.3.4"]}, "locale": "ru"}

    try:
        async with running_agent(tmp_path, consent, Settings(allow_origin=(PORTAL,), autodetect=False),
                                 stores=stores) as server:
            async with connect(f"ws://127.0.0.1:{server.port}/", origin=PORTAL) as ws:  # type: ignore[arg-type]
                await ws.recv()
                refused = await ncalayer(ws, "sign", basics(None), module="kz.gov.pki.knca.basics")
                allowed = await ncalayer(ws, "sign", basics(True), module="kz.gov.pki.knca.basics")
    finally:
        await stores.close()
    assert refused["status"] is False and "no_certificate" in json.dumps(refused)
    assert allowed["status"] is True, allowed
    if source == "gost-pki-2004":
        cert, content = check_gost_cms(allowed["body"]["result"])
        assert content == DOC and cert.signature_algorithm_oid.dotted_string == "1.2.398.3.10.1.1.2.3.2"
        from asn1crypto import cms

        signer = cms.ContentInfo.load(base64.b64decode("".join(allowed["body"]["result"].splitlines()[1:-1])))
        [info] = list(signer["content"]["signer_infos"])
        assert info["digest_algorithm"]["algorithm"].dotted == "1.2.398.3.10.1.3.1"  # GOST 34.311-95


@pytest.mark.parametrize("bits", [256, 512])
async def test_v1_sign_and_auth_with_a_russian_key(tmp_path: Path, bits: int) -> None:
    """A Russian GOST 2012 key (made by the gost engine, in the engine's TC26 PKCS#12):
    /v1 CMS checked by `openssl cms -verify` with the engine, the auth token by the demo's
    back-end check (RFC byte order, Streebog of the key's size)."""
    from support.gost_engine import openssl
    from tanba.agent.verify.token import check_signature

    md = f"-md_gost12_{bits}"
    openssl(tmp_path, "genpkey", "-algorithm", f"gost2012_{bits}", "-pkeyopt", "paramset:A", "-out", "k.pem")
    openssl(tmp_path, "req", "-x509", "-new", "-key", "k.pem", "-subj", "/C=RU/CN=Петров Пётр", "-utf8", "-days", "9",
            md, "-out", "c.pem", "-addext", "keyUsage=critical,digitalSignature,nonRepudiation",
            "-addext", "extendedKeyUsage=clientAuth,emailProtection")
    openssl(tmp_path, "pkcs12", "-export", "-inkey", "k.pem", "-in", "c.pem", "-out", "ru.p12", "-passout", "pass:1234",
            "-keypbe", "gost89", "-certpbe", "gost89", "-macalg", "md_gost12_512")
    consent = ScriptedConsent(pin="1234")
    stores = Stores([Pkcs12Store([tmp_path / "ru.p12"])])
    challenge = b64(b"r" * 33)
    try:
        async with running_agent(tmp_path, consent, Settings(allow_origin=(PORTAL,), autodetect=False),
                                 stores=stores) as server, browser(server) as ws:
            signed = await call(ws, "sign", {"format": "cms", "data": [b64(DOC)], "detached": False})
            token = await call(ws, "auth", {"challenge": challenge}, id=2)
    finally:
        await stores.close()
    (tmp_path / "doc.p7s").write_bytes(base64.b64decode(signed["result"]["signatures"][0]))
    ok = openssl(tmp_path, "cms", "-verify", "-binary", "-inform", "DER", "-in", "doc.p7s", "-CAfile", "c.pem",
                 "-purpose", "any", "-out", "out.bin", check=False)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "out.bin").read_bytes() == DOC
    assert token["result"]["algorithm"] == f"GOST3410-2012-{bits}"
    check_signature(token["result"], PORTAL, challenge)
    with pytest.raises(Exception, match="does not match"):
        check_signature(token["result"], PORTAL, b64(b"s" * 33))
