"""``verify``: check a CMS or XML signature against the configured trust anchors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tanba.agent.dispatch import Method, RequestContext
from tanba.protocol.methods.verify import METHOD, VerifyParams


@dataclass(frozen=True)
class VerifyOutcome:
    wire: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return self.wire


async def handle(ctx: RequestContext, params: VerifyParams) -> VerifyOutcome:
    validator = ctx.services.chain_validator()
    if params.format == "cms":
        from tanba.agent.verify.cms import verify_cms

        result = await verify_cms(params.signature, validator, data=params.data)
    else:
        from tanba.agent.verify.xml import verify_xml

        result = await verify_xml(params.signature, validator)
    return VerifyOutcome(result.to_wire())


method = Method(METHOD, VerifyParams.from_wire, handle)
