"""The verify problem codes are one list: protocol/methods/verify.py PROBLEMS, the README's
table, the JS client's VerifyProblem type, and what the verifiers can emit."""

from __future__ import annotations

import re
from pathlib import Path

from tanba.protocol.methods.verify import PROBLEMS

REPO = Path(__file__).resolve().parents[2]


def test_the_readme_documents_every_code_and_no_other() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    table = readme[readme.index("What a signer's `problems` may hold"):]
    table = table[:table.index("\n\n", table.index("| code |"))]
    assert set(re.findall(r"^\| `([a-z_]+)` \|", table, re.M)) == PROBLEMS


def test_the_js_types_name_every_code_and_no_other() -> None:
    dts = (REPO / "clients" / "js" / "tanba.d.ts").read_text("utf-8")
    union = dts[dts.index("export type VerifyProblem ="):]
    union = union[:union.index(";")]
    assert set(re.findall(r'"([a-z_]+)"', union)) == PROBLEMS
    assert "problems: VerifyProblem[]" in dts


def test_the_verifiers_emit_only_documented_codes() -> None:
    # every snake_case string literal the verifiers hand to a result or a failure
    emitted: set[str] = set()
    for module in ("cms.py", "xml.py", "chain.py"):
        source = (REPO / "agent" / "verify" / module).read_text("utf-8")
        emitted |= set(re.findall(r'_Bad\("([a-z_]+)"', source))
        emitted |= set(re.findall(r'return None, "([a-z_]+)"', source))
        emitted |= set(re.findall(r'problems = \("([a-z_]+)",\)', source))
        emitted |= set(re.findall(r'return "((?:chain|certificate|unsupported)_[a-z_]+)"', source))
    assert emitted, "the patterns found nothing: the test must be updated with the code"
    assert emitted <= PROBLEMS, emitted - PROBLEMS
