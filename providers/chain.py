"""The issuer chain of a certificate, from the certificates a store holds beside it.

One rule for every store: walk up from the leaf, each step to a certificate whose subject
is the current one's issuer *and* whose key verifies the current one's signature (names
alone can collide: two CAs of one name, a stale copy of a renewed CA).  A signature
cryptography cannot check (a national algorithm it does not know) falls back to the names.
The walk stops at a self-issued certificate, at a loop, or after 8 steps.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

MAX_DEPTH = 8


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` issued ``cert`` (names, and the signature where it can be checked)."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except UnsupportedAlgorithm:
        return True  # cannot be checked here: the names must do
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def build_chain(leaf: x509.Certificate, pool: Sequence[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    """The issuers of ``leaf`` found in ``pool``, nearest first (the leaf not included)."""
    chain: list[x509.Certificate] = []
    current = leaf
    while len(chain) < MAX_DEPTH and current.issuer != current.subject:
        parent = next((c for c in pool if c != leaf and c not in chain and issued_by(current, c)), None)
        if parent is None:
            break
        chain.append(parent)
        current = parent
    return tuple(chain)
