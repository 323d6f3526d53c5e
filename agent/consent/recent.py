"""Key files the user picked before, offered again by the storage dialog.

Kept in ``recent-key-files.json`` in the config directory: a JSON list of absolute paths,
newest first, written atomically and 0600 (the list tells where someone keeps their keys).
A missing or damaged file reads as an empty list; it is never a reason to fail a prompt.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from tanba.agent import paths
from tanba.agent.atomic import write_private

log = logging.getLogger(__name__)

LIMIT = 8


def default_path() -> Path:
    return paths.config_dir() / "recent-key-files.json"


class RecentFiles:
    def __init__(self, path: Path | None = None, limit: int = LIMIT) -> None:
        self.path = path or default_path()
        self.limit = limit

    def paths(self) -> list[Path]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.warning("ignoring the recent key files list %s: %s", self.path, exc)
            return []
        if not isinstance(data, list):
            return []
        out: list[Path] = []
        for item in data:
            if isinstance(item, str) and Path(item).is_absolute() and Path(item) not in out:
                out.append(Path(item))
        return out[: self.limit]

    def add(self, path: Path) -> None:
        """Put ``path`` first; a failed write is logged, the dialog goes on."""
        path = path.expanduser().absolute()
        items = [path] + [p for p in self.paths() if p != path]
        data = json.dumps([str(p) for p in items[: self.limit]], ensure_ascii=False, indent=1) + "\n"
        try:
            write_private(self.path, data.encode("utf-8"))
        except OSError as exc:
            log.error("cannot remember the recent key files in %s: %s", self.path, exc)

    def forget(self, path: Path) -> None:
        items = [p for p in self.paths() if p != path.expanduser().absolute()]
        try:
            write_private(self.path, (json.dumps([str(p) for p in items], ensure_ascii=False) + "\n").encode("utf-8"))
        except OSError as exc:
            log.error("cannot update the recent key files in %s: %s", self.path, exc)
