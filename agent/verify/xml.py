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

Exactly one ds:Signature with one Reference is expected.  With ``Reference URI=""`` the
whole document is covered; with ``URI="#id"`` only that element is.

Outcomes follow the CMS verifier (:mod:`tanba.agent.verify.cms`): what is not a usable
XML signature is ``invalid_params``; a signature that cannot be confirmed is a result with
``valid: false`` and a problem code — ``signature_invalid`` when no certificate's key
verifies it, ``weak_algorithm`` for SHA-1, ``unsupported_algorithm`` when a certificate
carries a key we cannot use (GOST, Ed25519...) and no other one verifies.  A certificate
whose key type does not fit the SignatureMethod is simply not the signer.

Parsing, signxml's C14N and the signature checks are CPU work on documents up to 16 MiB:
they run in a worker thread, so the agent answers other sockets meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from lxml import etree
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature, SignXMLException
from signxml.verifier import XMLVerifier

from tanba.agent.formats.xmlparse import parse_xml
from tanba.agent.verify.chain import ChainValidator
from tanba.protocol.errors import InvalidParams
from tanba.protocol.methods.verify import SignerResult, VerifyResult
from tanba.providers.certificate import to_pem

logger = logging.getLogger(__name__)

DS = "http://www.w3.org/2000/09/xmldsig#"
MAX_KEYINFO_CERTS = 16
#: key types signxml verifies with; any other makes a certificate unusable here
_USABLE_KEYS = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, dsa.DSAPublicKey)
#: signxml's words for "this key is of another type than the SignatureMethod names"
_KEY_TYPE_MISMATCH = "does not match specified signature algorithm"


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
