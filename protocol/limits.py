"""Bounds on everything a client sends (DESIGN.md, security rule 7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MiB: Final = 1024 * 1024


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
    #: open WebSocket connections in all
    max_connections: int = 64
    #: seconds a client gets to finish the opening handshake
    handshake_timeout: float = 10.0

    def __post_init__(self) -> None:
        for name in ("max_message", "max_depth", "max_values", "max_number_digits", "max_batch", "max_in_flight", "max_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if self.handshake_timeout <= 0:
            raise ValueError("handshake_timeout must be positive")


DEFAULT_LIMITS: Final = Limits()
