"""The one signing service: a batch → signatures (bytes) and the identity that made them.

``/v1`` ``sign``, NCALayer's commonUtils and basics and ``tanba sign`` all sign through
:func:`sign_batch`; each then encodes at its own edge (``/v1`` base64, basics PEM or text,
the CLI files).  The path, in order: the key is chosen, confirmed and opened through
:class:`~tanba.agent.access.keys.KeyAccess` (rule 3–5: one confirmation and one PIN for the
batch; raw signatures never with a key that can log in), the format builds every
signature with one ``sign_digests`` call, and — for CAdES-T — the TSA stamps each one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from cryptography import x509

from tanba.agent.access.keys import KeyAccess, Purpose
from tanba.agent.consent.base import DocumentSummary
from tanba.agent.formats import xmldsig
from tanba.agent.formats.cms import CmsBuilder, CmsInput, PrecomputedDigest, Progress
from tanba.agent.formats.raw import sign_raw_batch
from tanba.agent.formats.tsa import add_signature_timestamp
from tanba.agent.formats.xmldsig import XmlSignOptions
from tanba.agent.http import HttpClient
from tanba.protocol.methods.filter import CertFilter
from tanba.protocol.methods.sign import Format
from tanba.providers.base import HashAlgorithm, Identity, Signer
from tanba.providers.keyalg import hash_for_digest_size, signing_hash

#: seconds the TSA gets per signature, on every path
TSA_TIMEOUT = 20.0

BuilderFactory = Callable[[x509.Certificate, Sequence[x509.Certificate], HashAlgorithm, bool], CmsBuilder]


@dataclass(frozen=True)
class SignRequest:
    """What to sign and how, whichever wire or command asked."""

    format: Format
    #: documents (bytes, or paths read in chunks) or ``PrecomputedDigest``s; XML: bytes
    items: Sequence[CmsInput]
    #: the hash the caller named; None: the key's own (SHA-256 for RSA/EC, the family's hash
    #: for a GOST key) — for digests, the hash their length and the key say (NCALayer's
    #: ``…Hash`` methods name none).  A national key never signs with another hash.
    hash_alg: HashAlgorithm | None
    #: what the confirmation shows, one per item
    documents: tuple[DocumentSummary, ...]
    filter: CertFilter = CertFilter()
    purpose: Purpose = "sign"
    detached: bool = True
    #: the signer's chain (as its store holds it) goes with the signature: into CMS
    #: ``certificates``, or after the signer's certificate in XML's X509Data
    include_chain: bool = True
    xml: XmlSignOptions | None = None
    timestamp_url: str | None = None


@dataclass(frozen=True)
class Signed:
    signatures: list[bytes]
    identity: Identity


def _plain_builder(
    certificate: x509.Certificate, chain: Sequence[x509.Certificate], hash_alg: HashAlgorithm, include_chain: bool
) -> CmsBuilder:
    return CmsBuilder(certificate, chain, hash_alg, include_chain=include_chain)


async def sign_batch(
    access: KeyAccess,
    request: SignRequest,
    *,
    builder: BuilderFactory = _plain_builder,
    progress: Progress | None = None,
    prepare: Callable[[HashAlgorithm], Awaitable[Sequence[CmsInput]]] | None = None,
    http: HttpClient | None = None,
) -> Signed:
    """Sign ``request`` with a key the user picks and confirms.

    ``builder`` makes the CMS builder (the agent keeps them cached per certificate);
    ``prepare``, when given, supplies the items once the key (and so the hash) is known
    (the CLI hashes big files while the PIN is asked); ``http`` is the agent's HTTP client
    for the TSA (the command line makes its own)."""
    raw = request.format == "raw"
    if request.format == "xml" and prepare is None:
        await _check_xml(request)  # a document that cannot be signed is refused before the dialog
    async with access.signer(request.filter, request.purpose, request.documents, raw=raw,
                             fits=lambda identity: hash_for(identity, request)) as signer:
        hash_alg = hash_for(signer.identity, request)
        items = await prepare(hash_alg) if prepare is not None else request.items
        signatures = await _sign(signer, request, items, hash_alg, builder, progress)
        identity = signer.identity
    if request.timestamp_url is not None:
        signatures = [await add_signature_timestamp(s, request.timestamp_url, TSA_TIMEOUT, http) for s in signatures]
    return Signed(signatures, identity)


def _digest_size(request: SignRequest) -> int | None:
    """The length of the request's digests when it signs digests without naming their hash."""
    if request.hash_alg is None and request.items and isinstance(request.items[0], PrecomputedDigest):
        return len(request.items[0].value)
    return None


def hash_for(identity: Identity, request: SignRequest) -> HashAlgorithm:
    """The hash ``identity``'s key signs ``request`` with (``invalid_params`` when none fits)."""
    size = _digest_size(request)
    if size is not None:
        return hash_for_digest_size(identity.certificate, size)
    return signing_hash(identity.certificate, request.hash_alg)


def _xml_options(request: SignRequest, hash_alg: HashAlgorithm | None = None) -> XmlSignOptions:
    options = request.xml or XmlSignOptions()
    return replace(options, hash_alg=hash_alg) if hash_alg is not None else options


def _xml_documents(items: Sequence[CmsInput]) -> list[bytes]:
    documents = [bytes(item) for item in items if isinstance(item, (bytes, bytearray))]
    if len(documents) != len(items):
        raise TypeError("XML documents are signed from bytes")
    return documents


async def _check_xml(request: SignRequest) -> None:
    await asyncio.to_thread(xmldsig.check_xml_batch, _xml_documents(request.items), _xml_options(request))


async def _sign(
    signer: Signer,
    request: SignRequest,
    items: Sequence[CmsInput],
    hash_alg: HashAlgorithm,
    builder: BuilderFactory,
    progress: Progress | None,
) -> list[bytes]:
    identity = signer.identity
    if request.format == "cms":
        cms = builder(identity.certificate, identity.chain, hash_alg, request.include_chain)
        return await cms.sign_batch(signer, items, detached=request.detached, progress=progress)
    if request.format == "xml":
        options = _xml_options(request, hash_alg)
        # includeChain as for CMS: the store's chain after the signer's certificate in X509Data
        chain = identity.chain if request.include_chain else ()
        return await xmldsig.sign_xml_batch(signer, identity.certificate, _xml_documents(items), options, chain=chain)
    return await sign_raw_batch(signer, items, hash_alg)
