"""``certs.list``: disclose certificates to the site after the user agreed."""

from __future__ import annotations

from tanba.agent.dispatch import Method, RequestContext
from tanba.protocol.methods.certs import METHOD, CertsListParams, CertsListResult, cert_wire
from tanba.providers.certificate import cert_info


async def handle(ctx: RequestContext, params: CertsListParams) -> CertsListResult:
    listing = await ctx.key_access().disclose(params.filter)
    return CertsListResult(
        tuple(cert_wire(cert_info(identity)) for identity in listing.identities), listing.unavailable
    )


method = Method(METHOD, CertsListParams.from_wire, handle)
