"""Why no certificate matched: the nearest miss, said so a person knows what to do.

"no certificate matches" told a user nothing when the key was there but expired, or was
the login key where a signing key was needed (issue 17 item 7).  The identities that pass
the request's filter except for its purpose and validity are looked at: the first of them
names what is wrong with it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePath

from tanba.protocol.methods.filter import CertFilter
from tanba.providers.base import Identity
from tanba.providers.certificate import cert_info
from tanba.providers.filter import select

NO_MATCH = "no certificate matches the request"

_WANTED = {
    "sign": "signing documents needs a signing key (NCA's RSA256_… or GOSTKNCA_… file)",
    "auth": "logging in needs an authentication key (NCA's AUTH_RSA256_… or GOSTKNCA_… file)",
}


def _where(identity: Identity) -> str:
    """A key file by its name (not its folder: the answer may go to a page), a token by its label."""
    return PurePath(identity.location).name if identity.storage == "PKCS12" else identity.location


def why_none(identities: Sequence[Identity], f: CertFilter, now: dt.datetime) -> str:
    """The reason to give for ``f`` matching none of ``identities`` at ``now``."""
    near = select(identities, replace(f, valid_only=False, key_usage=None), now)
    if not near:
        return NO_MATCH
    if f.key_usage is not None:
        fitting = [i for i in near if cert_info(i).serves(f.key_usage)]
        if not fitting:
            info = cert_info(near[0])
            kind = "an authentication key (for login)" if info.serves("auth") else "a signing key"
            return f"{info.owner_name} ({_where(near[0])}) is {kind}; {_WANTED[f.key_usage]}"
        near = fitting
    if f.valid_only:
        info, where = cert_info(near[0]), _where(near[0])
        if now > info.not_after:
            return f"the certificate of {info.owner_name} ({where}) expired on {info.not_after:%Y-%m-%d}"
        if now < info.not_before:
            return f"the certificate of {info.owner_name} ({where}) is valid only from {info.not_before:%Y-%m-%d}"
    return NO_MATCH
