"""Helpers of the browser tests: Debian's Chromium driven by Playwright (the Python package), headless.

The browser is ``/usr/bin/chromium`` (apt): Playwright never downloads one here — nothing
calls ``playwright install``; ``executable_path`` points at the system browser.  Each test
gets a fresh browser; the demo server and the agent run in the test's event loop.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from playwright.async_api import Browser, Playwright

from tanba.agent.demo.server import DemoServer
from tanba.agent.setup.config import Settings
from tanba.agent.setup.testpki import Manifest
from tanba.agent.verify.chain import ChainValidator

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parents[2]


async def launch(pw: Playwright, extra: Sequence[str] = ()) -> Browser:
    return await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*FLAGS, *extra])


def demo_server(pki: Manifest, origin: str = "http://localhost:0") -> DemoServer:
    validator = ChainValidator([pki.root_pem], intermediates=[pki.intermediate_pem], revocation="off")
    return DemoServer(origin, "", validator)


def agent_settings(pki: Manifest, pin_file: Path, *allowed: str) -> Settings:
    # The intermediate is trusted too, as `tanba demo` does: XML signatures carry only the
    # signer's certificate, and the agent has no setting for untrusted intermediates.
    return Settings(allow_origin=allowed, trust_anchor=(pki.root_pem, pki.intermediate_pem), autodetect=False,
                    approver="auto", pin_file=pin_file)


def screenshot_dir() -> Path | None:
    """TANBA_SCREENSHOTS=docs/screenshots makes the tests write the demo screenshots there."""
    where = os.environ.get("TANBA_SCREENSHOTS")
    return (REPO / where) if where else None
