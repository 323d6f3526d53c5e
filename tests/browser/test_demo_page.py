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
from support.ocsp_server import RevocationServer
from tanba.agent.consent.auto import AutoApprover
from tanba.agent.consent.base import Confirmation
from tanba.agent.consent.dialogs import ConfirmDialog
from tanba.agent.demo.server import DemoServer
from tanba.agent.setup.testpki import P12_PASSWORD, Manifest
from tanba.agent.transport.server import AgentServer

UI_TIMEOUT = 20_000


class ShownDialogs(AutoApprover):
    """The auto approver, noting the confirmation dialog's heading as a user would read it."""

    def __init__(self, pin_file: Path, allowed: tuple[str, ...]) -> None:
        super().__init__(pin_file, allowed)
        self.headings: list[str] = []

    async def confirm(self, confirmation: Confirmation) -> bool:
        self.headings.append(ConfirmDialog(confirmation).heading)
        return await super().confirm(confirmation)


@asynccontextmanager
async def setting(pki: Manifest, tmp_path: Path, page_origin: str = "http://localhost:0",
                  allow_page: bool = True, p12: tuple[str, ...] = ("rsa-sign", "rsa-auth"),
                  ) -> AsyncIterator[tuple[DemoServer, AgentServer, ShownDialogs]]:
    """The demo server, then an agent with these key files that allow-lists its origin (or not)."""
    demo = demo_server(pki, page_origin)
    await demo.start()
    pin = tmp_path / "pin"
    pin.write_text(P12_PASSWORD)
    allowed = (demo.origin,) if allow_page else ("https://someone-else.test",)
    consent = ShownDialogs(pin, allowed)
    try:
        async with agent_with_keys(tmp_path, pki, consent, p12=p12,  # type: ignore[arg-type]
                                   settings=agent_settings(pki, pin, *allowed)) as agent:
            demo.agent_url = f"ws://127.0.0.1:{agent.port}/v1"
            yield demo, agent, consent
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
    async with setting(pki, tmp_path) as (demo, agent, _):
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
    async with setting(pki, tmp_path) as (demo, agent, _):
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
    async with setting(pki, tmp_path, allow_page=False) as (demo, agent, _):
        browser = await launch(playwright)
        page = await browser.new_page(viewport={"width": 1100, "height": 500})
        await page.goto(demo.origin + "/")
        assert await status(page) == "site_not_approved"
        assert "Tanba has not approved this site" in await page.inner_text("#status")
        assert await page.is_disabled("#sign-text")
        await shot(page, "site-not-approved")
        await browser.close()


async def test_agent_stopped_reads_not_running(pki: Manifest, tmp_path: Path, playwright: Playwright) -> None:
    async with setting(pki, tmp_path) as (demo, agent, _):
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
    async with setting(pki, tmp_path, page_origin="http://127.0.0.1:0") as (demo, agent, _):
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


async def open_demo(playwright: Playwright, demo: DemoServer, locale: str = "en-US", path: str = "/") -> Page:
    browser = await launch(playwright)
    context = await browser.new_context(locale=locale, viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    await page.goto(demo.origin + path)
    assert await status(page) == "connected"
    return page


async def sign_text(page: Page, text: str | None = None, format: str = "cms-attached") -> None:
    await page.select_option("#format", format)
    if text is not None:
        await page.fill("#text", text)
    await page.click("#sign-text")
    await page.wait_for_selector("#text-result:not([hidden])", timeout=UI_TIMEOUT)


async def verification(page: Page) -> dict[str, str]:
    """Verify the text signature; the result rows as {term: value}."""
    await page.click("#verify-text")
    await page.wait_for_selector("#text-verify dd", timeout=UI_TIMEOUT)
    terms = await page.locator("#text-verify dt").all_inner_texts()
    values = await page.locator("#text-verify dd").all_inner_texts()
    return dict(zip(terms, values))


async def test_verify_shows_the_revocation_answer_of_the_test_pki(pki: Manifest, tmp_path: Path, playwright: Playwright,
                                                                  ocsp: RevocationServer) -> None:
    for key, verdict, revocation, code, css in (("rsa-sign", "valid", "good (checked: not revoked)", "good", "good"),
                                                ("rsa-sign-revoked", "NOT valid", "revoked", "revoked", "bad")):
        (tmp_path / key).mkdir()
        async with setting(pki, tmp_path / key, p12=(key,)) as (demo, _, _):
            page = await open_demo(playwright, demo)
            await sign_text(page, "Заявление № 42")
            rows = await verification(page)
            assert rows["Verdict"] == verdict and rows["Chain"] == "trusted", (key, rows)
            assert rows["Revocation"] == revocation, (key, rows)
            assert await page.get_attribute(f'#text-verify dd[data-code="{code}"]', "class") == css
            if key == "rsa-sign":
                assert "Problems" not in rows
            else:
                assert rows["Problems"] == "The signer's certificate, or a CA certificate above it, has been revoked."
            await page.context.browser.close()  # type: ignore[union-attr]
    assert ocsp.hits["ocsp"] >= 2  # the page's verdicts came from the responder's answers


async def test_unknown_revocation_reads_as_a_sentence_not_a_code(pki: Manifest, tmp_path: Path, playwright: Playwright,
                                                                 ocsp: RevocationServer) -> None:
    with ocsp.modes(ocsp="down", crl="down"):
        async with setting(pki, tmp_path) as (demo, _, _):
            page = await open_demo(playwright, demo)
            await sign_text(page)
            rows = await verification(page)
            assert rows["Verdict"] == "valid" and rows["Revocation"] == "unknown (not checked)"
            assert rows["Problems"].startswith("Whether the certificate was revoked could not be checked")
            assert "revocation_unknown" not in await page.inner_text("#text-verify")
            await shot(page, "revocation-unknown")
            await page.context.browser.close()  # type: ignore[union-attr]


async def test_the_page_and_the_prompts_speak_the_browsers_language(pki: Manifest, tmp_path: Path,
                                                                    playwright: Playwright) -> None:
    async with setting(pki, tmp_path) as (demo, _, consent):
        page = await open_demo(playwright, demo, locale="ru-RU")
        assert await page.get_attribute("html", "lang") == "ru"
        assert await page.inner_text("h1") == "Демо-портал Tanba"
        assert await page.inner_text("#status-title") == "Подключено к Tanba"
        assert await page.inner_text("#sign-text") == "Подписать"
        assert await page.input_value("#text") == "Заявление № 42: прошу выдать справку. Таңба демо."
        await sign_text(page)
        assert "Подписал" in await page.inner_text("#text-facts")
        # the agent was asked in Russian: the confirmation a user would read says so
        assert consent.headings == [f"{demo.origin} просит подписать."]
        await shot(page, "ru")
        await page.context.browser.close()  # type: ignore[union-attr]

        page = await open_demo(playwright, demo, locale="kk-KZ")
        assert await page.inner_text("h1") == "Tanba демо-порталы"
        await sign_text(page)
        assert consent.headings[-1] == f"{demo.origin} қол қоюды сұрайды."
        await page.context.browser.close()  # type: ignore[union-attr]

        page = await open_demo(playwright, demo, locale="ru-RU", path="/?lang=en")  # the page's own switch wins
        assert await page.inner_text("h1") == "Tanba demo portal"
        await page.context.browser.close()  # type: ignore[union-attr]


async def test_a_raw_signature_says_why_it_cannot_be_verified(pki: Manifest, tmp_path: Path,
                                                              playwright: Playwright) -> None:
    async with setting(pki, tmp_path) as (demo, _, _):
        page = await open_demo(playwright, demo)
        await sign_text(page, "Заявление № 42", format="raw")
        assert await page.is_disabled("#verify-text")
        assert await page.is_visible("#verify-text-note")
        reason = await page.inner_text("#verify-text-note")
        assert reason.startswith("Tanba verifies CMS and XML signatures only.") and "certificate" in reason
        await sign_text(page, format="cms-detached")  # a signature that can be verified: the note goes
        assert await page.is_enabled("#verify-text") and not await page.is_visible("#verify-text-note")
        await page.context.browser.close()  # type: ignore[union-attr]


async def test_switching_formats_keeps_the_users_text(pki: Manifest, tmp_path: Path, playwright: Playwright) -> None:
    async with setting(pki, tmp_path) as (demo, _, _):
        page = await open_demo(playwright, demo)
        mine = "Моё заявление: прошу отпуск с 1 июля."
        await page.fill("#text", mine)
        await page.select_option("#format", "xml")
        assert (await page.input_value("#text")).startswith("<?xml")
        await page.fill("#text", "<doc>мой XML</doc>")
        await page.select_option("#format", "raw")
        assert await page.input_value("#text") == mine
        await page.select_option("#format", "cms-detached")
        assert await page.input_value("#text") == mine
        await page.select_option("#format", "xml")
        assert await page.input_value("#text") == "<doc>мой XML</doc>"
        await page.context.browser.close()  # type: ignore[union-attr]


async def test_the_file_progress_bar_starts_over_for_the_next_file(pki: Manifest, tmp_path: Path,
                                                                   playwright: Playwright) -> None:
    async with setting(pki, tmp_path) as (demo, _, _):
        page = await open_demo(playwright, demo)
        bar = page.locator("#hash-progress")
        first = b"%PDF-1.4 first report\n" * 200_000
        await page.set_input_files("#file", files=[{"name": "a.pdf", "mimeType": "application/pdf", "buffer": first}])
        await page.click("#sign-file")
        await page.wait_for_selector("#file-result:not([hidden])", timeout=UI_TIMEOUT)
        # the first file: hashed to the end (the page's CSP forbids eval: read the attributes)
        value, total = await bar.get_attribute("value"), await bar.get_attribute("max")
        assert value == total and int(total or 0) > 1, (value, total)
        await page.set_input_files("#file", files=[{"name": "b.txt", "mimeType": "text/plain", "buffer": b"second"}])
        assert await bar.get_attribute("value") == "0" and await bar.get_attribute("hidden") is not None
        assert not await page.is_visible("#file-result")  # the old file's signature is gone too
        await page.context.browser.close()  # type: ignore[union-attr]
