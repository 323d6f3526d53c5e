"""The GOST key on the SoftHSM token (softhsm-setup.sh's "tanba-gost", a gost-engine-made GOST
2012-256 key) through the running agent on both wires and through the command line; every CMS
checked by `openssl cms -verify` with the gost engine."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from websockets.asyncio.client import connect

from conftest import SoftHSMGost
from support.agent import PORTAL, browser, call, running_agent
from support.consent import ScriptedConsent
from support.gost_engine import openssl
from tanba.agent.setup.config import Settings
from tanba.cli.main import main
from tanba.providers.pkcs11 import Pkcs11Store
from tanba.providers.registry import Stores

DOC = "Заявление о выдаче справки №3".encode()
pytestmark = pytest.mark.softhsm


def engine_verifies(tmp: Path, hsm: SoftHSMGost, cms: bytes, content: bytes | None = None) -> bytes:
    (tmp / "sig.der").write_bytes(cms)
    args = ["cms", "-verify", "-binary", "-inform", "DER", "-in", "sig.der", "-CAfile", str(hsm.pki / "ca.pem"),
            "-purpose", "any", "-out", "out.bin"]
    if content is not None:
        (tmp / "content.bin").write_bytes(content)
        args += ["-content", "content.bin"]
    done = openssl(tmp, *args, check=False)
    assert done.returncode == 0, done.stderr
    return (tmp / "out.bin").read_bytes()


async def test_v1_and_ncalayer_sign_with_the_gost_token(tmp_path: Path, softhsm_gost: SoftHSMGost) -> None:
    consent = ScriptedConsent(pin=softhsm_gost.pin)
    stores = Stores([Pkcs11Store(Path(softhsm_gost.module), "AKKaztokenStore")])
    b64 = base64.b64encode(DOC).decode()
    try:
        async with running_agent(tmp_path, consent, Settings(allow_origin=(PORTAL,), autodetect=False),
                                 stores=stores) as server:
            async with browser(server) as ws:
                attached = await call(ws, "sign", {"format": "cms", "data": [b64], "detached": False})
                detached = await call(ws, "sign", {"format": "cms", "data": [b64]}, id=2)
                listed = await call(ws, "certs.list", {}, id=3)
            async with connect(f"ws://127.0.0.1:{server.port}/", origin=PORTAL) as nca:  # type: ignore[arg-type]
                await nca.recv()
                await nca.send(json.dumps({"module": "kz.gov.pki.knca.commonUtils", "method": "createCAdESFromBase64",
                                           "args": ["AKKaztokenStore", "SIGNATURE", b64, True]}))
                common = json.loads(await nca.recv())
                await nca.send(json.dumps({"module": "kz.gov.pki.knca.commonUtils", "method": "getKeyInfo",
                                           "args": ["AKKaztokenStore"]}))
                info = json.loads(await nca.recv())
    finally:
        await stores.close()
    assert engine_verifies(tmp_path, softhsm_gost, base64.b64decode(attached["result"]["signatures"][0])) == DOC
    engine_verifies(tmp_path, softhsm_gost, base64.b64decode(detached["result"]["signatures"][0]), DOC)
    [cert] = listed["result"]["certificates"]
    assert cert["algorithm"] == "GOST3410-2012-256" and cert["storage"] == "AKKaztokenStore"
    assert common["code"] == "200", common
    assert engine_verifies(tmp_path, softhsm_gost, base64.b64decode(common["responseObject"])) == DOC
    assert info["responseObject"]["algorithm"] == "GOST3410-2012-256"
    assert [q.action.value for k, q in consent.asked if k == "confirm"] == ["sign", "sign", "disclose", "sign", "disclose"]


def test_command_line_lists_and_signs_with_the_gost_token(tmp_path: Path, softhsm_gost: SoftHSMGost) -> None:
    runner = CliRunner()
    tokens = runner.invoke(main, ["tokens", "--pkcs11", softhsm_gost.module, "--json"])
    assert tokens.exit_code == 0, tokens.output
    assert "GOSTR3410" in json.dumps(json.loads(tokens.stdout))
    spec = f"AKKaztokenStore={softhsm_gost.module}"
    certs = runner.invoke(main, ["certs", "list", "--pkcs11", spec])
    assert certs.exit_code == 0 and " GOST3410-2012-256 " in certs.stdout, certs.output
    doc = tmp_path / "письмо.txt"
    doc.write_bytes(DOC)
    pin = tmp_path / "pin"
    pin.write_text(softhsm_gost.pin)
    signed = runner.invoke(main, ["sign", str(doc), "--pkcs11", spec, "--pin-file", str(pin)])
    assert signed.exit_code == 0, signed.output
    engine_verifies(tmp_path, softhsm_gost, doc.with_name(doc.name + ".cms").read_bytes(), DOC)
    test_sign = runner.invoke(main, ["test-sign", "--pkcs11", spec, "--pin-file", str(pin)])
    assert test_sign.exit_code == 0 and "GOST3410-2012-256 with streebog256 (RFC byte order)" in test_sign.output
