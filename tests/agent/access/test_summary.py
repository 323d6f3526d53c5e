"""Document summaries and the preview drawing every confirmation shares (rule 3)."""

from __future__ import annotations

import hashlib

import pytest

from tanba.agent.access.summary import (
    NOT_TEXT,
    PREVIEW_CHARS,
    PREVIEW_MAX_BYTES,
    PREVIEW_ROWS,
    PREVIEW_WIDTH,
    PreviewText,
    layout,
    of_data,
    of_digest,
)


def drawn(text: str) -> PreviewText:
    doc = of_data(text.encode())
    assert doc.preview is not None
    return layout(doc.preview, doc.text_chars, doc.text_lines)


def test_summary_of_text_keeps_its_start_and_counts_all_of_it() -> None:
    text = "line\n" * 3000  # 15,000 characters, more than the preview keeps
    doc = of_data(text.encode())
    assert doc.size == 15_000 and doc.digest_hex == hashlib.sha256(text.encode()).hexdigest()
    assert doc.preview == text[:PREVIEW_CHARS] and doc.text_chars == 15_000 and doc.text_lines == 3000
    assert doc.no_preview is None


@pytest.mark.parametrize(
    ("data", "why"),
    [(b"\xff\xfe binary", NOT_TEXT), (b"text with a NUL\x00", NOT_TEXT), (b"x" * (PREVIEW_MAX_BYTES + 1), "too_large")],
)
def test_documents_without_a_preview_say_why(data: bytes, why: str) -> None:
    doc = of_data(data)
    assert doc.preview is None and doc.no_preview == why


def test_a_digest_has_no_preview_and_no_reason_to_give() -> None:
    doc = of_digest(bytes(32), "sha256")
    assert doc.size is None and doc.preview is None and doc.no_preview is None


def test_short_text_is_shown_whole() -> None:
    assert drawn("<a>\n  <b>Привет</b>\n</a>\n") == PreviewText(("<a>", "  <b>Привет</b>", "</a>"))
    assert drawn("no newline at the end") == PreviewText(("no newline at the end",))
    assert drawn("") == PreviewText(())


def test_every_control_character_but_newline_is_named_or_numbered() -> None:
    controls = "".join(chr(c) for c in [*range(0x00, 0x0A), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0)])
    shown = layout(controls)
    assert len(shown.lines) == 1 and not set(controls) & set(shown.lines[0])
    assert shown.lines[0].startswith("⟨NUL⟩⟨U+0001⟩") and "⟨TAB⟩⟨VT⟩⟨FF⟩⟨CR⟩" in shown.lines[0]
    assert "⟨ESC⟩" in shown.lines[0] and "⟨DEL⟩⟨U+0080⟩" in shown.lines[0] and "⟨NEL⟩" in shown.lines[0]


@pytest.mark.parametrize(
    ("char", "name"),
    [("\u202e", "RLO"), ("\u202d", "LRO"), ("\u202a", "LRE"), ("\u202b", "RLE"), ("\u202c", "PDF"),
     ("\u2066", "LRI"), ("\u2067", "RLI"), ("\u2068", "FSI"), ("\u2069", "PDI"), ("\u200e", "LRM"),
     ("\u200f", "RLM"), ("\u061c", "ALM"), ("\u200b", "ZWSP"), ("\u200c", "ZWNJ"), ("\u200d", "ZWJ"),
     ("\u2060", "WJ"), ("\ufeff", "BOM"), ("\u00ad", "SHY"), ("\u2028", "LSEP"), ("\u2029", "PSEP"),
     ("\u2064", "U+2064"), ("\U000e0041", "U+E0041"), ("\ue000", "U+E000"), ("\u3164", "U+3164")],
)
def test_bidi_zero_width_and_other_invisible_characters_are_shown(char: str, name: str) -> None:
    assert layout(f"a{char}b").lines == (f"a⟨{name}⟩b",)


def test_blank_runs_and_space_runs_take_one_line() -> None:
    assert drawn("Hi\n\n\n \n\u00a0\nthere").lines == ("Hi", "⏎ ×4", "there")
    assert drawn("a\n\nb").lines == ("a", "", "b")  # one blank line is just that
    assert drawn("x" + " " * 500 + "debt").lines == ("x␣×500debt",)
    assert drawn("indented\n" + " " * 8 + "<b/>").lines == ("indented", "        <b/>")


def test_piled_up_combining_marks_are_numbered() -> None:
    assert layout("e\u0301\u0302\u0303\u0304").lines == ("e\u0301\u0302⟨U+0303⟩⟨U+0304⟩",)


def test_the_preview_fills_at_most_its_rows_and_counts_the_rest() -> None:
    text = "".join(f"{n:02d}\n" for n in range(30))  # 90 characters
    shown = drawn(text)
    assert shown.lines == tuple(f"{n:02d}" for n in range(PREVIEW_ROWS))
    assert (shown.hidden_lines, shown.hidden_chars) == (30 - PREVIEW_ROWS, 90 - 3 * PREVIEW_ROWS)
    long_line = "y" * (PREVIEW_WIDTH * PREVIEW_ROWS + 10)  # one line wider than all the rows
    shown = drawn(long_line + "\nafter\n")
    assert shown.lines == ("y" * PREVIEW_WIDTH * PREVIEW_ROWS,)
    assert (shown.hidden_lines, shown.hidden_chars) == (2, 10 + 1 + 6)


def test_wide_characters_take_two_columns() -> None:
    shown = drawn("中" * PREVIEW_WIDTH * PREVIEW_ROWS)
    assert shown.lines == ("中" * (PREVIEW_WIDTH // 2) * PREVIEW_ROWS,) and shown.cut


def test_a_cut_beyond_the_kept_start_is_counted_from_the_whole_text() -> None:
    text = "\n" * 5000 + "hidden far below\n"
    shown = drawn(text)
    # the run is cut where the kept start ends: the rest is counted, not lost
    assert shown.lines == (f"⏎ ×{PREVIEW_CHARS}",)
    assert shown.hidden_chars == len(text) - PREVIEW_CHARS and shown.hidden_lines == 5001 - PREVIEW_CHARS
