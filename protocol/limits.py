"""Bounds on everything a client sends (DESIGN.md, security rule 7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MiB: Final = 1024 * 1024

#: the limits that count something: whole numbers of at least one
COUNTS: Final = (
    "max_message",
    "max_depth",
    "max_values",
    "max_number_digits",
    "max_batch",
    "max_in_flight",
    "max_connections",
    "max_per_origin",
    "max_local_programs",
    "max_pending",
)
#: the limits in seconds: positive numbers
SECONDS: Final = ("header_timeout", "handshake_timeout")


@dataclass(frozen=True)
class Limits:
    #: largest WebSocket message accepted on ``/v1`` (documents travel base64 inside it)
    max_message: int = 64 * MiB
    #: deepest JSON nesting
    max_depth: int = 32
    #: JSON values in one message: three bytes (``[],``) become a 56-byte Python list, so
    #: the message size alone does not bound the memory a message takes once parsed
    max_values: int = 100_000
    #: longest number literal, in characters
    max_number_digits: int = 40
    #: documents or digests in one ``sign`` request
    max_batch: int = 10_000
    #: requests one connection may have in flight at once
    max_in_flight: int = 8
    #: upgraded WebSocket connections in all, both endpoints together
    max_connections: int = 64
    #: upgraded connections one web origin may hold (a cap above ``max_connections`` adds nothing)
    max_per_origin: int = 16
    #: upgraded connections of local programs (no ``Origin``; bearer token), all together
    max_local_programs: int = 16
    #: connections still in their opening handshake (accepted, not yet upgraded); when
    #: full, the oldest one still waiting for its request headers is dropped for a newcomer
    max_pending: int = 128
    #: seconds a new connection gets to send its request headers (with TLS: also the TLS handshake)
    header_timeout: float = 2.0
    #: seconds a client gets to finish the opening handshake; the origin question lifts it
    handshake_timeout: float = 10.0

    def __post_init__(self) -> None:
        for name in COUNTS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be a whole number")
            if value < 1:
                raise ValueError(f"{name} must be positive")
        for name in SECONDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number of seconds")
            if not value > 0 or value == float("inf"):
                raise ValueError(f"{name} must be positive")

    @property
    def header_deadline(self) -> float:
        """Seconds from a connection's arrival to its request headers: ``header_timeout``,
        never more than the whole handshake gets."""
        return min(self.header_timeout, self.handshake_timeout)


DEFAULT_LIMITS: Final = Limits()
