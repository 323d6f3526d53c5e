"""Method table and the per-request context handed to handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from tanba.agent.access.keys import KeyAccess
from tanba.agent.services import Services
from tanba.protocol.errors import MethodNotFound
from tanba.protocol.messages import Request, RequestId
from tanba.protocol.validate import within


class WireResult(Protocol):
    def to_wire(self) -> dict[str, Any]: ...


P = TypeVar("P")
R = TypeVar("R", bound=WireResult)


@dataclass(frozen=True)
class RequestContext:
    services: Services
    #: canonical origin of the page, or None for an authenticated local program
    origin: str | None
    locale: str
    request_id: RequestId
    #: send a notification (``progress``) on the requesting connection
    notify: Callable[[str, dict[str, Any]], Awaitable[None]]
    #: the wire method, for the audit log ("sign", "createCAdESFromBase64" ...)
    method: str = ""

    def key_access(self) -> KeyAccess:
        """The consent-guarded way to this request's keys."""
        services = self.services
        return KeyAccess(
            services.stores,
            services.consent,
            services.prompts,
            self.origin,
            self.locale,
            services.unlock_window,
            audit=services.audit,
            method=self.method,
        )


@dataclass(frozen=True)
class Method(Generic[P, R]):
    name: str
    parse: Callable[[Any], P]
    handle: Callable[[RequestContext, P], Awaitable[R]]

    async def __call__(self, ctx: RequestContext, raw_params: Any) -> dict[str, Any]:
        # Values name their own fields ("filter.iin", "format"); on /v1 they sit under params.
        with within("params"):
            params = self.parse(raw_params)
            result = await self.handle(ctx, params)
        return result.to_wire()


async def dispatch(table: Mapping[str, Method[Any, Any]], ctx: RequestContext, request: Request) -> dict[str, Any]:
    method = table.get(request.method)
    if method is None:
        raise MethodNotFound(f"no method {request.method!r}")
    return await method(ctx, request.params)
