"""Logging of the agent: levels, console output, a rotating file, and redaction.

`tanba serve` logs to the console (stderr: the terminal, or the journal under systemd) and
to ``tanba.log`` in the user's state dir, rotated at :data:`MAX_BYTES` with
:data:`BACKUPS` old files kept, every file 0600.

The code never logs a PIN or a document: those rules are kept where the values live
(keys.py, the consent UIs, the handlers).  :class:`RedactFilter` is the second line of
defence, applied to every record before any handler writes it:

* secrets registered with :func:`register_secret` (the PIN of ``--pin-file``) are replaced
  wherever they stand as a word; only a salted hash of each is kept, never the secret;
* ``pin=…``, ``password: …``, JSON ``"pin": "…"`` pairs and ``Bearer …`` lose their value;
* long base64 runs (how documents and signatures travel: mixed case and digits, few
  separators, unlike paths) and PEM private keys are cut out.

Exception tracebacks are rendered and redacted the same way.

While a question is open on the terminal (the terminal approver), console records are
held by :func:`console_held` and written when the answer is in, so a log line never lands
between a prompt and what the user types; the log file gets them at once.
"""

from __future__ import annotations

import hashlib
import logging
import logging.handlers
import os
import re
import secrets
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final, TextIO

from tanba.agent.state import paths

LOG_NAME: Final = "tanba.log"
MAX_BYTES: Final = 1 << 20
BACKUPS: Final = 3
FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS: Final = ("debug", "info", "warning", "error")

REDACTED: Final = "[redacted]"
#: console records kept while a terminal question is open; more are counted, not kept
MAX_HELD: Final = 1000
#: base64 runs at least this long are taken for document or signature content
MIN_BLOB: Final = 48

_SECRET_WORDS = r"(?:pin|password|passphrase|passwd|pwd|secret)"
_BEARER = re.compile(r"(?i)\b(bearer\s+)\S+")
_PAIR = re.compile(
    rf"""(?ix)
    (?P<key>["']?\b[\w-]*{_SECRET_WORDS}["']?\s*[:=]\s*)   # pin= / "password": / token :
    (?P<value>"[^"]*"|'[^']*'|[^\s,;)}}\]]+)
    """
)
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S)
_BLOB = re.compile(rf"[A-Za-z0-9+/_-]{{{MIN_BLOB},}}={{0,2}}")
_WORD = re.compile(r"[^\s\"'`,;:=()\[\]{}<>]+")


def log_file() -> Path:
    """Where `tanba serve` writes its log by default."""
    return paths.state_dir() / LOG_NAME


class _Secrets:
    """Salted hashes of registered secrets, by length (the secrets themselves are not kept)."""

    def __init__(self) -> None:
        self._salt = secrets.token_bytes(16)
        self._hashes: dict[int, set[bytes]] = {}

    def _hash(self, value: bytes) -> bytes:
        return hashlib.sha256(self._salt + value).digest()

    def add(self, value: bytes | bytearray) -> None:
        if len(value) >= 3:  # shorter would redact ordinary words and numbers
            self._hashes.setdefault(len(value), set()).add(self._hash(bytes(value)))

    def clear(self) -> None:
        self._hashes.clear()

    def redact(self, text: str) -> str:
        if not self._hashes:
            return text

        def word(match: re.Match[str]) -> str:
            raw = match.group(0).encode("utf-8", "surrogateescape")
            hashes = self._hashes.get(len(raw))
            return REDACTED if hashes and self._hash(raw) in hashes else match.group(0)

        return _WORD.sub(word, text)


_secrets = _Secrets()


def register_secret(value: bytes | bytearray) -> None:
    """Never let ``value`` (a PIN, a password) through to a log, wherever it stands as a word."""
    _secrets.add(value)


def forget_secrets() -> None:
    _secrets.clear()


def _blob(match: re.Match[str]) -> str:
    run = match.group(0)
    # Paths and identifiers also use these characters; base64 mixes cases and digits
    # and has a separator-like character only about once in 32.
    mixed = any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run)
    separators = run.count("/") + run.count("_") + run.count("-")
    if not mixed or separators * 16 > len(run):
        return run
    return f"[{len(run)} chars redacted]"


def redact(text: str) -> str:
    """``text`` with secrets, private keys and document-sized base64 runs taken out."""
    text = _PRIVATE_KEY.sub("[private key redacted]", text)
    text = _PAIR.sub(lambda m: m.group("key") + REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    text = _BLOB.sub(_blob, text)
    return _secrets.redact(text)


class RedactFilter(logging.Filter):
    """Renders each record's message (and traceback) and redacts it before output."""

    def __init__(self) -> None:
        super().__init__()
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record
            message = f"{record.msg!r} (unformattable arguments)"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose files are created 0600 in a 0700 directory."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        super().__init__(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=False)

    def _open(self):  # type: ignore[no-untyped-def]  # typeshed leaves it untyped
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)  # noqa: SIM115


class _Hold:
    """How many terminal questions are open (see :func:`console_held`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open = 0


_hold = _Hold()


class ConsoleHandler(logging.StreamHandler[TextIO]):
    """The console: while :func:`console_held` is open, records wait (redacted already)
    and are written in order when the last hold ends."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._held: list[logging.LogRecord] = []
        self._dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        with _hold.lock:
            if _hold.open:
                if len(self._held) < MAX_HELD:
                    self._held.append(record)
                else:
                    self._dropped += 1
                return
            super().emit(record)

    def write_held(self) -> None:
        """Write what waited (called with ``_hold.lock`` held, so nothing overtakes it)."""
        records, self._held = self._held, []
        for record in records:
            super().emit(record)
        if self._dropped:
            super().emit(logging.makeLogRecord({
                "name": __name__, "levelno": logging.WARNING, "levelname": "WARNING",
                "msg": f"{self._dropped} more log record(s) while a question was open: see the log file"}))
            self._dropped = 0


@contextmanager
def console_held() -> Iterator[None]:
    """While the block runs (a question on the terminal), console log records wait."""
    with _hold.lock:
        _hold.open += 1
    try:
        yield
    finally:
        with _hold.lock:
            _hold.open -= 1
            if not _hold.open:
                for handler in _installed:
                    if isinstance(handler, ConsoleHandler):
                        handler.write_held()


_installed: list[logging.Handler] = []


def setup(level: str = "info", file: Path | None = None, console: bool = True) -> Path | None:
    """Send the agent's records to the console and/or ``file``; returns the file used.

    Calling it again replaces what an earlier call installed (tests, reloads).
    """
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()
    redactor = RedactFilter()
    formatter = logging.Formatter(FORMAT)
    handlers: list[logging.Handler] = []
    if console:
        handlers.append(ConsoleHandler(sys.stderr))
    if file is not None:
        handlers.append(PrivateRotatingFileHandler(file))
    for handler in handlers:
        handler.addFilter(redactor)
        handler.setFormatter(formatter)
        root.addHandler(handler)
        _installed.append(handler)
    root.setLevel(level.upper())
    # Libraries chat at debug level about every frame; keep them at info unless asked.
    logging.getLogger("websockets").setLevel(max(logging.INFO, root.level))
    return file
