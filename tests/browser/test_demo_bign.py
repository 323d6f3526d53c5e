"""A Belarusian bign key on the demo page, as ``tanba demo`` offers it: in real Chromium, the
page lists the certificate with its personal number, signs a text (the CMS is checked by the
independent bign checker of tests/support/bign_cms.py), the agent's verify says valid with a
trusted chain, and the demo's server-side check accepts a BIGN-HBELT login token."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from playwright.async_api import Page, Playwright

from browser.harness import launch
from support.agent import running_agent
from support.bign_cms import check_bign_cms
from tanba.agent.consent.auto import AutoApprover
from tanba.agent.demo.server import DemoServer
from tanba.agent.setup.bign_pki import BignManifest, make_bign_pki
from tanba.agent.setup.config import Settings
from tanba.agent.verify.chain import ChainValidator
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.registry import Stores

UI_TIMEOUT = 20_000


@pytest.fixture(scope="module")
def bign_pki(tmp_path_factory: pytest.TempPathFactory) -> BignManifest:
    return make_bign_pki(tmp_path_factory.mktemp("bign-pki"))


async def status(page: Page) -> str:
    await page.wait_for_selector('#status:not([data-state="connecting"])', timeout=UI_TIMEOUT)
    return str(await page.get_attribute("#status", "data-state"))


async def test_a_bign_key_signs_verifies_and_logs_in_from_the_demo_page(
        bign_pki: BignManifest, tmp_path: Path, playwright: Playwright) -> None:
    # as cli/demo.py: the portal knows the national root and issuing CA
    validator = ChainValidator([bign_pki.root_pem], intermediates=[bign_pki.ca_pem], revocation="off")
    demo = DemoServer("http://localhost:0", "", validator)
    await demo.start()
    pin = tmp_path / "pin"
    pin.write_text(bign_pki.password)
    stores = Stores([Pkcs12Store([bign_pki.p12["bign-person"]])])
    settings = Settings(allow_origin=(demo.origin,), trust_anchor=(bign_pki.root_pem, bign_pki.ca_pem),
                        autodetect=False, approver="auto", pin_file=pin)
    try:
        async with running_agent(tmp_path, AutoApprover(pin, (demo.origin,)), settings,  # type: ignore[arg-type]
                                 stores=stores) as agent:
            demo.agent_url = f"ws://127.0.0.1:{agent.port}/v1"
            browser = await launch(playwright)
            page = await browser.new_page(viewport={"width": 1100, "height": 900})
            await page.goto(demo.origin + "/")
            assert await status(page) == "connected"

            await page.click("#list-certs")
            await page.locator("#certs tbody tr").first.wait_for(timeout=UI_TIMEOUT)
            table = await page.inner_text("#certs")
            assert "Тестовы" in table

            text = "Заява № 42"
            await page.fill("#text", text)
            await page.click("#sign-text")
            await page.wait_for_selector("#text-result:not([hidden])", timeout=UI_TIMEOUT)
            signature = base64.b64decode(await page.input_value("#signature"))
            cert, content = check_bign_cms(signature)
            assert content.decode() == text and bign_pki.personal_number in cert.subject.rfc4514_string()
            await page.click("#verify-text")
            await page.wait_for_selector("#text-verify dd", timeout=UI_TIMEOUT)
            verdict = await page.inner_text("#text-verify")
            assert "valid" in verdict and "NOT valid" not in verdict and "not trusted" not in verdict

            await page.click("#auth")
            await page.wait_for_selector("#auth-result:not([hidden])", timeout=UI_TIMEOUT)
            login = await page.inner_text("#auth-result")
            assert "logged in" in login and "BIGN-HBELT" in login and "not trusted" not in login
            await browser.close()
    finally:
        await stores.close()
        await demo.close()
