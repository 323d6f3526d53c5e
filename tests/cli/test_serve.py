"""`tanba serve` as a user runs it: the installed console script, a real port."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from support.process import TANBA, free_port


def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "TANBA_CONFIG_DIR": str(tmp_path / "cfg"), "TANBA_STATE_DIR": str(tmp_path / "state")}


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    (tmp_path / "pin").write_text("1234\n")
    proc = subprocess.Popen(
        [TANBA, "serve", "--approver", "auto", "--pin-file", str(tmp_path / "pin"),
         "--allow-origin", "https://portal.test", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(tmp_path),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert f"listening on ws://127.0.0.1:{port}/v1" in line, line + (proc.stderr.read() if proc.poll() else "")
    yield proc, port
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)


def test_serve_answers_hello_and_refuses_strangers(agent: tuple[subprocess.Popen[str], int]) -> None:
    proc, port = agent

    async def talk() -> None:
        async with connect(f"ws://127.0.0.1:{port}/v1", origin="https://portal.test") as ws:  # type: ignore[arg-type]
            await ws.send('{"jsonrpc":"2.0","id":1,"method":"agent.hello"}')
            assert json.loads(await ws.recv())["result"]["name"] == "tanba"
        for origin in ("https://evil.test", "null", None, "http://portal.test"):
            with pytest.raises(InvalidStatus) as info:
                async with connect(f"ws://127.0.0.1:{port}/v1", origin=origin):  # type: ignore[arg-type]
                    pass
            assert info.value.response.status_code == 403

    asyncio.run(talk())


def test_warns_loudly_about_auto(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "pin").write_text("1234")
    proc = subprocess.Popen(
        [TANBA, "serve", "--approver", "auto", "--pin-file", str(tmp_path / "pin"), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(tmp_path),
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    assert "approver 'auto' is for tests and kiosks only" in err
    assert proc.returncode == 0


def test_second_instance_on_the_same_port_is_refused_clearly(agent: tuple[subprocess.Popen[str], int], tmp_path: Path) -> None:
    _, port = agent
    started = time.monotonic()
    second = subprocess.run([TANBA, "serve", "--port", str(port)], capture_output=True, text=True,
                            env=env(tmp_path), timeout=30)
    assert second.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in second.stderr
    assert time.monotonic() - started < 30


def test_bad_flags_are_explained(tmp_path: Path) -> None:
    cases = [
        (["--host", "0.0.0.0"], "loopback"),
        (["--allow-origin", "egov.kz"], "not a web origin"),
        (["--approver", "auto"], "needs pin-file"),
        (["--pin-file", "x"], "only allowed with approver = auto"),
    ]
    for args, message in cases:
        result = subprocess.run([TANBA, "serve", *args], capture_output=True, text=True, env=env(tmp_path), timeout=30)
        assert result.returncode == 2 or result.returncode == 1, args
        assert message in result.stderr, (args, result.stderr)


def test_corrupt_config_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("port = [\n")
    result = subprocess.run([TANBA, "serve", "--config", str(bad)], capture_output=True, text=True,
                            env=env(tmp_path), timeout=30)
    assert result.returncode == 1
    assert f"{bad}: not valid TOML" in result.stderr


def test_help_shows_the_approver_serve_really_defaults_to() -> None:
    from click.testing import CliRunner

    from tanba.agent.setup.config import Settings
    from tanba.cli.main import main

    shown = " ".join(CliRunner().invoke(main, ["serve", "--help"]).stdout.split())
    assert Settings().approver == "tk"  # what `serve` runs with when neither flag nor file names one
    assert "Who answers consent questions [tk: the desktop dialogs; the terminal when there is no display]" in shown
    assert "[terminal]" not in shown
