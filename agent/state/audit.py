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
dropped.

Crash safety.  The request path writes through :meth:`AuditLog.commit`, which returns only
once the line is in the file — one ``write(2)`` of the whole line on a descriptor opened
``O_APPEND`` — so the line is in the kernel before the answer (a signature) is sent: the
agent crashing or being killed (SIGKILL, the OOM killer) at any later point cannot lose it.
On a regular file that write is made on the calling (event-loop) thread: a few
microseconds, no thread hop (the agent's own log, in the same directory, is written the
same way).  Against power loss and kernel crashes the writer thread calls ``fdatasync`` on
the file (and ``fsync`` on the directory once a file was created or rotated) at most
:data:`SYNC_INTERVAL` after a write, one call for all the lines written meanwhile (group
commit, off the event loop): a power cut can lose the lines of that last interval, plus
the disk's own flush time.  When the log is not a regular file or the writer thread still
has lines queued (a FIFO, a disk that hangs), ``commit`` hands the line to the thread and
waits for its write without holding the event loop.  :meth:`AuditLog.record` queues a
line without waiting (tools, tests).

A write that fails (full disk, removed directory) is logged as an error and the event
dropped — auditing must never stop the user from signing.  A short write is cut back, so
the file holds whole lines (an agent killed between the two could leave one partial line,
which :meth:`AuditLog.recent` skips).
"""

from __future__ import annotations

import asyncio
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


#: id(identity) -> (identity, its CertRef): an open key's identity is the same object in every
#: request; looked up by identity, not by certificate (cryptography hashes and compares
#: certificates by their DER: microseconds each)
_CERT_REFS: dict[int, tuple[Any, CertRef]] = {}
_CERT_REFS_KEPT = 64


def _cert_ref(identity: Any) -> CertRef:
    entry = _CERT_REFS.get(id(identity))
    if entry is None or entry[0] is not identity:
        from tanba.providers.certificate import cert_info

        info = cert_info(identity)
        while len(_CERT_REFS) >= _CERT_REFS_KEPT:
            _CERT_REFS.pop(next(iter(_CERT_REFS)))
        entry = _CERT_REFS[id(identity)] = (identity, CertRef(info.fingerprint_sha256, info.subject_dn))
    return entry[1]


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

        certs = [
            _cert_ref(item) if isinstance(item, Identity) else CertRef(item.fingerprint_sha256, item.subject_dn)
            for item in certificates
        ]
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


#: seconds between a write and the fdatasync that makes it survive a power cut, at most
#: (plus the disk's own time); syncs are grouped, one per interval at most
SYNC_INTERVAL = 0.2

_STOP = object()
#: wakes an idle writer thread: lines were written on the caller's thread and need a sync
_SYNC = object()


class _NotRegular(Exception):
    """The log is not a regular file: writes may block, so they go to the writer thread."""


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
        #: held while a line is written (by the caller's thread or the writer thread)
        self._lock = threading.Lock()
        #: lines queued for the writer thread and not written yet
        self._pending = 0
        self._pending_lock = threading.Lock()
        #: the open log file, its (st_dev, st_ino) and size
        self._fd: int | None = None
        self._ident: tuple[int, int] = (0, 0)
        self._size = 0
        #: written since the last sync: the open file, descriptors of files rotated or
        #: replaced since (synced, then closed), whether a file was created (sync its directory)
        self._dirty = False
        self._retired: list[int] = []
        self._new_file = False
        #: the writer thread has a sync scheduled (or is waking up for one)
        self._sync_scheduled = False
        self._sync_failing = False

    # -- writing ---------------------------------------------------------------------------
    @staticmethod
    def _line(event: AuditEvent) -> bytes:
        return (json.dumps(event.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")

    def record(self, event: AuditEvent) -> None:
        """Queue ``event`` for the writer thread; returns at once."""
        self._submit(self._line(event), None)

    async def commit(self, event: AuditEvent) -> None:
        """Write ``event``'s line before returning (see the module's crash-safety notes): on a
        regular file at once, on this thread; else through the writer thread, waited for
        without blocking the event loop.  A failing disk drops the line (logged), as ever."""
        data = self._line(event)
        if self._write_now(data):
            return
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        if self._submit(data, (loop, done)):
            await done

    def _write_now(self, data: bytes) -> bool:
        """Write ``data`` on this thread if that cannot block and keeps the order of lines."""
        if self._pending or not self._lock.acquire(blocking=False):
            return False
        try:
            if self._pending:  # queued meanwhile: they go first
                return False
            try:
                self._write(data, may_block=False)
            except _NotRegular:
                return False
        finally:
            self._lock.release()
        self._request_sync()
        return True

    def _submit(self, data: bytes, waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None) -> bool:
        """Queue a line; False when the queue is full (the event is dropped, logged)."""
        self._ensure_writer()
        with self._pending_lock:
            self._pending += 1
        try:
            self._queue.put_nowait((data, waiter))
        except queue.Full:
            with self._pending_lock:
                self._pending -= 1
            self.dropped += 1
            log.error("audit log: writer is behind; an event was dropped")
            return False
        return True

    def _request_sync(self) -> None:
        if self._sync_scheduled:
            return
        self._sync_scheduled = True
        self._ensure_writer()
        try:
            self._queue.put_nowait(_SYNC)
        except queue.Full:  # lines are queued: the thread syncs after writing them anyway
            pass

    def _ensure_writer(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="tanba-audit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        last_sync = 0.0
        due: float | None = None  # when the next sync is due
        while True:
            timeout = None if due is None else max(0.0, due - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            try:
                if item is _STOP:
                    self._sync()
                    self._close_files()
                    return
                if isinstance(item, tuple):
                    data, waiter = item
                    with self._lock:
                        try:
                            self._write(data, may_block=True)
                        finally:
                            with self._pending_lock:
                                self._pending -= 1
                    if waiter is not None:
                        loop, done = waiter
                        try:
                            loop.call_soon_threadsafe(_settle, done)
                        except RuntimeError:  # that loop is closed: nobody waits any more
                            pass
                if item is not None and due is None:
                    due = max(time.monotonic(), last_sync + SYNC_INTERVAL)
                if due is not None and time.monotonic() >= due:
                    self._sync_scheduled = False
                    self._sync()
                    last_sync, due = time.monotonic(), None
            finally:
                if item is not None:
                    self._queue.task_done()

    def _write(self, data: bytes, *, may_block: bool) -> None:
        """Append one whole line; failures are logged and the event dropped.  Called with
        ``_lock`` held.  Raises :class:`_NotRegular` when ``may_block`` is False and the
        log is not a regular file (nothing written)."""
        try:
            try:
                info: os.stat_result | None = os.stat(self.path)
            except FileNotFoundError:
                info = None
            if info is not None and not stat.S_ISREG(info.st_mode):
                if not may_block:
                    raise _NotRegular
                self._retire()
                self._write_special(data)
            else:
                self._append(data, info)
        except _NotRegular:
            raise
        except OSError as exc:
            self.dropped += 1
            if not self._failing:
                log.error("audit log: cannot write %s: %s; signing goes on without it", self.path, exc)
            self._failing = True
            return
        if self._failing:
            log.warning("audit log: writing %s again (%d event(s) lost)", self.path, self.dropped)
            self._failing = False

    def _append(self, data: bytes, info: os.stat_result | None) -> None:
        """The regular-file path: the descriptor stays open while the path names its file."""
        if info is not None and (info.st_dev, info.st_ino) == self._ident and self._fd is not None:
            self._size = info.st_size  # another writer may have appended
        else:
            self._open(existed=info is not None)
        if self._size and self._size + len(data) > self.max_bytes:
            self._rotate()
            self._open(existed=False)
        fd = self._fd
        assert fd is not None
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"short write ({written} of {len(data)} bytes)")
        except OSError:
            os.ftruncate(fd, self._size)  # whole lines or nothing: cut a partial line back off
            raise
        self._size += written
        self._dirty = True

    def _open(self, *, existed: bool) -> None:
        self._retire()
        ensure_private_dir(self.path.parent)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # replaced by something else since the stat
            os.close(fd)
            raise _NotRegular
        if info.st_mode & 0o077:
            os.fchmod(fd, 0o600)  # a file made by someone else: make it private
        self._fd, self._ident, self._size = fd, (info.st_dev, info.st_ino), info.st_size
        self._new_file = self._new_file or not existed

    def _retire(self) -> None:
        """Stop writing to the open file; the writer thread syncs and closes it."""
        if self._fd is not None:
            if self._dirty:
                self._retired.append(self._fd)
            else:
                os.close(self._fd)
            self._fd, self._ident, self._dirty = None, (0, 0), False

    def _write_special(self, data: bytes) -> None:
        """Not a regular file (a FIFO, a device): opened for each line, which may block."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"short write ({written} of {len(data)} bytes)")
        finally:
            os.close(fd)

    def _sync(self) -> None:
        """fdatasync what was written since the last sync (writer thread, event loop free)."""
        with self._lock:
            fd = os.dup(self._fd) if self._fd is not None and self._dirty else None
            self._dirty = False
            retired, self._retired = self._retired, []
            new_file, self._new_file = self._new_file, False
        try:
            for target in ([fd] if fd is not None else []) + retired:
                os.fdatasync(target)
            if new_file:
                dir_fd = os.open(self.path.parent, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        except OSError as exc:
            if not self._sync_failing:
                log.error("audit log: cannot sync %s to disk: %s", self.path, exc)
            self._sync_failing = True
        else:
            self._sync_failing = False
        finally:
            for target in ([fd] if fd is not None else []) + retired:
                os.close(target)

    def _close_files(self) -> None:
        with self._lock:
            self._retire()
            retired, self._retired = self._retired, []
        for fd in retired:
            os.close(fd)

    def _rotate(self) -> None:
        self._retire()
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
        """Write what is queued, sync it to disk and stop the writer thread."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(10)
        else:
            self._sync()
            self._close_files()
        self._thread = None
        self._sync_scheduled = False


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


def _settle(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


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
