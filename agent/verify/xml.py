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
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature, SignXMLException
from signxml.verifier import XMLVerifier

from tanba.agent.formats.xmlparse import parse_xml
from tanba.agent.verify.chain import ChainValidator
from tanba.agent.verify.result import SignerResult, VerifyResult
from tanba.protocol.errors import InvalidParams

logger = logging.getLogger(__name__)

DS = "http://www.w3.org/2000/09/xmldsig#"
MAX_KEYINFO_CERTS = 16


class _Verifier(XMLVerifier):
    def _check_cert_validity(self, cert: Any, cert_source: Any) -> None:
        """Validity periods are judged by the chain check, not here."""


async def verify_xml(document: bytes, validator: ChainValidator) -> VerifyResult:
    """Verify the enveloped signature in ``document``; InvalidParams for what is not one."""
    root = parse_xml(document).getroot()
    signatures = root.findall(f".//{{{DS}}}Signature")
    if root.tag == f"{{{DS}}}Signature":
        signatures.append(root)
    if len(signatures) != 1:
        raise InvalidParams(f"expected one ds:Signature, found {len(signatures)}")
    certs = _keyinfo_certificates(signatures[0])
    if not certs:
        raise InvalidParams("the signature carries no KeyInfo/X509Data/X509Certificate")

    signer, problem = None, "signature_invalid"
    for cert in certs:
        try:
            _Verifier().verify(root, x509_cert=cert)
        except (InvalidSignature, InvalidDigest, InvalidCertificate) as exc:
            logger.info("XML signature does not verify with %s: %s", cert.subject.rfc4514_string(), exc)
            continue
        except InvalidInput as exc:
            if "SHA1" in str(exc) or "not expected" in str(exc).lower():
                problem = "weak_algorithm"
                logger.info("XML signature uses a refused algorithm: %s", exc)
                break
            raise InvalidParams(f"not a usable XML signature: {exc}") from exc
        except (SignXMLException, etree.DocumentInvalid, ValueError, TypeError, KeyError) as exc:
            # DocumentInvalid: signxml's schema check of a malformed ds:Signature
            raise InvalidParams(f"not a usable XML signature: {exc}") from exc
        signer = cert
        break

    if signer is None:
        result = SignerResult(
            certificate=_pem(certs[0]),
            signing_time=None,
            timestamp=None,
            chain_valid=False,
            revocation="unknown",
            signature_valid=False,
            problems=(problem,),
        )
        return VerifyResult(valid=False, signers=(result,))

    status = await validator.validate(signer, [c for c in certs if c is not signer])
    result = SignerResult(
        certificate=_pem(signer),
        signing_time=None,
        timestamp=None,
        chain_valid=status.chain_valid,
        revocation=status.revocation,
        signature_valid=True,
        problems=status.problems,
    )
    return VerifyResult(valid=validator.acceptable(status), signers=(result,))


def _keyinfo_certificates(signature: Any) -> list[x509.Certificate]:
    elements = signature.findall(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if len(elements) > MAX_KEYINFO_CERTS:
        raise InvalidParams("too many certificates in KeyInfo")
    certs = []
    for element in elements:
        try:
            der = base64.b64decode("".join((element.text or "").split()), validate=True)
            certs.append(x509.load_der_x509_certificate(der))
        except (binascii.Error, ValueError) as exc:
            raise InvalidParams("KeyInfo holds a certificate that cannot be read") from exc
    return certs


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(Encoding.PEM).decode("ascii")
