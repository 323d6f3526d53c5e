"""An independent check of a GOST CMS SignedData, written for the tests from the standards
(RFC 5652 and DESIGN.md's NCA/RFC conventions), not from Tanba's verifier: parse with
asn1crypto, recompute the messageDigest with the family's hash, verify the signature over
the DER of the signed attributes with the certificate's GOST key."""

from __future__ import annotations

import base64

from asn1crypto import cms
from cryptography import x509

from tanba.crypto import gost, hashes
from tanba.providers.gost_asn1 import public_key_of_certificate


def der_of(value: bytes | str) -> bytes:
    """DER from DER, base64 or PEM (NCALayer's basics answers PEM)."""
    if isinstance(value, str):
        lines = [line for line in value.strip().splitlines() if not line.startswith("-----")]
        return base64.b64decode("".join(lines))
    return value


def check_gost_cms(signature: bytes | str, content: bytes | None = None) -> tuple[x509.Certificate, bytes]:
    """(signer certificate, signed content) of a one-signer GOST CMS; AssertionError if it
    does not verify.  ``content`` is needed for detached signatures."""
    info = cms.ContentInfo.load(der_of(signature))
    signed = info["content"]
    [signer] = list(signed["signer_infos"])
    attached = signed["encap_content_info"]["content"].native
    data = attached if attached is not None else content
    assert data is not None, "a detached CMS needs its content"
    certs = [c.chosen.dump() for c in signed["certificates"]]
    sid = signer["sid"].chosen
    cert_der = next(c for c in certs if cms.Certificate.load(c).serial_number == sid["serial_number"].native)
    public = public_key_of_certificate(cert_der)
    family = gost.by_signature_oid(signer["signature_algorithm"]["algorithm"].dotted)
    assert family is public.family, (family, public.family)
    assert gost.hash_of_oid(signer["digest_algorithm"]["algorithm"].dotted) == family.hash
    attrs = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
    assert attrs["message_digest"].native == hashes.digest(family.hash, data), "messageDigest"
    signed_attrs = signer["signed_attrs"].untag().dump(force=True)
    digest = hashes.digest(family.hash, signed_attrs)
    assert public.verify(digest, signer["signature"].native), "signature"
    return x509.load_der_x509_certificate(cert_der), data
