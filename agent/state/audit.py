"""The audit log: one JSON line per certificate disclosure, signature and authentication.

What a line holds (and nothing else: no PIN, no document content)::

    {"time": "2025-05-01T10:22:03.123Z", "origin": "https://egov.kz", "method": "sign",
     "action": "sign", "result": "ok", "reason": null,
     "certificates": [{"fingerprintSha256": "ab…", "subject": "CN=…,SERIALNUMBER=IIN…"}],
     "documents": [{"digestAlgorithm": "sha256", "digest": "9f…", "size": 1234}]}

``result`` is ``ok`` or ``error``; ``reason`` then holds the stable error reason
(``user_cancelled``, ``wrong_pin`` …).  ``size`` is null when the page sent only a digest.

The file (``audit.log`` in the state directory) is created 0600 in a 0700 directory and
rotated by size: ``audit.log`` → ``audit.log.1`` → … → ``audit.log.<keep>``, the oldest
dropped.  :meth:`AuditLog.record` never blocks the event loop: it queues the line for a
writer thread.  A write that fails (full disk, removed directory) is logged as an error
and the event dropped — auditing must never stop the user from signing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import queue
import stat
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tanba.agent.state import paths
from tanba.agent.state.atomic import ensure_private_dir

log = logging.getLogger(__name__)

MAX_BYTES = 1024 * 1024
KEEP = 5
QUEUE_LIMIT = 10_000
#: documents listed per line; a batch of thousands is summarised by its count
MAX_DOCUMENTS = 1000


def default_path() -> Path:
    return paths.state_dir() / "audit.log"


@dataclass(frozen=True)
class CertRef:
    fingerprint_sha256: str
    subject: str


@dataclass(frozen=True)
class DocRef:
    digest_alg: str
    digest_hex: str
    size: int | None


@dataclass(frozen=True)
class AuditEvent:
    origin: str
    method: str  # the wire method: "sign", "auth", "certs.list", "createCAdESFromBase64" ...
    action: str  # "sign" | "auth" | "disclose"
    result: str  # "ok" | "error"
    reason: str | None = None  # the error's stable reason
    certificates: tuple[CertRef, ...] = ()
    documents: tuple[DocRef, ...] = ()
    time: float = field(default_factory=time.time)

    @classmethod
    def build(
        cls,
        origin: str,
        method: str,
        action: str,
        *,
        error: BaseException | None = None,
        certificates: Iterable[Any] = (),
        documents: Iterable[Any] = (),
    ) -> AuditEvent:
        """An event from the agent's own objects.

        ``certificates``: :class:`~tanba.providers.base.Identity` or ``CertInfo`` objects;
        ``documents``: :class:`~tanba.agent.consent.base.DocumentSummary` objects; ``error``:
        the exception that ended the operation (its ``reason`` when it is a TanbaError).
        """
        from tanba.providers.base import Identity
        from tanba.providers.certificate import cert_info

        certs = []
        for item in certificates:
            info = cert_info(item) if isinstance(item, Identity) else item
            certs.append(CertRef(info.fingerprint_sha256, info.subject_dn))
        docs = tuple(DocRef(d.digest_alg, d.digest_hex, d.size) for d in documents)
        reason = None if error is None else str(getattr(error, "reason", "internal"))
        return cls(origin, method, action, "ok" if error is None else "error", reason, tuple(certs), docs)

    def to_json(self) -> dict[str, Any]:
        stamp = dt.datetime.fromtimestamp(self.time, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        out: dict[str, Any] = {
            "time": stamp,
            "origin": self.origin,
            "method": self.method,
            "action": self.action,
            "result": self.result,
            "reason": self.reason,
            "certificates": [{"fingerprintSha256": c.fingerprint_sha256, "subject": c.subject} for c in self.certificates],
            "documents": [
                {"digestAlgorithm": d.digest_alg, "digest": d.digest_hex, "size": d.size}
                for d in self.documents[:MAX_DOCUMENTS]
            ],
        }
        if len(self.documents) > MAX_DOCUMENTS:
            out["documentCount"] = len(self.documents)
        return out


_STOP = object()


class AuditLog:
    def __init__(self, path: Path | None = None, *, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
        self.path = path or default_path()
        self.max_bytes = max_bytes
        self.keep = keep
        self.dropped = 0  # events lost to a full queue or a failing disk
        self._queue: queue.Queue[object] = queue.Queue(QUEUE_LIMIT)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._failing = False

    # -- writing ---------------------------------------------------------------------------
    def record(self, event: AuditEvent) -> None:
        """Queue ``event`` for writing; returns at once."""
        line = json.dumps(event.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n"
        self._ensure_writer()
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1
            log.error("audit log: writer is behind; an event was dropped")

    def _ensure_writer(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="tanba-audit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                assert isinstance(item, str)
                self._write(item)
            finally:
                self._queue.task_done()

    def _write(self, line: str) -> None:
        data = line.encode("utf-8")
        try:
            ensure_private_dir(self.path.parent)
            self._rotate_if_needed(len(data))
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                info = os.fstat(fd)
                if stat.S_ISREG(info.st_mode) and info.st_mode & 0o077:
                    os.fchmod(fd, 0o600)  # a file made by someone else: make it private
                try:
                    written = os.write(fd, data)
                    if written != len(data):
                        raise OSError(f"short write ({written} of {len(data)} bytes)")
                except OSError:
                    # Whole lines or nothing: cut a partial line back off (disk full).
                    if stat.S_ISREG(info.st_mode):
                        os.ftruncate(fd, info.st_size)
                    raise
            finally:
                os.close(fd)
        except OSError as exc:
            self.dropped += 1
            if not self._failing:
                log.error("audit log: cannot write %s: %s; signing goes on without it", self.path, exc)
            self._failing = True
            return
        if self._failing:
            log.warning("audit log: writing %s again (%d event(s) lost)", self.path, self.dropped)
            self._failing = False

    def _rotate_if_needed(self, incoming: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size + incoming <= self.max_bytes or size == 0:
            return
        oldest = self.rotated(self.keep)
        if oldest.exists():
            oldest.unlink()
        for number in range(self.keep - 1, 0, -1):
            older = self.rotated(number)
            if older.exists():
                os.replace(older, self.rotated(number + 1))
        if self.keep > 0:
            os.replace(self.path, self.rotated(1))
        else:
            self.path.unlink()

    def rotated(self, number: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{number}")

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until queued events are written (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self) -> None:
        """Write what is queued and stop the writer thread."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(10)
        self._thread = None

    # -- reading ---------------------------------------------------------------------------
    def recent(self, n: int = 20) -> list[dict[str, Any]]:
        """The last ``n`` events, oldest first, across rotated files; damaged lines skipped."""
        if n <= 0:
            return []
        events: list[dict[str, Any]] = []
        for path in [self.path] + [self.rotated(i) for i in range(1, self.keep + 1)]:
            try:
                lines = path.read_text("utf-8", "replace").splitlines()
            except FileNotFoundError:
                continue
            parsed = []
            for line in lines:
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                if isinstance(item, dict):
                    parsed.append(item)
            events = parsed + events
            if len(events) >= n:
                break
        return events[-n:]


def summarize(events: Sequence[dict[str, Any]]) -> list[str]:
    """One readable line per event, for `tanba audit`."""
    out = []
    for e in events:
        certs = e.get("certificates") or []
        subject = str(certs[0].get("subject", "")) if certs and isinstance(certs[0], dict) else "-"
        if len(certs) > 1:
            subject += f" (+{len(certs) - 1})"
        docs = e.get("documents") or []
        count = e.get("documentCount", len(docs))
        result = str(e.get("result", "?"))
        if e.get("reason"):
            result += f" ({e['reason']})"
        out.append(f"{e.get('time', '?')}  {e.get('origin', '?')}  {e.get('method', '?')}  "
                   f"{result}  docs={count}  {subject}")
    return out
