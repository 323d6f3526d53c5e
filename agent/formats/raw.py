"""Bare signatures, for integrators who build their own container.

The result is the signature value only: PKCS#1 v1.5 or PSS bytes for RSA, a DER
``Ecdsa-Sig-Value`` for ECDSA, and for a GOST key the value as its country's CMS holds it
(Kazakhstan's NCA keys: r‖s, each little-endian; Russian keys: s‖r, each big-endian — see
:mod:`tanba.crypto.gost`).  A GOST key signs only with its own hash (:func:`~tanba.providers.keyalg.signing_hash`).
Documents are hashed like CMS documents (bytes, a path or a stream in 1 MiB chunks; the
national hashes past a few KiB in a worker thread); a precomputed digest is checked against
the algorithm's length.  All signatures of a batch go through one ``signer.sign_digests`` call.

A raw signature is a signature over bytes the caller chose: made with a key that can log in,
it would be a login token for any site (a Web eID token signs hash(hash(origin) ‖
hash(challenge)), which a page can compute for another origin).  So no key that
:attr:`~tanba.providers.certificate.CertInfo.can_authenticate` ever signs here (DESIGN
security rule 5), whichever wire or command asks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from tanba.agent.formats import digest as _digest
from tanba.agent.formats.cms import PrecomputedDigest, check_scheme, inline_limit
from tanba.protocol.errors import InternalError, InvalidParams
from tanba.protocol.methods.sign import RAW_WITH_LOGIN_KEY
from tanba.providers import keyalg
from tanba.providers.base import HashAlgorithm, Identity, SignatureScheme, Signer
from tanba.providers.certificate import cert_info

log = logging.getLogger(__name__)

RawInput = _digest.Source | PrecomputedDigest


def check_raw_key(identity: Identity) -> None:
    """Refuse ``identity`` for raw signatures when its key can serve as a login."""
    if cert_info(identity).can_authenticate:
        raise InvalidParams(RAW_WITH_LOGIN_KEY, field="format")


def _digest_for(item: RawInput, alg: HashAlgorithm) -> bytes:
    if isinstance(item, PrecomputedDigest):
        if len(item.value) != alg.digest_size:
            raise InvalidParams(
                f"digest is {len(item.value)} bytes, {alg.value} needs {alg.digest_size}"
            )
        return bytes(item.value)
    return _digest.digest_of(item, alg)


def _inline(item: RawInput, alg: HashAlgorithm) -> bool:
    """Whether ``item`` is hashed on the event loop (small bytes, or a digest)."""
    if isinstance(item, PrecomputedDigest):
        return True
    return isinstance(item, (bytes, bytearray)) and len(item) < inline_limit(alg)


async def sign_raw_batch(
    signer: Signer,
    items: Sequence[RawInput],
    hash_alg: HashAlgorithm | None = None,
    scheme: SignatureScheme | None = None,
) -> list[bytes]:
    """One bare signature per item, in order (``hash_alg`` None: the key's own)."""
    check_raw_key(signer.identity)
    certificate = signer.identity.certificate
    hash_alg = keyalg.signing_hash(certificate, hash_alg)
    scheme = scheme or keyalg.default_scheme(certificate)
    check_scheme(certificate, scheme)
    digests = []
    for item in items:
        if _inline(item, hash_alg):
            digests.append(_digest_for(item, hash_alg))
        else:
            digests.append(await asyncio.to_thread(_digest_for, item, hash_alg))
    signatures = await signer.sign_digests(digests, hash_alg, scheme)
    if len(signatures) != len(digests):
        raise InternalError("signer returned a wrong number of signatures")
    log.debug("made %d raw signatures (%s, %s)", len(signatures), hash_alg, scheme)
    return signatures


async def sign_raw(
    signer: Signer,
    item: RawInput,
    hash_alg: HashAlgorithm | None = None,
    scheme: SignatureScheme | None = None,
) -> bytes:
    """The bare signature over one document or digest."""
    return (await sign_raw_batch(signer, [item], hash_alg, scheme))[0]
