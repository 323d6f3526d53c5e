"""Verify an enveloped XML-DSig signature (the NCALayer profile and other common ones).

The document is parsed by :func:`tanba.agent.formats.xmlparse.parse_xml` (no DOCTYPE, no
entities, no network, bounded size and depth) before anything else looks at it.  signxml
then checks the references and the SignatureValue (C14N 1.0 / exclusive, with or without
comments; RSA PKCS#1 v1.5, RSA-PSS, ECDSA; SHA-256/384/512 — SHA-1 is refused) with the key
of a certificate from ``KeyInfo/X509Data``; when several are given, the one whose key
verifies is the signer and the rest are offered as intermediates.  The signer's chain and
revocation come from :class:`~tanba.agent.verify.chain.ChainValidator`, as for CMS.

signxml would refuse an expired certificate before checking the signature; here validity
periods belong to the chain check (``chainValid``), so that check is turned off in signxml.

Exactly one ds:Signature is expected, with one Reference (GOST: up to
:data:`MAX_REFERENCES`).  With ``Reference URI=""`` the whole document is covered; with
``URI="#id"`` only that element is.

Outcomes follow the CMS verifier (:mod:`tanba.agent.verify.cms`): what is not a usable
XML signature is ``invalid_params``; a signature that cannot be confirmed is a result with
``valid: false`` and a problem code — ``signature_invalid`` when no certificate's key
verifies it, ``weak_algorithm`` for SHA-1, ``unsupported_algorithm`` when a certificate
carries a key we cannot use (GOST, Ed25519...) and no other one verifies.  A certificate
whose key type does not fit the SignatureMethod is simply not the signer.

GOST signatures (a SignatureMethod of :data:`tanba.crypto.gost.FAMILIES`: Kazakhstan's
2004 and 2015 keys, Russia's 2012 keys) are verified by Tanba's own path, since signxml
knows no GOST.  It checks what Tanba itself signs (:mod:`tanba.agent.formats.xmldsig`) and
nothing more: SignedInfo canonicalised with C14N 1.0 or exclusive C14N (with or without
comments); one to :data:`MAX_REFERENCES` References, each same-document — ``URI=""`` (the
document) or ``URI="#id"`` (the one element whose ``Id``/``ID``/``id`` is ``id``) — with the
transforms enveloped-signature (optional, first) and one C14N (optional); a DigestMethod of
a GOST family or SHA-256/384/512.  Anything else (other references, XPath/XSLT/base64
transforms, C14N 1.1, InclusiveNamespaces) is ``unsupported_algorithm`` for that signer —
a result, not an error — and SHA-1 is ``weak_algorithm``.  As in the signer, comments are
not part of a same-document reference (XML-DSig 4.4.3.3) whatever the C14N says; inside
SignedInfo, a ``#WithComments`` method keeps them.  DigestValues are compared with the
hash output as is, and the SignatureValue is read in the family's byte order (r_LE || s_LE
for KZ keys, as Kalkan writes it; s || r big-endian for RU keys) over the hash of the
canonical SignedInfo; a KeyInfo certificate of the SignatureMethod's family whose key
verifies it is the signer.  A Reference that points at no element, or at several, does
not verify (``signature_invalid``).

Parsing, signxml's C14N and the signature checks are CPU work on documents up to 16 MiB:
they run in a worker thread, so the agent answers other sockets meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
from dataclasses import dataclass
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from lxml import etree
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature, SignXMLException
from signxml.verifier import XMLVerifier

from tanba.agent.formats import xmldsig
from tanba.agent.formats.digest import hash_bytes
from tanba.agent.formats.xmlparse import parse_xml
from tanba.agent.verify.chain import ChainValidator
from tanba.crypto.gost import Family, by_xml_signature_uri, hash_of_xml_digest_uri
from tanba.protocol.errors import InvalidParams
from tanba.protocol.methods.verify import SignerResult, VerifyResult
from tanba.providers.base import HashAlgorithm
from tanba.providers.certificate import to_pem
from tanba.providers.keyalg import gost_public_key, key_family

logger = logging.getLogger(__name__)

DS = "http://www.w3.org/2000/09/xmldsig#"
MAX_KEYINFO_CERTS = 16
#: key types signxml verifies with; any other makes a certificate unusable here
_USABLE_KEYS = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, dsa.DSAPublicKey)
#: signxml's words for "this key is of another type than the SignatureMethod names"
_KEY_TYPE_MISMATCH = "does not match specified signature algorithm"
#: References one GOST signature may carry (each costs a C14N and a hash of up to the document)
MAX_REFERENCES: Final = 8
#: C14N URIs the GOST path knows: (exclusive, with comments)
_C14N: Final = {
    xmldsig.C14N: (False, False),
    xmldsig.C14N_WITH_COMMENTS: (False, True),
    xmldsig.EXC_C14N: (True, False),
    xmldsig.EXC_C14N_WITH_COMMENTS: (True, True),
}
_SHA2_DIGESTS: Final = {uri: alg for alg, uri in xmldsig.DIGEST_METHODS.items()}
_SHA1_DIGEST: Final = DS + "sha1"


class _Verifier(XMLVerifier):
    def _check_cert_validity(self, cert: Any, cert_source: Any) -> None:
        """Validity periods are judged by the chain check, not here."""


@dataclass(frozen=True)
class _Checked:
    """The offline part: which KeyInfo certificate (if any) verifies the signature."""

    certs: tuple[x509.Certificate, ...]
    signer: x509.Certificate | None
    problem: str  # why no certificate verified ("" when one did)


async def verify_xml(document: bytes, validator: ChainValidator) -> VerifyResult:
    """Verify the enveloped signature in ``document``; InvalidParams for what is not one."""
    checked = await asyncio.to_thread(_check_offline, document)
    signer = checked.signer
    if signer is None:
        result = SignerResult(
            certificate=to_pem(checked.certs[0]),
            signing_time=None,
            timestamp=None,
            chain_valid=False,
            revocation="unknown",
            signature_valid=False,
            problems=(checked.problem,),
        )
        return VerifyResult(valid=False, signers=(result,))

    status = await validator.validate(signer, [c for c in checked.certs if c is not signer])
    result = SignerResult(
        certificate=to_pem(signer),
        signing_time=None,
        timestamp=None,
        chain_valid=status.chain_valid,
        revocation=status.revocation,
        signature_valid=True,
        problems=status.problems,
    )
    return VerifyResult(valid=validator.acceptable(status), signers=(result,))


def _check_offline(document: bytes) -> _Checked:
    """Parse ``document`` and try its KeyInfo certificates in turn (in a worker thread)."""
    root = parse_xml(document).getroot()
    signatures = root.findall(f".//{{{DS}}}Signature")
    if root.tag == f"{{{DS}}}Signature":
        signatures.append(root)
    if len(signatures) != 1:
        raise InvalidParams(f"expected one ds:Signature, found {len(signatures)}")
    certs = tuple(_keyinfo_certificates(signatures[0]))
    if not certs:
        raise InvalidParams("the signature carries no KeyInfo/X509Data/X509Certificate")
    family = _gost_family(signatures[0])
    if family is not None:
        return _check_gost(root, signatures[0], family, certs)

    problems: list[str] = []
    for cert in certs:
        problem = _verify_with(root, cert)
        if problem is None:
            return _Checked(certs, cert, "")
        problems.append(problem)
        if problem == "weak_algorithm":
            break  # the same for every certificate
    # A key we cannot use might have been the signer's: that is not a proof of forgery.
    for code in ("weak_algorithm", "unsupported_algorithm"):
        if code in problems:
            return _Checked(certs, None, code)
    return _Checked(certs, None, "signature_invalid")


def _verify_with(root: Any, cert: x509.Certificate) -> str | None:
    """None when ``cert``'s key verifies the signature, else a problem code.

    Raises InvalidParams for a signature that is malformed whatever the key.
    """
    subject = _subject(cert)
    try:
        usable = isinstance(cert.public_key(), _USABLE_KEYS)
    except (UnsupportedAlgorithm, ValueError) as exc:  # e.g. a GOST key: cryptography cannot load it
        logger.info("XML signature: the key of %s cannot be used: %s", subject, exc)
        return "unsupported_algorithm"
    if not usable:
        logger.info("XML signature: the key type of %s is not one XML-DSig verifies here", subject)
        return "unsupported_algorithm"
    try:
        _Verifier().verify(root, x509_cert=cert)
    except (InvalidSignature, InvalidDigest, InvalidCertificate) as exc:
        logger.info("XML signature does not verify with %s: %s", subject, exc)
        return "signature_invalid"
    except UnsupportedAlgorithm as exc:  # cryptography refusing a curve or hash for this key
        logger.info("XML signature: cryptography cannot check the key of %s: %s", subject, exc)
        return "unsupported_algorithm"
    except InvalidInput as exc:
        if "SHA1" in str(exc) or "not expected" in str(exc).lower():
            logger.info("XML signature uses a refused algorithm: %s", exc)
            return "weak_algorithm"
        if _KEY_TYPE_MISMATCH in str(exc):
            logger.info("XML signature: the key of %s is not of the SignatureMethod's type", subject)
            return "signature_invalid"
        raise InvalidParams(f"not a usable XML signature: {exc}") from exc
    except (SignXMLException, etree.LxmlError, ValueError, TypeError, KeyError) as exc:
        # DocumentInvalid (an LxmlError): signxml's schema check of a malformed ds:Signature
        raise InvalidParams(f"not a usable XML signature: {exc}") from exc
    return None


def _subject(cert: x509.Certificate) -> str:
    """The subject for the log; a malformed one must not turn a verdict into ``internal``."""
    try:
        return cert.subject.rfc4514_string()
    except ValueError:
        return "a certificate with an unreadable subject"


def _keyinfo_certificates(signature: Any) -> list[x509.Certificate]:
    elements = signature.findall(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if len(elements) > MAX_KEYINFO_CERTS:
        raise InvalidParams("too many certificates in KeyInfo")
    certs = []
    for element in elements:
        try:
            der = base64.b64decode("".join((element.text or "").split()), validate=True)
            certs.append(x509.load_der_x509_certificate(der))
        except (binascii.Error, ValueError, x509.InvalidVersion) as exc:  # InvalidVersion: no ValueError
            raise InvalidParams("KeyInfo holds a certificate that cannot be read") from exc
    return certs


# --- GOST: Tanba's own path ---------------------------------------------------------------


@dataclass(frozen=True)
class _Reference:
    """One checked-to-be-supported Reference: what it covers and what it must hash to."""

    covered: Any  # the document (an ElementTree) or one element
    enveloped: bool
    exclusive: bool
    hash_alg: HashAlgorithm
    digest_value: bytes


def _gost_family(signature: Any) -> Family | None:
    method = signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
    return by_xml_signature_uri(method.get("Algorithm") or "") if method is not None else None


def _check_gost(root: Any, signature: Any, family: Family, certs: tuple[x509.Certificate, ...]) -> _Checked:
    """Check a GOST signature's references and SignatureValue (see the module docstring)."""
    signed_info = _only(signature, "SignedInfo")
    method = _only(signed_info, "CanonicalizationMethod")
    c14n = _C14N.get(method.get("Algorithm") or "")
    if c14n is None or len(method):  # C14N 1.1, an InclusiveNamespaces PrefixList...
        logger.info("XML signature: a SignedInfo canonicalisation the GOST path does not know")
        return _Checked(certs, None, "unsupported_algorithm")
    # SignedInfo as it sits in the document, before the enveloped transform detaches it
    signed_info_octets = _canonical(signed_info, exclusive=c14n[0], comments=c14n[1])
    elements = signed_info.findall(f"{{{DS}}}Reference")
    if not elements:
        raise InvalidParams("not a usable XML signature: SignedInfo has no Reference")
    if len(elements) > MAX_REFERENCES:
        raise InvalidParams(f"not a usable XML signature: more than {MAX_REFERENCES} References")
    references = []
    for element in elements:
        reference = _reference(root, signature, element)
        if isinstance(reference, str):
            return _Checked(certs, None, reference)
        references.append(reference)
    value = _base64(_only(signature, "SignatureValue"), "SignatureValue")

    # References without the enveloped transform see the Signature; then it is taken out
    # (its tail stays) and the enveloped ones are digested.
    for reference in sorted(references, key=lambda r: r.enveloped):
        if reference.enveloped and signature.getparent() is not None:
            _detach(signature)
        octets = _canonical(reference.covered, exclusive=reference.exclusive, comments=False)
        if not hmac.compare_digest(hash_bytes(octets, reference.hash_alg), reference.digest_value):
            logger.info("XML signature: a Reference's DigestValue does not match the document")
            return _Checked(certs, None, "signature_invalid")

    digest = hash_bytes(signed_info_octets, HashAlgorithm(family.hash))
    unusable = False
    for cert in certs:
        if key_family(cert) != family:
            continue  # another key type is not the signer
        try:
            key = gost_public_key(cert)
        except InvalidParams as exc:
            logger.info("XML signature: the key of %s cannot be used: %s", _subject(cert), exc)
            unusable = True
            continue
        if key.verify(digest, value):
            return _Checked(certs, cert, "")
        logger.info("XML signature does not verify with %s", _subject(cert))
    return _Checked(certs, None, "unsupported_algorithm" if unusable else "signature_invalid")


def _reference(root: Any, signature: Any, element: Any) -> _Reference | str:
    """The Reference as :class:`_Reference`, or the problem code that refuses it."""
    uri = element.get("URI")
    covered: Any
    if uri == "":
        covered = root.getroottree()
    elif uri is not None and uri.startswith("#") and xmldsig.is_xml_name(uri[1:]):
        found = xmldsig.elements_with_id(root, uri[1:])
        if len(found) != 1:
            logger.info("XML signature: a Reference points at %d elements", len(found))
            return "signature_invalid"
        covered = found[0]
    else:  # no URI, another document, an XPointer
        logger.info("XML signature: a Reference the GOST path does not follow")
        return "unsupported_algorithm"

    algorithms = []
    transforms = element.find(f"{{{DS}}}Transforms")
    if transforms is not None:
        for transform in transforms:
            if transform.tag != f"{{{DS}}}Transform" or len(transform):  # e.g. XPath, InclusiveNamespaces
                return "unsupported_algorithm"
            algorithms.append(transform.get("Algorithm") or "")
    enveloped = bool(algorithms) and algorithms[0] == xmldsig.ENVELOPED
    rest = algorithms[1:] if enveloped else algorithms
    exclusive = False  # no C14N named: the node-set becomes octets by C14N 1.0
    if rest and rest[0] in _C14N:
        exclusive = _C14N[rest[0]][0]
        rest = rest[1:]
    if rest:
        logger.info("XML signature: %d transform(s) the GOST path does not apply", len(rest))
        return "unsupported_algorithm"
    if enveloped and (signature.getparent() is None or _within(covered, signature)):
        return "unsupported_algorithm"  # the transform would take out the whole covered part

    method = _only(element, "DigestMethod").get("Algorithm") or ""
    if method == _SHA1_DIGEST:
        return "weak_algorithm"
    national = hash_of_xml_digest_uri(method)
    hash_alg = HashAlgorithm(national) if national is not None else _SHA2_DIGESTS.get(method)
    if hash_alg is None:
        logger.info("XML signature: a DigestMethod the GOST path does not know")
        return "unsupported_algorithm"
    digest_value = _base64(_only(element, "DigestValue"), "DigestValue")
    return _Reference(covered, enveloped, exclusive, hash_alg, digest_value)


def _within(covered: Any, signature: Any) -> bool:
    """Whether ``covered`` is the Signature or inside it (the document never is)."""
    if not isinstance(covered, etree._Element):
        return False
    return covered is signature or any(node is signature for node in covered.iterancestors())


def _detach(signature: Any) -> None:
    """Take the Signature out of its document as the enveloped-signature transform does:
    the element and its content go, the text after it stays where it was."""
    parent = signature.getparent()
    tail = signature.tail
    if tail:
        previous = signature.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
        signature.tail = None
    parent.remove(signature)


def _canonical(node: Any, *, exclusive: bool, comments: bool) -> bytes:
    try:
        data: bytes = etree.tostring(node, method="c14n", exclusive=exclusive, with_comments=comments)
    except (etree.LxmlError, ValueError) as exc:
        raise InvalidParams("not a usable XML signature: the document cannot be canonicalised") from exc
    return data


def _only(parent: Any, name: str) -> Any:
    found = parent.findall(f"{{{DS}}}{name}")
    if len(found) != 1:
        raise InvalidParams(f"not a usable XML signature: expected one ds:{name}, found {len(found)}")
    return found[0]


def _base64(element: Any, name: str) -> bytes:
    try:
        return base64.b64decode("".join((element.text or "").split()), validate=True)
    except binascii.Error as exc:
        raise InvalidParams(f"not a usable XML signature: {name} is not base64") from exc
