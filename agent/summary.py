"""What the confirmation shows about each document (DESIGN.md, security rule 3)."""

from __future__ import annotations

import hashlib
import re

from tanba.agent.consent.base import DocumentSummary

#: documents up to this size get a text preview when they read as text
PREVIEW_MAX_BYTES = 64 * 1024
PREVIEW_CHARS = 600
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def preview(data: bytes) -> str | None:
    if len(data) > PREVIEW_MAX_BYTES:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _CONTROL.search(text):
        return None
    return text[:PREVIEW_CHARS] + ("…" if len(text) > PREVIEW_CHARS else "")


def of_data(data: bytes) -> DocumentSummary:
    return DocumentSummary(len(data), "sha256", hashlib.sha256(data).hexdigest(), preview(data))


def of_digest(digest: bytes, algorithm: str) -> DocumentSummary:
    return DocumentSummary(None, algorithm, digest.hex())
