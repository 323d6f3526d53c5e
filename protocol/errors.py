"""The one error tree of Tanba.

Every failure that can reach a client is a :class:`TanbaError` subclass with a stable
``reason`` (the name clients branch on, fixed by DESIGN.md) and a JSON-RPC ``code``.
Foreign exceptions (PKCS#11, OpenSSL, parsers) are translated into these at the package
boundary that meets them, with ``raise ... from exc``, so the cause stays in the log while
the wire only ever sees the reason, a localized message and the public ``data`` fields.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final


class TanbaError(Exception):
    """Base of every error Tanba reports to a client."""

    reason: ClassVar[str] = "internal"
    code: ClassVar[int] = -32603

    def __init__(self, detail: str = "", **data: Any) -> None:
        # ``detail`` is for the log and for developers; it never reaches the wire for
        # ``internal`` errors.  ``data`` holds public, reason-specific fields
        # (``retriesLeft`` for ``wrong_pin``, ``limit`` for ``too_large`` ...).
        super().__init__(detail or self.reason)
        self.detail = detail
        self.data: dict[str, Any] = data

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r}, data={self.data!r})"


class InvalidRequest(TanbaError):
    """The message is not a well-formed request (bad JSON, wrong envelope)."""

    reason = "invalid_request"
    code = -32600


class ParseError(InvalidRequest):
    """The message is not strict JSON; JSON-RPC gives it its own code, same reason."""

    code = -32700


class MethodNotFound(TanbaError):
    reason = "method_not_found"
    code = -32601


class InvalidParams(TanbaError):
    reason = "invalid_params"
    code = -32602


class InternalError(TanbaError):
    """Something broke inside the agent; the details go to the log only."""

    reason = "internal"
    code = -32603


class OriginDenied(TanbaError):
    reason = "origin_denied"
    code = -32001


class UserCancelled(TanbaError):
    reason = "user_cancelled"
    code = -32002


class Busy(TanbaError):
    reason = "busy"
    code = -32003


class NoCertificate(TanbaError):
    reason = "no_certificate"
    code = -32004


class WrongPin(TanbaError):
    """Wrong PIN or password; ``retriesLeft`` is set when the store knows it."""

    reason = "wrong_pin"
    code = -32005

    def __init__(self, detail: str = "", retries_left: int | None = None) -> None:
        data: dict[str, Any] = {}
        if retries_left is not None:
            data["retriesLeft"] = retries_left
        super().__init__(detail, **data)
        self.retries_left = retries_left


class PinLocked(TanbaError):
    reason = "pin_locked"
    code = -32006


class TokenRemoved(TanbaError):
    reason = "token_removed"
    code = -32007


class StoreError(TanbaError):
    """A key store cannot be used: unreadable file, module that fails to load, ..."""

    reason = "store_error"
    code = -32008


class TimestampFailed(TanbaError):
    reason = "timestamp_failed"
    code = -32009


class TooLarge(TanbaError):
    reason = "too_large"
    code = -32010


ALL_ERRORS: Final[tuple[type[TanbaError], ...]] = (
    InvalidRequest,
    ParseError,
    MethodNotFound,
    InvalidParams,
    InternalError,
    OriginDenied,
    UserCancelled,
    Busy,
    NoCertificate,
    WrongPin,
    PinLocked,
    TokenRemoved,
    StoreError,
    TimestampFailed,
    TooLarge,
)

#: reason -> the class that carries it (ParseError shares ``invalid_request``).
BY_REASON: Final[dict[str, type[TanbaError]]] = {
    cls.reason: cls for cls in ALL_ERRORS if cls is not ParseError
}
