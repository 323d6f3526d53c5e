"""Tanba's server-side verifier: what a portal's back end imports to accept a login token or a
signature made by Tanba (or by NCALayer / Web eID where the formats agree).

A stable API (names and error codes here change only with a major version)::

    from tanba.verify import TokenVerifier, TokenError

    verifier = TokenVerifier("https://portal.example.kz", trust_anchors=["nca_root.pem"],
                             intermediates=["nca_gost.pem", "nca_rsa.pem"])
    challenge = verifier.new_challenge()        # keep it in the user's session; the page calls auth(challenge)
    ...
    try:
        login = await verifier.verify(token, session["challenge"])   # token: the page's auth result
    except TokenError as exc:                   # exc.code: see TokenError
        refuse(exc.code)
    if not login.accepted:                      # chain or revocation: login.problems says which
        refuse(login.problems)
    user = login.iin or login.personal_number

What :meth:`TokenVerifier.verify` checks, in order:

1. the token's shape: ``format`` ``web-eid:1.0``, a known ``algorithm``, base64 fields;
2. the challenge — the one the back end issued for this session, as Web eID back ends keep it,
   never one the page sends: issued by this verifier (:meth:`~TokenVerifier.new_challenge`), not
   older than ``challenge_ttl`` seconds, and not used before — each challenge is taken on its
   first use, whatever the outcome, so a replayed token fails (``challenge_unknown``);
3. the signature, over hash(hash(origin) ‖ hash(challenge)) with the algorithm's hash
   (SHA-256/384/512 for RS256/ES256/ES384/ES512; the key family's own for national keys), the
   origin being the one this verifier serves — never a value from the token or the page — so a
   token made for another site fails (``signature_invalid``);
4. the purpose: the certificate must serve login — EKU clientAuth, or a national key that
   serves both (NCA's one key per person) — else ``not_auth_certificate``;
5. the chain to ``trust_anchors`` (with ``intermediates`` offered for path building: tokens
   carry only the leaf) and revocation per ``revocation``: ``"require"`` (the default: OCSP or
   CRL must say good), ``"soft"`` (unknown is accepted, revoked is not) or ``"off"``; the result
   is :attr:`AuthResult.accepted` with ``problems`` naming what failed (``chain_untrusted``,
   ``certificate_expired``, ``revoked``, ``revocation_unknown``, …).

Challenges live in a :class:`ChallengeStore`; :class:`MemoryChallenges` keeps them in this
process (enough for one back-end process).  Several processes or hosts need a shared store
(a database row or a Redis key with the same expiry, deleted atomically on first use)
implementing the same two methods.

:func:`verify_signature` checks a CMS or XML-DSig signature (what the agent's ``verify``
method does) against the same kind of anchors.  docs/backend.md shows a complete back end.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from tanba.agent.verify.chain import ChainValidator
from tanba.agent.verify.token import AuthResult, TokenError, check_signature, verify_token
from tanba.protocol.methods.verify import VerifyResult

__all__ = ["AuthResult", "ChallengeStore", "MemoryChallenges", "TokenError", "TokenVerifier", "verify_signature"]

Revocation = Literal["require", "soft", "off"]
#: what new_challenge() hands out: 32 random bytes, base64 (Web eID's nonce size)
CHALLENGE_BYTES = 32


class ChallengeStore(Protocol):
    """Where issued challenges wait for their one use."""

    def issue(self) -> str:
        """A new random challenge, remembered until it is taken or expires."""
        ...

    def take(self, challenge: str) -> bool:
        """True once for a challenge issued here and not expired; False for anything else
        (unknown, expired, already taken).  Forgets it either way."""
        ...


class MemoryChallenges:
    """Challenges in this process's memory, each valid ``ttl`` seconds and usable once; at most
    ``max_size`` outstanding (the oldest are forgotten first)."""

    def __init__(self, ttl: float = 300.0, max_size: int = 100_000) -> None:
        if ttl <= 0 or max_size < 1:
            raise ValueError("ttl and max_size must be positive")
        self.ttl = ttl
        self.max_size = max_size
        self._issued: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def issue(self) -> str:
        import base64

        challenge = base64.b64encode(secrets.token_bytes(CHALLENGE_BYTES)).decode("ascii")
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            self._issued[challenge] = now + self.ttl
            while len(self._issued) > self.max_size:
                self._issued.popitem(last=False)
        return challenge

    def take(self, challenge: str) -> bool:
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            deadline = self._issued.pop(challenge, None)
        return deadline is not None and deadline >= now

    def _expire(self, now: float) -> None:
        while self._issued:
            first, deadline = next(iter(self._issued.items()))
            if deadline >= now:
                return
            del self._issued[first]


class TokenVerifier:
    """Checks ``auth`` tokens for one origin (see the module docstring for what and in which order)."""

    def __init__(
        self,
        origin: str,
        trust_anchors: Sequence[str | Path],
        *,
        intermediates: Sequence[str | Path] = (),
        revocation: Revocation = "require",
        challenges: ChallengeStore | None = None,
        challenge_ttl: float = 300.0,
        timeout: float = 10.0,
        crls: Sequence[str | Path] = (),
    ) -> None:
        from tanba.protocol.origin import normalize_origin

        normalized = normalize_origin(origin)
        if normalized is None:
            raise ValueError(f"{origin!r} is not a web origin (scheme://host[:port])")
        self.origin = normalized
        self.challenges: ChallengeStore = challenges or MemoryChallenges(challenge_ttl)
        self._anchors, self._intermediates, self._crls = list(trust_anchors), list(intermediates), list(crls)
        self._revocation: Revocation = revocation
        self._timeout = timeout
        self._new_validator()  # unreadable anchors or CRLs fail here, not at the first login

    def _new_validator(self) -> ChainValidator:
        return ChainValidator(self._anchors, revocation=self._revocation, timeout=self._timeout,
                              intermediates=self._intermediates, crls=self._crls)

    def new_challenge(self) -> str:
        """A fresh challenge for the page's ``auth`` call."""
        return self.challenges.issue()

    def check_token(self, token: Mapping[str, Any], challenge: str) -> None:
        """Steps 1, 3 and 4 only, for a challenge the caller manages itself (no chain check)."""
        check_signature(token, self.origin, challenge)

    async def verify(self, token: Mapping[str, Any], challenge: str) -> AuthResult:
        """The login, once the token passes steps 1–4 (else :class:`TokenError`); whether its
        chain and revocation are acceptable is ``accepted``.  ``challenge``: the one issued for
        this session."""
        if not isinstance(token, Mapping):
            raise TokenError("malformed", "the token must be a JSON object")
        if not isinstance(challenge, str) or not self.challenges.take(challenge):
            raise TokenError("challenge_unknown", "the challenge was not issued here, has expired or was used")
        validator = self._new_validator()  # its HTTP session belongs to this event loop
        try:
            return await verify_token(token, self.origin, challenge, validator)
        finally:
            await validator.aclose()

    def verify_sync(self, token: Mapping[str, Any], challenge: str) -> AuthResult:
        """:meth:`verify` for synchronous back ends (runs an event loop for the call)."""
        return asyncio.run(self.verify(token, challenge))


async def verify_signature(
    signature: bytes,
    *,
    format: Literal["cms", "xml"] = "cms",
    data: bytes | None = None,
    trust_anchors: Sequence[str | Path],
    intermediates: Sequence[str | Path] = (),
    revocation: Revocation = "require",
    crls: Sequence[str | Path] = (),
    timeout: float = 10.0,
) -> VerifyResult:
    """A CMS (``data``: the content of a detached one) or XML-DSig signature, checked as the
    agent's ``verify`` method does: every signer's signature, chain and revocation."""
    from tanba.agent.verify.cms import verify_cms
    from tanba.agent.verify.xml import verify_xml

    validator = ChainValidator(list(trust_anchors), revocation=revocation, timeout=timeout,
                               intermediates=list(intermediates), crls=list(crls))
    try:
        if format == "xml":
            return await verify_xml(signature, validator)
        return await verify_cms(signature, validator, data=data)
    finally:
        await validator.aclose()
