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

Every network request is bounded by ``timeout / 2`` (so OCSP then CRL fit), and the whole
revocation pass by ``timeout``: a dead or hanging responder yields ``unknown``, never a hang.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import CertificateValidator, ValidationContext, errors
from pyhanko_certvalidator.fetchers import Fetchers
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.fetchers.aiohttp_fetchers.crl_client import AIOHttpCRLFetcher
from pyhanko_certvalidator.fetchers.aiohttp_fetchers.ocsp_client import AIOHttpOCSPFetcher
from pyhanko_certvalidator.fetchers.api import FetchLimits
from pyhanko_certvalidator.fetchers.common_utils import FetchBudget

from tanba.agent.verify.http import RevocationHttp
from tanba.agent.verify.result import Revocation
from tanba.protocol.errors import InvalidParams

logger = logging.getLogger(__name__)

RevocationPolicy = Literal["require", "soft", "off"]
AnchorSource: TypeAlias = "x509.Certificate | str | Path"
CertLike: TypeAlias = "x509.Certificate | asn1_x509.Certificate"

#: A signature's certificates never need many fetches; a hostile one gets no more.
_LIMITS = FetchLimits(max_requests=8, max_cert_requests=0, max_aia_urls_per_object=2)


@dataclass(frozen=True)
class ChainStatus:
    chain_valid: bool
    revocation: Revocation
    problems: tuple[str, ...] = ()


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


def _to_asn1(cert: CertLike) -> asn1_x509.Certificate:
    if isinstance(cert, asn1_x509.Certificate):
        return cert
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


class _OCSPFetcher(AIOHttpOCSPFetcher):
    """aiohttp's total timeout raises a bare TimeoutError, which certvalidator does not
    treat as a fetch failure; make it one so the CRL still gets its chance."""

    async def fetch(self, cert: Any, authority: Any) -> Any:
        try:
            return await super().fetch(cert, authority)
        except TimeoutError as exc:
            raise errors.OCSPFetchError("OCSP responder timed out") from exc


class _CRLFetcher(AIOHttpCRLFetcher):
    async def fetch(self, cert: Any, *, use_deltas: bool = True) -> Any:
        try:
            return await super().fetch(cert, use_deltas=use_deltas)
        except TimeoutError as exc:
            raise errors.CRLFetchError("CRL server timed out") from exc


class _Backend(AIOHttpFetcherBackend):
    def get_fetchers(self) -> Fetchers:
        base = super().get_fetchers()
        budget = FetchBudget(self.limits)
        to = self.per_request_timeout
        return Fetchers(
            ocsp_fetcher=_OCSPFetcher(self.session, per_request_timeout=to, budget=budget),
            crl_fetcher=_CRLFetcher(self.session, per_request_timeout=to, budget=budget),
            cert_fetcher=base.cert_fetcher,
        )


class ChainValidator:
    """Validates signer (and TSA) certificates against configured trust anchors."""

    def __init__(
        self,
        trust_anchors: Sequence[AnchorSource],
        *,
        revocation: RevocationPolicy = "soft",
        timeout: float = 10.0,
        intermediates: Sequence[AnchorSource] = (),
        http: RevocationHttp | None = None,
    ) -> None:
        """``intermediates``: CA certificates offered for path building but not trusted
        (e.g. a national CA's issuing certificates, which XML signatures rarely carry).
        ``http``: the session revocation checks share (the agent's, which outlives a
        reload); without it the validator keeps its own, closed by :meth:`aclose`."""
        if revocation not in ("require", "soft", "off"):
            raise ValueError(f"unknown revocation policy {revocation!r}")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._anchors = load_anchors(trust_anchors)
        self._known = load_anchors(intermediates)
        self.revocation = revocation
        self.timeout = timeout
        self._own_http = http is None
        self._http = http if http is not None else RevocationHttp()

    async def aclose(self) -> None:
        """Close the HTTP session of revocation checks if this validator made it."""
        if self._own_http:
            await self._http.aclose()

    def acceptable(self, status: ChainStatus) -> bool:
        """Whether this status lets a signature count as valid under the policy."""
        if not status.chain_valid or status.revocation == "revoked":
            return False
        return self.revocation != "require" or status.revocation == "good"

    async def validate(
        self,
        cert: CertLike,
        intermediates: Iterable[CertLike] = (),
        moment: dt.datetime | None = None,
        *,
        check_revocation: bool = True,
    ) -> ChainStatus:
        leaf = _to_asn1(cert)
        others = [_to_asn1(c) for c in intermediates] + self._known
        problem = await self._path(leaf, others, moment)
        if problem is not None:
            return ChainStatus(False, "unknown", (problem,))
        if not check_revocation or self.revocation == "off":
            return ChainStatus(True, "unknown")
        if not leaf.ocsp_urls and not leaf.crl_distribution_points:
            # Nothing to ask: "good" would claim a check that never happened.
            return ChainStatus(True, "unknown", ("revocation_unknown",))
        status = await self._revocation(leaf, others)
        problems: tuple[str, ...] = ()
        if status == "revoked":
            problems = ("revoked",)
        elif status == "unknown":
            problems = ("revocation_unknown",)
        return ChainStatus(True, status, problems)

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
            )
            await CertificateValidator(leaf, validation_context=context).async_validate_path()
        except errors.PathBuildingError as exc:
            logger.info("no path to a trust anchor: %s", exc)
            return "chain_untrusted"
        except (errors.ExpiredError, errors.NotYetValidError) as exc:
            logger.info("certificate outside its validity period: %s", exc)
            return "certificate_expired"
        except (errors.PathError, errors.ValidationError, ValueError, TypeError, KeyError) as exc:
            logger.info("path validation failed: %s", exc)
            return "chain_invalid"
        return None

    async def _revocation(
        self, leaf: asn1_x509.Certificate, others: list[asn1_x509.Certificate]
    ) -> Revocation:
        backend = _Backend(self._http.session(), per_request_timeout=self.timeout / 2, limits=_LIMITS)
        try:
            context = ValidationContext(
                trust_roots=self._anchors,
                other_certs=others,
                allow_fetching=True,
                revocation_mode="hard-fail",
                fetcher_backend=backend,
            )
            validator = CertificateValidator(leaf, validation_context=context)
            await asyncio.wait_for(validator.async_validate_path(), self.timeout)
        except errors.RevokedError as exc:
            logger.info("certificate revoked: %s", exc)
            return "revoked"
        except TimeoutError:
            logger.info("revocation check gave no answer within %.1fs", self.timeout)
            return "unknown"
        except (
            errors.PathError,
            errors.ValidationError,
            errors.OCSPValidationError,
            errors.CRLValidationError,
            ValueError,
            TypeError,
            KeyError,
        ) as exc:
            logger.info("revocation status unknown: %s", exc)
            return "unknown"
        return "good"
