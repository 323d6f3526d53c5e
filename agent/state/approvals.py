"""Sites the user has allowed, persisted in a 0600 JSON file.

The file maps each origin to when it was approved.  A corrupt or unreadable file is not
fatal: it is moved aside (``origins.json.corrupt``), logged, and the store starts empty,
which only means sites are asked again — never that a site is let in.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from tanba.agent.state.atomic import write_private
from tanba.protocol.origin import normalize_origin

log = logging.getLogger(__name__)


class OriginStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._approved: dict[str, float] = self._load()

    def _load(self) -> dict[str, float]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.error("cannot read %s: %s; approved sites will be asked again", self.path, exc)
            return {}
        try:
            data = json.loads(raw)
            entries = data["origins"]
            approved = {
                origin: float(when)
                for origin, when in entries.items()
                if normalize_origin(origin) == origin and isinstance(when, (int, float))
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            aside = self.path.with_name(self.path.name + ".corrupt")
            log.error("%s is corrupt (%s); moved to %s, approved sites will be asked again", self.path, exc, aside)
            try:
                os.replace(self.path, aside)
            except OSError:
                pass
            return {}
        return approved

    def _save(self) -> None:
        body = {"version": 1, "origins": dict(sorted(self._approved.items()))}
        write_private(self.path, json.dumps(body, indent=2).encode() + b"\n")

    def is_approved(self, origin: str) -> bool:
        return origin in self._approved

    def approve(self, origin: str) -> None:
        canonical = normalize_origin(origin)
        if canonical is None:
            raise ValueError(f"not a web origin: {origin!r}")
        previous = self._approved.get(canonical)
        self._approved[canonical] = time.time()
        try:
            self._save()
        except OSError:
            # Not saved means not approved for good: memory keeps matching the file.
            if previous is None:
                del self._approved[canonical]
            else:
                self._approved[canonical] = previous
            raise
        log.info("origin approved: %s", canonical)

    def revoke(self, origin: str) -> bool:
        canonical = normalize_origin(origin)
        if canonical is None or canonical not in self._approved:
            return False
        del self._approved[canonical]
        self._save()
        log.info("origin revoked: %s", canonical)
        return True

    def items(self) -> list[tuple[str, float]]:
        return sorted(self._approved.items())
