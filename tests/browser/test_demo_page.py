"""The demo portal in a real browser (Debian's Chromium, headless) against a real agent.

The page is served by the demo server from its own origin; the agent runs on 127.0.0.1 with
the auto approver (PKCS#12 password from a file) and the test PKI's keys.  What a user sees
on the page is what is asserted; signatures taken from the page are checked with openssl.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Page, Playwright

from browser.harness import agent_settings, demo_server, launch, screenshot_dir
from support.native import agent_with_keys, openssl_cms_verify
from tanba.agent.consent.auto import AutoApprover
from tanba.agent.demo.server import DemoServer
from tanba.agent.setup.testpki import P12_PASSWORD, Manifest
from tanba.agent.transport.server import AgentServer

UI_TIMEOUT = 20_000


@asynccontextmanager
async def setting(pki: Manifest, tmp_path: Path, page_origin: str = "http://localhost:0",
                  allow_page: bool = True) -> AsyncIterator[tuple[DemoServer, AgentServer]]:
    """The demo server, then an agent that allow-lists its origin (or not)."""
    demo = demo_server(pki, page_origin)
    await demo.start()
    pin = tmp_path / "pin"
    pin.write_text(P12_PASSWORD)
    allowed = (demo.origin,) if allow_page else ("https://someone-else.test",)
    consent = AutoApprover(pin, allowed)
    try:
        async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign", "rsa-auth"],  # type: ignore[arg-type]
                                   settings=agent_settings(pki, pin, *allowed)) as agent:
            demo.agent_url = f"ws://127.0.0.1:{agent.port}/v1"
            yield demo, agent
    finally:
        await demo.close()


async def status(page: Page) -> str:
    # selectors, not wait_for_function: the page's CSP forbids eval, and stays on in these tests
    await page.wait_for_selector('#status:not([data-state="connecting"])', timeout=UI_TIMEOUT)
    return str(await page.get_attribute("#status", "data-state"))


async def shot(page: Page, name: str) -> None:
    where = screenshot_dir()
    if where is not None:
        where.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(where / f"demo-{name}.png"), full_page=True)


async def test_list_sign_verify_and_log_in_from_the_demo_page(pki: Manifest, tmp_path: Path,
                                                              playwright: Playwright) -> None:
    async with setting(pki, tmp_path) as (demo, agent):
        browser = await launch(playwright)
        page = await browser.new_page(viewport={"width": 1100, "height": 900})
        await page.goto(demo.origin + "/")
        assert await status(page) == "connected"
        assert "tanba" in await page.inner_text("#agent-info")

        await page.click("#list-certs")
        rows = page.locator("#certs tbody tr")
        await rows.first.wait_for(timeout=UI_TIMEOUT)
        table = await page.inner_text("#certs")
        # the auto approver discloses the first certificate that fits, as a user picking one would
        assert pki.identities["rsa-sign"].iin in table and "ТЕСТОВ ТЕСТ" in table and "signing" in table

        # text → attached CMS; openssl agrees, and the agent's verify says valid with a trusted chain
        text = "Заявление № 42"
        await page.fill("#text", text)
        await page.click("#sign-text")
        await page.wait_for_selector("#text-result:not([hidden])", timeout=UI_TIMEOUT)
        assert f"IIN {pki.identities['rsa-sign'].iin}" in await page.inner_text("#text-facts")
        signature = base64.b64decode(await page.input_value("#signature"))
        assert openssl_cms_verify(pki, tmp_path, signature) == text
        await page.click("#verify-text")
        await page.wait_for_selector("#text-verify dd", timeout=UI_TIMEOUT)
        verdict = await page.inner_text("#text-verify")
        assert "valid" in verdict and "NOT valid" not in verdict and "trusted" in verdict and "not trusted" not in verdict
        await shot(page, "sign-text")

        # a file: hashed in the page, only the digest signed; the detached CMS fits the bytes
        content = b"%PDF-1.4 quarterly report\n" * 40_000
        await page.set_input_files("#file", files=[{"name": "report.pdf", "mimeType": "application/pdf", "buffer": content}])
        await page.click("#sign-file")
        await page.wait_for_selector("#file-result:not([hidden])", timeout=UI_TIMEOUT)
        detached = base64.b64decode(await page.input_value("#file-signature"))
        openssl_cms_verify(pki, tmp_path, detached, content)
        assert await page.get_attribute("#file-download", "download") == "report.pdf.cms"

        # log in: challenge from the demo server, token from the agent, checked by the server
        await page.click("#auth")
        await page.wait_for_selector("#auth-result:not([hidden])", timeout=UI_TIMEOUT)
        login = await page.inner_text("#auth-result")
        assert "logged in" in login and pki.identities["rsa-auth"].iin in login and "RS256" in login
        assert "not trusted" not in login
        await shot(page, "portal")
        await browser.close()


async def test_xml_signature_from_the_page_verifies(pki: Manifest, tmp_path: Path, playwright: Playwright) -> None:
    async with setting(pki, tmp_path) as (demo, agent):
        browser = await launch(playwright)
        page = await browser.new_page()
        await page.goto(demo.origin + "/")
        assert await status(page) == "connected"
        await page.select_option("#format", "xml")
        assert (await page.input_value("#text")).startswith("<?xml")
        await page.click("#sign-text")
        await page.wait_for_selector("#text-result:not([hidden])", timeout=UI_TIMEOUT)
        signed = base64.b64decode(await page.input_value("#signature"))
        assert b"<ds:Signature" in signed and b"<number>42</number>" in signed
        await page.click("#verify-text")
        await page.wait_for_selector("#text-verify dd", timeout=UI_TIMEOUT)
        assert "NOT valid" not in await page.inner_text("#text-verify")
        await browser.close()


async def test_a_site_the_agent_does_not_serve_is_told_so(pki: Manifest, tmp_path: Path,
                                                          playwright: Playwright) -> None:
    async with setting(pki, tmp_path, allow_page=False) as (demo, agent):
        browser = await launch(playwright)
        page = await browser.new_page(viewport={"width": 1100, "height": 500})
        await page.goto(demo.origin + "/")
        assert await status(page) == "site_not_approved"
        assert "Tanba has not approved this site" in await page.inner_text("#status")
        assert await page.is_disabled("#sign-text")
        await shot(page, "site-not-approved")
        await browser.close()


async def test_agent_stopped_reads_not_running(pki: Manifest, tmp_path: Path, playwright: Playwright) -> None:
    async with setting(pki, tmp_path) as (demo, agent):
        browser = await launch(playwright)
        page = await browser.new_page(viewport={"width": 1100, "height": 500})
        await page.goto(demo.origin + "/")
        assert await status(page) == "connected"
        await agent.close()  # the agent goes away under an open page
        await page.wait_for_selector('#status[data-state="not_running"]', timeout=UI_TIMEOUT)
        await page.reload()  # and a page opened while it is down
        assert await status(page) == "not_running"
        assert "Tanba is not running" in await page.inner_text("#status")
        await shot(page, "not-running")
        await browser.close()


async def test_public_page_needs_the_local_network_access_permission(pki: Manifest, tmp_path: Path,
                                                                     playwright: Playwright) -> None:
    # The page is served from 127.0.0.1:P, which Chrome is told to treat as a public address:
    # as for a real portal, its connection to the agent on loopback is gated by Local Network Access.
    async with setting(pki, tmp_path, page_origin="http://127.0.0.1:0") as (demo, agent):
        override = f"--ip-address-space-overrides=127.0.0.1:{demo.port}=public"
        browser = await launch(playwright, [override])
        denied = await browser.new_context(viewport={"width": 1100, "height": 500})
        page = await denied.new_page()
        await page.goto(demo.origin + "/")
        assert await status(page) == "blocked"
        assert "local network access" in await page.inner_text("#status")
        await shot(page, "blocked")

        allowed = await browser.new_context()
        await allowed.grant_permissions(["local-network-access"], origin=demo.origin)
        page = await allowed.new_page()
        await page.goto(demo.origin + "/")
        assert await status(page) == "connected"
        await page.click("#sign-text")
        await page.wait_for_selector("#text-result:not([hidden])", timeout=UI_TIMEOUT)
        signature = base64.b64decode(await page.input_value("#signature"))
        openssl_cms_verify(pki, tmp_path, signature)
        await browser.close()
