"""The JS client in a real Chromium after `tanba tls install` (issue 20 item 1).

The agent listens on the default port, 13579, with its local certificate, and the page calls
``connect()`` with no options at all, as the README's example does.  In a browser whose NSS
database holds the install's CA it connects over wss; in a browser without the CA (another
user, a profile made before the install) it says ``certificate_untrusted``, not
``not_running``.  Before, the default ``ws://`` address read a running wss agent as
"not running" in every browser.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from browser_tls.chromium import chromium
from browser_tls.pages import Page, page_server
from support.consent import ScriptedConsent
from tanba.agent.services import Services
from tanba.agent.setup import tls
from tanba.agent.setup.config import Settings
from tanba.agent.state.approvals import OriginStore
from tanba.agent.transport.server import AgentServer, AgentStartError
from tanba.agent.transport.tracker import Tracker

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PORT = 13579

PAGE = """<!doctype html><title>pending</title><script type="module">
import { connect } from "/tanba.js";
try {
  const client = await connect({ timeout: 10000 });
  const hello = await client.hello();
  document.title = `connected ${client.url} ${hello.name}`;
} catch (err) {
  document.title = `error ${err.reason}`;
}
</script>"""


@asynccontextmanager
async def wss_agent_on_the_default_port(tmp_path: Path, page: Page) -> AsyncIterator[Path]:
    """An agent after `tanba tls install`, on 13579, allowing the page: yields the HOME whose
    NSS database trusts its CA."""
    home = tmp_path / "home"
    home.mkdir()
    files = tls.TlsFiles(tmp_path / "state" / "tls")
    tls.install(home=home, files=files)
    services = Services(settings=Settings(port=DEFAULT_PORT, allow_origin=(page.origin,)), consent=ScriptedConsent(),
                        origins=OriginStore(tmp_path / "origins.json"), client_token="t" * 43, version="9.9.9-test")
    server = AgentServer(services, Tracker(), ssl_context=tls.server_ssl_context(files))
    try:
        await server.start()
    except AgentStartError as exc:  # under CI a skip fails the run (tests/conftest.py)
        pytest.skip(f"this test needs the default port: {exc}")
    try:
        yield home
    finally:
        await server.close()


async def outcome(home: Path, page: Page) -> str:
    async with chromium(home) as browser:
        session = await browser.new_page()
        assert await browser.navigate(session, f"{page.origin}/") is None
        return await browser.title_when(session, "pending", timeout=30)


async def test_default_options_connect_over_wss_in_a_browser_that_trusts_the_ca(tmp_path: Path) -> None:
    async with page_server() as page:
        page.html = PAGE
        page.files["/tanba.js"] = ("text/javascript; charset=utf-8", (REPO / "clients/js/tanba.js").read_bytes())
        async with wss_agent_on_the_default_port(tmp_path, page) as home:
            assert await outcome(home, page) == f"connected wss://127.0.0.1:{DEFAULT_PORT}/v1 tanba"


async def test_without_the_ca_the_browser_is_told_the_certificate_is_not_trusted(tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"  # a user (or a browser profile) whose NSS database lacks the CA
    stranger.mkdir()
    async with page_server() as page:
        page.html = PAGE
        page.files["/tanba.js"] = ("text/javascript; charset=utf-8", (REPO / "clients/js/tanba.js").read_bytes())
        async with wss_agent_on_the_default_port(tmp_path, page):
            assert await outcome(stranger, page) == "error certificate_untrusted"
