"""protocol/ is sans-I/O: it imports no I/O framework, no CLI, no other Tanba package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tanba.protocol
from support.imports import imported_modules

FORBIDDEN = {"asyncio", "websockets", "click", "pkcs11", "tkinter", "socket", "ssl", "http", "urllib", "subprocess",
             "threading", "selectors", "cryptography", "lxml", "signxml"}
FORBIDDEN_TANBA = ("tanba.agent", "tanba.providers", "tanba.cli")
PROTOCOL_DIR = Path(tanba.protocol.__file__).parent


def violations(directory: Path) -> list[str]:
    found = []
    for path in sorted(directory.rglob("*.py")):
        for name in imported_modules(path.read_text("utf-8")):
            if name.split(".")[0] in FORBIDDEN or name.startswith(FORBIDDEN_TANBA):
                found.append(f"{path.relative_to(directory)} imports {name}")
    return found


def test_protocol_imports_nothing_forbidden() -> None:
    assert violations(PROTOCOL_DIR) == []


def test_the_check_catches_an_asyncio_import(tmp_path: Path) -> None:
    fake = tmp_path / "protocol"
    fake.mkdir()
    (fake / "codec.py").write_text("import json\n\ndef f():\n    import asyncio\n")
    (fake / "other.py").write_text("from tanba.agent.transport.server import AgentServer\n")
    assert violations(fake) == ["codec.py imports asyncio", "other.py imports tanba.agent.transport.server"]


def test_importing_protocol_loads_no_io_framework() -> None:
    code = (
        "import sys, pkgutil, importlib, tanba.protocol as p\n"
        "for m in pkgutil.walk_packages(p.__path__, 'tanba.protocol.'): importlib.import_module(m.name)\n"
        "print(sorted(n for n in ('asyncio','websockets','click','pkcs11','cryptography') if n in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
