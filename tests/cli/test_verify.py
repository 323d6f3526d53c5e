"""`tanba verify` prints per-signer facts and exits 0 (VALID), 1 (INVALID) or 2 (unreadable)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.native import openssl_cms_sign
from support.ocsp_server import RevocationServer
from tanba.agent.setup.testpki import Manifest
from tanba.cli.main import main

DOC = "Договор № 7\n".encode()


def _sign(pki: Manifest, name: str, tmp_path: Path, *, attached: bool) -> tuple[Path, Path]:
    doc = tmp_path / "doc.txt"
    doc.write_bytes(DOC)
    out = tmp_path / f"{name}-{'att' if attached else 'det'}.p7s"
    return openssl_cms_sign(pki, name, doc, out, attached=attached, outform="PEM"), doc


@pytest.fixture(autouse=True)
def _own_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`tanba verify` reads the user's config file: each test gets its own (empty) one."""
    monkeypatch.setenv("TANBA_CONFIG_DIR", str(tmp_path / "cfg"))
    return tmp_path / "cfg"


def _run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["verify", *map(str, args)])
    return result.exit_code, result.output


def test_valid_attached_signature_prints_signer_and_exits_0(
    pki: Manifest, ocsp: RevocationServer, tmp_path: Path
) -> None:
    sig, _ = _sign(pki, "rsa-sign", tmp_path, attached=True)
    code, out = _run(sig, "--trust-anchor", pki.root_pem)
    assert code == 0, out
    assert "CN=ТЕСТОВ ТЕСТ" in out
    assert "IIN" in out
    assert "chain valid:  yes" in out and "revocation:   good" in out
    assert "signing time: 20" in out
    assert out.rstrip().endswith("VALID")


def test_detached_signature_with_right_and_wrong_data(pki: Manifest, ocsp: RevocationServer, tmp_path: Path) -> None:
    sig, doc = _sign(pki, "ec-sign", tmp_path, attached=False)
    code, out = _run(sig, "--data", doc, "--trust-anchor", pki.root_pem)
    assert code == 0, out
    wrong = tmp_path / "wrong.txt"
    wrong.write_bytes(DOC + b"!")
    code, out = _run(sig, "--data", wrong, "--trust-anchor", pki.root_pem)
    assert code == 1
    assert out.rstrip().endswith("INVALID") and "message_digest_mismatch" in out


def test_revoked_signer_exits_1_and_json_matches_the_wire(
    pki: Manifest, ocsp: RevocationServer, tmp_path: Path
) -> None:
    sig, _ = _sign(pki, "rsa-sign-revoked", tmp_path, attached=True)
    code, out = _run(sig, "--trust-anchor", pki.root_pem, "--json")
    assert code == 1
    wire = json.loads(out)
    assert wire["valid"] is False
    assert wire["signers"][0]["revocation"] == "revoked" and wire["signers"][0]["chainValid"] is True


def test_without_trust_anchor_chain_is_not_valid(pki: Manifest, ocsp: RevocationServer, tmp_path: Path) -> None:
    sig, _ = _sign(pki, "rsa-sign", tmp_path, attached=True)
    code, out = _run(sig)
    assert code == 1
    assert "chain valid:  no" in out


def _xml_with_leaf_only(pki: Manifest, tmp_path: Path) -> Path:
    """An enveloped XML signature whose KeyInfo holds only the signer's certificate (as
    Kalkan and xmlsec1 write them)."""
    ident = pki.identities["rsa-sign"]
    template = tmp_path / "t.xml"
    template.write_text(
        '<d><v>1</v><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>'
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        '<ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
        '</ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/>'
        '</ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/>'
        "</ds:X509Data></ds:KeyInfo></ds:Signature></d>",
        encoding="utf-8",
    )
    signed = tmp_path / "signed.xml"
    subprocess.run(["xmlsec1", "--sign", "--privkey-pem", f"{ident.key_pem},{ident.cert_pem}",
                    "--output", str(signed), str(template)], check=True, capture_output=True)
    assert signed.read_bytes().count(b"X509Certificate>") == 2  # one certificate: the signer's
    return signed


def test_xml_is_detected(pki: Manifest, ocsp: RevocationServer, tmp_path: Path) -> None:
    signed = _xml_with_leaf_only(pki, tmp_path)
    code, out = _run(signed, "--trust-anchor", pki.root_pem, "--intermediate", pki.intermediate_pem)
    assert code == 0, out
    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(signed.read_bytes().replace(b"<v>1</v>", b"<v>2</v>"))
    code, out = _run(tampered, "--trust-anchor", pki.root_pem, "--format", "xml")
    assert code == 1 and "signature:    INVALID" in out


def test_unreadable_input_exits_2(tmp_path: Path, pki: Manifest) -> None:
    junk = tmp_path / "junk.p7s"
    junk.write_bytes(b"this is not a signature")
    code, out = _run(junk, "--trust-anchor", pki.root_pem)
    assert code == 2 and "error:" in out
    assert "VALID" not in out


def test_strict_refuses_what_soft_calls_valid_with_unknown_revocation(tmp_path: Path) -> None:
    # The GOST test PKI's certificates name no OCSP responder or CRL: the status stays unknown.
    from tanba.agent.setup.gost_pki import make_gost_pki

    gost = make_gost_pki(tmp_path / "gost")
    doc = tmp_path / "doc.txt"
    doc.write_bytes(DOC)
    (tmp_path / "pin").write_text(gost.password)
    signed = CliRunner().invoke(main, ["sign", str(doc), "--attached", "--p12", str(gost.p12["gost-kz"]),
                                       "--pin-file", str(tmp_path / "pin")])
    assert signed.exit_code == 0, signed.output
    sig = tmp_path / "doc.txt.cms"
    chain = ("--trust-anchor", gost.root_pem, "--intermediate", gost.ca_pem)
    code, out = _run(sig, *chain)
    assert code == 0 and "revocation_unknown" in out and out.rstrip().endswith("VALID")
    code, out = _run(sig, *chain, "--strict")
    assert code == 1 and "revocation_unknown" in out and out.rstrip().endswith("INVALID")
    code, out = _run(sig, *chain, "--strict", "--revocation", "off")
    assert code == 2 and "--strict" in out


def _write_config(path: Path, **values: list[Path]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{key} = {json.dumps([str(v) for v in paths])}\n" for key, paths in values.items()),
                    encoding="utf-8")
    return path


def test_xml_chain_uses_the_configured_intermediate_like_the_agent(
    pki: Manifest, ocsp: RevocationServer, tmp_path: Path, _own_config_dir: Path
) -> None:
    """The issue's case: an XML signature carries only the signer's certificate; the agent's
    verify chains it through the config's ``intermediate``, and so must `tanba verify`."""
    signed = _xml_with_leaf_only(pki, tmp_path)
    code, out = _run(signed, "--trust-anchor", pki.root_pem)
    assert code == 1 and "chain_untrusted" in out
    assert "--intermediate" in out  # what to do about it

    # the user's config file, as `tanba serve` reads it
    _write_config(_own_config_dir / "config.toml", intermediate=[pki.intermediate_pem])
    code, out = _run(signed, "--trust-anchor", pki.root_pem)
    assert code == 0, out
    assert "chain valid:  yes" in out

    # --config FILE, with the anchor there too
    other = _write_config(tmp_path / "other.toml", **{"trust-anchor": [pki.root_pem],
                                                      "intermediate": [pki.intermediate_pem]})
    (_own_config_dir / "config.toml").unlink()
    code, out = _run(signed, "--config", other)
    assert code == 0, out
    assert "no trust anchor" not in out


def test_cli_and_agent_give_the_same_verdict(
    pki: Manifest, ocsp: RevocationServer, tmp_path: Path, _own_config_dir: Path
) -> None:
    from tanba.agent.setup.config import Settings
    from tanba.agent.verify.chain import validator_from_settings
    from tanba.agent.verify.xml import verify_xml

    signed = _xml_with_leaf_only(pki, tmp_path)
    settings = Settings(trust_anchor=(pki.root_pem,), intermediate=(pki.intermediate_pem,))

    async def agent_verify() -> dict[str, Any]:
        agent = validator_from_settings(settings, revocation="soft", timeout=2.0)  # as Services builds it
        try:
            return (await verify_xml(signed.read_bytes(), agent)).to_wire()
        finally:
            await agent.aclose()

    wire = asyncio.run(agent_verify())
    config = _write_config(tmp_path / "agent.toml", **{"trust-anchor": [pki.root_pem],
                                                       "intermediate": [pki.intermediate_pem]})
    result = CliRunner().invoke(main, ["verify", str(signed), "--config", str(config), "--json", "--timeout", "2"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.output)
    assert cli["valid"] is wire["valid"] is True
    assert cli["signers"][0]["chainValid"] == wire["signers"][0]["chainValid"]


def test_a_broken_config_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('intermediate = 7\n', encoding="utf-8")
    sig = tmp_path / "x.p7s"
    sig.write_bytes(b"x")
    code, out = _run(sig, "--config", config)
    assert code == 2 and "intermediate: expected" in out and str(config) in out


def test_signer_names_are_readable_not_oids(pki: Manifest, ocsp: RevocationServer, tmp_path: Path) -> None:
    sig, _ = _sign(pki, "rsa-sign", tmp_path, attached=True)
    code, out = _run(sig, "--trust-anchor", pki.root_pem)
    assert code == 0, out
    assert "2.5.4." not in out
    assert "Signer 1: ТЕСТОВ ТЕСТ (IIN 850101300015)" in out
    assert "SERIALNUMBER=IIN850101300015" in out and "GIVENNAME=ТЕСТОВИЧ" in out
    assert "issuer:       C=KZ,O=TANBA TEST,CN=TANBA TEST INTERMEDIATE CA" in out


def test_detached_signature_without_data_says_pass_data(
    pki: Manifest, ocsp: RevocationServer, tmp_path: Path
) -> None:
    sig, _ = _sign(pki, "ec-sign", tmp_path, attached=False)
    code, out = _run(sig, "--trust-anchor", pki.root_pem)
    assert code == 1
    assert "content_missing" in out and "pass the signed file with --data" in out
