"""The real ``ncalayer-js-client`` (npm, unmodified) against a running agent on ``/``.

``drive.js`` calls the client's API the way a portal page does; this test starts the agent
with the test PKI's PKCS#12 files and the SoftHSM token (under the storage name
``AKKaztokenStore``), a scripted user who cancels any document reading "CANCEL ME", and a
test TSA, then checks every answer: every CMS with ``openssl cms -verify`` (and the CAdES-T
ones' timestamp tokens with ``openssl ts -verify``), every XML with ``xmlsec1 --verify``;
then, against agents with no usable TSA, that the client's timestamping calls are told which
case it is.  Needs ``npm ci`` in this directory (.ci/run does it).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms as acms
from cryptography import x509

from support.agent import PORTAL
from support.consent import ScriptedConsent
from support.native import agent_with_keys, b64, openssl_cms_verify, xmlsec_verify
from support.tsa_server import TsaServer
from tanba.agent.consent.base import Action, Confirmation, PinRequest
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest
from tanba.protocol import i18n
from tanba.protocol.errors import NoCertificate

HERE = Path(__file__).resolve().parent
DOC = "Өтініш / Заявление №7: справка".encode()
DOCS = [b"first document", "второй документ".encode()]
CHALLENGE = b"login-challenge-3f9a1c"
XML = '<?xml version="1.0" encoding="UTF-8"?><request><iin>850101300015</iin><text>Заявление</text></request>'
XMLS = ["<a><b>one</b></a>", "<doc><item>два</item></doc>"]
CANCEL = b"CANCEL ME"


class DeskUser(ScriptedConsent):
    """Types the file password or the token PIN, and refuses documents reading CANCEL ME."""

    async def get_pin(self, request: PinRequest) -> bytearray | None:
        on_token = request.identity is not None and request.identity.storage == "AKKaztokenStore"
        self.pin = "1234" if on_token else "123456"
        return await super().get_pin(request)

    async def confirm(self, confirmation: Confirmation) -> bool:
        self.asked.append(("confirm", confirmation))
        return not any(d.preview == CANCEL.decode() for d in confirmation.documents)


def _pem_to_der(pem: str) -> bytes:
    match = re.fullmatch(r"-----BEGIN CMS-----\n([A-Za-z0-9+/=\n]+)\n-----END CMS-----\n", pem)
    assert match, pem
    assert all(len(line) <= 64 for line in match.group(1).split("\n"))
    return base64.b64decode(match.group(1))


def _signer(pki: Manifest, tmp_path: Path, cms: bytes) -> x509.Certificate:
    (tmp_path / "signer.der").write_bytes(cms)
    subprocess.run(["openssl", "cms", "-cmsout", "-inform", "DER", "-in", str(tmp_path / "signer.der"), "-print"],
                   check=True, capture_output=True, timeout=30)
    out = subprocess.run(["openssl", "pkcs7", "-inform", "DER", "-in", str(tmp_path / "signer.der"), "-print_certs"],
                         check=True, capture_output=True, timeout=30).stdout
    return x509.load_pem_x509_certificates(out)[0]


def _verify_login_cms(pki: Manifest, tmp_path: Path, cms: bytes) -> bytes:
    """``openssl cms -verify`` for a CMS made with an authentication (clientAuth) key:
    OpenSSL checks the S/MIME purpose by default, which such a key has not, so the purpose
    check is lifted (``-purpose any``); signature and chain are still verified."""
    (tmp_path / "login.der").write_bytes(cms)
    cafile = tmp_path / "login-ca.pem"
    cafile.write_bytes(pki.root_pem.read_bytes() + pki.intermediate_pem.read_bytes())
    proc = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "login.der"),
                           "-CAfile", str(cafile), "-purpose", "any", "-out", str(tmp_path / "login.out")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Verification successful" in proc.stderr, proc.stderr
    return (tmp_path / "login.out").read_bytes()


def _has_timestamp(tmp_path: Path, cms: bytes) -> bool:
    (tmp_path / "ts.der").write_bytes(cms)
    out = subprocess.run(["openssl", "cms", "-cmsout", "-inform", "DER", "-in", str(tmp_path / "ts.der"), "-print"],
                         check=True, capture_output=True, text=True, timeout=30).stdout
    return "id-smime-aa-timeStampToken" in out


def _signature_and_token(cms: bytes) -> tuple[bytes, bytes]:
    """The one SignerInfo's signature value and its signatureTimeStampToken (DER): CAdES-T."""
    [info] = acms.ContentInfo.load(cms)["content"]["signer_infos"]
    [token] = [v.dump() for a in (info["unsigned_attrs"] or []) if a["type"].native == "signature_time_stamp_token"
               for v in a["values"]]
    return info["signature"].native, token


def _verify_cades_t(pki: Manifest, tmp_path: Path, cms: bytes, content: bytes) -> None:
    """``openssl cms -verify`` of the detached CMS, then ``openssl ts -verify`` of its token
    over the signature value it stamps, against the test PKI (the TSA's chain)."""
    openssl_cms_verify(pki, tmp_path, cms, content=content)
    signature, token = _signature_and_token(cms)
    (tmp_path / "token.der").write_bytes(token)
    (tmp_path / "sigvalue.bin").write_bytes(signature)
    proc = subprocess.run(["openssl", "ts", "-verify", "-in", str(tmp_path / "token.der"), "-token_in",
                           "-data", str(tmp_path / "sigvalue.bin"), "-CAfile", str(pki.root_pem),
                           "-untrusted", str(pki.intermediate_pem)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Verification: OK" in proc.stdout, proc.stdout + proc.stderr


def _ok(out: dict[str, Any], step: str) -> Any:
    assert out[step]["ok"], (step, out[step])
    return out[step].get("value")  # JSON drops an undefined value (changeLocale)


async def _drive(url: str, workdir: Path, **extra: Any) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is not installed"
    assert (HERE / "node_modules" / "ncalayer-js-client").is_dir(), "run `npm ci` in tests/ncalayer_client"
    data = {
        "doc": b64(DOC),
        "docs": [b64(d) for d in DOCS],
        "docSha256": b64(hashlib.sha256(DOC).digest()),
        "challenge": b64(CHALLENGE),
        "xml": XML,
        "xmls": XMLS,
        "cancelDoc": b64(CANCEL),
        **extra,
    }
    (workdir / "input.json").write_text(json.dumps(data), "utf-8")
    proc = await asyncio.create_subprocess_exec(
        node, str(HERE / "drive.js"), url, PORTAL, str(workdir / "input.json"),
        cwd=HERE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, stderr.decode()
    result: dict[str, Any] = json.loads(stdout)
    return result


async def test_ncalayer_js_client_against_the_agent(tmp_path: Path, pki: Manifest, softhsm: Any) -> None:
    user = DeskUser()
    with TsaServer(pki.tsa_pem, pki.tsa_key_pem) as tsa:
        settings = Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), tsa_url=tsa.url, autodetect=False)
        async with agent_with_keys(tmp_path, pki, user, p12=["rsa-auth", "rsa-sign"], softhsm_module=softhsm.module,
                                   settings=settings) as server:
            out = await _drive(f"ws://127.0.0.1:{server.port}/", tmp_path)

    sign_cert = pki.identities["rsa-sign"].certificate()
    auth_cert = pki.identities["rsa-auth"].certificate()
    p12_certs = {sign_cert, auth_cert}

    assert _ok(out, "connect") == "1.4"
    assert _ok(out, "isKmd") is False  # the getVersion probe was answered MODULE_NOT_FOUND
    assert _ok(out, "getActiveTokens") == ["AKKaztokenStore"]  # the token is there; files are not tokens

    info = _ok(out, "getKeyInfo")
    disclosed = x509.load_pem_x509_certificate(info["pem"].encode())
    assert disclosed in p12_certs
    assert info["serialNumber"] == format(disclosed.serial_number, "x")
    assert set(info) >= {"alias", "keyId", "algorithm", "subjectCn", "subjectDn", "issuerCn", "issuerDn",
                         "certNotAfter", "certNotBefore", "authorityKeyIdentifier"}
    disclosure = next(q for k, q in user.asked if k == "confirm" and q.action is Action.DISCLOSE)
    assert disclosure.origin == PORTAL and len(disclosure.identities) == 1

    attached = base64.b64decode(_ok(out, "cadesAttached"))
    assert openssl_cms_verify(pki, tmp_path, attached) == DOC.decode()
    assert _signer(pki, tmp_path, attached) == sign_cert  # SIGNATURE: the signing key, never the auth key

    detached = base64.b64decode(_ok(out, "cadesDetachedToken"))
    openssl_cms_verify(pki, tmp_path, detached, content=DOC)
    assert _signer(pki, tmp_path, detached) in {sign_cert, pki.identities["ec-sign"].certificate()}

    auth = base64.b64decode(_ok(out, "cadesAuth"))
    assert _verify_login_cms(pki, tmp_path, auth) == CHALLENGE
    assert _signer(pki, tmp_path, auth) == auth_cert  # AUTHENTICATION: the auth key, confirmed as a login
    assert any(k == "confirm" and q.action is Action.AUTH for k, q in user.asked)

    over_hash = base64.b64decode(_ok(out, "cadesHash"))
    openssl_cms_verify(pki, tmp_path, over_hash, content=DOC)

    stamped = base64.b64decode(_ok(out, "cmsWithTimestamp"))
    _verify_cades_t(pki, tmp_path, stamped, DOC)  # CAdES-T from the configured (test) TSA
    assert _has_timestamp(tmp_path, stamped)
    assert not _has_timestamp(tmp_path, detached)  # createCAdES* adds none

    signed_xml = _ok(out, "signXml")
    assert isinstance(signed_xml, str) and "<ds:Signature" in signed_xml
    xmlsec_verify(pki, tmp_path, signed_xml.encode())
    signed_xmls = _ok(out, "signXmls")
    assert len(signed_xmls) == 2
    for doc in signed_xmls:
        xmlsec_verify(pki, tmp_path, doc.encode())

    pems = _ok(out, "basicsCmsArray")
    assert isinstance(pems, list) and len(pems) == 2  # array in, array out
    for doc, pem in zip(DOCS, pems, strict=True):
        openssl_cms_verify(pki, tmp_path, _pem_to_der(pem), content=doc)
    detached_tsp = _ok(out, "basicsCmsDetachedTsp")  # basicsCMSParamsDetached: tsaProfile {}
    assert isinstance(detached_tsp, str)
    _verify_cades_t(pki, tmp_path, _pem_to_der(detached_tsp), DOC)
    single = _ok(out, "basicsCmsAttachedTsp")
    assert isinstance(single, str)  # string in, string out
    attached_tsp = _pem_to_der(single)
    assert openssl_cms_verify(pki, tmp_path, attached_tsp) == DOC.decode()
    assert _has_timestamp(tmp_path, attached_tsp)  # tsaProfile: {} asks the default TSA
    hashed = _pem_to_der(_ok(out, "basicsCmsHash"))
    openssl_cms_verify(pki, tmp_path, hashed, content=DOC)
    assert _has_timestamp(tmp_path, hashed)

    xml_docs = _ok(out, "basicsXmlArray")
    assert len(xml_docs) == 2
    for doc in xml_docs:
        xmlsec_verify(pki, tmp_path, doc.encode())
    [auth_xml] = _ok(out, "basicsXmlAuth")  # an array even for one document
    xmlsec_verify(pki, tmp_path, auth_xml.encode())
    assert re.search(r"<ds:X509Certificate>", auth_xml)

    assert out["cancelCommon"] == {"ok": False, "message": "500: action.canceled", "canceledByUser": False}
    assert out["cancelBasics"] == {"ok": False, "message": "cancelled by user", "canceledByUser": True}

    assert _ok(out, "changeLocale") is None
    kazakh = i18n.error_text(NoCertificate(), "kk")
    assert out["noCertificateInKazakh"]["message"] == f"500: {kazakh}"
    assert out["badArgument"]["ok"] is False and out["badArgument"]["message"].startswith("500: ")
    assert json.loads(out["unknownModule"]["raw"]) == {"success": False, "errorCode": "MODULE_NOT_FOUND"}
    assert out["unknownModule"]["ok"] is False


async def _timestamp_steps(tmp_path: Path, pki: Manifest, tsa_url: str) -> dict[str, Any]:
    """Only the client's timestamping calls, against an agent whose ``tsa-url`` is ``tsa_url``."""
    settings = Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), tsa_url=tsa_url, autodetect=False)
    async with agent_with_keys(tmp_path, pki, DeskUser(), p12=["rsa-sign"], settings=settings) as server:
        return await _drive(f"ws://127.0.0.1:{server.port}/", tmp_path, timestampsOnly=True)


async def test_without_a_tsa_the_client_is_told_no_timestamp_service_is_configured(tmp_path: Path, pki: Manifest) -> None:
    out = await _timestamp_steps(tmp_path, pki, "")  # tsa-url = "": timestamps off
    assert out["cmsWithTimestamp"] == {
        "ok": False, "canceledByUser": False,
        "message": "500: No timestamp service configured (tsa-url): the signature cannot be timestamped.",
    }
    assert out["basicsCmsDetachedTsp"] == {
        "ok": False, "canceledByUser": False,
        "message": "SIGNING_FAILURE: Служба меток времени не настроена (tsa-url): метку времени к подписи "
                   "добавить нельзя. (timestamp_failed)",
    }


async def test_a_tsa_that_does_not_answer_is_named(tmp_path: Path, pki: Manifest) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nobody listens
    url = f"http://127.0.0.1:{port}/tsa"
    out = await _timestamp_steps(tmp_path, pki, url)
    assert out["cmsWithTimestamp"]["message"] == f"500: The timestamp service at {url} did not answer."
    assert out["basicsCmsDetachedTsp"]["message"] == (
        f"SIGNING_FAILURE: Служба меток времени по адресу {url} не ответила. (timestamp_failed)"
    )


async def test_a_tsa_that_answers_badly_says_what_it_answered(tmp_path: Path, pki: Manifest) -> None:
    with TsaServer(pki.tsa_pem, pki.tsa_key_pem, mode="http500") as tsa:
        out = await _timestamp_steps(tmp_path, pki, tsa.url)
    assert out["cmsWithTimestamp"]["message"] == f"500: The timestamp service at {tsa.url} answered: HTTP 500."
    assert out["basicsCmsDetachedTsp"]["message"] == (
        f"SIGNING_FAILURE: Служба меток времени по адресу {tsa.url} ответила: HTTP 500. (timestamp_failed)"
    )


NCA = Path(__file__).resolve().parents[2] / "../shared/testdata/nca"


class NcaUser(DeskUser):
    """The owner of NCA's test key file (password Qwerty12); refuses CANCEL ME documents."""

    async def get_pin(self, request: PinRequest) -> bytearray | None:
        self.pin = "Qwerty12"
        return await ScriptedConsent.get_pin(self, request)


@pytest.mark.skipif(not NCA.exists(), reason="NCA test data (../shared/testdata/nca) not present")
async def test_ncalayer_js_client_with_nca_s_gost_key(tmp_path: Path, pki: Manifest) -> None:
    """The same client run with only NCA's one-key-per-person GOST file: every P12 step
    signs with that key (SIGNATURE and AUTHENTICATION alike), CMS checked by the test's own
    GOST CMS check and by Tanba's verifier with NCA's chain, XML by Tanba's verifier."""
    from support.gost_cms import check_gost_cms
    from tanba.agent.verify.chain import ChainValidator
    from tanba.agent.verify.cms import verify_cms
    from tanba.agent.verify.xml import verify_xml
    from tanba.crypto import hashes
    from tanba.providers.pkcs12 import Pkcs12Store
    from tanba.providers.registry import Stores
    from support.agent import running_agent

    user = NcaUser()
    stores = Stores([Pkcs12Store([NCA / "individual_valid.p12"])])
    with TsaServer(pki.tsa_pem, pki.tsa_key_pem) as tsa:
        settings = Settings(allow_origin=(PORTAL,), tsa_url=tsa.url, autodetect=False)
        try:
            async with running_agent(tmp_path, user, settings, stores=stores) as server:
                out = await _drive(f"ws://127.0.0.1:{server.port}/", tmp_path,
                                   docHash=b64(hashes.digest("streebog512", DOC)))
        finally:
            await stores.close()
    validator = ChainValidator([NCA / "root_test_gost_2022.cer"], intermediates=[NCA / "nca_gost2022_test.cer"],
                               revocation="off")

    async def tanba_says_valid(cms: bytes, content: bytes | None = None) -> None:
        result = await verify_cms(cms, validator, data=content)
        assert result.valid and result.signers[0].chain_valid, result

    info = _ok(out, "getKeyInfo")
    assert info["algorithm"] == "ECGOST3410-2015" and "IIN123456789011" in info["subjectDn"]
    attached = base64.b64decode(_ok(out, "cadesAttached"))
    assert check_gost_cms(attached)[1] == DOC
    await tanba_says_valid(attached)
    assert check_gost_cms(base64.b64decode(_ok(out, "cadesAuth")))[1] == CHALLENGE  # the one key logs in too
    assert any(k == "confirm" and q.action is Action.AUTH for k, q in user.asked)
    over_hash = base64.b64decode(_ok(out, "cadesHash"))
    check_gost_cms(over_hash, DOC)
    await tanba_says_valid(over_hash, DOC)
    stamped = base64.b64decode(_ok(out, "cmsWithTimestamp"))
    check_gost_cms(stamped, DOC)
    assert _has_timestamp(tmp_path, stamped)
    for doc in (_ok(out, "signXml"),):
        assert "gostr34102015-gostr34112015-512" in doc
        result = await verify_xml(doc.encode(), validator)
        assert result.valid, result
    for doc, pem in zip(DOCS, _ok(out, "basicsCmsArray"), strict=True):
        check_gost_cms(_pem_to_der(pem), doc)
    detached_tsp = _pem_to_der(_ok(out, "basicsCmsDetachedTsp"))
    check_gost_cms(detached_tsp, DOC)
    assert _has_timestamp(tmp_path, detached_tsp)
    attached_tsp = _pem_to_der(_ok(out, "basicsCmsAttachedTsp"))  # basicsSignerSignPerson finds it
    assert check_gost_cms(attached_tsp)[1] == DOC and _has_timestamp(tmp_path, attached_tsp)
    for doc in _ok(out, "basicsXmlArray"):
        assert (await verify_xml(doc.encode(), validator)).valid
    [auth_xml] = _ok(out, "basicsXmlAuth")  # basicsSignerAuthAny ([clientAuth]) finds the one key
    assert (await verify_xml(auth_xml.encode(), validator)).valid
    # no token here: the token steps answer no certificate, the client gets NCALayer's 500
    assert out["cadesDetachedToken"]["ok"] is False and out["signXmls"]["ok"] is False
    assert out["cancelCommon"] == {"ok": False, "message": "500: action.canceled", "canceledByUser": False}
    await validator.aclose()
