"""Previews that hide what is signed (rule 3: a preview says when it is cut and renders
control, bidi and zero-width characters visibly).

Finding 6 of the outside review (issue 19).  An approved page asks a real agent to sign a
document crafted so that the confirmation shows something harmless; the user's answer
comes from the real approvers — the terminal one on a pair of streams, the Tk one on a
private X server — and each test reads what the person at the desk would see: the
terminal's screen (carriage returns and backspaces applied), the text in the dialog's
documents box and whether it is in view without scrolling.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import io
import sys
import tkinter as tk
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from support.agent import PORTAL, browser, call
from support.agent import running_agent
from support.native import b64, reason
from tanba.agent.consent.base import ConsentUI
from tanba.agent.consent.terminal import TerminalApprover
from tanba.agent.consent.tk import TkConsent
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest
from tanba.agent.transport.server import AgentServer
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.registry import Stores

# The private X server of the Tk dialog tests (tests/agent/consent/conftest.py), loaded by
# path: the directory is not a package, and "agent" is the source package's name too.
_spec = importlib.util.spec_from_file_location(
    "tanba_test_consent_display", Path(__file__).resolve().parent.parent / "agent" / "consent" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_display = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_display)
xvfb = _display.xvfb
Display = _display.Display

PAYLOAD = "I owe portal.test 9,999,999 KZT, to be paid by 1 March."
#: three lines of greeting, eleven blank lines, then the debt
GREETING = (
    "Dear friend, happy birthday! May this year bring you joy, health and luck\n"
    "and many happy days with the people you love. Thank you for being there\n"
    "for us all this year; we are so glad to have you. Warm wishes from all!\n"
    + "\n" * 11 + PAYLOAD + "\n"
)
LOAN = "Loan agreement: I owe portal.test 9,999,999 KZT"
HELLO = "Hello from portal.test! Have a lovely, sunny day, dear friend :)"
#: bidi override (0001 would read 1000), isolate, zero-width space and no-break, BOM
BIDI = "Pay to KZ86 125K ZT50 0410 0100 the sum of \u202e0001\u202c KZT\u200b\u2060 \u2066x\u2069\ufeff\n"
INVISIBLE = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u200b\u200c\u200d\u2060\ufeff\r\x1b\x08"
#: forty clauses: more than a preview shows
LONG = "".join(f"Clause {n}: the parties agree to item {n} of the annex.\n" for n in range(1, 41))
#: 80 KiB of XML: more than is previewed at all
HUGE = ("<row>" + "x" * 70 + "</row>\n") * 1000

APPROVERS = ["terminal", "tk"]


@asynccontextmanager
async def agent_with_open_key(tmp_path: Path, pki: Manifest, consent: ConsentUI) -> AsyncIterator[AgentServer]:
    """An agent whose signing key file is already open: the confirmation is the first
    (and, as the user denies it, the only) question."""
    ident = pki.identities["rsa-sign"]
    store = Pkcs12Store([ident.p12])
    await store.unlock_file(ident.p12, bytearray(ident.p12_password.encode()))
    registry = Stores([store])
    settings = Settings(allow_origin=(PORTAL,), trust_anchor=(pki.root_pem,), autodetect=False)
    try:
        async with running_agent(tmp_path, consent, settings, stores=registry) as server:
            yield server
    finally:
        await registry.close()


async def ask_to_sign(server: AgentServer, document: str) -> dict[str, Any]:
    async with browser(server) as ws:
        return await call(ws, "sign", {"format": "cms", "data": [b64(document.encode())]})


def screen(output: str) -> str:
    """What a terminal shows for ``output``: a carriage return goes back to the start of the
    line and what follows overwrites it, a backspace steps back one column."""
    shown = []
    for line in output.split("\n"):
        cells: list[str] = []
        column = 0
        for char in line:
            if char == "\r":
                column = 0
            elif char == "\b":
                column = max(0, column - 1)
            else:
                cells[column:column + 1] = [char]
                column += 1
        shown.append("".join(cells))
    return "\n".join(shown)


async def on_terminal(tmp_path: Path, pki: Manifest, document: str) -> tuple[str, str]:
    """(the terminal's screen, the raw output) while the user reads and answers no."""
    out = io.StringIO()
    async with agent_with_open_key(tmp_path, pki, TerminalApprover(io.StringIO("n\n"), out)) as server:
        assert reason(await ask_to_sign(server, document)) == "user_cancelled"
    return screen(out.getvalue()), out.getvalue()


def _descendants(widget: tk.Misc) -> list[tk.Misc]:
    found = []
    for child in widget.winfo_children():
        found += [child, *_descendants(child)]
    return found


def read_documents_box(consent: TkConsent, needles: Sequence[str]) -> tuple[str, dict[str, bool]]:
    """The text of the open confirmation's documents box, and for each needle whether all
    of it is in view (not scrolled away, not cut off).  Runs the reading in the Tk thread."""
    thread = consent.tk_view._thread
    assert thread is not None
    answer: concurrent.futures.Future[tuple[str, dict[str, bool]]] = concurrent.futures.Future()

    def job() -> None:
        try:
            [window] = thread.windows
            [box] = [w for w in _descendants(window.top) if isinstance(w, tk.Text)]
            box.update_idletasks()
            seen = {}
            for needle in needles:
                start = box.search(needle, "1.0", stopindex="end")
                end = f"{start}+{len(needle) - 1}c" if start else ""
                seen[needle] = bool(start) and box.bbox(start) is not None and box.bbox(end) is not None
            answer.set_result((box.get("1.0", "end-1c"), seen))
        except BaseException as exc:
            answer.set_exception(exc)

    thread.call(job)
    return answer.result(10)


async def in_tk(display: Any, tmp_path: Path, pki: Manifest, document: str,
                needles: Sequence[str]) -> tuple[str, dict[str, bool]]:
    """(the documents box's text, which needles are in view) in the Tk confirmation, which
    the user then closes with Escape."""
    consent = TkConsent(display.name, timeout=30)
    try:
        async with agent_with_open_key(tmp_path, pki, consent) as server:
            reply = asyncio.create_task(ask_to_sign(server, document))
            await asyncio.to_thread(display.window, "^Tanba ")
            await asyncio.sleep(0.3)  # drawn
            shown = await asyncio.to_thread(read_documents_box, consent, needles)
            await asyncio.to_thread(display.key, "Escape")
            assert reason(await asyncio.wait_for(reply, 15)) == "user_cancelled"
    finally:
        consent.close()
    return shown


async def shown(request: pytest.FixtureRequest, approver: str, tmp_path: Path, pki: Manifest, document: str,
                needles: Sequence[str]) -> tuple[str, dict[str, bool]]:
    """What the user sees of ``document``, and whether each needle is there to see."""
    if approver == "terminal":
        visible, raw = await on_terminal(tmp_path, pki, document)
        assert not set("\r\x1b\x08") & set(raw), "a control character reached the terminal"
        return visible, {needle: needle in visible for needle in needles}
    return await in_tk(request.getfixturevalue("xvfb"), tmp_path, pki, document, needles)


@pytest.mark.parametrize("approver", APPROVERS)
async def test_greeting_card_cannot_push_the_debt_out_of_view(
    request: pytest.FixtureRequest, approver: str, tmp_path: Path, pki: Manifest
) -> None:
    text, seen = await shown(request, approver, tmp_path, pki, GREETING, [PAYLOAD, "⏎ ×11"])
    assert seen == {PAYLOAD: True, "⏎ ×11": True}, text
    assert "\n" * 3 not in text  # the blank lines are one visible line


@pytest.mark.parametrize("approver", APPROVERS)
async def test_carriage_return_cannot_overwrite_the_loan(
    request: pytest.FixtureRequest, approver: str, tmp_path: Path, pki: Manifest
) -> None:
    drawn = f"{LOAN}⟨CR⟩{HELLO}"
    text, seen = await shown(request, approver, tmp_path, pki, f"{LOAN}\r{HELLO}\n", [drawn])
    assert seen == {drawn: True}, text
    assert "\r" not in text


@pytest.mark.parametrize("approver", APPROVERS)
async def test_bidi_and_zero_width_characters_are_shown_by_name(
    request: pytest.FixtureRequest, approver: str, tmp_path: Path, pki: Manifest
) -> None:
    drawn = "the sum of ⟨RLO⟩0001⟨PDF⟩ KZT⟨ZWSP⟩⟨WJ⟩ ⟨LRI⟩x⟨PDI⟩⟨BOM⟩"
    text, seen = await shown(request, approver, tmp_path, pki, BIDI, [drawn])
    assert seen == {drawn: True}, text
    assert not set(INVISIBLE) & set(text), [hex(ord(c)) for c in set(INVISIBLE) & set(text)]


@pytest.mark.parametrize("approver", APPROVERS)
async def test_a_long_document_says_how_much_is_not_shown(
    request: pytest.FixtureRequest, approver: str, tmp_path: Path, pki: Manifest
) -> None:
    hidden = LONG.split("\n", 12)[12]
    cut = f"… 28 more line(s), {len(hidden):,} more character(s) not shown"
    text, seen = await shown(request, approver, tmp_path, pki, LONG, ["Clause 12:", cut])
    assert seen == {"Clause 12:": True, cut: True}, text
    assert "Clause 13:" not in text


@pytest.mark.parametrize("approver", APPROVERS)
async def test_a_document_too_large_to_preview_says_so(
    request: pytest.FixtureRequest, approver: str, tmp_path: Path, pki: Manifest
) -> None:
    notice = "No preview: the document is too large to show here."
    text, seen = await shown(request, approver, tmp_path, pki, HUGE, [notice, "80.1 KiB"])
    assert seen == {notice: True, "80.1 KiB": True}, text
