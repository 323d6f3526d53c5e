"""``verify``: check a CMS or XML signature against the configured trust anchors."""

from __future__ import annotations

from tanba.agent.dispatch import Method, RequestContext
from tanba.protocol.methods.verify import METHOD, VerifyParams, VerifyResult


async def handle(ctx: RequestContext, params: VerifyParams) -> VerifyResult:
    validator = ctx.services.chain_validator()
    if params.format == "cms":
        from tanba.agent.verify.cms import verify_cms

        result = await verify_cms(params.signature, validator, data=params.data)
    else:
        from tanba.agent.verify.xml import verify_xml

        result = await verify_xml(params.signature, validator)
    return result


method = Method(METHOD, VerifyParams.from_wire, handle)
