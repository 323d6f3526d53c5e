"""crypto/ is pure: no I/O, no framework, no other Tanba package (its own tests check the math)."""

from __future__ import annotations

from pathlib import Path

import tanba.crypto
from support.imports import imported_modules

FORBIDDEN = {"asyncio", "websockets", "click", "pkcs11", "tkinter", "socket", "ssl", "http", "urllib", "subprocess",
             "threading", "selectors", "os", "pathlib", "io"}
CRYPTO_DIR = Path(tanba.crypto.__file__).parent


def test_crypto_imports_nothing_but_the_standard_library_s_pure_parts() -> None:
    found = [
        f"{path.name} imports {name}"
        for path in sorted(CRYPTO_DIR.rglob("*.py"))
        for name in imported_modules(path.read_text("utf-8"))
        if name.split(".")[0] in FORBIDDEN or (name.startswith("tanba.") and not name.startswith("tanba.crypto"))
    ]
    assert found == []
