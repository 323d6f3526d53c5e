"""``agent.hello``: who is answering, and what it can do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from tanba.protocol.validate import as_object, exact_keys

METHOD: Final = "agent.hello"
PROTOCOL_VERSION: Final = 1


@dataclass(frozen=True)
class HelloParams:
    @classmethod
    def from_wire(cls, params: Any) -> HelloParams:
        exact_keys(as_object(params, ""), "")
        return cls()


@dataclass(frozen=True)
class HelloResult:
    version: str
    capabilities: tuple[str, ...]

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": "tanba",
            "version": self.version,
            "protocol": PROTOCOL_VERSION,
            "capabilities": list(self.capabilities),
        }
