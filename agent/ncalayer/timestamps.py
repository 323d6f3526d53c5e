"""The TSA of the NCALayer endpoint, and the signing call that uses it.

NCALayer stamps with NCA's public TSA unless told otherwise, and portal code relies on it:
``createCMSSignatureFromBase64`` always asks for a timestamp, and ``ncalayer-js-client``'s
``basicsCMSParams{Detached,Attached,DetachedHash}`` send ``tsaProfile: {}``.  So on ``/``
(DESIGN.md, "NCALayer compatibility"):

- ``tsa-url`` not set: NCA's TSA, :data:`NCA_TSA_URL`;
- ``tsa-url = "URL"`` (or ``--tsa-url URL``): that TSA;
- ``tsa-url = ""`` (or ``--tsa-url ""``): no TSA; a request asking for a timestamp is
  refused before any dialog with "no timestamp service configured", and nothing is contacted.

``/v1`` keeps needing an explicit ``tsa-url`` (no silent call to a Kazakh server from the
native API): this default is the NCALayer endpoint's alone.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from tanba.agent.access.keys import Purpose
from tanba.agent.access.signing import Signed, sign_batch
from tanba.agent.dispatch import RequestContext
from tanba.agent.handlers.sign import sign_request
from tanba.agent.setup.config import Settings
from tanba.protocol.errors import TimestampFailed
from tanba.protocol.methods.sign import SignParams

#: NCA's public RFC 3161 TSA (NCALayer's default)
NCA_TSA_URL: Final = "http://tsp.pki.gov.kz"


def tsa_url(settings: Settings) -> str | None:
    """The TSA NCALayer requests are stamped by; None when ``tsa-url`` is set to ``""``."""
    if settings.tsa_url is None:
        return NCA_TSA_URL
    return settings.tsa_url or None


async def sign(ctx: RequestContext, params: SignParams, purpose: Purpose) -> Signed:
    """:func:`tanba.agent.handlers.sign.sign_for` for the NCALayer endpoint: the same
    checks, dialogs and signing, with the timestamp (when asked for) from :func:`tsa_url`.
    The wire has no progress notifications, so none are made."""
    url = tsa_url(ctx.services.settings) if params.timestamp else None
    if params.timestamp and url is None:
        raise TimestampFailed("no timestamp service configured (tsa-url is empty)", problem="not_configured")
    request = sign_request(ctx, replace(params, timestamp=False), purpose)
    return await sign_batch(
        ctx.key_access(), replace(request, timestamp_url=url),
        builder=ctx.services.cms_builder, http=ctx.services.http,
    )
