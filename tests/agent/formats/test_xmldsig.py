"""Enveloped XML-DSig in NCALayer's profile, checked by the real xmlsec1 (and signxml).

Keys come from the test PKI.  ``KeyFileSigner`` stands in for the PKCS#12 store's Signer:
it implements the real ``providers.base.Signer`` interface over the same private key
(read from ``<name>.key.pem`` instead of ``<name>.p12``), and counts the calls it gets.
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import SoftHSM
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from lxml import etree
from signxml import XMLVerifier
from signxml.exceptions import InvalidInput
from signxml.exceptions import InvalidSignature as SignXMLInvalidSignature

from tanba.agent.formats.xmldsig import XmlSignOptions, sign_xml, sign_xml_batch
from tanba.agent.setup.testpki import Manifest
from tanba.protocol.errors import InternalError, InvalidParams
from tanba.providers.base import HashAlgorithm, Identity, SignatureScheme, Signer
from tanba.providers.pkcs11 import Pkcs11Store
from tanba.providers.pkcs12 import Pkcs12Store

DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"ds": DS}
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"

DOC = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    '<application xmlns="urn:tanba:test" xmlns:p="urn:tanba:person">\n'
    '  <p:applicant Id="applicant">ТЕСТОВ ТЕСТ, ИИН 123456789012</p:applicant>\n'
    "  <amount>1000</amount>\n"
    "  <signatures/>\n"
    "</application>\n"
).encode()


class KeyFileSigner(Signer):
    """The PKCS#12 store's Signer, minus the .p12 file: same key, same interface."""

    def __init__(self, pki: Manifest, name: str, cert_of: str | None = None) -> None:
        ident = pki.identities[name]
        key = serialization.load_pem_private_key(ident.key_pem.read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
        self.key = key
        self.certificate = pki.identities[cert_of or name].certificate()
        self.identity = Identity(name, "PKCS12", self.certificate, (), str(ident.key_pem), name)
        self.batch_calls: list[int] = []

    async def sign_digest(
        self, digest: bytes, hash_alg: HashAlgorithm, scheme: SignatureScheme
    ) -> bytes:
        algorithm = Prehashed({"sha256": hashes.SHA256(), "sha384": hashes.SHA384(),
                               "sha512": hashes.SHA512()}[hash_alg.value])
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            assert scheme is SignatureScheme.ECDSA
            return self.key.sign(digest, ec.ECDSA(algorithm))
        assert scheme is SignatureScheme.RSA_PKCS1V15
        return self.key.sign(digest, padding.PKCS1v15(), algorithm)

    async def sign_digests(
        self, digests: Sequence[bytes], hash_alg: HashAlgorithm, scheme: SignatureScheme
    ) -> list[bytes]:
        self.batch_calls.append(len(digests))
        return await super().sign_digests(digests, hash_alg, scheme)

    async def close(self) -> None:
        pass


def xmlsec1(pki: Manifest, signed: bytes, tmp_path: Path, *id_attr: str, untrusted: bool = True) -> bool:
    """Verify with the real xmlsec1 against the test root; True when it says OK.

    ``untrusted`` False: the intermediate CA is not given, so the chain must come from
    the document's X509Data."""
    path = tmp_path / "signed.xml"
    path.write_bytes(signed)
    args = ["xmlsec1", "--verify", "--trusted-pem", str(pki.root_pem)]
    if untrusted:
        args += ["--untrusted-pem", str(pki.intermediate_pem)]
    for node in id_attr:
        args += ["--id-attr:Id", node]
    proc = subprocess.run([*args, str(path)], capture_output=True, text=True, timeout=30)
    assert ("OK" in proc.stderr) == (proc.returncode == 0), proc.stderr
    return proc.returncode == 0


def signxml_ok(signed: bytes, cert: x509.Certificate) -> bool:
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    try:
        XMLVerifier().verify(signed, x509_cert=pem)
    except (SignXMLInvalidSignature, InvalidInput):
        return False
    return True


def signature_of(signed: bytes) -> etree._Element:
    found = etree.fromstring(signed).findall(".//ds:Signature", NS)
    assert len(found) == 1
    return found[0]


def algorithms(signed: bytes) -> dict[str, object]:
    sig = signature_of(signed)
    return {
        "c14n": sig.find("ds:SignedInfo/ds:CanonicalizationMethod", NS).get("Algorithm"),
        "method": sig.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm"),
        "uri": sig.find("ds:SignedInfo/ds:Reference", NS).get("URI"),
        "transforms": [t.get("Algorithm") for t in sig.iterfind(".//ds:Transform", NS)],
        "digest": sig.find(".//ds:DigestMethod", NS).get("Algorithm"),
    }


@pytest.mark.parametrize(
    ("name", "method", "value_len"),
    [("rsa-sign", "rsa-sha256", 256), ("ec-sign", "ecdsa-sha256", 64)],
)
async def test_whole_document_in_ncalayer_profile_verifies_with_xmlsec1(
    pki: Manifest, tmp_path: Path, name: str, method: str, value_len: int
) -> None:
    signer = KeyFileSigner(pki, name)
    signed = await sign_xml(signer, signer.certificate, DOC)

    assert algorithms(signed) == {
        "c14n": C14N,
        "method": "http://www.w3.org/2001/04/xmldsig-more#" + method,
        "uri": "",
        "transforms": [DS + "enveloped-signature", C14N + "#WithComments"],
        "digest": "http://www.w3.org/2001/04/xmlenc#sha256",
    }
    sig = signature_of(signed)
    assert sig.prefix == "ds" and sig.getparent().tag == "{urn:tanba:test}application"
    der = base64.b64decode(sig.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS))
    assert der == signer.certificate.public_bytes(serialization.Encoding.DER)
    assert len(base64.b64decode(sig.findtext("ds:SignatureValue", namespaces=NS))) == value_len
    assert signed.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert "ТЕСТОВ ТЕСТ, ИИН 123456789012".encode() in signed

    assert xmlsec1(pki, signed, tmp_path)
    assert signxml_ok(signed, signer.certificate)
    tampered = signed.replace("1000".encode(), "9000".encode())
    assert not xmlsec1(pki, tampered, tmp_path)
    assert not signxml_ok(tampered, signer.certificate)


def embedded_certificates(signed: bytes) -> list[x509.Certificate]:
    elements = signature_of(signed).findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
    return [x509.load_der_x509_certificate(base64.b64decode(e.text)) for e in elements]


@pytest.mark.parametrize("name", ["rsa-sign", "ec-sign"])
async def test_the_chain_follows_the_signer_certificate_in_one_x509data(
    pki: Manifest, tmp_path: Path, name: str
) -> None:
    signer = KeyFileSigner(pki, name)
    intermediate = x509.load_pem_x509_certificate(pki.intermediate_pem.read_bytes())
    root = x509.load_pem_x509_certificate(pki.root_pem.read_bytes())
    signed = await sign_xml(signer, signer.certificate, DOC, chain=(intermediate, root))

    assert len(signature_of(signed).findall("ds:KeyInfo/ds:X509Data", NS)) == 1
    assert embedded_certificates(signed) == [signer.certificate, intermediate, root]
    # xmlsec1 builds the path from the embedded certificates alone (no --untrusted-pem)
    assert xmlsec1(pki, signed, tmp_path, untrusted=False)
    assert signxml_ok(signed, signer.certificate)
    assert not xmlsec1(pki, signed.replace(b"1000", b"9000"), tmp_path, untrusted=False)


async def test_without_a_chain_x509data_holds_the_signer_certificate_alone(pki: Manifest, tmp_path: Path) -> None:
    signer = KeyFileSigner(pki, "rsa-sign")
    signed = await sign_xml(signer, signer.certificate, DOC)
    assert embedded_certificates(signed) == [signer.certificate]
    assert xmlsec1(pki, signed, tmp_path)  # with the intermediate given
    assert not xmlsec1(pki, signed, tmp_path, untrusted=False)  # no path without it


async def test_sub_element_with_id_is_referenced_by_id_under_chosen_parent(
    pki: Manifest, tmp_path: Path
) -> None:
    signer = KeyFileSigner(pki, "rsa-sign")
    options = XmlSignOptions(sign_element="//p:applicant", parent="/*/*[local-name()='signatures']")
    signed = await sign_xml(signer, signer.certificate, DOC, options)

    assert algorithms(signed)["uri"] == "#applicant"
    assert signature_of(signed).getparent().tag == "{urn:tanba:test}signatures"
    assert xmlsec1(pki, signed, tmp_path, "urn:tanba:person:applicant")
    assert signxml_ok(signed, signer.certificate)
    # Only the referenced element is covered: a change inside it breaks the signature,
    # a change outside it does not.
    assert not xmlsec1(pki, signed.replace("ТЕСТОВ".encode(), "ТЕСТОВА".encode()), tmp_path,
                       "urn:tanba:person:applicant")
    assert xmlsec1(pki, signed.replace(b"1000", b"9000"), tmp_path, "urn:tanba:person:applicant")


async def test_sub_element_without_id_signs_the_whole_document(
    pki: Manifest, tmp_path: Path
) -> None:
    signer = KeyFileSigner(pki, "ec-sign")
    options = XmlSignOptions(sign_element="/*/*[2]", parent="/*/*[3]")
    signed = await sign_xml(signer, signer.certificate, DOC, options)
    assert algorithms(signed)["uri"] == ""
    assert xmlsec1(pki, signed, tmp_path)
    assert not xmlsec1(pki, signed.replace("ТЕСТОВ".encode(), "ТЕСТОВА".encode()), tmp_path)


async def test_signature_inside_the_signed_element_is_enveloped(
    pki: Manifest, tmp_path: Path
) -> None:
    signer = KeyFileSigner(pki, "ec-sign")
    options = XmlSignOptions(sign_element="//p:applicant", parent="//p:applicant")
    signed = await sign_xml(signer, signer.certificate, DOC, options)
    assert xmlsec1(pki, signed, tmp_path, "urn:tanba:person:applicant")
    assert signxml_ok(signed, signer.certificate)


@pytest.mark.parametrize("name", ["rsa-sign", "ec-sign"])
async def test_exclusive_c14n_on_request(pki: Manifest, tmp_path: Path, name: str) -> None:
    signer = KeyFileSigner(pki, name)
    for sign_element in ("", "//p:applicant"):
        options = XmlSignOptions(sign_element=sign_element, exclusive=True)
        signed = await sign_xml(signer, signer.certificate, DOC, options)
        found = algorithms(signed)
        assert found["c14n"] == EXC
        assert found["transforms"] == [DS + "enveloped-signature", EXC + "WithComments"]
        assert xmlsec1(pki, signed, tmp_path, "urn:tanba:person:applicant")
        assert signxml_ok(signed, signer.certificate)


@pytest.mark.parametrize(
    ("name", "hash_alg", "method", "digest"),
    [
        ("rsa-sign", HashAlgorithm.SHA512, "rsa-sha512", "http://www.w3.org/2001/04/xmlenc#sha512"),
        ("ec-sign", HashAlgorithm.SHA384, "ecdsa-sha384",
         "http://www.w3.org/2001/04/xmldsig-more#sha384"),
    ],
)
async def test_sha384_and_sha512_variants(
    pki: Manifest, tmp_path: Path, name: str, hash_alg: HashAlgorithm, method: str, digest: str
) -> None:
    signer = KeyFileSigner(pki, name)
    signed = await sign_xml(signer, signer.certificate, DOC, XmlSignOptions(hash_alg=hash_alg))
    found = algorithms(signed)
    assert found["method"] == "http://www.w3.org/2001/04/xmldsig-more#" + method
    assert found["digest"] == digest
    assert xmlsec1(pki, signed, tmp_path)


async def test_batch_is_signed_in_one_signer_call_and_every_document_verifies(
    pki: Manifest, tmp_path: Path
) -> None:
    signer = KeyFileSigner(pki, "rsa-sign")
    docs = [f"<doc n='{i}'>Документ №{i}</doc>".encode() for i in range(5)]
    signed = await sign_xml_batch(signer, signer.certificate, docs)
    assert signer.batch_calls == [5]
    assert len(signed) == 5
    for i, out in enumerate(signed):
        assert f"Документ №{i}".encode() in out
        assert not out.startswith(b"<?xml")  # no declaration in, none out
        assert xmlsec1(pki, out, tmp_path)
    # A signature belongs to its own document only.
    swapped = signed[0].replace(b"n=\"0\"", b"n=\"1\"").replace("№0".encode(), "№1".encode())
    assert not xmlsec1(pki, swapped, tmp_path)


async def test_comments_stay_in_place_but_are_not_covered(pki: Manifest, tmp_path: Path) -> None:
    # URI="" drops comments before the transforms (XML-DSig 4.3.3.3), as xmlsec1 and
    # Santuario (NCALayer) do.  signxml keeps them, so it is not asked here.
    signer = KeyFileSigner(pki, "ec-sign")
    doc = ('<?xml-stylesheet href="a.xsl"?><!-- top -->'
           "<r><!-- комментарий --><v>Алматы</v><!--2--></r>").encode()
    signed = await sign_xml(signer, signer.certificate, doc)
    assert signed.startswith(('<?xml-stylesheet href="a.xsl"?><!-- top -->'
                              "<r><!-- комментарий --><v>Алматы</v><!--2--><ds:Signature").encode())
    assert xmlsec1(pki, signed, tmp_path)
    assert xmlsec1(pki, signed.replace("комментарий".encode(), "другой".encode()), tmp_path)
    assert not xmlsec1(pki, signed.replace("Алматы".encode(), "Астана".encode()), tmp_path)
    # Processing instructions outside the root are part of the signed document.
    assert not xmlsec1(pki, signed.replace(b"a.xsl", b"b.xsl"), tmp_path)


async def test_output_is_utf8_whatever_the_input_encoding(pki: Manifest, tmp_path: Path) -> None:
    signer = KeyFileSigner(pki, "rsa-sign")
    # Cyrillic element names too (signxml cannot re-serialise those; xmlsec1 can).
    doc = '<?xml version="1.0" encoding="windows-1251"?><заявка>Привет</заявка>'.encode("cp1251")
    signed = await sign_xml(signer, signer.certificate, doc)
    assert signed.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert "<заявка>Привет<ds:Signature".encode() in signed
    assert xmlsec1(pki, signed, tmp_path)


async def test_signature_next_to_an_existing_one_covers_it(pki: Manifest, tmp_path: Path) -> None:
    first = KeyFileSigner(pki, "rsa-sign")
    second = KeyFileSigner(pki, "ec-sign")
    once = await sign_xml(first, first.certificate, DOC)
    twice = await sign_xml(second, second.certificate, once, XmlSignOptions(parent="/*/*[3]"))
    root = etree.fromstring(twice)
    assert len(root.findall(".//ds:Signature", NS)) == 2
    # xmlsec1 checks the first Signature it finds in document order: the new one, under
    # signatures, comes first; it covers the earlier signature too.
    assert signature_of_first(twice) == "signatures"
    assert xmlsec1(pki, twice, tmp_path)


def signature_of_first(signed: bytes) -> str:
    first = etree.fromstring(signed).find(".//ds:Signature", NS)
    assert first is not None
    return str(etree.QName(first.getparent()).localname)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (XmlSignOptions(sign_element="//nothing"), "document 0: sign_element XPath matches nothing"),
        (XmlSignOptions(parent="//p:nothing"), "document 0: parent XPath matches nothing"),
        (XmlSignOptions(parent="/*/*"), "document 0: parent XPath matches 3 nodes, not one"),
        (XmlSignOptions(sign_element="//p:applicant/@Id"),
         "document 0: sign_element XPath does not select an element"),
        (XmlSignOptions(sign_element="count(//*)"), "document 0: sign_element XPath matches nothing"),
        (XmlSignOptions(parent="//[broken"), "document 0: parent is not a valid XPath"),
        (XmlSignOptions(sign_element="//q:x"), "document 0: sign_element is not a valid XPath"),
    ],
)
async def test_bad_xpath_is_invalid_params_and_nothing_is_signed(
    pki: Manifest, options: XmlSignOptions, message: str
) -> None:
    signer = KeyFileSigner(pki, "rsa-sign")
    with pytest.raises(InvalidParams) as info:
        await sign_xml(signer, signer.certificate, DOC, options)
    assert str(info.value) == message
    assert signer.batch_calls == []


async def test_ambiguous_id_is_refused(pki: Manifest) -> None:
    signer = KeyFileSigner(pki, "rsa-sign")
    doc = b'<r><a Id="x">1</a><b ID="x">2</b></r>'
    with pytest.raises(InvalidParams, match="Id is not unique"):
        await sign_xml(signer, signer.certificate, doc, XmlSignOptions(sign_element="/r/a"))


async def test_hostile_document_refuses_the_whole_batch_before_signing(pki: Manifest) -> None:
    signer = KeyFileSigner(pki, "rsa-sign")
    hostile = b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>&e;</r>'
    with pytest.raises(InvalidParams, match="DOCTYPE is refused") as info:
        await sign_xml_batch(signer, signer.certificate, [DOC, hostile])
    assert info.value.reason == "invalid_params"
    with pytest.raises(InvalidParams, match="XML larger than 100 bytes"):
        await sign_xml(signer, signer.certificate, DOC, XmlSignOptions(max_bytes=100))
    assert signer.batch_calls == []


async def test_key_that_does_not_match_the_certificate_yields_no_document(pki: Manifest) -> None:
    signer = KeyFileSigner(pki, "rsa-auth", cert_of="rsa-sign")
    with pytest.raises(InternalError):
        await sign_xml(signer, signer.certificate, DOC)


async def test_batch_through_the_pkcs12_store(pki: Manifest, tmp_path: Path) -> None:
    ident = pki.identities["rsa-sign"]
    store = Pkcs12Store([ident.p12])
    try:
        [identity] = await store.unlock_file(ident.p12, bytearray(ident.p12_password.encode()))
        async with await store.open(identity, None) as signer:
            docs = [DOC, "<r>Второй документ</r>".encode()]
            signed = await sign_xml_batch(signer, identity.certificate, docs)
    finally:
        await store.close()
    for out in signed:
        assert algorithms(out)["method"] == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
        assert xmlsec1(pki, out, tmp_path)


@pytest.mark.softhsm
async def test_ec_key_on_a_pkcs11_token(pki: Manifest, softhsm: SoftHSM, tmp_path: Path) -> None:
    store = Pkcs11Store(Path(softhsm.module), "AKKaztokenStore", token_label=softhsm.label)
    try:
        want = pki.identities["ec-sign"].certificate()
        [identity] = [i for i in await store.identities() if i.certificate == want]
        async with await store.open(identity, bytearray(softhsm.pin.encode())) as signer:
            options = XmlSignOptions(sign_element="//p:applicant", parent="/*/*[3]")
            signed = await sign_xml_batch(signer, identity.certificate, [DOC, DOC], options)
    finally:
        await store.close()
    for out in signed:
        assert algorithms(out)["method"] == "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
        assert xmlsec1(pki, out, tmp_path, "urn:tanba:person:applicant")
        assert signxml_ok(out, identity.certificate)


async def test_prefixes_declared_below_the_root_work_in_xpaths_and_the_first_declaration_wins(
    pki: Manifest, tmp_path: Path
) -> None:
    signer = KeyFileSigner(pki, "rsa-sign")
    doc = (b'<r xmlns:a="urn:first"><x xmlns:b="urn:inner"><b:item Id="it">1</b:item></x>'
           b'<y xmlns:a="urn:second"><a:slot/></y><a:slot/></r>')
    options = XmlSignOptions(sign_element="//b:item", parent="//a:slot")
    signed = await sign_xml(signer, signer.certificate, doc, options)
    assert algorithms(signed)["uri"] == "#it"
    assert signature_of(signed).getparent().getparent().tag == "r"  # a:slot of urn:first, not urn:second
    assert xmlsec1(pki, signed, tmp_path, "urn:inner:item")


async def test_too_many_namespace_declarations_refuse_the_batch_before_signing(pki: Manifest) -> None:
    signer = KeyFileSigner(pki, "rsa-sign")
    ns = "".join(f' xmlns:p{i}="urn:{i}"' for i in range(129))
    heavy = f"<r{ns}><a/></r>".encode()
    with pytest.raises(InvalidParams, match="more than 128 namespace declarations in scope"):
        await sign_xml_batch(signer, signer.certificate, [DOC, heavy])
    assert signer.batch_calls == []
