"""Issue 19, finding 9 (reload): a SIGHUP that comes while the agent stops gracefully must
not end in a traceback (it once raised ``AssertionError`` in ``Agent.reload``) nor leave a
second set of key stores open behind the stop."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from support.agent import PORTAL
from tanba.agent.setup.lifecycle import Agent, load_settings
from tanba.agent.setup.testpki import Manifest
from tanba.providers.registry import Stores


def _agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pki: Manifest) -> tuple[Agent, Path]:
    monkeypatch.setenv("TANBA_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("TANBA_STATE_DIR", str(tmp_path / "state"))
    config = tmp_path / "tanba.toml"
    config.write_text(f'allow-origin = ["{PORTAL}"]\np12 = ["{pki.identities["rsa-sign"].p12}"]\n')
    flags = {"port": 0, "autodetect": False}
    return Agent(load_settings(config, flags), version="test", config_path=config, flags=flags), config


async def test_a_reload_after_the_stop_is_refused_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pki: Manifest, caplog: pytest.LogCaptureFixture
) -> None:
    agent, _ = _agent(tmp_path, monkeypatch, pki)
    await agent.start()
    await agent.shutdown()
    with caplog.at_level(logging.INFO, logger="tanba.agent.setup.lifecycle"):
        assert await agent.reload() is False
        agent.request_reload()  # SIGHUP's handler
        await asyncio.sleep(0)
    assert "not reloading" in caplog.text


async def test_sighup_during_a_graceful_stop_opens_nothing_the_stop_does_not_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pki: Manifest, caplog: pytest.LogCaptureFixture
) -> None:
    """The reload is opening new key stores (the p12 list changed) when the stop begins:
    the stop waits for it, the new stores are closed, and nothing raises."""
    agent, config = _agent(tmp_path, monkeypatch, pki)
    await agent.start()
    config.write_text(f'allow-origin = ["{PORTAL}"]\np12 = ["{pki.identities["ec-sign"].p12}"]\n')
    opened: list[Stores] = []
    closed: list[Stores] = []
    real_stores = Agent._stores
    real_close = Stores.close

    async def slow_stores(settings: object) -> Stores:
        stores = await real_stores(settings)  # type: ignore[arg-type]
        opened.append(stores)
        await asyncio.sleep(0.3)  # the stop begins meanwhile
        return stores

    async def close(self: Stores) -> None:
        closed.append(self)
        await real_close(self)

    monkeypatch.setattr(Agent, "_stores", staticmethod(slow_stores))
    monkeypatch.setattr(Stores, "close", close)
    with caplog.at_level(logging.INFO):
        agent.request_reload()
        await asyncio.sleep(0.05)
        agent.request_stop("SIGTERM")
        await agent.shutdown()
        agent.request_reload()  # a second SIGHUP, after the stop began
        await asyncio.sleep(0.05)
    assert opened and all(s in closed for s in opened)
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)
    assert agent.server is None
