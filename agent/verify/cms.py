"""Verify CMS / CAdES signatures (RFC 5652, RFC 5035, RFC 3161 signature timestamps).

Input is what clients send: DER, PEM (any ``-----BEGIN ...-----`` label) or bare base64.
Attached signatures carry their content; detached ones need the content (``data``) or its
digest (``digest``, computed with the signer's digest algorithm).

For every SignerInfo: find the signer certificate (issuerAndSerialNumber or
subjectKeyIdentifier), check contentType and messageDigest, verify the signature over the
DER of the signed attributes (or over the content when there are none) with RSA PKCS#1 v1.5,
RSA-PSS or ECDSA and SHA-256/384/512, or GOST (see below), check signingCertificate(V2)
names that certificate,
check a signatureTimeStampToken (imprint = hash of this signature value, the TSA's own
CMS signature, the TSA certificate's chain and timeStamping EKU), then the signer's chain
and revocation through :class:`~tanba.agent.verify.chain.ChainValidator` — at the
timestamp's genTime when a trusted timestamp exists, else now.  Revocation data is fetched
only for a signer whose signature verified and whose chain reaches a trust anchor, and all
signers of one message share one time budget, fetch count and per-URL cache.

GOST signers (Kazakhstan's NCA keys as Kalkan writes them, Russian GOST R 34.10-2012 keys
as the gost engine and CryptoPro do): the digestAlgorithm is the family's hash (Kazakh or
Russian OID), the signatureAlgorithm names the family's signature OID or — as the gost
engine and Rutoken write — the key OID; both are accepted.  The signature is checked with
:meth:`tanba.crypto.gost.PublicKey.verify` over the family hash of the DER signed
attributes.  The key comes from the certificate's SubjectPublicKeyInfo bytes through
:mod:`tanba.providers.gost_asn1` (neither asn1crypto nor cryptography reads GOST keys).  The
national hashes are pure Python, so such signers are checked in a worker thread.  An
algorithm not known here makes that signer ``unsupported_algorithm``; the message's other
signers are still checked and reported.

Malformed input raises :class:`~tanba.protocol.errors.InvalidParams`; it never yields
``valid``.  A signature that parses but fails a check yields ``valid: false`` with problem
codes (see :mod:`tanba.protocol.methods.verify`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hmac
import logging
import re
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms, pem
from asn1crypto import core as asn1_core
from asn1crypto import tsp  # noqa: F401 - registers signingCertificate(V2) and TSTInfo
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from tanba.agent.formats.digest import hash_bytes
from tanba.agent.http import RequestFetches
from tanba.agent.verify.chain import ChainValidator
from tanba.crypto import gost
from tanba.protocol.errors import InvalidParams
from tanba.protocol.methods.verify import SignerResult, VerifyResult
from tanba.providers import gost_asn1
from tanba.providers.base import HashAlgorithm
from tanba.providers.certificate import to_pem

logger = logging.getLogger(__name__)

MAX_SIGNERS = 32
MAX_CERTIFICATES = 64
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_WEAK = frozenset({"md5", "sha1", "sha224"})
#: content checked on the event loop at most; more (or any GOST signer) goes to a thread
_INLINE_CONTENT = 1 << 20
#: what asn1crypto raises for bytes it cannot read; AttributeError too: its ``Real`` has no
#: ``native``, so any ``.native`` over an Any holding a REAL (tag 9) raises it (found by
#: bench/fuzz_live.py as an ``internal`` answer)
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)
_EKU_TIMESTAMPING = "time_stamping"


class _Bad(Exception):
    """A check failed; ``args[0]`` is the problem code."""


def decode_cms(blob: bytes) -> cms.ContentInfo:
    """Parse DER, PEM or base64 into a SignedData ContentInfo, or raise InvalidParams."""
    # DER is taken byte for byte: its last bytes are signature bits and may well be 0x0a or
    # 0x20, which a strip() would cut off.  Only the text forms are trimmed.
    raw = blob if blob[:1] == b"\x30" else blob.strip()
    if not raw:
        raise InvalidParams("empty signature")
    try:
        if raw[:1] == b"\x30":
            der = raw
        elif pem.detect(raw):
            _, _, der = pem.unarmor(raw)
        else:
            der = base64.b64decode(re.sub(rb"\s+", b"", raw), validate=True)
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise InvalidParams("not a CMS SignedData")
        signed = info["content"]
        _ = signed["version"].native, signed["digest_algorithms"].native
        if not 0 < len(signed["signer_infos"]) <= MAX_SIGNERS:
            raise InvalidParams("a CMS signature needs 1 to %d signers" % MAX_SIGNERS)
        if len(signed["certificates"] or ()) > MAX_CERTIFICATES:
            raise InvalidParams("too many certificates in the signature")
    except InvalidParams:
        raise
    except (*_PARSE_ERRORS, binascii.Error) as exc:
        raise InvalidParams(f"malformed CMS signature: {exc}") from exc
    return info


async def verify_cms(
    signature: bytes,
    validator: ChainValidator,
    *,
    data: bytes | None = None,
    digest: bytes | None = None,
) -> VerifyResult:
    """Verify every signer of a CMS signature.

    ``data`` is the signed content of a detached signature (for an attached one it must equal
    the encapsulated content, when given); ``digest`` is the content's hash instead of the
    content.  Raises InvalidParams for malformed input.

    Two phases: every signer's offline checks (content, signature, timestamp) one after the
    other, then their chains and revocation together, under one set of fetch bounds
    (:meth:`ChainValidator.fetches`), holding nothing of the parsed message.
    """
    if data is not None and digest is not None:
        raise InvalidParams("give data or a digest, not both")
    signed = decode_cms(signature)["content"]
    try:
        attached = _attached_content(signed)
        offline = [
            await _check_offline(signed, info, validator, attached, data, digest)
            for info in signed["signer_infos"]
        ]
    except _PARSE_ERRORS as exc:
        raise InvalidParams(f"malformed CMS signature: {exc}") from exc
    del signed, attached  # not kept while responders are asked
    results = await _check_chains(offline, validator)
    valid = all(r.valid for r in results)
    return VerifyResult(valid=valid, signers=tuple(r.signer for r in results))


@dataclass(frozen=True)
class _Outcome:
    signer: SignerResult
    valid: bool


@dataclass(frozen=True)
class _Checked:
    """The offline part of one SignerInfo check."""

    cert: asn1_x509.Certificate | None
    problems: tuple[str, ...]
    signing_time: dt.datetime | None


@dataclass(frozen=True)
class _Offline:
    """All one signer showed without the network: certificates and findings, no content."""

    cert: asn1_x509.Certificate | None
    others: tuple[asn1_x509.Certificate, ...]  # the signature's other certificates
    signing_time: dt.datetime | None
    timestamp: dt.datetime | None
    problems: tuple[str, ...]

    @property
    def signature_valid(self) -> bool:
        return self.cert is not None and all(p == "timestamp_untrusted" for p in self.problems)


def _attached_content(signed: cms.SignedData) -> bytes | None:
    content = signed["encap_content_info"]["content"]
    return bytes(content) if content.native is not None else None


async def _check_offline(
    signed: cms.SignedData,
    info: cms.SignerInfo,
    validator: ChainValidator,
    attached: bytes | None,
    data: bytes | None,
    digest: bytes | None,
) -> _Offline:
    if attached is not None and data is not None and attached != data:
        checked = _Checked(_find_signer_cert(signed, info), ("message_digest_mismatch",), None)
    else:
        content = attached if attached is not None else data
        if _heavy(info, content):
            checked = await asyncio.to_thread(check_signer_info, signed, info, content, digest)
        else:
            checked = check_signer_info(signed, info, content, digest)
    if checked.cert is None:
        return _Offline(None, (), checked.signing_time, None, checked.problems)
    problems = list(checked.problems)
    certs = _certificates(signed)
    timestamp = None
    token = _unsigned_attr(info, "signature_time_stamp_token")
    if token is not None:
        timestamp, ts_problem = await _check_timestamp(token, info["signature"].native, validator, certs)
        if ts_problem is not None:
            problems.append(ts_problem)
    others = tuple(c for c in certs if c is not checked.cert)
    return _Offline(checked.cert, others, checked.signing_time, timestamp, tuple(problems))


def _heavy(info: cms.SignerInfo, content: bytes | None) -> bool:
    """Whether checking ``info`` may take more than a few milliseconds: a national hash or
    signature (pure Python), or a large content."""
    if content is not None and len(content) > _INLINE_CONTENT:
        return True
    digest_oid = info["digest_algorithm"]["algorithm"].dotted
    signature_oid = info["signature_algorithm"]["algorithm"].dotted
    return gost.hash_of_oid(digest_oid) is not None or gost.by_signature_oid(signature_oid) is not None


async def _check_chains(offline: list[_Offline], validator: ChainValidator) -> list[_Outcome]:
    """Every signer's chain and revocation, at the same time, within one request's bounds."""
    fetches = validator.fetches()
    try:
        if len(offline) == 1:
            return [await _check_chain(offline[0], validator, fetches)]
        async with asyncio.TaskGroup() as group:  # every task awaited, whatever happens
            tasks = [group.create_task(_check_chain(one, validator, fetches)) for one in offline]
        return [task.result() for task in tasks]
    finally:
        fetches.release()


async def _check_chain(one: _Offline, validator: ChainValidator, fetches: RequestFetches) -> _Outcome:
    if one.cert is None:
        signer = SignerResult("", one.signing_time, None, False, "unknown", False, one.problems)
        return _Outcome(signer, False)
    # Revocation data is fetched only for a signature that verified (DESIGN.md, rule 7).
    status = await validator.validate(
        one.cert, one.others, moment=one.timestamp, check_revocation=one.signature_valid, fetches=fetches
    )
    signer = SignerResult(
        certificate=to_pem(one.cert.dump()),
        signing_time=one.signing_time,
        timestamp=one.timestamp,
        chain_valid=status.chain_valid,
        revocation=status.revocation,
        signature_valid=one.signature_valid,
        problems=one.problems + tuple(p for p in status.problems if p not in one.problems),
    )
    return _Outcome(signer, one.signature_valid and validator.acceptable(status))


def check_signer_info(
    signed: cms.SignedData, info: cms.SignerInfo, content: bytes | None, digest: bytes | None
) -> _Checked:
    """Everything about one SignerInfo that needs no network: certificate, digests, signature."""
    cert = _find_signer_cert(signed, info)
    signing_time: dt.datetime | None = None
    if cert is None:
        return _Checked(None, ("signer_certificate_missing",), None)
    try:
        digest_alg = _digest_alg(info["digest_algorithm"])
        if content is not None:
            content_digest: bytes | None = hash_bytes(content, digest_alg)
        else:
            content_digest = digest
        attrs = info["signed_attrs"]
        # absent is a Void; present attributes are read one by one, never all through
        # .native (an attribute Tanba does not know stays unparsed: the signature covers it)
        has_attrs = not isinstance(attrs, asn1_core.Void)
        if has_attrs and (when := _single_attr(info, "signing_time")) is not None:
            signing_time = when.native
        if not has_attrs:
            if content_digest is None:
                raise _Bad("content_missing")
            _verify_signature(cert, info, digest_alg, None, content_digest)
        else:
            _check_signed_attrs(signed, info, cert, content_digest)
            signed_der = b"\x31" + attrs.dump()[1:]  # [0] IMPLICIT -> SET OF, as signed
            _verify_signature(cert, info, digest_alg, signed_der, None)
    except _Bad as bad:
        return _Checked(cert, (str(bad.args[0]),), signing_time)
    return _Checked(cert, (), signing_time)


def _check_signed_attrs(
    signed: cms.SignedData, info: cms.SignerInfo, cert: asn1_x509.Certificate, content_digest: bytes | None
) -> None:
    content_type = _single_attr(info, "content_type")
    if content_type is None or content_type.native != signed["encap_content_info"]["content_type"].native:
        raise _Bad("content_type_mismatch")
    message_digest = _single_attr(info, "message_digest")
    if content_digest is None:
        raise _Bad("content_missing")
    if message_digest is None or not hmac.compare_digest(message_digest.native, content_digest):
        raise _Bad("message_digest_mismatch")
    _check_signing_certificate(info, cert)


def _check_signing_certificate(info: cms.SignerInfo, cert: asn1_x509.Certificate) -> None:
    """signingCertificateV2 (or v1): its first ESSCertID must name the signer certificate."""
    for name in ("signing_certificate_v2", "signing_certificate"):
        attr = _single_attr(info, name)
        if attr is None:
            continue
        first = attr["certs"][0]
        if name == "signing_certificate_v2":
            cert_hash = hash_bytes(cert.dump(), _digest_alg(first["hash_algorithm"]))
        else:
            cert_hash = _digest(hashes.SHA1, cert.dump())
        if not hmac.compare_digest(cert_hash, first["cert_hash"].native):
            raise _Bad("signing_certificate_mismatch")
        issuer_serial = first["issuer_serial"]
        if issuer_serial.native is not None and (
            issuer_serial["serial_number"].native != cert.serial_number
        ):
            raise _Bad("signing_certificate_mismatch")


def _verify_signature(
    cert: asn1_x509.Certificate,
    info: cms.SignerInfo,
    digest_alg: HashAlgorithm,
    message: bytes | None,
    prehashed: bytes | None,
) -> None:
    """Verify SignerInfo.signature over ``message`` (or a precomputed content digest)."""
    algo = info["signature_algorithm"]
    family = gost.by_signature_oid(algo["algorithm"].dotted)
    if family is not None:
        _verify_gost(cert, algo, family, digest_alg, info["signature"].native, message, prehashed)
        return
    try:
        kind = algo.signature_algo
    except ValueError as exc:  # an OID asn1crypto does not know
        raise _Bad("unsupported_algorithm") from exc
    digest_hash = _hash(digest_alg.value)  # a GOST hash under an RSA/EC signature: unsupported
    hash_cls = digest_hash
    pss: padding.PSS | None = None
    if kind == "rsassa_pss":
        params = algo["parameters"]
        hash_cls = _hash(params["hash_algorithm"]["algorithm"].native)
        mgf_hash = _hash(params["mask_gen_algorithm"]["parameters"]["algorithm"].native)
        pss = padding.PSS(mgf=padding.MGF1(mgf_hash()), salt_length=params["salt_length"].native)
    elif algo["algorithm"].native not in ("rsassa_pkcs1v15", "rsa", "ecdsa"):
        try:
            hash_cls = _hash(algo.hash_algo)  # combined OIDs such as sha256_rsa
        except ValueError as exc:
            raise _Bad("unsupported_algorithm") from exc
    if prehashed is not None and hash_cls is not digest_hash:
        raise _Bad("unsupported_algorithm")
    if gost_asn1.is_gost_spki(cert["tbs_certificate"]["subject_public_key_info"].dump()):
        raise _Bad("signature_invalid")  # an RSA/EC algorithm named for a GOST key
    try:
        key = x509.load_der_x509_certificate(cert.dump()).public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _Bad("unsupported_algorithm") from exc
    chosen: hashes.HashAlgorithm | utils.Prehashed = hash_cls()
    data = message
    if prehashed is not None:
        chosen, data = utils.Prehashed(hash_cls()), prehashed
    assert data is not None
    signature = info["signature"].native
    try:
        if isinstance(key, rsa.RSAPublicKey) and kind in ("rsassa_pkcs1v15", "rsassa_pss"):
            key.verify(signature, data, pss or padding.PKCS1v15(), chosen)
        elif isinstance(key, ec.EllipticCurvePublicKey) and kind == "ecdsa":
            key.verify(signature, data, ec.ECDSA(chosen))
        elif kind in ("rsassa_pkcs1v15", "rsassa_pss", "ecdsa"):
            raise _Bad("signature_invalid")  # key type does not match the algorithm
        else:
            raise _Bad("unsupported_algorithm")
    except InvalidSignature as exc:
        raise _Bad("signature_invalid") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:  # e.g. wrong prehashed length
        raise _Bad("signature_invalid") from exc


def _verify_gost(
    cert: asn1_x509.Certificate,
    algo: Any,
    family: gost.Family,
    digest_alg: HashAlgorithm,
    signature: bytes,
    message: bytes | None,
    prehashed: bytes | None,
) -> None:
    """A GOST or bign signature: the family's own hash, the certificate's key of that family
    (``family`` is the one the signature OID names first: bign-with-hspec names two)."""
    if family.kind is gost.Kind.GOST and digest_alg.value != family.hash:
        raise _Bad("unsupported_algorithm")  # no peer signs GOST over another hash
    spki = cert["tbs_certificate"]["subject_public_key_info"].dump()
    if not gost_asn1.is_gost_spki(spki):
        raise _Bad("signature_invalid")  # a GOST algorithm named for an RSA/EC key
    try:
        key = gost_asn1.public_key_from_spki(spki)
    except gost.UnsupportedKey as exc:  # an unknown curve, a broken point
        logger.info("GOST signer key not usable: %s", exc)
        raise _Bad("unsupported_algorithm") from exc
    if not gost.signs_with(key.family, algo["algorithm"].dotted):
        raise _Bad("signature_invalid")  # e.g. a 256-bit signature named for a 512-bit key
    if digest_alg.value != key.family.hash:
        raise _Bad("unsupported_algorithm")  # a bign key signs with its level's hash only
    named = key.family.signature_params_oid
    if named is not None and _parameter_oid(algo) != named:
        raise _Bad("signature_invalid")  # bign-with-hspec naming another hash than the key's
    if prehashed is not None:
        digest = prehashed
    else:
        assert message is not None
        digest = hash_bytes(message, digest_alg)
    if not key.verify(digest, signature):
        raise _Bad("signature_invalid")


def _parameter_oid(algo: Any) -> str | None:
    """The OID an AlgorithmIdentifier's parameters hold (bign-with-hspec), else None."""
    der = algo["parameters"].dump() if algo["parameters"].native is not None else b""
    if der[:1] != b"\x06":
        return None
    try:
        return str(asn1_core.ObjectIdentifier.load(der).dotted)
    except ValueError:
        return None


async def _check_timestamp(
    token: cms.ContentInfo,
    signature_value: bytes,
    validator: ChainValidator,
    outer_certs: list[asn1_x509.Certificate],
) -> tuple[dt.datetime | None, str | None]:
    """genTime of a trusted token over ``signature_value``, and a problem code if any.

    The TSA's chain may use certificates from the token and from the signature around it.
    """
    try:
        if token["content_type"].native != "signed_data":
            return None, "timestamp_invalid"
        signed = token["content"]
        eci = signed["encap_content_info"]
        if eci["content_type"].native != "tst_info" or len(signed["signer_infos"]) != 1:
            return None, "timestamp_invalid"
        tst_der = bytes(eci["content"])
        tst = tsp.TSTInfo.load(tst_der)
        imprint = tst["message_imprint"]
        imprint_hash = _digest_alg(imprint["hash_algorithm"])
        if not hmac.compare_digest(hash_bytes(signature_value, imprint_hash), imprint["hashed_message"].native):
            logger.info("timestamp imprint is not over this signature")
            return None, "timestamp_invalid"
        tsa_info = signed["signer_infos"][0]
        checked = check_signer_info(signed, tsa_info, tst_der, None)
        if checked.cert is None or checked.problems:
            logger.info("timestamp token signature broken: %s", checked.problems)
            return None, "timestamp_invalid"
        gen_time: dt.datetime = tst["gen_time"].native
        eku = checked.cert.extended_key_usage_value
        if eku is None or _EKU_TIMESTAMPING not in eku.native:
            logger.info("timestamp signed by a certificate without the timeStamping EKU")
            return None, "timestamp_untrusted"
        others = [c for c in _certificates(signed) + outer_certs if c is not checked.cert]
        status = await validator.validate(checked.cert, others, moment=gen_time, check_revocation=False)
        if not status.chain_valid:
            return None, "timestamp_untrusted"
        return gen_time, None
    except _Bad:
        return None, "timestamp_invalid"
    except _PARSE_ERRORS as exc:
        logger.info("malformed timestamp token: %s", exc)
        return None, "timestamp_invalid"


def _find_signer_cert(signed: cms.SignedData, info: cms.SignerInfo) -> asn1_x509.Certificate | None:
    sid = info["sid"]
    for cert in _certificates(signed):
        if sid.name == "issuer_and_serial_number":
            if (
                cert.serial_number == sid.chosen["serial_number"].native
                and cert.issuer == sid.chosen["issuer"]
            ):
                return cert
        elif sid.name == "subject_key_identifier" and cert.key_identifier == sid.chosen.native:
            return cert
    return None


def _certificates(signed: cms.SignedData) -> list[asn1_x509.Certificate]:
    return [c.chosen for c in signed["certificates"] or () if c.name == "certificate"]


def _single_attr(info: cms.SignerInfo, name: str) -> Any:
    return _attr(info["signed_attrs"], name)


def _unsigned_attr(info: cms.SignerInfo, name: str) -> cms.ContentInfo | None:
    value = _attr(info["unsigned_attrs"], name)
    return value if isinstance(value, cms.ContentInfo) else None


def _attr(attrs: cms.CMSAttributes, name: str) -> Any:
    """The single value of attribute ``name``; a repeated one is refused (RFC 5652 5.3)."""
    found = [a for a in attrs or () if a["type"].native == name]
    if not found:
        return None
    if len(found) > 1 or len(found[0]["values"]) != 1:
        raise InvalidParams(f"attribute {name} must occur once with one value")
    return found[0]["values"][0]


def _digest_alg(identifier: Any) -> HashAlgorithm:
    """The hash a DigestAlgorithmIdentifier names: SHA-2, or a national hash by its Kazakh
    or Russian OID; anything else is ``weak_algorithm`` / ``unsupported_algorithm``."""
    name = identifier["algorithm"].native
    if name in _HASHES:
        return HashAlgorithm(name)
    national = gost.hash_of_oid(identifier["algorithm"].dotted)
    if national is not None:
        return HashAlgorithm(national)
    raise _Bad("weak_algorithm" if name in _WEAK else "unsupported_algorithm")


def _hash(name: str) -> type[hashes.HashAlgorithm]:
    if name in _HASHES:
        return _HASHES[name]
    raise _Bad("weak_algorithm" if name in _WEAK else "unsupported_algorithm")


def _digest(hash_cls: type[hashes.HashAlgorithm], data: bytes) -> bytes:
    h = hashes.Hash(hash_cls())
    h.update(data)
    return h.finalize()
