"""DNS rebinding and non-loopback binds.

A rebinding page reaches 127.0.0.1 under its own name, so its requests carry a foreign
Host; the agent must refuse them before the upgrade.  And the agent must never listen where
another machine could reach it.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from support.agent import PORTAL, raw_handshake, running_agent
from support.attack import still_serves
from support.consent import ScriptedConsent
from tanba.agent.consent.base import OriginDecision
from tanba.agent.setup.config import ConfigError, Settings
from tanba.cli.main import main

ALLOWED = Settings(allow_origin=(PORTAL,))

HOSTS = [
    "rebind.test:{port}",  # the classic: the attacker's name now resolves to 127.0.0.1
    "rebind.test",
    "127.0.0.1.nip.io:{port}",
    "localhost.evil.test:{port}",
    "127.0.0.1:{other}",  # right address, another port
    "127.0.0.1",  # no port
    "10.1.2.3:{port}",
    "0.0.0.0:{port}",
    "[::ffff:127.0.0.1]:{port}",
    "127.0.0.1:{port}@evil.test",
    "127.0.0.1:{port}:{port}",
    "",
]


@pytest.mark.parametrize("host", HOSTS)
async def test_foreign_host_is_refused_before_upgrade(tmp_path: Path, host: str) -> None:
    consent = ScriptedConsent(origin_answer=OriginDecision.ALLOW_ALWAYS)
    async with running_agent(tmp_path, consent, ALLOWED) as server:
        headers = {"Origin": PORTAL, "Host": host.format(port=server.port, other=server.port + 1)}
        status, reply = await raw_handshake(server.port, headers)
        assert status == 403, reply
        assert b"server:" not in reply.lower()
        assert consent.asked == []  # nobody is asked about a request that is not for us
        await still_serves(server)


def _without_date(reply: bytes) -> bytes:
    return b"\r\n".join(line for line in reply.split(b"\r\n") if not line.lower().startswith(b"date:"))


@pytest.mark.parametrize("path", ["/", "/v1", "/x", "/admin", "/v2", "/favicon.ico", "/v1/../x"])
async def test_a_foreign_host_gets_the_same_403_on_every_path(tmp_path: Path, path: str) -> None:
    """Issue 19, finding 10: a rebinding page must not learn which paths exist (``/x``
    answered 404 while ``/`` and ``/v1`` answered 403): the Host check comes before routing,
    and the refusal is byte for byte the same whatever the path."""
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server:
        headers = {"Origin": PORTAL, "Host": f"rebind.test:{server.port}"}
        status, reply = await raw_handshake(server.port, headers, path=path)
        _, reference = await raw_handshake(server.port, headers, path="/v1")
        assert status == 403, reply
        assert _without_date(reply) == _without_date(reference)
        await still_serves(server)


async def test_missing_host_is_refused(tmp_path: Path) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server:
        status, reply = await raw_handshake(server.port, {"Origin": PORTAL})
        assert status in (400, 403), reply  # websockets itself refuses a request without Host
        await still_serves(server)


async def test_rebinding_with_a_local_program_token_is_refused(tmp_path: Path) -> None:
    from support.agent import TOKEN

    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server:
        headers = {"Host": f"rebind.test:{server.port}", "Authorization": f"Bearer {TOKEN}"}
        status, _ = await raw_handshake(server.port, headers)
        assert status == 403
        await still_serves(server)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "localhost", "example.test", "127.0.0.1.nip.io"])
def test_non_loopback_bind_is_refused_by_settings(host: str) -> None:
    with pytest.raises(ConfigError, match="host"):
        Settings(host=host)


def test_non_loopback_bind_is_refused_by_serve(tmp_path: Path) -> None:
    env = {"TANBA_CONFIG_DIR": str(tmp_path / "cfg"), "TANBA_STATE_DIR": str(tmp_path / "state")}
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "0", "--no-autodetect"], env=env)
    assert result.exit_code != 0
    assert "loopback" in result.output
    config = tmp_path / "evil.toml"
    config.write_text('host = "0.0.0.0"\n')
    result = CliRunner().invoke(main, ["serve", "--config", str(config), "--port", "0"], env=env)
    assert result.exit_code != 0 and "loopback" in result.output


async def test_agent_listens_on_loopback_only(tmp_path: Path) -> None:
    async with running_agent(tmp_path, ScriptedConsent(), ALLOWED) as server:
        assert server.addresses and all(host in ("127.0.0.1", "::1") for host, _ in server.addresses)
        # Another address of this machine (if it has one) does not answer on the agent's port.
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent; picks the outward address
            outward = probe.getsockname()[0]
        except OSError:
            outward = None
        finally:
            probe.close()
        if outward and not outward.startswith("127."):
            with pytest.raises(OSError):
                socket.create_connection((outward, server.port), timeout=1).close()
        await still_serves(server)
