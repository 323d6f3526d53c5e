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
    """Wrong PIN or password; ``retriesLeft`` is set when the store knows it.

    ``retryAfter`` (whole seconds) is set when the next try has to wait: a PKCS#12 file's
    backoff after wrong passwords.  An attempt made during that wait is refused with the
    same reason and the seconds still to wait, without trying the password.  (``busy`` is
    only for "another prompt is open" and the agent stopping.)
    """

    reason = "wrong_pin"
    code = -32005

    def __init__(self, detail: str = "", retries_left: int | None = None, retry_after: int | None = None) -> None:
        data: dict[str, Any] = {}
        if retries_left is not None:
            data["retriesLeft"] = retries_left
        if retry_after is not None:
            data["retryAfter"] = retry_after
        super().__init__(detail, **data)
        self.retries_left = retries_left

    @property
    def retry_after(self) -> int | None:
        """Seconds before the next try is accepted (None: now)."""
        value = self.data.get("retryAfter")
        return value if isinstance(value, int) else None


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


#: why no timestamp could be had, for the user's message (:func:`tanba.protocol.i18n.error_text`)
TIMESTAMP_PROBLEMS: Final = ("not_configured", "bad_url", "no_answer", "bad_answer")
#: what a TSA that answered said, for ``bad_answer``
TIMESTAMP_ANSWERS: Final = ("http_status", "http_refused", "refused", "not_timestamp", "mismatch")


class TimestampFailed(TanbaError):
    """No timestamp.  ``problem`` says which case it is, for the user's message:
    ``not_configured`` (no TSA to ask: nothing was contacted), ``bad_url`` (the configured
    address is not http(s)), ``no_answer`` (the TSA at ``tsa_url`` was not reached or did
    not answer in time), ``bad_answer`` (it answered, ``answer`` says what — one of
    :data:`TIMESTAMP_ANSWERS`, ``status`` the HTTP status or the TSA's PKIStatus); None: the
    generic text.  ``tsa_url`` is the address as it may be shown (no user, password or query).
    None of these go into ``data``: ``/v1``'s error data stay ``{"reason"}``."""

    reason = "timestamp_failed"
    code = -32009

    def __init__(
        self, detail: str = "", *, problem: str | None = None, tsa_url: str = "", answer: str = "", status: str = ""
    ) -> None:
        super().__init__(detail)
        if problem is not None and problem not in TIMESTAMP_PROBLEMS:
            raise ValueError(f"unknown timestamp problem {problem!r}")
        if answer and answer not in TIMESTAMP_ANSWERS:
            raise ValueError(f"unknown timestamp answer {answer!r}")
        self.problem = problem
        self.tsa_url = tsa_url
        self.answer = answer
        self.status = status


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
