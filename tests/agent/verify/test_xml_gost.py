"""verify_xml on GOST XML signatures: Kalkan's real document, Tanba's own, the gost engine's.

The Kalkan sample (``kalkan_gost2004.xml``, NCA test data) pins how Kalkan encodes GOST
XML-DSig: DigestValue = the GOST 34.311-95 output as is; SignatureValue = r_LE || s_LE over
the hash of the canonical SignedInfo (the NCA order of Kalkan's CMS); the gost engine agrees
on the signature independently.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from support.gost_engine import openssl
from support.gost_xml import GostSigner, engine_key, gost2001_spki, issue_certificate, new_key

from tanba.agent.formats.xmldsig import XmlSignOptions, sign_xml
from tanba.agent.verify.chain import ChainValidator
from tanba.agent.verify.xml import verify_xml
from tanba.crypto import hashes
from tanba.crypto.gost import KZ_2004, KZ_2015_512, PrivateKey
from tanba.protocol.errors import InvalidParams
from tanba.protocol.methods.verify import VerifyResult
from tanba.providers.gost_asn1 import public_key_of_certificate

NCA = Path(__file__).resolve().parents[3] / "../shared/testdata/nca"
needs_nca = pytest.mark.skipif(not NCA.exists(), reason="NCA test data (../shared/testdata/nca) not present")
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"ds": DS}
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
DOC = '<zayavlenie>\n<fio>Тестов Тест</fio>\n<summa>1000</summa><!-- note -->\n</zayavlenie>'.encode()


def kalkan() -> bytes:
    return (NCA / "kalkan_gost2004.xml").read_bytes()


def kalkan_validator() -> ChainValidator:
    return ChainValidator([NCA / "nca_gost2004_test_ca.cer"], revocation="off")


#: a KZ 2015-512 key, its certificate, and a validator trusting the certificate's CA
Kz = tuple[PrivateKey, x509.Certificate, ChainValidator]


def only_problem(result: VerifyResult) -> str:
    assert not result.valid
    (signer,) = result.signers
    assert len(signer.problems) == 1, signer.problems
    return signer.problems[0]


@pytest.fixture
def kz() -> Kz:
    """A KZ 2015-512 key with a certificate from a test CA of the same family, and a
    validator trusting that CA."""
    ca_key = new_key(KZ_2015_512)
    ca = issue_certificate(ca_key, "Tanba test CA (GOST 2015)")
    key = new_key(KZ_2015_512)
    cert = issue_certificate(key, "ТЕСТОВ ТЕСТ", issuer=(ca_key, ca))
    return key, cert, ChainValidator([ca], revocation="off")


async def kz_signed(kz: Kz, doc: bytes = DOC,
                    options: XmlSignOptions | None = None) -> bytes:
    key, cert, _ = kz
    return await sign_xml(GostSigner(key, cert), cert, doc, options)


# --- Kalkan's document ---------------------------------------------------------------------


@needs_nca
def test_kalkan_encoding() -> None:
    """Of the candidate layouts only "hash as output" and "r_LE || s_LE" fit the sample."""
    tree = etree.ElementTree(etree.fromstring(kalkan()))
    signature = tree.find(".//ds:Signature", NS)
    signed_info = etree.tostring(signature.find("ds:SignedInfo", NS), method="c14n")
    digest_value = base64.b64decode(signature.findtext(".//ds:DigestValue", namespaces=NS))
    value = base64.b64decode("".join(signature.findtext("ds:SignatureValue", namespaces=NS).split()))
    cert = base64.b64decode("".join(signature.findtext(".//ds:X509Certificate", namespaces=NS).split()))
    signature.getparent().remove(signature)
    document = hashes.digest("gost34311-95", etree.tostring(tree, method="c14n"))
    assert digest_value == document and digest_value != document[::-1]

    key = public_key_of_certificate(cert)
    assert key.family is KZ_2004
    hashed = hashes.digest("gost34311-95", signed_info)
    r, s = value[:32], value[32:]
    layouts = {"as is": value, "reversed": value[::-1], "halves swapped": s + r,
               "halves reversed": r[::-1] + s[::-1], "swapped and reversed": s[::-1] + r[::-1]}
    fits = [(name, reverse) for name, layout in layouts.items() for reverse in (False, True)
            if key.verify(hashed[::-1] if reverse else hashed, layout)]
    assert fits == [("as is", False)]


@needs_nca
def test_kalkan_signature_checked_by_the_gost_engine(tmp_path: Path) -> None:
    """The engine, as a GOST 2001 key on the same curve, verifies value[::-1] (its s || r
    big-endian) over the same hash: Kalkan's r_LE || s_LE read independently."""
    signature = etree.fromstring(kalkan()).find(".//ds:Signature", NS)
    signed_info = etree.tostring(signature.find("ds:SignedInfo", NS), method="c14n")
    value = base64.b64decode("".join(signature.findtext("ds:SignatureValue", namespaces=NS).split()))
    cert = base64.b64decode("".join(signature.findtext(".//ds:X509Certificate", namespaces=NS).split()))
    (tmp_path / "pub.der").write_bytes(gost2001_spki(public_key_of_certificate(cert).to_bytes()))
    (tmp_path / "hash").write_bytes(hashes.digest("gost34311-95", signed_info))
    for name, data in (("rfc", value[::-1]), ("as-is", value)):
        (tmp_path / name).write_bytes(data)
    args = ("pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "pub.der", "-in", "hash", "-sigfile")
    assert openssl(tmp_path, *args, "rfc", check=False).returncode == 0
    assert openssl(tmp_path, *args, "as-is", check=False).returncode != 0


@needs_nca
async def test_kalkan_2004_verifies_and_its_certificate_has_expired() -> None:
    """The signature is good; the certificate expired on 2021-01-27 (its CA on 2024-03-12)."""
    result = await verify_xml(kalkan(), kalkan_validator())
    (signer,) = result.signers
    assert signer.signature_valid
    assert not signer.chain_valid and not result.valid
    assert signer.problems == ("certificate_expired",)
    embedded = etree.fromstring(kalkan()).findtext(".//ds:X509Certificate", namespaces=NS)
    der = base64.b64decode("".join(embedded.split()))
    assert signer.certificate == x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode()


@needs_nca
async def test_kalkan_2004_under_another_root_is_untrusted() -> None:
    result = await verify_xml(kalkan(), ChainValidator([NCA / "root_test_gost_2022.cer"], revocation="off"))
    assert result.signers[0].signature_valid
    assert only_problem(result) == "chain_untrusted"


def _flip_base64(doc: bytes, element: bytes) -> bytes:
    """``doc`` with one byte of the base64 content of ``<ds:element>`` changed."""
    start = doc.index(b"<ds:" + element + b">") + len(element) + 5
    end = doc.index(b"</ds:" + element + b">")
    raw = bytearray(base64.b64decode(b"".join(doc[start:end].split())))
    raw[len(raw) // 2] ^= 0x01
    return doc[:start] + base64.b64encode(bytes(raw)) + doc[end:]


@needs_nca
@pytest.mark.parametrize("tamper", [
    lambda d: d.replace(b"<name>NCANode</name>", b"<name>NCANodf</name>"),
    lambda d: d.replace(b"<name>NCANode</name>", b"<name>NCANode</name><extra/>"),
    lambda d: _flip_base64(d, b"DigestValue"),
    lambda d: _flip_base64(d, b"SignatureValue"),
    lambda d: d.replace(b'<ds:Reference URI="">\n', b'<ds:Reference URI="">'),  # SignedInfo whitespace
], ids=["element", "added-element", "digest-value", "signature-value", "signed-info"])
async def test_tampered_kalkan_document_fails(tamper: object) -> None:
    assert callable(tamper)
    tampered = tamper(kalkan())
    assert tampered != kalkan()
    result = await verify_xml(tampered, kalkan_validator())
    assert not result.signers[0].signature_valid
    assert only_problem(result) == "signature_invalid"


@needs_nca
async def test_a_comment_is_not_covered() -> None:
    """URI="" drops comments before the transforms (XML-DSig 4.4.3.3), as Kalkan and xmlsec1 do."""
    commented = kalkan().replace(b"<name>NCANode</name>", b"<name>NCANode</name><!-- added -->")
    assert (await verify_xml(commented, kalkan_validator())).signers[0].signature_valid


# --- Tanba's own KZ 2015-512 signatures ------------------------------------------------------


async def test_kz_2015_round_trip(kz: Kz) -> None:
    key, cert, validator = kz
    signed = await kz_signed(kz)
    result = await verify_xml(signed, validator)
    assert result.valid
    (signer,) = result.signers
    assert signer.signature_valid and signer.chain_valid and signer.problems == ()
    assert signer.certificate == cert.public_bytes(Encoding.PEM).decode()


@pytest.mark.parametrize("tamper", [
    lambda d: d.replace("Тестов".encode(), "Тестова".encode()),
    lambda d: d.replace(b"<summa>1000</summa>", b"<summa>1000</summa><summa>9000</summa>"),
    lambda d: _flip_base64(d, b"DigestValue"),
    lambda d: _flip_base64(d, b"SignatureValue"),
], ids=["text", "added-element", "digest-value", "signature-value"])
async def test_kz_2015_tampered_fails(kz: Kz,
                                      tamper: object) -> None:
    assert callable(tamper)
    signed = await kz_signed(kz)
    result = await verify_xml(tamper(signed), kz[2])
    assert only_problem(result) == "signature_invalid"


async def test_kz_2015_id_reference_and_exclusive_c14n(kz: Kz) -> None:
    doc = '<a xmlns:x="urn:x"><x:b Id="part">Сәлем</x:b><c>outside</c></a>'.encode()
    signed = await kz_signed(kz, doc, XmlSignOptions(sign_element="//x:b", parent="//c", exclusive=True))
    assert b'URI="#part"' in signed
    assert (await verify_xml(signed, kz[2])).valid
    assert (await verify_xml(signed.replace(b">outside<", b">changed<"), kz[2])).valid  # not covered
    assert only_problem(await verify_xml(signed.replace("Сәлем".encode(), b"hello"), kz[2])) == "signature_invalid"
    twice = signed.replace(b"<c>", b'<d Id="part"/><c>')  # a second element with the Id
    assert only_problem(await verify_xml(twice, kz[2])) == "signature_invalid"


async def test_signature_moved_keeps_the_text_around_it(kz: Kz) -> None:
    """The enveloped transform removes the Signature, not the text that follows it: moved
    into the text between two elements (or before the first), it still verifies."""
    signed = await kz_signed(kz)
    for place in ("after an element", "first"):
        root = etree.fromstring(signed)
        signature = root.find("ds:Signature", NS)
        if place == "first":
            root.insert(0, signature)
            signature.tail, root.text = root.text, None
        else:
            fio = root.find("fio")
            fio.addnext(signature)
            signature.tail, fio.tail = fio.tail, None
        assert signature.tail == "\n"
        moved = etree.tostring(root)
        assert moved != signed
        assert (await verify_xml(moved, kz[2])).valid, place
        signature.tail = None  # the text goes with it: the document changed
        assert only_problem(await verify_xml(etree.tostring(root), kz[2])) == "signature_invalid", place


async def test_wrong_or_extra_certificates(kz: Kz) -> None:
    key, cert, validator = kz
    other_key = new_key(KZ_2015_512)
    other = issue_certificate(other_key, "somebody else")
    signed = await kz_signed(kz)
    ours = base64.b64encode(cert.public_bytes(Encoding.DER))
    theirs = base64.b64encode(other.public_bytes(Encoding.DER))
    assert ours in signed
    swapped = signed.replace(ours, theirs)
    assert only_problem(await verify_xml(swapped, validator)) == "signature_invalid"
    both = signed.replace(b"<ds:X509Certificate>" + ours, b"<ds:X509Certificate>" + theirs
                          + b"</ds:X509Certificate><ds:X509Certificate>" + ours)
    result = await verify_xml(both, validator)
    assert result.valid and result.signers[0].certificate == cert.public_bytes(Encoding.PEM).decode()
    key_2004 = new_key(KZ_2004)
    wrong_family = base64.b64encode(issue_certificate(key_2004, "2004").public_bytes(Encoding.DER))
    assert only_problem(await verify_xml(signed.replace(ours, wrong_family), validator)) == "signature_invalid"


@pytest.mark.parametrize(("edit", "problem"), [
    ((b'URI=""', b'URI="http://example.com/doc.xml"'), "unsupported_algorithm"),
    ((b'URI=""', b'URI="#xpointer(/)"'), "unsupported_algorithm"),
    ((b'URI=""', b""), "unsupported_algorithm"),
    ((b'URI=""', b'URI="#nowhere"'), "signature_invalid"),
    ((b"<ds:Transforms>", b'<ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#base64"/>'),
     "unsupported_algorithm"),
    ((b'<ds:Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"/>',
      b'<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116">'
      b"<ds:XPath>not(ancestor-or-self::ds:Signature)</ds:XPath></ds:Transform>"), "unsupported_algorithm"),
    ((b'CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"',
      b'CanonicalizationMethod Algorithm="http://www.w3.org/2006/12/xml-c14n11"'), "unsupported_algorithm"),
    ((b"urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34112015-512",
      b"http://www.w3.org/2000/09/xmldsig#sha1"), "weak_algorithm"),
    ((b"urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34112015-512", b"urn:example:md2"),
     "unsupported_algorithm"),
    ((b"urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34112015-512",
      b"http://www.w3.org/2001/04/xmlenc#sha256"), "signature_invalid"),  # a known hash, another value
])
async def test_what_the_gost_path_does_not_follow_is_a_result(
        kz: Kz, edit: tuple[bytes, bytes], problem: str) -> None:
    signed = await kz_signed(kz)
    old, new = edit
    assert old in signed
    result = await verify_xml(signed.replace(old, new, 1), kz[2])
    assert not result.signers[0].signature_valid
    assert only_problem(result) == problem


async def test_enveloped_reference_that_would_remove_itself_is_unsupported(
        kz: Kz) -> None:
    """The enveloped transform over a part inside the Signature, or over a document that is
    the Signature, would leave nothing: not a profile Tanba follows."""
    signed = await kz_signed(kz)
    inside = signed.replace(b'URI=""', b'URI="#obj"').replace(
        b"</ds:KeyInfo>", b'</ds:KeyInfo><ds:Object Id="obj">data</ds:Object>')
    assert only_problem(await verify_xml(inside, kz[2])) == "unsupported_algorithm"
    start = signed.index(b"<ds:Signature")
    alone = signed[start:signed.index(b"</zayavlenie>")]
    assert alone.endswith(b"</ds:Signature>")
    assert only_problem(await verify_xml(alone, kz[2])) == "unsupported_algorithm"


@pytest.mark.parametrize("edit", [
    (b"<ds:SignatureValue>", b"<ds:SignatureValue>!!"),
    (b"</ds:SignedInfo>", b"</ds:SignedInfo><ds:SignedInfo/>"),
    (b"<ds:DigestValue>", b"<ds:DigestValue>@"),
])
async def test_malformed_gost_signature_is_invalid_params(
        kz: Kz, edit: tuple[bytes, bytes]) -> None:
    signed = await kz_signed(kz)
    with pytest.raises(InvalidParams):
        await verify_xml(signed.replace(*edit, 1), kz[2])


async def test_doctype_is_refused_before_the_gost_path(kz: Kz) -> None:
    signed = await kz_signed(kz)
    hostile = b'<!DOCTYPE zayavlenie [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + signed
    with pytest.raises(InvalidParams, match="DOCTYPE"):
        await verify_xml(hostile, kz[2])


# --- Russian GOST 2012 keys from the gost engine ------------------------------------------------


@pytest.mark.parametrize("bits", [256, 512])
async def test_ru_round_trip(tmp_path: Path, bits: int) -> None:
    key, cert = engine_key(tmp_path, bits)
    validator = ChainValidator([cert], revocation="off")
    signed = await sign_xml(GostSigner(key, cert), cert, DOC)
    result = await verify_xml(signed, validator)
    assert result.valid and result.signers[0].signature_valid
    assert only_problem(await verify_xml(_flip_base64(signed, b"SignatureValue"), validator)) == "signature_invalid"
    tampered = signed.replace(b"1000", b"1001")
    assert only_problem(await verify_xml(tampered, validator)) == "signature_invalid"


@pytest.mark.parametrize("bits", [256, 512])
async def test_ru_signature_made_by_the_gost_engine(tmp_path: Path, bits: int) -> None:
    """A Signature whose DigestValue and SignatureValue the engine computed (Streebog over the
    canonical document and SignedInfo, GOST R 34.10-2012 in its own s || r layout)."""
    _, cert = engine_key(tmp_path, bits)
    document = etree.fromstring(DOC).getroottree()  # URI="": without the comment
    (tmp_path / "doc.c14n").write_bytes(etree.tostring(document, method="c14n", with_comments=False))
    digest = openssl(tmp_path, "dgst", f"-md_gost12_{bits}", "-binary", "doc.c14n").stdout
    cp = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:"
    signed_info = (
        f'<ds:SignedInfo xmlns:ds="{DS}"><ds:CanonicalizationMethod Algorithm="{C14N}"/>'
        f'<ds:SignatureMethod Algorithm="{cp}gostr34102012-gostr34112012-{bits}"/><ds:Reference URI="">'
        f'<ds:Transforms><ds:Transform Algorithm="{DS}enveloped-signature"/></ds:Transforms>'
        f'<ds:DigestMethod Algorithm="{cp}gostr34112012-{bits}"/>'
        f"<ds:DigestValue>{base64.b64encode(digest).decode()}</ds:DigestValue></ds:Reference></ds:SignedInfo>"
    )
    canonical = etree.tostring(etree.fromstring(signed_info), method="c14n")
    (tmp_path / "si.c14n").write_bytes(canonical)
    value = openssl(tmp_path, "dgst", f"-md_gost12_{bits}", "-sign", "key.pem", "si.c14n").stdout
    cert_b64 = base64.b64encode(cert.public_bytes(Encoding.DER)).decode()
    signature = (f'<ds:Signature xmlns:ds="{DS}">{signed_info}'
                 f"<ds:SignatureValue>{base64.b64encode(value).decode()}</ds:SignatureValue>"
                 f"<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate>"
                 "</ds:X509Data></ds:KeyInfo></ds:Signature>")
    signed = DOC.replace(b"</zayavlenie>", signature.encode() + b"</zayavlenie>")
    validator = ChainValidator([cert], revocation="off")
    assert (await verify_xml(signed, validator)).valid
    reversed_value = base64.b64encode(value[::-1])
    assert only_problem(await verify_xml(signed.replace(base64.b64encode(value), reversed_value), validator)) \
        == "signature_invalid"
