"""What the confirmation shows about each document (DESIGN.md, security rule 3).

A document is previewed when it is small (:data:`PREVIEW_MAX_BYTES`) and reads as text:
valid UTF-8 without NUL bytes.  The summary keeps the start of the text as it is
(:data:`PREVIEW_CHARS`) and counts the whole of it; a document that gets no preview says why.

:func:`layout` turns that start into the lines a dialog draws, so that what is shown cannot
hide what is signed:

* every character that draws as nothing or moves other text is shown by name or code
  point: control characters (C0, DEL, C1; ``\\n`` alone ends a line, ``\\r`` does not),
  bidi embeddings, overrides, isolates and marks, zero-width and other format characters
  (Unicode category C*), line and paragraph separators, and letters that draw blank
  (``⟨CR⟩``, ``⟨RLO⟩``, ``⟨ZWSP⟩``, ``⟨U+3164⟩``);
* runs of blank lines become one ``⏎ ×N`` line and runs of spaces one ``␣×N``, so nothing
  can be pushed out of view with empty space; combining marks beyond two on one character
  are shown as code points (they would pile up over the neighbouring lines);
* the preview fills at most :data:`PREVIEW_ROWS` rows of :data:`PREVIEW_WIDTH` columns, and
  counts the lines and characters it leaves out; the dialog says so
  (:func:`tanba.agent.consent.dialogs.preview_lines`).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from tanba.agent.consent.base import DocumentSummary

#: documents up to this size get a text preview when they read as text
PREVIEW_MAX_BYTES = 64 * 1024
#: characters of the text kept for the preview (the dialog shows at most about 900 of them)
PREVIEW_CHARS = 2048
#: screen rows one document's preview may fill; what does not fit is counted
PREVIEW_ROWS = 12
#: columns of a preview row (a longer line wraps, and takes more rows)
PREVIEW_WIDTH = 76
#: this many blank lines in a row, or more, are drawn as one "⏎ ×N" line
BLANK_RUN = 2
#: a run of more spaces than this is drawn as "␣×N"
SPACE_RUN = 12
#: combining marks drawn on one character; further ones are shown as code points
MAX_MARKS = 2

TOO_LARGE = "too_large"
NOT_TEXT = "not_text"


def read_text(data: bytes) -> str | None:
    """``data`` as text, or None when it is not: invalid UTF-8, or a NUL byte (binary)."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def count_lines(text: str) -> int:
    """Lines of ``text`` split at ``\\n`` only (a last line without one counts too)."""
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def of_data(data: bytes) -> DocumentSummary:
    digest = hashlib.sha256(data).hexdigest()
    if len(data) > PREVIEW_MAX_BYTES:
        return DocumentSummary(len(data), "sha256", digest, no_preview=TOO_LARGE)
    text = read_text(data)
    if text is None:
        return DocumentSummary(len(data), "sha256", digest, no_preview=NOT_TEXT)
    return DocumentSummary(
        len(data), "sha256", digest, text[:PREVIEW_CHARS], text_chars=len(text), text_lines=count_lines(text)
    )


def of_digest(digest: bytes, algorithm: str) -> DocumentSummary:
    return DocumentSummary(None, algorithm, digest.hex())


# -- drawing the preview ---------------------------------------------------------------

#: short names of the invisible characters people meet most; the others show as U+XXXX
NAMES: dict[int, str] = {
    0x00: "NUL", 0x08: "BS", 0x09: "TAB", 0x0B: "VT", 0x0C: "FF", 0x0D: "CR", 0x1B: "ESC", 0x7F: "DEL",
    0x85: "NEL", 0xAD: "SHY", 0x061C: "ALM", 0x200B: "ZWSP", 0x200C: "ZWNJ", 0x200D: "ZWJ",
    0x200E: "LRM", 0x200F: "RLM", 0x2028: "LSEP", 0x2029: "PSEP", 0x202A: "LRE", 0x202B: "RLE",
    0x202C: "PDF", 0x202D: "LRO", 0x202E: "RLO", 0x2060: "WJ", 0x2066: "LRI", 0x2067: "RLI",
    0x2068: "FSI", 0x2069: "PDI", 0xFEFF: "BOM",
}
#: characters Unicode files as letters or marks that nevertheless draw as nothing
BLANK_GLYPHS = frozenset({0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0})


def visible(char: str) -> str | None:
    """How an invisible or text-moving character is drawn (``⟨RLO⟩``, ``⟨U+E000⟩``);
    None for a character that draws as itself."""
    code = ord(char)
    category = unicodedata.category(char)
    if category[0] == "C" or category in ("Zl", "Zp") or code in BLANK_GLYPHS:
        return "⟨" + (NAMES.get(code) or f"U+{code:04X}") + "⟩"
    return None


def _is_space(char: str) -> bool:
    return char == " " or unicodedata.category(char) == "Zs"


def _is_blank(line: str) -> bool:
    return all(_is_space(char) for char in line)


@dataclass(frozen=True)
class _Piece:
    drawn: str
    width: int  # screen columns
    size: int  # characters of the document it stands for


def _width(char: str) -> int:
    if unicodedata.category(char) in ("Mn", "Me"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _pieces(line: str) -> Iterator[_Piece]:
    """``line`` (no ``\\n`` in it) as drawn, piece by piece."""
    i, marks = 0, 0
    while i < len(line):
        char = line[i]
        if _is_space(char):
            end = i
            while end < len(line) and _is_space(line[end]):
                end += 1
            run = end - i
            if run > SPACE_RUN:
                yield _Piece(f"␣×{run}", len(f"␣×{run}"), run)
            else:
                yield from (_Piece(" ", 1, 1) for _ in range(run))
            i, marks = end, 0
            continue
        shown = visible(char)
        is_mark = shown is None and unicodedata.category(char) in ("Mn", "Me")
        marks = marks + 1 if is_mark else 0
        if shown is None and marks > MAX_MARKS:
            shown = f"⟨U+{ord(char):04X}⟩"
        yield _Piece(shown, len(shown), 1) if shown is not None else _Piece(char, _width(char), 1)
        i += 1


def _fit(line: str, rows_left: int) -> tuple[str, int, int]:
    """As much of ``line`` as fits in ``rows_left`` rows: (drawn, characters taken, rows used)."""
    drawn: list[str] = []
    taken, rows, column = 0, 1, 0
    for piece in _pieces(line):
        if column + piece.width > PREVIEW_WIDTH:
            if rows == rows_left:
                break
            rows, column = rows + 1, 0
        drawn.append(piece.drawn)
        column += piece.width
        taken += piece.size
    return "".join(drawn), taken, rows


def _blank_run(lines: list[str], start: int) -> int:
    """How many lines from ``start`` are drawn as one: a run of BLANK_RUN blank lines or
    more, else the one blank line."""
    end = start + 1
    while end < len(lines) and _is_blank(lines[end]):
        end += 1
    return end - start if end - start >= BLANK_RUN else 1


@dataclass(frozen=True)
class PreviewText:
    """What a dialog draws of one document: ``lines`` as drawn, and what they leave out."""

    lines: tuple[str, ...]
    hidden_lines: int = 0
    hidden_chars: int = 0

    @property
    def cut(self) -> bool:
        return self.hidden_chars > 0


def layout(text: str, total_chars: int | None = None, total_lines: int | None = None) -> PreviewText:
    """The preview of a document whose text starts with ``text`` (``total_chars`` and
    ``total_lines`` count all of it; None: ``text`` is all of it)."""
    whole = total_chars is None or total_chars <= len(text)
    lines = text.split("\n")
    ended = [True] * (len(lines) - 1) + [False]  # each line's "\n" is in text
    if lines[-1] == "":
        lines.pop()
        ended.pop()
    drawn: list[str] = []
    rows = shown = complete = i = 0
    while i < len(lines) and rows < PREVIEW_ROWS:
        if _is_blank(lines[i]):
            run = _blank_run(lines, i)
            drawn.append(f"⏎ ×{run}" if run > 1 else "")
            rows += 1
            for k in range(i, i + run):
                shown += len(lines[k]) + ended[k]
                complete += ended[k] or whole
            i += run
            continue
        line, taken, used = _fit(lines[i], PREVIEW_ROWS - rows)
        drawn.append(line)
        rows += used
        shown += taken
        if taken < len(lines[i]):
            break
        shown += ended[i]
        complete += ended[i] or whole
        i += 1
    chars = len(text) if total_chars is None else total_chars
    all_lines = count_lines(text) if total_lines is None else total_lines
    if shown >= chars:
        return PreviewText(tuple(drawn))
    return PreviewText(tuple(drawn), max(0, all_lines - complete), chars - shown)
