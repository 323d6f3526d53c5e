"""``agent.hello``."""

from __future__ import annotations

from tanba.agent.dispatch import Method, RequestContext
from tanba.protocol.methods.hello import METHOD, HelloParams, HelloResult

CAPABILITIES: tuple[str, ...] = ("agent.hello", "certs.list", "sign", "auth", "verify", "progress")


async def handle(ctx: RequestContext, params: HelloParams) -> HelloResult:
    return HelloResult(version=ctx.services.version, capabilities=CAPABILITIES)


method = Method(METHOD, HelloParams.from_wire, handle)
