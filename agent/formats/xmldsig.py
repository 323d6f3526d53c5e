"""Enveloped XML-DSig in the profile NCALayer produces.

What comes out (DESIGN.md, "XML signature profile")::

    <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
      <ds:SignedInfo>
        <ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>
        <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
        <ds:Reference URI="">
          <ds:Transforms>
            <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
            <ds:Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"/>
          </ds:Transforms>
          <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
          <ds:DigestValue>...</ds:DigestValue>
        </ds:Reference>
      </ds:SignedInfo>
      <ds:SignatureValue>...</ds:SignatureValue>
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>...</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </ds:Signature>

(written without the whitespace shown here).  ``chain`` (the ``/v1`` ``includeChain``) adds the
signer's issuing certificates after its own, as further X509Certificate elements of the same
X509Data — exactly the certificates the CMS builder puts in ``SignedData.certificates``: the
store's chain, nearest issuer first, the root too when the store holds it.  Without it (the
NCALayer endpoint, ``includeChain: false``) X509Data holds the signer's certificate alone, as
Kalkan writes it.  The signer's certificate always comes first.

EC keys get ``xmldsig-more#ecdsa-sha256`` and a raw ``r||s`` SignatureValue (the Signer
returns DER; it is converted here).  Options: exclusive C14N (``xml-exc-c14n#`` for
SignedInfo, ``xml-exc-c14n#WithComments`` as the reference transform) and SHA-384/512
(digest and signature method both follow).

GOST keys (DESIGN.md, "National algorithms") keep the same profile and take their family's
URIs and hash, for DigestValue and SignedInfo alike; a request naming another hash for such
a key is ``invalid_params`` (:func:`tanba.providers.keyalg.signing_hash`):

* KZ GOST 34.310-2004: ``xmldsig-more#gost34310-gost34311`` / ``xmldsig-more#gost34311``;
  KZ 2015: ``urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34102015-gostr34112015-512``
  / ``…:gostr34112015-512`` (``-256`` by analogy);
* RU GOST R 34.10-2012: ``urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34102012-gostr34112012-256``
  / ``…:gostr34112012-256`` (and ``-512``);
* BY bign: ``http://www.w3.org/2009/xmldsig11#bign-with-hbelt`` / ``…#belt-hash256`` (the names
  of bee2j, by bee2's authors; ``xmldsig-more#`` spellings, jbelt's, are read too), and
  ``…#bign-with-bash384`` / ``…#bash384`` (``512``) for the larger curves.  The
  SignatureValue is the bign signature S0 || S1 as the standard writes it.

How Kalkan encodes them, found on a real Kalkan document (``kalkan_gost2004.xml``, NCA test
data, GOST 34.310-2004 key; pinned by ``tests/agent/verify/test_xml_gost.py``):

* DigestValue is the GOST 34.311-95 hash exactly as the hash outputs it (what
  ``tanba.crypto.hashes`` and the gost engine print; the reversed bytes do not match);
* SignatureValue is the 64 bytes r_LE || s_LE over e = the SignedInfo hash (as output) read
  little-endian — the NCA order of Kalkan's CMS SignerInfos.  Of the ten candidates tried
  (as is, reversed, halves swapped, each half reversed, both; over the hash and over its
  reverse) only this one verifies.  Byte for byte it is the RFC value s_BE || r_BE reversed
  as a whole: the gost engine, given the key as a GOST 2001 key on the same curve
  (CryptoPro-A), verifies ``value[::-1]`` over the same hash and refuses the value as is.

So an XML SignatureValue is the signature in the family's own order, which is what
``Signer.sign_digests(..., SignatureScheme.GOST3410)`` returns: r_LE || s_LE for KZ keys, and
for RU keys the RFC 4491 order s || r big-endian that the gost engine produces and xmlsec's
OpenSSL back end writes unchanged (its GOST signature format is "do nothing": the EVP bytes).
RU DigestValues are likewise the Streebog output as is.

Semantics of NCALayer's ``signXml(xml, tbsElementXPath, signatureParentElementXPath)``:

* ``sign_element`` (XPath, empty = the document).  If it selects a sub-element that has an
  ``Id`` attribute (also accepted: ``ID``, ``id``), the reference is ``URI="#<value>"``;
  the value must be an XML name and unique among those attributes in the document,
  else the request is refused (an ambiguous Id invites signature wrapping).  A sub-element
  *without* an Id cannot be referenced by a bare-name URI, so the whole document is signed
  (``URI=""``): the signature then covers more than asked, never less.
* ``parent`` (XPath, empty = the root element): the Signature is appended as its last child.
* Each XPath must select exactly one element; nothing, several, or a non-element is
  ``invalid_params``.  Prefixes usable in the XPath are those declared in the document
  (the first declaration of a prefix wins), as the parser reported them.

Note on comments: with ``URI=""`` and ``URI="#id"`` the XML-DSig spec removes comment
nodes before the transforms run, so the ``#WithComments`` transform in this profile never
sees a comment; the digest is over the comment-free canonical form, as xmlsec1 and
Santuario compute it.  Comments stay in the output, and are not covered by the signature.

Why not signxml for signing: its ``XMLSigner`` signs synchronously with a private key
object, whereas our keys sit behind the async ``Signer`` (a PKCS#11 token in a worker
thread); it uses one canonicalisation algorithm for both SignedInfo and the reference
transform, while NCALayer's profile mixes C14N 1.0 with its ``#WithComments`` variant; and
a batch must collect every SignedInfo digest before the single ``sign_digests`` call; and
signxml digests comments under ``URI=""`` + ``#WithComments``, where xmlsec1 and Santuario
drop them (so its signatures over commented documents would not verify there).  Building
the Signature with lxml directly (C14N via ``etree.tostring(method="c14n")``) is shorter
than adapting it.  signxml's ``XMLVerifier`` serves the tests as an independent second
verifier next to xmlsec1, on documents without comments or non-ASCII element names (it
re-serialises those wrongly).

Verifiers of a ``URI="#id"`` reference must be told which attribute is an ID (there is no
DTD): ``xmlsec1 --id-attr:Id <element>``, Santuario's ``setIdAttributeNS``; signxml looks
at ``Id``/``ID``/``id`` by itself.

A signature the key produced is checked against ``cert`` before any document is
returned, so a key/certificate mismatch fails with ``internal`` instead of shipping a
signature nobody can verify.

Input is parsed by :mod:`tanba.agent.formats.xmlparse` (no DOCTYPE, no entities, no
network, bounded nodes and namespace declarations, so the inclusive C14N below stays
linear).  Parsing, C14N and serialisation run in a worker thread, never on the event
loop.  Output is UTF-8, with an XML declaration if the input had one.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from lxml import etree

from tanba.agent.formats.digest import hash_bytes
from tanba.agent.formats.xmlparse import DEFAULT_MAX_BYTES, has_xml_declaration, parse_xml_document
from tanba.crypto.gost import Family
from tanba.protocol.errors import InternalError, InvalidParams
from tanba.providers.base import HashAlgorithm, SignatureScheme, Signer
from tanba.providers.keyalg import gost_public_key, key_family, national_scheme, signing_hash

log = logging.getLogger(__name__)

DS_NS: Final = "http://www.w3.org/2000/09/xmldsig#"
C14N: Final = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_WITH_COMMENTS: Final = C14N + "#WithComments"
EXC_C14N: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_C14N_WITH_COMMENTS: Final = EXC_C14N + "WithComments"
ENVELOPED: Final = DS_NS + "enveloped-signature"
_MORE: Final = "http://www.w3.org/2001/04/xmldsig-more#"
DIGEST_METHODS: Final = {
    HashAlgorithm.SHA256: "http://www.w3.org/2001/04/xmlenc#sha256",
    HashAlgorithm.SHA384: _MORE + "sha384",
    HashAlgorithm.SHA512: "http://www.w3.org/2001/04/xmlenc#sha512",
}
_HASHES: Final[dict[HashAlgorithm, type[hashes.HashAlgorithm]]] = {
    HashAlgorithm.SHA256: hashes.SHA256,
    HashAlgorithm.SHA384: hashes.SHA384,
    HashAlgorithm.SHA512: hashes.SHA512,
}
#: the attributes a bare-name reference (``URI="#value"``) may point at, here and in the verifier
ID_ATTRIBUTES: Final = ("Id", "ID", "id")
_NCNAME: Final = re.compile(r"[^\W\d][\w.\-]*\Z")


@dataclass(frozen=True)
class XmlSignOptions:
    """``sign_element``/``parent`` are NCALayer's tbsElementXPath/signatureParentElementXPath.

    ``hash_alg`` None: the key's own hash (SHA-256 for RSA/EC keys, the family's for GOST)."""

    sign_element: str = ""
    parent: str = ""
    exclusive: bool = False
    hash_alg: HashAlgorithm | None = None
    max_bytes: int = DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class _Method:
    """How one certificate's key signs: scheme, hash, and the URIs that name them."""

    scheme: SignatureScheme
    hash_alg: HashAlgorithm
    signature_uri: str
    digest_uri: str
    family: Family | None  # a GOST key's family; None for RSA/EC


@dataclass
class _Pending:
    """A document with its Signature in place, waiting for the SignatureValue."""

    tree: Any
    signed_info_digest: bytes
    signature_value: Any
    declaration: bool


async def sign_xml(
    signer: Signer,
    cert: x509.Certificate,
    doc: bytes,
    options: XmlSignOptions | None = None,
    *,
    chain: Sequence[x509.Certificate] = (),
) -> bytes:
    """Sign one document; see :func:`sign_xml_batch`."""
    return (await sign_xml_batch(signer, cert, [doc], options, chain=chain))[0]


async def sign_xml_batch(
    signer: Signer,
    cert: x509.Certificate,
    docs: Sequence[bytes],
    options: XmlSignOptions | None = None,
    *,
    chain: Sequence[x509.Certificate] = (),
) -> list[bytes]:
    """Sign every document of ``docs`` with one ``signer.sign_digests`` call.

    ``cert`` is the signer's certificate (embedded first in KeyInfo, and its key type
    picks RSA, ECDSA or a national scheme); ``chain`` its issuers, embedded after it in
    the same X509Data (empty: the signer's certificate alone).  All documents are checked
    before anything is signed: one bad document refuses the whole batch with
    ``invalid_params``.
    """
    options = options or XmlSignOptions()
    method = _signature_method(cert, options.hash_alg)
    cert_b64 = tuple(
        base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in (cert, *chain)
    )
    if not docs:
        return []
    # Parsing, C14N and serialisation are CPU work on up to 16 MiB per document: done off
    # the event loop (lxml releases the GIL; each tree is used by one thread at a time).
    pending = await asyncio.to_thread(
        lambda: [_prepare(doc, i, cert_b64, method, options) for i, doc in enumerate(docs)]
    )
    raw = await signer.sign_digests(
        [p.signed_info_digest for p in pending], method.hash_alg, method.scheme
    )
    if len(raw) != len(pending):
        raise InternalError(f"signer returned {len(raw)} signatures for {len(pending)} digests")
    out = await asyncio.to_thread(
        lambda: [_finish(p, s, cert, method) for p, s in zip(pending, raw, strict=True)]
    )
    log.info("signed %d XML document(s) (%s)", len(out), method.signature_uri.rsplit("#", 1)[-1].rsplit(":", 1)[-1])
    return out


def check_xml_batch(docs: Sequence[bytes], options: XmlSignOptions) -> None:
    """Refuse a batch :func:`sign_xml_batch` would refuse for its documents (not well-formed,
    over a bound, an XPath that selects nothing) — before the user is asked to confirm and
    to type a PIN for it.  CPU work: run it off the event loop."""
    for index, doc in enumerate(docs):
        parsed = parse_xml_document(doc, max_bytes=options.max_bytes)
        root = parsed.tree.getroot()
        target = _select(root, options.sign_element, parsed.prefixes, "sign_element", index)
        _select(root, options.parent, parsed.prefixes, "parent", index)
        _reference_uri(root, target, index)


def _finish(p: _Pending, signature: bytes, cert: x509.Certificate, method: _Method) -> bytes:
    value = _check_and_encode(cert, p.signed_info_digest, signature, method)
    p.signature_value.text = base64.b64encode(value).decode()
    data: bytes = etree.tostring(
        p.tree,
        encoding="UTF-8",
        xml_declaration=p.declaration,
        standalone=True if p.declaration and p.tree.docinfo.standalone else None,
    )
    return data


def _signature_method(cert: x509.Certificate, requested: HashAlgorithm | None) -> _Method:
    """The scheme, hash and URIs for ``cert``'s key; ``invalid_params`` for a hash the key
    does not sign with (a GOST key signs only with its family's)."""
    hash_alg = signing_hash(cert, requested)
    family = key_family(cert)
    if family is not None:
        gost_public_key(cert)  # a key Tanba cannot read is refused before anything is signed
        return _Method(national_scheme(family), hash_alg, family.xml_signature_uri, family.xml_digest_uri, family)
    try:
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError) as exc:
        raise InvalidParams("XML signatures need an RSA, EC, GOST or bign key") from exc
    if isinstance(key, rsa.RSAPublicKey):
        scheme, name = SignatureScheme.RSA_PKCS1V15, "rsa"
    elif isinstance(key, ec.EllipticCurvePublicKey):
        scheme, name = SignatureScheme.ECDSA, "ecdsa"
    else:
        raise InvalidParams("XML signatures need an RSA, EC, GOST or bign key")
    return _Method(scheme, hash_alg, f"{_MORE}{name}-{hash_alg.value}", DIGEST_METHODS[hash_alg], None)


def _prepare(
    doc: bytes, index: int, cert_b64: Sequence[str], method: _Method, options: XmlSignOptions
) -> _Pending:
    parsed = parse_xml_document(doc, max_bytes=options.max_bytes)
    tree, namespaces = parsed.tree, parsed.prefixes
    root = tree.getroot()
    target = _select(root, options.sign_element, namespaces, "sign_element", index)
    parent = _select(root, options.parent, namespaces, "parent", index)
    uri = _reference_uri(root, target, index)
    c14n_uri, transform_uri = (EXC_C14N, EXC_C14N_WITH_COMMENTS) if options.exclusive else (C14N, C14N_WITH_COMMENTS)

    # The digest is taken before the Signature exists: that is exactly the node-set the
    # enveloped-signature transform leaves (the Signature is appended with no tail text).
    # URI="" and URI="#id" drop comments before the transforms (XML-DSig 4.3.3.3).
    covered = tree if uri == "" else target
    digest = hash_bytes(_c14n(covered, options.exclusive, index), method.hash_alg)

    sig = etree.SubElement(parent, f"{{{DS_NS}}}Signature", nsmap={"ds": DS_NS})
    signed_info = _child(sig, "SignedInfo")
    _child(signed_info, "CanonicalizationMethod", Algorithm=c14n_uri)
    _child(signed_info, "SignatureMethod", Algorithm=method.signature_uri)
    ref = _child(signed_info, "Reference", URI=uri)
    transforms = _child(ref, "Transforms")
    _child(transforms, "Transform", Algorithm=ENVELOPED)
    _child(transforms, "Transform", Algorithm=transform_uri)
    _child(ref, "DigestMethod", Algorithm=method.digest_uri)
    _child(ref, "DigestValue").text = base64.b64encode(digest).decode()
    value = _child(sig, "SignatureValue")
    x509_data = _child(_child(sig, "KeyInfo"), "X509Data")
    for b64 in cert_b64:  # the signer's certificate, then its chain
        _child(x509_data, "X509Certificate").text = b64

    # SignedInfo is canonicalised where it sits: inclusive C14N pulls in the namespaces
    # in scope from the document's ancestors, as a verifier will see them.
    signed_info_c14n = _c14n(signed_info, options.exclusive, index)
    return _Pending(
        tree=tree,
        signed_info_digest=hash_bytes(signed_info_c14n, method.hash_alg),
        signature_value=value,
        declaration=has_xml_declaration(doc),
    )


def _child(parent: Any, name: str, **attrs: str) -> Any:
    return etree.SubElement(parent, f"{{{DS_NS}}}{name}", attrs)


def _c14n(node: Any, exclusive: bool, index: int) -> bytes:
    try:
        data: bytes = etree.tostring(node, method="c14n", exclusive=exclusive, with_comments=False)
    except (etree.LxmlError, ValueError) as exc:
        raise InvalidParams(f"document {index}: XML cannot be canonicalised") from exc
    return data


def _select(root: Any, xpath: str, namespaces: dict[str, str], what: str, index: int) -> Any:
    if not xpath:
        return root
    try:
        found = root.xpath(xpath, namespaces=namespaces)
    except etree.XPathError as exc:
        raise InvalidParams(f"document {index}: {what} is not a valid XPath") from exc
    if not isinstance(found, list) or not found:
        raise InvalidParams(f"document {index}: {what} XPath matches nothing")
    if len(found) > 1:
        raise InvalidParams(f"document {index}: {what} XPath matches {len(found)} nodes, not one")
    if not isinstance(found[0], etree._Element) or not isinstance(found[0].tag, str):
        raise InvalidParams(f"document {index}: {what} XPath does not select an element")
    return found[0]


def _reference_uri(root: Any, target: Any, index: int) -> str:
    if target is root:
        return ""
    for name in ID_ATTRIBUTES:
        value = target.get(name)
        if value is not None:
            break
    else:
        return ""  # no Id to reference: sign the whole document
    if not is_xml_name(value):
        raise InvalidParams(f"document {index}: the element's {name} is not an XML name")
    if len(elements_with_id(root, value)) != 1:
        raise InvalidParams(f"document {index}: the element's {name} is not unique")
    return "#" + str(value)


def is_xml_name(value: str) -> bool:
    """Whether ``value`` can be an Id a bare-name ``URI="#value"`` points at (an NCName)."""
    return _NCNAME.match(value) is not None


def elements_with_id(root: Any, value: str) -> list[Any]:
    """The elements whose :data:`ID_ATTRIBUTES` attribute is ``value`` (one XPath pass)."""
    found = root.xpath("//*[@Id=$v or @ID=$v or @id=$v]", v=value)
    assert isinstance(found, list)
    return found


def _check_and_encode(cert: x509.Certificate, digest: bytes, signature: bytes, method: _Method) -> bytes:
    """Verify the signer's answer against ``cert`` and turn ECDSA DER into r||s.

    A GOST signature comes from the Signer in its family's order, which is the XML layout
    (see the module docstring): it is checked and kept as it is."""
    if method.family is not None:
        if not gost_public_key(cert).verify(digest, signature):
            raise InternalError("the key did not produce a valid signature for its certificate")
        return signature
    key = cert.public_key()
    prehashed = Prehashed(_HASHES[method.hash_alg]())
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PKCS1v15(), prehashed)
            return signature
        assert isinstance(key, ec.EllipticCurvePublicKey)
        r, s = decode_dss_signature(signature)
        key.verify(encode_dss_signature(r, s), digest, ec.ECDSA(prehashed))
    except (InvalidSignature, ValueError) as exc:
        raise InternalError("the key did not produce a valid signature for its certificate") from exc
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")
