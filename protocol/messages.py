"""JSON-RPC 2.0 messages of the native ``/v1`` endpoint, as typed frozen values.

Only requests with an ``id`` are accepted (every method answers; a notification would
leave the user's confirmation unanswered), params are always by name (an object), and
batches (top-level arrays) are refused by the codec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from tanba.protocol.errors import InternalError, InvalidRequest, TanbaError

JSONRPC: Final = "2.0"
MAX_ID_LENGTH: Final = 128
MAX_METHOD_LENGTH: Final = 64

RequestId = str | int

#: reasons whose ``detail`` describes the client's own input and so may go back to it;
#: for every other reason the detail stays in the agent log.
_DETAIL_IS_PUBLIC: Final = frozenset({"invalid_request", "invalid_params", "method_not_found", "too_large"})


@dataclass(frozen=True)
class Request:
    id: RequestId
    method: str
    params: dict[str, Any] = field(default_factory=dict)


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**53) < value < 2**53
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH


def salvage_id(obj: Any) -> RequestId | None:
    """The request id to put on an error reply, if the message had a usable one."""
    if isinstance(obj, dict):
        value = obj.get("id")
        if _valid_id(value):
            return value
    return None


def parse_request(obj: dict[str, Any]) -> Request:
    """Check the JSON-RPC envelope; params are checked by the method's own dataclass."""
    if obj.get("jsonrpc") != JSONRPC:
        raise InvalidRequest('"jsonrpc" must be "2.0"')
    unknown = obj.keys() - {"jsonrpc", "id", "method", "params"}
    if unknown:
        raise InvalidRequest(f"unknown member {sorted(unknown)[0]!r}")
    if "id" not in obj:
        raise InvalidRequest('"id" is required: every Tanba method answers')
    request_id = obj["id"]
    if not _valid_id(request_id):
        raise InvalidRequest('"id" must be an integer or a string of 1-128 characters')
    method = obj.get("method")
    if not isinstance(method, str) or not 0 < len(method) <= MAX_METHOD_LENGTH:
        raise InvalidRequest('"method" must be a short string')
    params = obj.get("params", {})
    if not isinstance(params, dict):
        raise InvalidRequest('"params" must be an object (by-name parameters)')
    return Request(request_id, method, params)


def result_message(request_id: RequestId, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC, "id": request_id, "result": result}


def error_message(request_id: RequestId | None, error: TanbaError, message: str) -> dict[str, Any]:
    """The wire form of an error; ``message`` is already localized by the caller."""
    data: dict[str, Any] = {"reason": error.reason}
    if not isinstance(error, InternalError) and type(error) is not TanbaError:
        data.update(error.data)
        if error.reason in _DETAIL_IS_PUBLIC and error.detail:
            data["detail"] = error.detail
    return {
        "jsonrpc": JSONRPC,
        "id": request_id,
        "error": {"code": error.code, "message": message, "data": data},
    }


def notification(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC, "method": method, "params": params}
