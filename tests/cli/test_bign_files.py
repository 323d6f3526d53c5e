"""`tanba certs` / `sign` / `verify` / `test-sign` with Belarusian bign keys (STB 34.101.45,
belt-hash), as a user runs them on the files of ``tanba.agent.setup.bign_pki``: what the
commands print, and signatures checked by tests/support/bign_cms.py (written from the
standard, not from Tanba's bign or CMS code) as well as by `tanba verify` with the PKI's
root, CA and CRLs — one bign signer, and a CMS signed by a bign and an RSA key together."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, parser
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from support.bign_cms import BIGN_WITH_HBELT, bign_public_key, bign_verify, check_bign_cms, check_bign_signer
from tanba.agent.setup.bign_pki import BignManifest, make_bign_pki
from tanba.agent.setup.testpki import Manifest, make_test_pki
from tanba.cli.main import main
from tanba.crypto.belt import belt_hash

DOC = "Заява аб выдачы даведкі №7 / Заявление (Мінск)"
XML = ('<?xml version="1.0" encoding="UTF-8"?>\n'
       "<request><number>3140583A001PB5</number><text>Заява аб выдачы даведкі</text></request>")
XML_BIGN_WITH_HBELT = "http://www.w3.org/2009/xmldsig11#bign-with-hbelt"
XML_BELT_HASH = "http://www.w3.org/2009/xmldsig11#belt-hash256"
DS = {"ds": "http://www.w3.org/2000/09/xmldsig#"}
PERSONAL_NUMBER = x509.ObjectIdentifier("1.2.112.1.2.1.1.1.1.1")
BELT_HASH_OID = "1.2.112.0.2.0.34.101.31.81"
CLIENT_AUTH, EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4"


@pytest.fixture(scope="module")
def bign(tmp_path_factory: pytest.TempPathFactory) -> BignManifest:
    return make_bign_pki(tmp_path_factory.mktemp("bign-pki"))


@pytest.fixture(scope="module")
def rsa(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    return make_test_pki(tmp_path_factory.mktemp("rsa-pki"))


def tanba(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def password(tmp_path: Path, value: str = "123456") -> str:
    path = tmp_path / "pw"
    path.write_text(value + "\n")
    return str(path)


def chain(bign: BignManifest) -> tuple[str, ...]:
    """The bign root as trust anchor and both CRLs (the CA's, revoking the twin, and the root's)."""
    return ("--trust-anchor", str(bign.root_pem), "--crl", str(bign.crl_pem), "--crl", str(bign.root_crl_pem))


def document(tmp_path: Path) -> Path:
    doc = tmp_path / "заява.txt"
    doc.write_text(DOC, "utf-8")
    return doc


def sign(tmp_path: Path, doc: Path, p12: Path, *options: str) -> Path:
    """`tanba sign` of ``doc`` with ``p12``; the CMS it wrote (NAME.cms beside the document)."""
    signed = tanba("sign", str(doc), *options, "--p12", str(p12), "--pin-file", password(tmp_path))
    assert signed.exit_code == 0, signed.output
    out = doc.with_name(doc.name + ".cms")
    assert f"{doc} -> {out}" in signed.stdout
    return out


def verify_json(*args: str) -> tuple[int, dict[str, Any]]:
    checked = tanba("verify", *args, "--json")
    assert checked.exit_code in (0, 1), checked.output
    result = json.loads(checked.stdout)
    assert checked.exit_code == (0 if result["valid"] else 1)
    return checked.exit_code, result


def subject(signer: dict[str, Any]) -> x509.Name:
    return x509.load_pem_x509_certificate(signer["certificate"].encode()).subject


def flip_signature_byte(der: bytes, pick: Callable[[cms.SignerInfo], bool] = lambda _: True) -> bytes:
    """``der`` with one bit changed inside the signature value of the one SignerInfo ``pick``
    chooses: the OCTET STRING is found by parsing (asn1crypto), and it occurs once in the file."""
    signers = [s for s in cms.ContentInfo.load(der)["content"]["signer_infos"] if pick(s)]
    assert len(signers) == 1
    encoded = signers[0]["signature"].dump()
    assert der.count(encoded) == 1
    header = parser.parse(encoded)[3]
    at = der.index(encoded) + len(header) + (len(encoded) - len(header)) // 2
    tampered = bytearray(der)
    tampered[at] ^= 0x01
    return bytes(tampered)


def is_bign(signer: cms.SignerInfo) -> bool:
    return bool(signer["signature_algorithm"]["algorithm"].dotted == BIGN_WITH_HBELT)


# --- tanba certs list ----------------------------------------------------------------------------

def test_certs_list_shows_the_org_key_with_its_numbers_and_purposes(tmp_path: Path, bign: BignManifest) -> None:
    listed = tanba("certs", "list", "--p12", str(bign.p12["bign-org"]), "--password-file", password(tmp_path))
    assert listed.exit_code == 0, listed.output
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["STORAGE", "OWNER", "IIN/BIN", "PURPOSE", "ALGORITHM", "ISSUER", "VALID", "UNTIL", "ID"]
    [row] = rows
    assert f"{bign.personal_number}/{bign.unp}" in row.split()
    assert "sign+auth" in row.split() and "BIGN-256" in row.split()
    assert "ТАА «Тэст»" in row and "TANBA TEST CA (BIGN)" in row

    as_json = tanba("certs", "list", "--p12", str(bign.p12["bign-org"]), "--password-file", password(tmp_path),
                    "--json")
    assert as_json.exit_code == 0, as_json.output
    [cert] = json.loads(as_json.stdout)["certificates"]
    assert cert["algorithm"] == "BIGN-256" and cert["storage"] == "PKCS12"
    assert cert["personalNumber"] == bign.personal_number and cert["unp"] == bign.unp
    assert cert["subject"]["O"] == "ТАА «Тэст»"
    # sign (digitalSignature + nonRepudiation, emailProtection) and auth (clientAuth)
    assert set(cert["keyUsage"]) == {"digitalSignature", "nonRepudiation"}
    assert set(cert["extKeyUsage"]) == {EMAIL_PROTECTION, CLIENT_AUTH}
    assert cert["id"] in row


def test_certs_list_of_the_person_has_no_unp_and_a_wrong_password_is_reported(
        tmp_path: Path, bign: BignManifest) -> None:
    listed = tanba("certs", "list", "--p12", str(bign.p12["bign-person"]), "--password-file", password(tmp_path),
                   "--json")
    assert listed.exit_code == 0, listed.output
    [cert] = json.loads(listed.stdout)["certificates"]
    assert cert["personalNumber"] == bign.personal_number and "unp" not in cert
    wrong = tanba("certs", "list", "--p12", str(bign.p12["bign-person"]), "--password-file",
                  password(tmp_path, "654321"))
    assert wrong.exit_code == 1 and "wrong password" in wrong.stderr


# --- tanba sign / verify: CMS --------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["--attached", "--detached"])
def test_a_bign_cms_verifies_independently_and_with_the_chain(tmp_path: Path, bign: BignManifest, mode: str) -> None:
    doc = document(tmp_path)
    out = sign(tmp_path, doc, bign.p12["bign-person"], *((mode,) if mode == "--attached" else ()))
    der = out.read_bytes()
    content = doc.read_bytes()
    if mode == "--attached":
        cert, signed = check_bign_cms(der)
        assert signed == content
    else:  # the default
        assert cms.ContentInfo.load(der)["content"]["encap_content_info"]["content"].native is None
        cert, _ = check_bign_cms(der, content)
        changed = bytearray(content)
        changed[3] ^= 0x01
        with pytest.raises(AssertionError):
            check_bign_cms(der, bytes(changed))
    assert cert.subject.get_attributes_for_oid(PERSONAL_NUMBER)[0].value == bign.personal_number

    data = ("--data", str(doc)) if mode == "--detached" else ()
    code, result = verify_json(str(out), *data, *chain(bign))
    assert code == 0 and result["valid"] is True
    [signer] = result["signers"]
    assert signer["signatureValid"] is True and signer["chainValid"] is True and signer["revocation"] == "good"
    assert signer["problems"] == []
    assert x509.load_pem_x509_certificate(signer["certificate"].encode()) == cert

    text = tanba("verify", str(out), *data, *chain(bign))
    assert text.exit_code == 0 and text.stdout.splitlines()[-1] == "VALID", text.output
    if mode == "--detached":
        doc.write_bytes(bytes(changed))
        code, result = verify_json(str(out), "--data", str(doc), *chain(bign))
        assert code == 1 and result["signers"][0]["signatureValid"] is False


def test_the_revoked_twin_is_revoked(tmp_path: Path, bign: BignManifest) -> None:
    doc = document(tmp_path)
    out = sign(tmp_path, doc, bign.p12["bign-person-revoked"], "--attached")
    check_bign_cms(out.read_bytes())  # the signature itself is fine
    code, result = verify_json(str(out), *chain(bign))
    [signer] = result["signers"]
    assert code == 1 and result["valid"] is False
    assert signer["revocation"] == "revoked" and signer["signatureValid"] is True and signer["chainValid"] is True
    assert "revoked" in signer["problems"]
    text = tanba("verify", str(out), *chain(bign))
    assert text.exit_code == 1 and "revocation:   revoked" in text.stdout and text.stdout.splitlines()[-1] == "INVALID"


def test_without_a_trust_anchor_the_chain_is_not_trusted(tmp_path: Path, bign: BignManifest) -> None:
    doc = document(tmp_path)
    out = sign(tmp_path, doc, bign.p12["bign-person"], "--attached")
    crls = ("--crl", str(bign.crl_pem), "--crl", str(bign.root_crl_pem))
    code, result = verify_json(str(out), *crls)
    [signer] = result["signers"]
    assert code == 1 and result["valid"] is False
    assert signer["signatureValid"] is True and signer["chainValid"] is False
    assert "chain_untrusted" in signer["problems"]
    text = tanba("verify", str(out), *crls)
    assert text.exit_code == 1 and "chain valid:  no" in text.stdout
    assert "no trust anchor (--trust-anchor, or trust-anchor in the config file)" in text.stderr


def test_a_changed_signature_byte_is_invalid(tmp_path: Path, bign: BignManifest) -> None:
    doc = document(tmp_path)
    out = sign(tmp_path, doc, bign.p12["bign-person"], "--attached")
    tampered = tmp_path / "tampered.cms"
    tampered.write_bytes(flip_signature_byte(out.read_bytes()))
    with pytest.raises(AssertionError, match="signature"):
        check_bign_cms(tampered.read_bytes())
    code, result = verify_json(str(tampered), *chain(bign))
    [signer] = result["signers"]
    assert code == 1 and result["valid"] is False and signer["signatureValid"] is False
    text = tanba("verify", str(tampered), *chain(bign))
    assert text.exit_code == 1 and "signature:    INVALID" in text.stdout


def test_a_named_hash_the_bign_key_does_not_sign_is_refused(tmp_path: Path, bign: BignManifest) -> None:
    doc = document(tmp_path)
    refused = CliRunner().invoke(main, ["sign", str(doc), "--digest", "sha256", "--p12", str(bign.p12["bign-person"]),
                                        "--pin-file", password(tmp_path)])
    assert refused.exit_code != 0 and "belt-hash" in refused.output, refused.output
    assert not doc.with_name(doc.name + ".cms").exists()
    # its own hash, named, is accepted
    out = sign(tmp_path, doc, bign.p12["bign-person"], "--digest", "belt-hash")
    check_bign_cms(out.read_bytes(), doc.read_bytes())


def test_test_sign_reports_bign_with_belt_hash(tmp_path: Path, bign: BignManifest) -> None:
    done = tanba("test-sign", "--p12", str(bign.p12["bign-person"]), "--pin-file", password(tmp_path))
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("OK: Тестовы Тэст Тэставіч")
    assert "BIGN-256" in done.stdout and "belt-hash" in done.stdout
    failed = CliRunner().invoke(main, ["test-sign", "--p12", str(bign.p12["bign-person"]),
                                       "--pin-file", password(tmp_path, "654321")])
    assert failed.exit_code == 1 and "FAILED [wrong_pin]" in failed.stderr


# --- tanba sign / verify: XML --------------------------------------------------------------------

def test_a_bign_xml_signature_verifies_and_a_changed_text_does_not(tmp_path: Path, bign: BignManifest) -> None:
    doc = tmp_path / "request.xml"
    doc.write_text(XML, "utf-8")
    signed = tanba("sign", str(doc), "--format", "xml", "--p12", str(bign.p12["bign-person"]),
                   "--pin-file", password(tmp_path))
    assert signed.exit_code == 0, signed.output
    out = doc.with_name("request.signed.xml")
    assert f"{doc} -> {out}" in signed.stdout
    tree = etree.fromstring(out.read_bytes())
    [method] = tree.findall(".//ds:SignedInfo/ds:SignatureMethod", DS)
    [digest] = tree.findall(".//ds:SignedInfo/ds:Reference/ds:DigestMethod", DS)
    assert method.get("Algorithm") == XML_BIGN_WITH_HBELT and digest.get("Algorithm") == XML_BELT_HASH

    # independently: bign-vfy over belt-hash of the canonical SignedInfo, and the digest of
    # the document without its Signature (the c14n the Reference names)
    # the signer's certificate first, then the chain from the file (as tanba sign's CMS carries it)
    certificate, *issuers = tree.findall(".//ds:KeyInfo/ds:X509Data/ds:X509Certificate", DS)
    assert len(issuers) == 2
    cert_der = base64.b64decode(certificate.text or "")
    [signed_info] = tree.findall(".//ds:SignedInfo", DS)
    [value] = tree.findall(".//ds:SignatureValue", DS)
    assert bign_verify(bign_public_key(cert_der), belt_hash(etree.tostring(signed_info, method="c14n")),
                       base64.b64decode(value.text or ""))
    [reference] = tree.findall(".//ds:SignedInfo/ds:Reference", DS)
    transforms = [t.get("Algorithm") for t in reference.findall("ds:Transforms/ds:Transform", DS)]
    assert transforms[0] == "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
    bare = etree.fromstring(out.read_bytes())
    bare.remove(bare.find("ds:Signature", DS))
    with_comments = transforms[-1].endswith("#WithComments")
    assert reference.findtext("ds:DigestValue", namespaces=DS) == base64.b64encode(
        belt_hash(etree.tostring(bare, method="c14n", with_comments=with_comments))).decode()

    ca = ("--intermediate", str(bign.ca_pem))  # the XML carries only the signer's certificate
    code, result = verify_json(str(out), *chain(bign), *ca)
    [signer] = result["signers"]
    assert code == 0 and signer["signatureValid"] is True and signer["chainValid"] is True
    assert signer["revocation"] == "good"
    assert x509.load_pem_x509_certificate(signer["certificate"].encode()).public_bytes(Encoding.DER) == cert_der
    text = tanba("verify", str(out), *chain(bign), *ca)
    assert text.exit_code == 0 and text.stdout.splitlines()[-1] == "VALID", text.output

    changed = out.read_text("utf-8").replace("Заява аб выдачы", "Заява аб адмове")
    assert changed != out.read_text("utf-8")
    bad = tmp_path / "changed.signed.xml"
    bad.write_text(changed, "utf-8")
    code, result = verify_json(str(bad), *chain(bign), *ca)
    assert code == 1 and result["signers"][0]["signatureValid"] is False
    text = tanba("verify", str(bad), *chain(bign), *ca)
    assert text.exit_code == 1 and text.stdout.splitlines()[-1] == "INVALID"


# --- a CMS with two signers: bign and RSA --------------------------------------------------------

@dataclass(frozen=True)
class TwoSigners:
    dir: Path
    doc: Path
    bign_cms: bytes  # each signer's own attached CMS over the document
    rsa_cms: bytes
    bign_cert: bytes
    rsa_cert: bytes
    anchors: tuple[str, ...]  # both roots, all CRLs

    def write(self, name: str, der: bytes) -> str:
        path = self.dir / name
        path.write_bytes(der)
        return str(path)


def merge(first: bytes, second: bytes) -> bytes:
    """``first`` with ``second``'s SignerInfos, certificates and digest algorithms added (both
    attached over the same content), re-encoded by asn1crypto."""
    base, other = cms.ContentInfo.load(first), cms.ContentInfo.load(second)
    into, add = base["content"], other["content"]
    assert into["encap_content_info"].dump() == add["encap_content_info"].dump()  # the same content
    have = {alg.dump() for alg in into["digest_algorithms"]}
    for alg in add["digest_algorithms"]:
        if alg.dump() not in have:
            into["digest_algorithms"].append(alg)
    certs = {cert.dump() for cert in into["certificates"]}
    for cert in add["certificates"]:
        if cert.dump() not in certs:
            into["certificates"].append(cert)
    for signer in add["signer_infos"]:
        into["signer_infos"].append(signer)
    return bytes(base.dump())


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory, bign: BignManifest, rsa: Manifest) -> TwoSigners:
    base = tmp_path_factory.mktemp("two-signers")
    doc = document(base)
    made = {}
    for name, p12 in (("bign", bign.p12["bign-person"]), ("rsa", rsa.identities["rsa-sign"].p12)):
        out_dir = base / name
        signed = tanba("sign", str(doc), "--attached", "--p12", str(p12), "--pin-file", password(base),
                       "--out-dir", str(out_dir))
        assert signed.exit_code == 0, signed.output
        made[name] = (out_dir / (doc.name + ".cms")).read_bytes()
    bign_cert, _ = check_bign_cms(made["bign"])
    rsa_cert = x509.load_pem_x509_certificate(rsa.identities["rsa-sign"].cert_pem.read_bytes())
    anchors = ("--trust-anchor", str(bign.root_pem), "--trust-anchor", str(rsa.root_pem),
               "--crl", str(bign.crl_pem), "--crl", str(bign.root_crl_pem), "--crl", str(rsa.crl_pem))
    return TwoSigners(base, doc, made["bign"], made["rsa"], bign_cert.public_bytes(Encoding.DER),
                      rsa_cert.public_bytes(Encoding.DER), anchors)


def signers_by_key(result: dict[str, Any], two: TwoSigners) -> dict[str, dict[str, Any]]:
    """The verify result's signers, named by the certificate each reports."""
    named = {}
    for signer in result["signers"]:
        der = x509.load_pem_x509_certificate(signer["certificate"].encode()).public_bytes(Encoding.DER)
        assert der in (two.bign_cert, two.rsa_cert)
        named["bign" if der == two.bign_cert else "rsa"] = signer
    assert len(named) == 2
    return named


def assert_rsa_not_revoked(signer: dict[str, Any]) -> None:
    """The RSA leaf also names an OCSP responder on a local port nothing serves: its CRL (given)
    answers "good"; should something answer on that port and stall, "unknown" (accepted under
    the default soft policy) is the only other outcome allowed."""
    assert signer["revocation"] in ("good", "unknown")
    assert set(signer["problems"]) <= ({"revocation_unknown"} if signer["revocation"] == "unknown" else set())


@pytest.mark.parametrize("order", ["bign+rsa", "rsa+bign"])
def test_a_cms_signed_by_a_bign_and_an_rsa_key_verifies_both(two: TwoSigners, bign: BignManifest, rsa: Manifest,
                                                             order: str) -> None:
    merged = merge(two.bign_cms, two.rsa_cms) if order == "bign+rsa" else merge(two.rsa_cms, two.bign_cms)
    signed = cms.ContentInfo.load(merged)["content"]
    assert len(signed["signer_infos"]) == 2 and len(signed["certificates"]) == 6
    assert {a["algorithm"].dotted for a in signed["digest_algorithms"]} == {BELT_HASH_OID, "2.16.840.1.101.3.4.2.1"}
    [bign_signer] = [s for s in signed["signer_infos"] if is_bign(s)]
    check_bign_signer(bign_signer, two.bign_cert, two.doc.read_bytes())  # still the bign signature

    code, result = verify_json(two.write(f"two-{order}.cms", merged), *two.anchors)
    assert code == 0 and result["valid"] is True and len(result["signers"]) == 2
    named = signers_by_key(result, two)
    for signer in named.values():
        assert signer["signatureValid"] is True and signer["chainValid"] is True
    assert named["bign"]["revocation"] == "good" and named["bign"]["problems"] == []
    assert_rsa_not_revoked(named["rsa"])
    assert subject(named["bign"]).get_attributes_for_oid(PERSONAL_NUMBER)[0].value == bign.personal_number
    assert f"IIN{rsa.identities['rsa-sign'].iin}" in subject(named["rsa"]).rfc4514_string()

    text = tanba("verify", two.write(f"two-{order}.cms", merged), *two.anchors)
    assert text.exit_code == 0 and "Signer 1:" in text.stdout and "Signer 2:" in text.stdout
    assert text.stdout.count("signature:    valid") == 2 and text.stdout.splitlines()[-1] == "VALID"


@pytest.mark.parametrize("corrupt", ["bign", "rsa"])
def test_one_corrupted_signer_of_two_is_the_only_invalid_one(two: TwoSigners, corrupt: str) -> None:
    merged = merge(two.bign_cms, two.rsa_cms)
    tampered = flip_signature_byte(merged, is_bign if corrupt == "bign" else (lambda s: not is_bign(s)))
    assert sum(a != b for a, b in zip(tampered, merged, strict=True)) == 1
    [bign_signer] = [s for s in cms.ContentInfo.load(tampered)["content"]["signer_infos"] if is_bign(s)]
    if corrupt == "bign":
        with pytest.raises(AssertionError, match="signature"):
            check_bign_signer(bign_signer, two.bign_cert, two.doc.read_bytes())
    else:
        check_bign_signer(bign_signer, two.bign_cert, two.doc.read_bytes())

    code, result = verify_json(two.write(f"two-bad-{corrupt}.cms", tampered), *two.anchors)
    assert code == 1 and result["valid"] is False and len(result["signers"]) == 2
    named = signers_by_key(result, two)
    intact = "rsa" if corrupt == "bign" else "bign"
    assert named[corrupt]["signatureValid"] is False
    assert named[intact]["signatureValid"] is True and named[intact]["chainValid"] is True
    if intact == "bign":
        assert named["bign"]["revocation"] == "good" and named["bign"]["problems"] == []
    else:
        assert_rsa_not_revoked(named["rsa"])
