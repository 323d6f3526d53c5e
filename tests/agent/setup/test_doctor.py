"""`tanba doctor`'s checks against good and broken set-ups: real agent, real NSS
databases (certutil), real PKCS#11 modules (SoftHSM), real files."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import SoftHSM
from support.process import free_port
from tanba.agent.setup import tls
from tanba.agent.setup.config import Settings
from tanba.agent.setup.doctor import Check, DoctorEnv, failed, render, run_checks, to_json
from tanba.agent.setup.lifecycle import Agent
from tanba.agent.setup.testpki import Manifest
from tanba.agent.state.approvals import OriginStore


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TANBA_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("TANBA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "cfg").mkdir()
    return tmp_path / "home"


def doctor_env(tmp_path: Path, port: int, **kw: object) -> DoctorEnv:
    return DoctorEnv(config_file=tmp_path / "cfg" / "config.toml", token_file=tmp_path / "state" / "client-token",
                     origins_file=tmp_path / "cfg" / "origins.json", home=tmp_path / "home", port=port,
                     timeout=2.0, **kw)  # type: ignore[arg-type]


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def firefox_profile(home: Path) -> Path:
    """A Firefox profile's NSS database, made the way Firefox makes it (certutil -N)."""
    profile = home / ".mozilla" / "firefox" / "abcd1234.default-release"
    profile.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "--empty-password", "-d", f"sql:{profile}"], check=True, capture_output=True)
    return profile


async def test_good_setup_is_all_ok(tmp_path: Path, home: Path, pki: Manifest, softhsm: SoftHSM) -> None:
    profile = firefox_profile(home)
    report = tls.install(home=home)
    assert not report.problems
    p12 = pki.identities["rsa-sign"].p12
    (tmp_path / "cfg" / "config.toml").write_text(f'p12 = ["{p12}"]\nautodetect = false\n')
    OriginStore(tmp_path / "cfg" / "origins.json").approve("https://portal.test")
    agent = Agent(Settings(port=0, p12=(p12,), autodetect=False), version="9.9.9")
    server = await agent.start()
    try:
        checks = await run_checks(doctor_env(tmp_path, server.port, modules=[("SoftHSM", Path(softhsm.module))]))
    finally:
        await agent.shutdown()
    assert not failed(checks), render(checks)
    named = by_name(checks)
    assert named["agent"].message == f"Tanba 9.9.9 is running on wss://127.0.0.1:{server.port}"
    assert named[f"browser Firefox ({profile})"].message == "trusts Tanba's certificate"
    assert named[f"browser Chromium/Chrome ({home / '.pki/nssdb'})"].status == "ok"
    assert named[f"pkcs11 SoftHSM ({softhsm.module})"].message == "loads; token(s) present: tanba-test"
    assert named[f"p12 {p12}"].status == "ok"
    assert named["origins"].message == "1 site(s) approved: https://portal.test"
    assert named["client token"].status == "ok"
    assert render(checks).endswith("All good.")


async def test_agent_not_running_is_a_problem_with_the_way_to_start_it(tmp_path: Path, home: Path) -> None:
    port = free_port()
    check = by_name(await run_checks(doctor_env(tmp_path, port, modules=[])))["agent"]
    assert check.status == "problem"
    assert check.message == f"Tanba is not running (nothing listens on 127.0.0.1:{port})"
    assert "tanba service install" in check.fix


async def test_port_taken_by_another_program_names_it(tmp_path: Path, home: Path) -> None:
    async def squatter(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(squatter, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "client-token").write_text("s" * 43)
    try:
        checks = await run_checks(doctor_env(tmp_path, port, modules=[]))
    finally:
        server.close()
    check = by_name(checks)["agent"]
    assert check.status == "problem"
    # This very test process holds the port: doctor finds it through /proc.
    assert check.message.startswith(f"port {port} is taken by another program: ")
    assert f"(pid {os.getpid()})" in check.message
    assert "another port" in check.fix


async def test_missing_and_broken_modules(tmp_path: Path, home: Path) -> None:
    broken = tmp_path / "libbroken.so"
    broken.write_bytes(b"\x7fELF not really")
    checks = by_name(await run_checks(doctor_env(
        tmp_path, free_port(), modules=[("AKKaztokenStore", tmp_path / "libkztokenp11.so"), ("Broken", broken)])))
    missing = checks[f"pkcs11 AKKaztokenStore ({tmp_path / 'libkztokenp11.so'})"]
    assert (missing.status, missing.message) == ("problem", "module file not found")
    bad = checks[f"pkcs11 Broken ({broken})"]
    assert bad.status == "problem" and bad.message.startswith("the module does not load: ")
    assert checks["keys"].status == "problem"  # no token and no key file: nothing can sign


async def test_untrusted_certificate_in_each_browser_profile(tmp_path: Path, home: Path) -> None:
    tls.install(home=home)
    profile = firefox_profile(home)  # made after the install: the CA was never added there
    state = tls.status()
    assert state.ca is not None
    chromium = home / ".pki" / "nssdb"
    # The user (or another tool) took the TLS trust bit away in Chromium's database.
    subprocess.run(["certutil", "-M", "-n", state.ca.nickname, "-t", ",,", "-d", f"sql:{chromium}"], check=True)
    checks = by_name(await run_checks(doctor_env(tmp_path, free_port(), modules=[])))
    firefox = checks[f"browser Firefox ({profile})"]
    assert firefox.status == "problem" and "does not trust Tanba's certificate" in firefox.message
    chrome = checks[f"browser Chromium/Chrome ({chromium})"]
    assert chrome.status == "problem" and "does not trust it for TLS" in chrome.message
    assert chrome.fix == "close the browser and run `tanba tls install`"


async def test_another_ca_under_our_nickname_is_not_taken_for_ours(tmp_path: Path, home: Path) -> None:
    tls.install(home=home)
    state = tls.status()
    assert state.ca is not None
    chromium = home / ".pki" / "nssdb"
    subprocess.run(["certutil", "-D", "-n", state.ca.nickname, "-d", f"sql:{chromium}"], check=True)
    impostor = tls.issue()
    (tmp_path / "other.pem").write_bytes(impostor.ca_pem)
    subprocess.run(["certutil", "-A", "-n", state.ca.nickname, "-t", "C,,", "-d", f"sql:{chromium}",
                    "-i", str(tmp_path / "other.pem")], check=True)
    check = by_name(await run_checks(doctor_env(tmp_path, free_port(), modules=[])))[
        f"browser Chromium/Chrome ({chromium})"]
    assert check.status == "problem" and "another Tanba certificate" in check.message


async def test_unreadable_and_wrong_key_files(tmp_path: Path, home: Path) -> None:
    a_dir = tmp_path / "keys.p12"
    a_dir.mkdir()  # (the tests run as root, for whom mode 000 is still readable: a directory is not)
    text = tmp_path / "notes.p12"
    text.write_text("my PIN is 1234")
    gone = tmp_path / "gone.p12"
    (tmp_path / "cfg" / "config.toml").write_text(f'p12 = ["{a_dir}", "{text}", "{gone}"]\nautodetect = false\n')
    checks = by_name(await run_checks(doctor_env(tmp_path, free_port())))
    assert checks[f"p12 {a_dir}"].status == "problem"
    assert checks[f"p12 {a_dir}"].message.startswith("cannot be read: ")
    assert checks[f"p12 {text}"].message == "is not a PKCS#12 key file (.p12/.pfx)"
    assert checks[f"p12 {gone}"].message == "file not found"
    assert checks["keys"].status == "problem"


async def test_bad_config_damaged_origins_and_an_open_token_file(tmp_path: Path, home: Path) -> None:
    (tmp_path / "cfg" / "config.toml").write_text("alow-origin = []\n")
    (tmp_path / "cfg" / "origins.json").write_text("{not json")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "client-token").write_text("t" * 43)
    (tmp_path / "state" / "client-token").chmod(0o644)
    checks = await run_checks(doctor_env(tmp_path, free_port(), modules=[]))
    named = by_name(checks)
    assert named["config"].status == "problem"
    assert named["config"].message == f"{tmp_path / 'cfg' / 'config.toml'}: alow-origin: unknown setting"
    assert named["origins"].status == "problem" and "damaged" in named["origins"].message
    assert (tmp_path / "cfg" / "origins.json").read_text() == "{not json"  # doctor only reads
    assert named["client token"].status == "problem" and "chmod 600" in named["client token"].fix
    assert json.loads(to_json(checks))["ok"] is False
