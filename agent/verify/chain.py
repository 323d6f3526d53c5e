"""Certificate path and revocation checks against the configured trust anchors.

Built on pyhanko-certvalidator, in two separate passes so the two answers stay apart
(DESIGN.md's ``chainValid`` and ``revocation`` are separate fields):

1. **Path** — offline (no fetching): build a path from the certificate through the
   intermediates that came with the signature to a configured trust anchor, check
   signatures, validity periods (at ``moment``: a trusted timestamp's time, else now),
   basic constraints, name constraints.  Result: ``chain_valid``.
2. **Revocation** — only once the path is valid, so the URLs fetched come from
   certificates a trusted CA issued, never from whatever an attacker put in a signature.
   OCSP first, then the CRL, for every certificate of the path that declares them
   ("hard-fail": a declared source that fails to answer is a failure).  Results:
   ``good`` (checked, not revoked), ``revoked``, or ``unknown`` (no usable answer in time,
   checking switched off, or no valid path to check).  A revoked certificate keeps
   ``chain_valid`` true: the path is fine, its status is not; the overall verdict combines
   both (see :meth:`ChainValidator.acceptable`).

Revocation data is fetched by this module's own fetchers, through
:class:`~tanba.agent.http.RequestFetches`: ``timeout`` seconds for *one verify
request* (all its signers together, from :meth:`ChainValidator.fetches`; a single
:meth:`ChainValidator.validate` without one gets its own), each network request bounded by
``timeout / 2`` (so OCSP then CRL fit), at most :data:`MAX_FETCHES` requests, each URL (each
question to it) asked once, no redirects, no compressed bodies, bounded body sizes.  A dead,
hanging or spent responder yields ``unknown``, never ``good`` and never a hang.  The
fetchers make no task: nothing of a check runs on once it has answered.

Issuer certificates come from the signature, the configured ``intermediate`` certificates
and, with ``fetch_issuers`` (the default of ``tanba serve`` and ``tanba verify``: setting
``fetch-issuers``), from the AIA caIssuers URL of a certificate whose issuer is not among
them: an XML signature carries only the signer's certificate.  That fetch happens only for
a signature that verified, only when the offline path found no anchor, under the same
request bounds as revocation data (one :class:`~tanba.agent.http.RequestFetches`: its
deadline, its count, one fetch per URL, no redirects), at most :data:`MAX_ISSUER_DEPTH`
levels and :data:`MAX_CERT_BYTES` a body, never from a loopback, private or link-local
address literal or a ``localhost`` name.  A fetched certificate is only offered for path
building, never trusted: the path must still end at a configured anchor.  Build a
validator from settings with :func:`validator_from_settings`, so the agent's ``verify`` and
``tanba verify`` build chains the same way.

A revoked certificate is reported ``revoked`` even when a CA certificate above it cannot be
checked: the hard-fail pass stops at the first certificate without an answer (the root
walks first), so when it ends ``unknown`` a second pass, over the answers already fetched,
checks the end-entity certificate hard and the CAs leniently, and only a ``revoked`` it
finds changes the verdict.  (NCA's root publishes its CRL on another host than the issuing
CA; without the second pass an unreachable root CRL would hide a revoked leaf.)

GOST certificates, CRLs and OCSP responses (DESIGN.md, "National algorithms"): pyhanko-
certvalidator calls one ``SignatureValidator`` for all three; :class:`GostSignatureValidator`
checks the signatures whose algorithm (signature OID, or key OID as some signers write)
names a GOST family — the family's hash over the signed bytes, then
:meth:`tanba.crypto.gost.PublicKey.verify` with the issuer's key read by
:mod:`tanba.providers.gost_asn1` — and hands every other algorithm to pyhanko's default.
Nothing else stands in the way, so the chain is pyhanko's walk, not one of our own:

* the algorithm policy (``DisallowWeakAlgorithmsPolicy``) rejects only named weak hashes and
  small RSA/DSA keys; a GOST OID maps to no asn1crypto name, so it has no hash to reject
  and is not RSA/DSA;
* asn1crypto's ``PublicKeyInfo`` raises KeyError on a GOST key's ``public_key`` field, but
  pyhanko-certvalidator registers a fallback when imported (``asn1_types``: an unknown key
  algorithm reads as a bit string), so the key hashes it takes (certificate registry, OCSP
  CertID) work; ``tests/agent/verify/test_chain_gost.py`` holds it to that.  Nothing is
  registered here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import traceback
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias
from urllib.parse import urlsplit

from asn1crypto import cms, crl, ocsp, pem
from asn1crypto import x509 as asn1_x509
from asn1crypto import algos, keys
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import CertificateValidator, ValidationContext, errors
from pyhanko_certvalidator.authority import Authority
from pyhanko_certvalidator.fetchers.api import CertificateFetcher, CRLFetcher, Fetchers, OCSPFetcher
from pyhanko_certvalidator.fetchers.common_utils import (
    enumerate_delivery_point_urls,
    format_ocsp_request,
    process_ocsp_response_data,
)
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy, RevocationCheckingRule
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_SIGNATURE_VALIDATOR,
    DEFAULT_VALIDATION_CONTEXT,
    SignatureValidationContext,
    SignatureValidator,
)
from pyhanko_certvalidator.util import get_ocsp_urls, get_relevant_crl_dps, issuer_serial

from tanba.agent.formats.digest import hash_bytes
from tanba.agent.http import MAX_CRL_BYTES, MAX_OCSP_BYTES, FetchError, RequestFetches, HttpClient
from tanba.crypto import gost
from tanba.protocol.errors import InvalidParams
from tanba.protocol.methods.verify import Revocation
from tanba.providers import gost_asn1
from tanba.providers.base import HashAlgorithm

if TYPE_CHECKING:
    from tanba.agent.setup.config import Settings

logger = logging.getLogger(__name__)

RevocationPolicy = Literal["require", "soft", "off"]
AnchorSource: TypeAlias = "x509.Certificate | str | Path"
CertLike: TypeAlias = "x509.Certificate | asn1_x509.Certificate"

#: network requests of one verify request, all signers together: an OCSP request for each
#: of 32 signers and a few CRLs; a hostile signature gets no more
MAX_FETCHES = 40
#: OCSP URLs, and CRL URLs, tried per certificate
MAX_URLS_PER_CERT = 2
#: issuer certificates fetched (AIA caIssuers) above a certificate: the issuing CA, its CA...
MAX_ISSUER_DEPTH = 3
#: a caIssuers body: one certificate, or a small certs-only CMS (NCA's are under 2 KiB)
MAX_CERT_BYTES = 64 * 1024
#: what asn1crypto raises for a certificate, CRL or OCSP response it cannot read
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)  # AttributeError: asn1crypto's Real has no .native
#: the errors with which pyhanko-certvalidator (and asn1crypto under it) says "no usable
#: answer" during a revocation pass
_REVOCATION_ERRORS = (
    errors.PathError,
    errors.ValidationError,
    errors.OCSPValidationError,
    errors.CRLValidationError,
    errors.OCSPFetchError,
    errors.CRLFetchError,
    UnsupportedAlgorithm,
    *_PARSE_ERRORS,
)


#: the hard-fail pass: every certificate of the path that declares revocation sources
_WHOLE_PATH = CertRevTrustPolicy(RevocationCheckingPolicy(
    RevocationCheckingRule.CHECK_IF_DECLARED, RevocationCheckingRule.CHECK_IF_DECLARED))
#: the second pass after an ``unknown``: is the end-entity certificate itself revoked?
_LEAF_FIRST = CertRevTrustPolicy(RevocationCheckingPolicy(
    RevocationCheckingRule.CHECK_IF_DECLARED, RevocationCheckingRule.CHECK_IF_DECLARED_SOFT))


class GostSignatureValidator(SignatureValidator):
    """Certificate, CRL and OCSP signatures: GOST ones checked here, the rest by pyhanko."""

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: keys.PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        family = gost.by_signature_oid(signature_algorithm["algorithm"].dotted)
        if family is None:
            DEFAULT_SIGNATURE_VALIDATOR.validate_signature(
                signature, signed_data, public_key_info, signature_algorithm, context
            )
            return
        key = _gost_key(public_key_info)
        if not gost.signs_with(key.family, signature_algorithm["algorithm"].dotted):
            raise InvalidSignature(f"a {family.name} signature from a {key.family.name} key")
        digest = signed_data if context.prehashed else hash_bytes(signed_data, HashAlgorithm(key.family.hash))
        if not key.verify(digest, signature):
            raise InvalidSignature(f"{key.family.name} signature does not verify")


def _gost_key(public_key_info: keys.PublicKeyInfo) -> gost.PublicKey:
    """The issuer's GOST key; an RSA/EC key under a GOST signature is a bad signature, a
    GOST key Tanba cannot read (an unknown curve) an unsupported algorithm."""
    spki = bytes(public_key_info.dump())
    if not gost_asn1.is_gost_spki(spki):
        raise InvalidSignature("a GOST signature from a key that is not GOST")
    try:
        return gost_asn1.public_key_from_spki(spki)
    except gost.UnsupportedKey as exc:
        raise UnsupportedAlgorithm(f"GOST issuer key not usable: {exc}") from exc


SIGNATURE_VALIDATOR = GostSignatureValidator()


@dataclass(frozen=True)
class ChainStatus:
    chain_valid: bool
    revocation: Revocation
    problems: tuple[str, ...] = ()


def load_crls(paths: Iterable[Path | str]) -> list[crl.CertificateList]:
    """CRLs from PEM/DER files (a PEM file may hold several); InvalidParams for a file that
    cannot be read."""
    out: list[crl.CertificateList] = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
            ders = [der for _, _, der in pem.unarmor(data, multiple=True)] if pem.detect(data) else [data]
            for der in ders:
                revocations = crl.CertificateList.load(der)
                _ = revocations["tbs_cert_list"]["issuer"].human_friendly  # parse now: a broken file fails here
                out.append(revocations)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise InvalidParams(f"cannot read CRL {path}: {exc}") from exc
    return out


def load_anchors(sources: Iterable[AnchorSource]) -> list[asn1_x509.Certificate]:
    """Certificates from objects or PEM/DER files (a PEM file may hold several);
    InvalidParams for a file that cannot be read."""
    anchors: list[asn1_x509.Certificate] = []
    for source in sources:
        if isinstance(source, x509.Certificate):
            anchors.append(_to_asn1(source))
            continue
        try:
            data = Path(source).read_bytes()
            if pem.detect(data):
                anchors.extend(
                    asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)
                )
            else:
                anchors.append(asn1_x509.Certificate.load(data))
            for cert in anchors:
                _ = cert.subject.human_friendly  # parse now: a broken file fails here
        except (OSError, ValueError, TypeError) as exc:
            raise InvalidParams(f"cannot read trust anchor {source}: {exc}") from exc
    return anchors


def _issued(candidate: asn1_x509.Certificate, cert: asn1_x509.Certificate) -> bool:
    """Whether ``candidate`` could be ``cert``'s issuer (by name, and key id when both have
    one); the signature is the path check's business."""
    if candidate.subject != cert.issuer:
        return False
    aki, ski = cert.authority_key_identifier, candidate.key_identifier
    return aki is None or ski is None or aki == ski


def _declares_revocation(cert: asn1_x509.Certificate) -> bool:
    """Whether the certificate names an OCSP responder or a CRL (an unreadable pointer is
    no pointer)."""
    try:
        return bool(cert.ocsp_urls or cert.crl_distribution_points)
    except _PARSE_ERRORS as exc:
        logger.info("unreadable revocation pointers: %s", exc)
        return False


def _to_asn1(cert: CertLike) -> asn1_x509.Certificate:
    if isinstance(cert, asn1_x509.Certificate):
        return cert
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


class _OCSPFetcher(OCSPFetcher):
    """OCSP requests through the verify request's bounds; the answers kept per certificate
    (pyhanko asks for them again while it validates)."""

    def __init__(self, fetches: RequestFetches) -> None:
        self._fetches: RequestFetches | None = fetches
        self._responses: dict[bytes, list[ocsp.OCSPResponse]] = {}

    def release(self) -> None:
        """The pass is over: pyhanko's own reference cycles may keep this object for a
        while, so it lets go of the request's bounds and answers now."""
        self._fetches = None
        self._responses.clear()

    async def fetch(self, cert: asn1_x509.Certificate | cms.AttributeCertificateV2, authority: Authority) -> ocsp.OCSPResponse:
        fetches = self._fetches
        if fetches is None or not isinstance(cert, asn1_x509.Certificate):
            raise errors.OCSPFetchError("no OCSP request outside a revocation pass, or for a non-certificate")
        subject = (issuer_serial(cert), authority.hashable)
        problems: list[str] = []
        for url in get_ocsp_urls(cert)[:MAX_URLS_PER_CERT]:
            try:
                response = await fetches.once(("ocsp", url, subject), url, _OCSPQuestion(fetches.http, url, cert, authority))
            except FetchError as exc:
                problems.append(str(exc))
                continue
            self._responses.setdefault(issuer_serial(cert), []).append(response)
            return response
        raise errors.OCSPFetchError("; ".join(problems) or "no OCSP URL")

    def fetched_responses(self) -> Iterable[ocsp.OCSPResponse]:
        return [r for responses in self._responses.values() for r in responses]

    def fetched_responses_for_cert(self, cert: asn1_x509.Certificate | cms.AttributeCertificateV2) -> Iterable[ocsp.OCSPResponse]:
        return list(self._responses.get(issuer_serial(cert), ()))


@dataclass(frozen=True)
class _OCSPQuestion:
    """One OCSP request (with its nonce) and the check of its answer."""

    http: HttpClient
    url: str
    cert: asn1_x509.Certificate
    authority: Authority

    async def __call__(self, timeout: float) -> ocsp.OCSPResponse:
        request = format_ocsp_request(self.cert, self.authority, certid_hash_algo="sha1", request_nonces=True)
        der = await self.http.fetch(
            self.url, body=request.dump(), content_type="application/ocsp-request",
            accept="application/ocsp-response", max_bytes=MAX_OCSP_BYTES, timeout=timeout,
        )
        try:
            return process_ocsp_response_data(der, ocsp_request=request, ocsp_url=self.url)
        except (errors.OCSPFetchError, errors.OCSPValidationError, ValueError) as exc:
            raise FetchError(f"{self.url}: unusable OCSP response: {exc}") from exc


class _CRLFetcher(CRLFetcher):
    """CRLs through the verify request's bounds: one download per URL for all its signers."""

    def __init__(self, fetches: RequestFetches) -> None:
        self._fetches: RequestFetches | None = fetches
        self._by_cert: dict[bytes, list[crl.CertificateList]] = {}

    def release(self) -> None:
        """As :meth:`_OCSPFetcher.release`: a CRL may be megabytes."""
        self._fetches = None
        self._by_cert.clear()

    async def fetch(
        self, cert: asn1_x509.Certificate | cms.AttributeCertificateV2, *, use_deltas: bool | None = True
    ) -> Iterable[crl.CertificateList]:
        key = issuer_serial(cert)
        if key in self._by_cert:
            return self._by_cert[key]
        fetches = self._fetches
        if fetches is None:
            raise errors.CRLFetchError("no CRL download outside a revocation pass")
        urls = [url for point in get_relevant_crl_dps(cert, use_deltas=bool(use_deltas))
                for url in enumerate_delivery_point_urls(point)]
        found: list[crl.CertificateList] = []
        problems: list[str] = []
        for url in urls[:MAX_URLS_PER_CERT]:
            try:
                found.append(await fetches.once(("crl", url), url, _CRLDownload(fetches.http, url)))
            except FetchError as exc:
                problems.append(str(exc))
        if urls and not found:
            raise errors.CRLFetchError("; ".join(problems))
        self._by_cert[key] = found
        return found

    def fetched_crls(self) -> Iterable[crl.CertificateList]:
        return [c for crls in self._by_cert.values() for c in crls]

    def fetched_crls_for_cert(self, cert: asn1_x509.Certificate | cms.AttributeCertificateV2) -> Iterable[crl.CertificateList]:
        return self._by_cert[issuer_serial(cert)]  # KeyError: not fetched yet (the API's word)


@dataclass(frozen=True)
class _CRLDownload:
    http: HttpClient
    url: str

    async def __call__(self, timeout: float) -> crl.CertificateList:
        data = await self.http.fetch(self.url, accept="application/pkix-crl", max_bytes=MAX_CRL_BYTES, timeout=timeout)
        try:
            if pem.detect(data):
                _, _, data = pem.unarmor(data)
            return crl.CertificateList.load(data, strict=True)
        except (ValueError, TypeError) as exc:
            raise FetchError(f"{self.url}: not a CRL: {exc}") from exc


class _NoCertificates(CertificateFetcher):
    """No fetching inside pyhanko's passes: issuers come from the signature, the
    configuration and :meth:`ChainValidator._fetch_issuers` (bounded, before the path
    check), never from pyhanko's own caIssuers walk."""

    def fetch_cert_issuers(self, cert: asn1_x509.Certificate | cms.AttributeCertificateV2) -> AsyncGenerator[asn1_x509.Certificate, None]:
        return _none()

    def fetch_crl_issuers(self, certificate_list: crl.CertificateList) -> AsyncGenerator[asn1_x509.Certificate, None]:
        return _none()

    def fetched_certs(self) -> Iterable[asn1_x509.Certificate]:
        return ()


async def _none() -> AsyncGenerator[asn1_x509.Certificate, None]:
    """An async generator that yields nothing."""
    empty: tuple[asn1_x509.Certificate, ...] = ()
    for cert in empty:
        yield cert


def ca_issuer_urls(cert: asn1_x509.Certificate, *, local: bool = False) -> list[str]:
    """The http(s) caIssuers URLs of ``cert``'s AIA that may be fetched: not a loopback,
    private, link-local or otherwise special address literal, not ``localhost`` (a
    certificate anyone can make must not point the agent at the machine or its network);
    ``local``: those too."""
    try:
        aia = cert.authority_information_access_value
        if aia is None:
            return []
        urls = [d["access_location"].native for d in aia
                if d["access_method"].native == "ca_issuers" and d["access_location"].name == "uniform_resource_identifier"]
    except _PARSE_ERRORS as exc:
        logger.info("unreadable AIA extension: %s", exc)
        return []
    return [url for url in urls if isinstance(url, str) and _fetchable(url, local)]


def _fetchable(url: str, local: bool) -> bool:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if local:
        return True
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True  # a name
    return address.is_global


@dataclass(frozen=True)
class _IssuerDownload:
    """One caIssuers URL: a DER or PEM certificate, or a certs-only CMS (RFC 5280 4.2.2.1)."""

    http: HttpClient
    url: str

    async def __call__(self, timeout: float) -> tuple[asn1_x509.Certificate, ...]:
        data = await self.http.fetch(
            self.url, accept="application/pkix-cert, application/pkcs7-mime", max_bytes=MAX_CERT_BYTES, timeout=timeout
        )
        try:
            return _certificates_in(data)
        except (*_PARSE_ERRORS, errors.PathError) as exc:
            raise FetchError(f"{self.url}: not a certificate: {exc}") from exc


def _certificates_in(data: bytes) -> tuple[asn1_x509.Certificate, ...]:
    ders = [der for _, _, der in pem.unarmor(data, multiple=True)] if pem.detect(data) else [data]
    found: list[asn1_x509.Certificate] = []
    for der in ders:
        try:
            cert = asn1_x509.Certificate.load(der, strict=True)
            _ = cert["tbs_certificate"]["subject"]
            found.append(cert)
            continue
        except _PARSE_ERRORS:
            pass
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError(f"a CMS {info['content_type'].native}, not certificates")
        found.extend(c.chosen for c in info["content"]["certificates"] or ()
                     if isinstance(c.chosen, asn1_x509.Certificate))
    for cert in found:
        _ = cert.subject.human_friendly, cert.issuer.human_friendly  # parse now
    return tuple(found)


def _forget_frames(exc: BaseException) -> None:
    """Clear the locals of the finished frames an exception (and what caused it) carries.

    pyhanko-certvalidator keeps the errors it meets in lists in its own frames, and those
    errors hold the frames in their tracebacks: reference cycles, which would keep the
    validation context, the fetchers and whatever they reach until the next garbage
    collection.  Every frame below ours has returned or raised by now (the pass is over,
    and these fetchers run no task of their own), so none is a live coroutine; the frame
    still running (ours) is left alone by ``clear_frames``.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        current = current.__cause__ or current.__context__


class ChainValidator:
    """Validates signer (and TSA) certificates against configured trust anchors."""

    def __init__(
        self,
        trust_anchors: Sequence[AnchorSource],
        *,
        revocation: RevocationPolicy = "soft",
        timeout: float = 10.0,
        intermediates: Sequence[AnchorSource] = (),
        http: HttpClient | None = None,
        crls: Sequence[Path | str] = (),
        fetch_issuers: bool = False,
        allow_local_issuers: bool = False,
    ) -> None:
        """``timeout``: seconds of revocation checking per verify request, all its signers
        together (see :meth:`fetches`).
        ``intermediates``: CA certificates offered for path building but not trusted
        (e.g. a national CA's issuing certificates, which XML signatures rarely carry).
        ``http``: the session revocation checks share (the agent's, which outlives a
        reload); without it the validator keeps its own, closed by :meth:`aclose`.
        ``crls``: CRL files the caller already has (a CA's published CRL, for a machine
        without access to it); their signatures are checked like fetched ones, and fetching
        still happens for what they do not answer.
        ``fetch_issuers``: fetch a missing issuer from the certificate's AIA caIssuers URL
        (see the module docstring; :func:`validator_from_settings` turns it on as the
        settings say).  ``allow_local_issuers``: also from loopback and private addresses
        (a lab PKI served on this machine; never for what outsiders send)."""
        if revocation not in ("require", "soft", "off"):
            raise ValueError(f"unknown revocation policy {revocation!r}")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._anchors = load_anchors(trust_anchors)
        self._known = load_anchors(intermediates)
        self._crls = load_crls(crls)
        self.revocation = revocation
        self.timeout = timeout
        self.fetch_issuers = fetch_issuers
        self._local_issuers = allow_local_issuers
        self._own_http = http is None
        self._http = http if http is not None else HttpClient()

    async def aclose(self) -> None:
        """Close the HTTP session of revocation checks if this validator made it."""
        if self._own_http:
            await self._http.aclose()

    def acceptable(self, status: ChainStatus) -> bool:
        """Whether this status lets a signature count as valid under the policy."""
        if not status.chain_valid or status.revocation == "revoked":
            return False
        return self.revocation != "require" or status.revocation == "good"

    def fetches(self) -> RequestFetches:
        """The revocation bounds of one verify request: ``timeout`` seconds from now for all
        its signers, :data:`MAX_FETCHES` requests, one fetch per URL.  Call it in the
        request's event loop and pass it to every :meth:`validate` of that request."""
        return RequestFetches(self._http, budget=self.timeout, per_fetch=self.timeout / 2, max_fetches=MAX_FETCHES)

    async def validate(
        self,
        cert: CertLike,
        intermediates: Iterable[CertLike] = (),
        moment: dt.datetime | None = None,
        *,
        check_revocation: bool = True,
        fetches: RequestFetches | None = None,
    ) -> ChainStatus:
        """Path, then (when asked, the policy is not ``off`` and the path is valid)
        revocation under ``fetches`` (a fresh :meth:`fetches` when None).  Call it with
        ``check_revocation=False`` for a signature that did not verify: nothing is fetched
        for it."""
        leaf = _to_asn1(cert)
        others = [_to_asn1(c) for c in intermediates] + self._known
        if fetches is not None:
            return await self._validate(leaf, others, moment, check_revocation, fetches)
        own = self.fetches()
        try:
            return await self._validate(leaf, others, moment, check_revocation, own)
        finally:
            own.release()

    async def _validate(
        self,
        leaf: asn1_x509.Certificate,
        others: list[asn1_x509.Certificate],
        moment: dt.datetime | None,
        check_revocation: bool,
        fetches: RequestFetches,
    ) -> ChainStatus:
        problem = await self._path(leaf, others, moment)
        if problem == "chain_untrusted" and self.fetch_issuers and check_revocation:
            fetched = await self._fetch_issuers(leaf, others, fetches)
            if fetched:
                others = others + fetched
                problem = await self._path(leaf, others, moment)
        if problem is not None:
            return ChainStatus(False, "unknown", (problem,))
        if not check_revocation or self.revocation == "off":
            return ChainStatus(True, "unknown")
        if not _declares_revocation(leaf):
            # Nothing to ask: "good" would claim a check that never happened.
            return ChainStatus(True, "unknown", ("revocation_unknown",))
        status = await self._revocation(leaf, others, fetches)
        problems: tuple[str, ...] = ()
        if status == "revoked":
            problems = ("revoked",)
        elif status == "unknown":
            problems = ("revocation_unknown",)
        return ChainStatus(True, status, problems)

    async def _fetch_issuers(
        self, leaf: asn1_x509.Certificate, others: list[asn1_x509.Certificate], fetches: RequestFetches
    ) -> list[asn1_x509.Certificate]:
        """Issuers missing above ``leaf``, fetched from caIssuers URLs (see the module
        docstring): walks up while the issuer is neither known nor an anchor, within the
        request's deadline."""
        if not self._anchors or fetches.remaining() <= 0:
            return []
        known = [*others, *self._anchors]
        fetched: list[asn1_x509.Certificate] = []
        current = leaf
        try:
            async with asyncio.timeout_at(fetches.deadline):
                for _ in range(MAX_ISSUER_DEPTH):
                    if current.self_signed != "no" or any(_issued(c, current) for c in known):
                        break
                    issuer = await self._fetch_issuer(current, fetches)
                    if issuer is None:
                        break
                    fetched.append(issuer)
                    known.append(issuer)
                    current = issuer
        except TimeoutError as exc:
            logger.info("issuer fetch gave no answer within this request's %.1fs", self.timeout)
            _forget_frames(exc)
        except _PARSE_ERRORS as exc:
            logger.info("issuer fetch: unreadable certificate: %s", exc)
        return fetched

    async def _fetch_issuer(self, cert: asn1_x509.Certificate, fetches: RequestFetches) -> asn1_x509.Certificate | None:
        for url in ca_issuer_urls(cert, local=self._local_issuers)[:MAX_URLS_PER_CERT]:
            try:
                found = await fetches.once(("ca_issuers", url), url, _IssuerDownload(fetches.http, url))
            except FetchError as exc:
                logger.info("issuer fetch failed: %s", exc)
                continue
            issuer = next((c for c in found if _issued(c, cert)), None)
            if issuer is not None:
                return issuer
            logger.info("%s: no certificate there names %s", url, cert.issuer.human_friendly)
        return None

    async def _path(
        self, leaf: asn1_x509.Certificate, others: list[asn1_x509.Certificate], moment: dt.datetime | None
    ) -> str | None:
        """None when a valid path exists, else a problem code."""
        if not self._anchors:
            return "chain_untrusted"
        try:
            context = ValidationContext(
                trust_roots=self._anchors,
                other_certs=others,
                moment=moment,
                allow_fetching=False,
                revocation_mode="soft-fail",
                signature_validator=SIGNATURE_VALIDATOR,
            )
            await CertificateValidator(leaf, validation_context=context).async_validate_path()
        except errors.PathBuildingError as exc:
            logger.info("no path to a trust anchor: %s", exc)
            return "chain_untrusted"
        except (errors.ExpiredError, errors.NotYetValidError) as exc:
            logger.info("certificate outside its validity period: %s", exc)
            return "certificate_expired"
        except UnsupportedAlgorithm as exc:  # e.g. a GOST-signed certificate on the path
            logger.info("a path certificate uses an algorithm not checked here: %s", exc)
            return "unsupported_algorithm"
        except (errors.PathError, errors.ValidationError, *_PARSE_ERRORS) as exc:
            logger.info("path validation failed: %s", exc)
            return "chain_invalid"
        return None

    async def _revocation(
        self, leaf: asn1_x509.Certificate, others: list[asn1_x509.Certificate], fetches: RequestFetches
    ) -> Revocation:
        """OCSP, then CRL, for every certificate of the path, until the request's deadline."""
        if fetches.remaining() <= 0:
            logger.info("revocation not checked: this request's %.1fs are spent", self.timeout)
            return "unknown"
        try:
            async with asyncio.timeout_at(fetches.deadline):
                return await self._revocation_pass(leaf, others, fetches)
        except TimeoutError as exc:
            logger.info("revocation check gave no answer within this request's %.1fs", self.timeout)
            _forget_frames(exc)
            return "unknown"

    async def _revocation_pass(
        self, leaf: asn1_x509.Certificate, others: list[asn1_x509.Certificate], fetches: RequestFetches
    ) -> Revocation:
        """The hard-fail pass, then (when it ends ``unknown``) the end-entity pass: see the
        module docstring.  Both share the fetchers, so nothing is asked twice."""
        ocsp_fetcher, crl_fetcher = _OCSPFetcher(fetches), _CRLFetcher(fetches)
        fetchers = Fetchers(ocsp_fetcher=ocsp_fetcher, crl_fetcher=crl_fetcher, cert_fetcher=_NoCertificates())
        try:
            status = await self._revocation_run(leaf, others, fetchers, _WHOLE_PATH)
            if status == "unknown" and await self._revocation_run(leaf, others, fetchers, _LEAF_FIRST) == "revoked":
                status = "revoked"
            return status
        finally:
            ocsp_fetcher.release()
            crl_fetcher.release()

    async def _revocation_run(
        self,
        leaf: asn1_x509.Certificate,
        others: list[asn1_x509.Certificate],
        fetchers: Fetchers,
        policy: CertRevTrustPolicy,
    ) -> Revocation:
        try:
            context = ValidationContext(
                trust_roots=self._anchors,
                other_certs=others,
                allow_fetching=True,
                revinfo_policy=policy,
                fetchers=fetchers,
                crls=self._crls,
                signature_validator=SIGNATURE_VALIDATOR,
            )
            await CertificateValidator(leaf, validation_context=context).async_validate_path()
        except errors.RevokedError as exc:
            logger.info("certificate revoked: %s", exc)
            _forget_frames(exc)
            return "revoked"
        except _REVOCATION_ERRORS as exc:
            logger.info("revocation status unknown: %s", exc)
            _forget_frames(exc)
            return "unknown"
        return "good"


def validator_from_settings(
    settings: Settings,
    *,
    trust_anchors: Sequence[AnchorSource] = (),
    intermediates: Sequence[AnchorSource] = (),
    revocation: RevocationPolicy = "soft",
    timeout: float = 10.0,
    crls: Sequence[Path | str] = (),
    fetch_issuers: bool | None = None,
    http: HttpClient | None = None,
) -> ChainValidator:
    """The validator of ``verify``, built as the agent builds it: the settings' trust anchors
    and intermediate certificates (plus those given here), and issuer fetching as the
    settings say unless ``fetch_issuers`` says otherwise.  ``tanba serve`` and ``tanba
    verify`` both build theirs here, so they agree on which chains are trusted."""
    return ChainValidator(
        [*settings.trust_anchor, *trust_anchors],
        revocation=revocation,
        timeout=timeout,
        intermediates=[*settings.intermediate, *intermediates],
        http=http,
        crls=crls,
        fetch_issuers=settings.fetch_issuers if fetch_issuers is None else fetch_issuers,
    )
