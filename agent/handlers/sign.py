"""``sign``: CMS/CAdES, XML-DSig or raw signatures over a batch, one confirmation, one PIN.

The wire's params become a :class:`~tanba.agent.access.signing.SignRequest` here; the signing
itself is :func:`~tanba.agent.access.signing.sign_batch`, shared with NCALayer's methods and the
CLI.  ``/v1`` answers base64; NCALayer's adapters take the bytes (:func:`sign_for`).
"""

from __future__ import annotations

import base64

from tanba.agent.access import summary
from tanba.agent.access.keys import Purpose
from tanba.agent.access.signing import SignRequest, Signed, sign_batch
from tanba.agent.dispatch import Method, RequestContext
from tanba.agent.formats.cms import CmsInput, PrecomputedDigest
from tanba.agent.formats.xmldsig import XmlSignOptions
from tanba.agent.handlers.progress import Progress
from tanba.protocol.errors import TimestampFailed, TooLarge
from tanba.protocol.methods.sign import METHOD, SignParams, SignResult
from tanba.providers.base import HashAlgorithm, Identity
from tanba.providers.certificate import to_pem


def sign_request(ctx: RequestContext, params: SignParams, purpose: Purpose) -> SignRequest:
    """The signing service's request for wire ``params``: limits checked, what the
    confirmation shows summarised, the TSA and XML options filled in from the settings."""
    settings = ctx.services.settings
    if params.count > settings.limits.max_batch:
        raise TooLarge(f"{params.count} documents in one request", limit=settings.limits.max_batch)
    if params.timestamp and not settings.tsa_url:
        raise TimestampFailed("no timestamp service configured (tsa-url)", problem="not_configured")
    hash_alg = HashAlgorithm(params.digest_algorithm) if params.digest_algorithm is not None else None
    items: tuple[CmsInput, ...]
    if params.data is not None:
        items = params.data
        documents = tuple(summary.of_data(d) for d in params.data)
    else:
        items = tuple(PrecomputedDigest(d) for d in params.digests or ())
        named = params.digest_algorithm or ""  # unnamed (NCALayer): the dialog shows the bytes
        documents = tuple(summary.of_digest(d, named) for d in params.digests or ())
    xml = None
    if params.format == "xml":
        xml = XmlSignOptions(
            sign_element=params.xml.sign_element,
            parent=params.xml.parent,
            exclusive=params.xml.exclusive,
            max_bytes=settings.limits.max_message,
        )
    return SignRequest(
        format=params.format,
        items=items,
        hash_alg=hash_alg,
        documents=documents,
        filter=params.filter,
        purpose=purpose,
        detached=params.detached,
        include_chain=params.include_chain,
        xml=xml,
        timestamp_url=settings.tsa_url if params.timestamp else None,
    )


async def sign_for(ctx: RequestContext, params: SignParams, purpose: Purpose) -> Signed:
    """Sign ``params`` with a key of ``purpose`` (choose → confirm → PIN).  ``"auth"`` is
    for callers whose wire names an authentication operation that yields a signature format
    (NCALayer's ``keyType: AUTHENTICATION``: a CMS over a login challenge); the
    confirmation then says "log in" and only authentication keys are offered."""
    request = sign_request(ctx, params, purpose)
    progress = Progress(ctx, len(request.items)) if params.format == "cms" else None
    signed = await sign_batch(
        ctx.key_access(), request, builder=ctx.services.cms_builder, progress=progress, http=ctx.services.http
    )
    if progress is not None:
        await progress.flush()
    return signed


#: id(identity) -> (identity, its certificate's PEM, its chain's): an open key's identity is
#: the same object in every request, so it is looked up by identity — cryptography hashes
#: and compares certificates by their DER, microseconds per call on every request.
_PEMS: dict[int, tuple[Identity, str, tuple[str, ...]]] = {}
_PEMS_KEPT = 64


def _pems(identity: Identity) -> tuple[str, tuple[str, ...]]:
    """The PEM of ``identity``'s certificate and chain, made once per identity."""
    entry = _PEMS.get(id(identity))
    if entry is None or entry[0] is not identity:
        while len(_PEMS) >= _PEMS_KEPT:
            _PEMS.pop(next(iter(_PEMS)))
        entry = (identity, to_pem(identity.certificate), tuple(to_pem(c) for c in identity.chain))
        _PEMS[id(identity)] = entry
    return entry[1], entry[2]


async def handle(ctx: RequestContext, params: SignParams) -> SignResult:
    """``/v1`` ``sign``: always a document signature, so signing keys only (rule 5)."""
    signed = await sign_for(ctx, params, "sign")
    identity = signed.identity
    certificate, chain = _pems(identity)
    return SignResult(
        signatures=tuple(base64.b64encode(s).decode("ascii") for s in signed.signatures),
        certificate=certificate,
        chain=chain,
    )


method = Method(METHOD, SignParams.from_wire, handle)
