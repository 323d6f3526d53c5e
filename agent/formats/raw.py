"""Bare signatures, for integrators who build their own container.

The result is the signature value only: PKCS#1 v1.5 or PSS bytes for RSA, a DER
``Ecdsa-Sig-Value`` for ECDSA.  Documents are hashed like CMS documents (bytes, a path or a
stream in 1 MiB chunks); a precomputed digest is checked against the algorithm's length.
All signatures of a batch go through one ``signer.sign_digests`` call.

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
from tanba.agent.formats.cms import PrecomputedDigest, check_scheme, default_scheme
from tanba.protocol.errors import InternalError, InvalidParams
from tanba.protocol.methods.sign import RAW_WITH_LOGIN_KEY
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


async def sign_raw_batch(
    signer: Signer,
    items: Sequence[RawInput],
    hash_alg: HashAlgorithm = HashAlgorithm.SHA256,
    scheme: SignatureScheme | None = None,
) -> list[bytes]:
    """One bare signature per item, in order."""
    check_raw_key(signer.identity)
    certificate = signer.identity.certificate
    scheme = scheme or default_scheme(certificate)
    check_scheme(certificate, scheme)
    digests = []
    for item in items:
        if isinstance(item, (bytes, bytearray, PrecomputedDigest)):
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
    hash_alg: HashAlgorithm = HashAlgorithm.SHA256,
    scheme: SignatureScheme | None = None,
) -> bytes:
    """The bare signature over one document or digest."""
    return (await sign_raw_batch(signer, [item], hash_alg, scheme))[0]
