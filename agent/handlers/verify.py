"""``verify``: check a CMS or XML signature against the configured trust anchors."""

from __future__ import annotations

from tanba.agent.dispatch import Method, RequestContext
from tanba.agent.verify.cms import verify_cms
from tanba.agent.verify.xml import verify_xml
from tanba.protocol.methods.verify import METHOD, VerifyParams, VerifyResult


async def handle(ctx: RequestContext, params: VerifyParams) -> VerifyResult:
    validator = ctx.services.chain_validator()
    if params.format == "cms":
        return await verify_cms(params.signature, validator, data=params.data)
    return await verify_xml(params.signature, validator)


method = Method(METHOD, VerifyParams.from_wire, handle)
