"""The native endpoint ``/v1``: JSON-RPC 2.0 onto the method table.

Decoding checks the envelope and that the request id is not already in flight on this
connection (:class:`~tanba.protocol.connection.InFlight`); the handler table does the rest.
Results and errors are JSON-RPC answers, errors in the connection's locale.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tanba.agent.dispatch import Method, RequestContext, dispatch
from tanba.agent.services import Services
from tanba.agent.transport.pipeline import Answer, Call, Endpoint
from tanba.protocol import codec, i18n
from tanba.protocol.connection import InFlight
from tanba.protocol.errors import InvalidRequest, TanbaError
from tanba.protocol.messages import (
    Request,
    RequestId,
    error_message,
    notification,
    parse_request,
    result_message,
    salvage_id,
)


def native_error(request_id: RequestId | None, error: TanbaError, locale: str) -> Answer:
    return error_message(request_id, error, i18n.error_text(error, locale))


@dataclass
class NativeCall(Call[dict[str, Any]]):
    endpoint: NativeEndpoint
    request: Request

    async def run(self) -> dict[str, Any]:
        endpoint = self.endpoint

        async def notify(method: str, params: dict[str, Any]) -> None:
            await endpoint.send(notification(method, params))

        ctx = RequestContext(
            endpoint.services(), endpoint.origin, endpoint.locale, self.request.id, notify, self.request.method
        )
        return await dispatch(endpoint.methods, ctx, self.request)

    def render(self, result: dict[str, Any]) -> Answer:
        return result_message(self.request.id, result)

    def render_error(self, error: TanbaError) -> Answer:
        return native_error(self.request.id, error, self.endpoint.locale)

    def close(self) -> None:
        self.endpoint.in_flight.release(self.request.id)


class NativeEndpoint(Endpoint):
    """``/v1`` for one connection."""

    def __init__(
        self,
        services: Callable[[], Services],
        methods: Mapping[str, Method[Any, Any]],
        origin: str | None,
        locale: str,
        send: Callable[[Answer], Awaitable[None]],
    ) -> None:
        self.services = services
        self.methods = methods
        self.origin = origin
        self.locale = locale
        self.send = send
        self.in_flight = InFlight()

    def decode(self, text: bool, message: bytes) -> NativeCall | Answer:
        request_id: RequestId | None = None
        try:
            if not text:
                raise InvalidRequest("binary frames are not accepted: send JSON as text")
            obj = codec.decode(message, self.services().settings.limits)
            request_id = salvage_id(obj)
            request = parse_request(obj)
            self.in_flight.claim(request.id)
        except TanbaError as exc:
            return native_error(request_id, exc, self.locale)
        return NativeCall(self, request)
