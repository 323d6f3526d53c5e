"""``sign``: CMS/CAdES, XML-DSig or raw signatures over a batch, one confirmation, one PIN."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tanba.agent import summary
from tanba.agent.dispatch import Method, RequestContext
from tanba.agent.handlers.progress import Progress
from tanba.agent.keys import Purpose
from tanba.protocol.errors import TimestampFailed, TooLarge
from tanba.protocol.methods.sign import METHOD, SignParams, SignResult
from tanba.providers.base import HashAlgorithm, Signer

#: seconds the TSA gets per request
TSA_TIMEOUT = 15.0


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(Encoding.PEM).decode("ascii")


async def _sign_cms(ctx: RequestContext, params: SignParams, signer: Signer, hash_alg: HashAlgorithm) -> list[bytes]:
    from tanba.agent.formats.cms import CmsInput, PrecomputedDigest

    identity = signer.identity
    builder = ctx.services.cms_builder(identity.certificate, identity.chain, hash_alg, params.include_chain)
    items: Sequence[CmsInput]
    items = params.data if params.data is not None else [PrecomputedDigest(d) for d in params.digests or ()]
    progress = Progress(ctx, len(items))
    out = await builder.sign_batch(signer, items, detached=params.detached, progress=progress)
    await progress.flush()
    return out


async def _sign_xml(ctx: RequestContext, params: SignParams, signer: Signer, hash_alg: HashAlgorithm) -> list[bytes]:
    from tanba.agent.formats.xmldsig import XmlSignOptions, sign_xml_batch

    options = XmlSignOptions(
        sign_element=params.xml.sign_element,
        parent=params.xml.parent,
        exclusive=params.xml.exclusive,
        hash_alg=hash_alg,
        max_bytes=ctx.services.settings.limits.max_message,
    )
    return await sign_xml_batch(signer, signer.identity.certificate, params.data or (), options)


async def _sign_raw(params: SignParams, signer: Signer, hash_alg: HashAlgorithm) -> list[bytes]:
    from tanba.agent.formats.cms import PrecomputedDigest
    from tanba.agent.formats.raw import RawInput, sign_raw_batch

    items: Sequence[RawInput]
    items = params.data if params.data is not None else [PrecomputedDigest(d) for d in params.digests or ()]
    return await sign_raw_batch(signer, items, hash_alg)


async def handle(ctx: RequestContext, params: SignParams) -> SignResult:
    """``/v1`` ``sign``: always a document signature, so signing keys only (rule 5)."""
    return await sign_for(ctx, params, "sign")


async def sign_for(ctx: RequestContext, params: SignParams, purpose: Purpose) -> SignResult:
    """Sign ``params`` with a key of ``purpose``, through :class:`KeyAccess` (choose →
    confirm → PIN).  ``"auth"`` is for callers whose wire names an authentication
    operation that yields a signature format (NCALayer's ``keyType: AUTHENTICATION``: a
    CMS over a login challenge); the confirmation then says "log in" and only
    authentication keys are offered."""
    settings = ctx.services.settings
    if params.count > settings.limits.max_batch:
        raise TooLarge(f"{params.count} documents in one request", limit=settings.limits.max_batch)
    if params.timestamp and not settings.tsa_url:
        raise TimestampFailed("a timestamp was asked for but no TSA is configured (tsa-url)")
    hash_alg = HashAlgorithm(params.digest_algorithm)
    if params.data is not None:
        documents = tuple(summary.of_data(d) for d in params.data)
    else:
        documents = tuple(summary.of_digest(d, params.digest_algorithm) for d in params.digests or ())

    access = ctx.key_access()
    async with access.signer(params.filter, purpose, documents, raw=params.format == "raw") as signer:
        identity = signer.identity
        if params.format == "cms":
            signatures = await _sign_cms(ctx, params, signer, hash_alg)
        elif params.format == "xml":
            signatures = await _sign_xml(ctx, params, signer, hash_alg)
        else:
            signatures = await _sign_raw(params, signer, hash_alg)

    if params.timestamp:
        from tanba.agent.formats.tsa import add_signature_timestamp

        assert settings.tsa_url is not None
        signatures = [await add_signature_timestamp(s, settings.tsa_url, TSA_TIMEOUT) for s in signatures]
    return SignResult(
        signatures=tuple(base64.b64encode(s).decode("ascii") for s in signatures),
        certificate=_pem(identity.certificate),
        chain=tuple(_pem(c) for c in identity.chain),
    )


method = Method(METHOD, SignParams.from_wire, handle)
