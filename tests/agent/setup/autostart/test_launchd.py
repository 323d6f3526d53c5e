"""The launchd agent plist (macOS): a valid property list launchd would load."""

from __future__ import annotations

import plistlib
import sys
from pathlib import Path

from tanba.agent.setup.autostart import ServiceSpec
from tanba.agent.setup.autostart.launchd import LABEL, plist_bytes


def test_plist_starts_at_login_restarts_on_failure_and_keeps_its_environment(tmp_path: Path) -> None:
    spec = ServiceSpec(command=("/Users/a b/.local/pipx/venvs/tanba/bin/python", "-m", "tanba", "serve", "--no-tls"),
                       config_dir=tmp_path / "cfg", state_dir=tmp_path / "st & <state>",
                       environment={"TANBA_STATE_DIR": "/Users/a b/state"})
    raw = plist_bytes(spec)
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist')
    plist = plistlib.loads(raw)
    assert plist["Label"] == LABEL
    assert plist["ProgramArguments"] == list(spec.command)  # one argument each: no shell, no quoting
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}  # restart after a crash, not after a clean stop
    assert plist["LimitLoadToSessionType"] == "Aqua"
    assert plist["EnvironmentVariables"]["TANBA_STATE_DIR"] == "/Users/a b/state"
    assert plist["StandardErrorPath"] == str(tmp_path / "st & <state>" / "launchd-stderr.log")
    assert b"st &amp; &lt;state&gt;" in raw


def test_plist_is_well_formed_for_an_xml_parser(tmp_path: Path) -> None:
    # xmllint is not on this machine; Python's expat is strict about well-formedness.
    import xml.dom.minidom

    spec = ServiceSpec(command=(sys.executable, "-m", "tanba", "serve"), config_dir=tmp_path, state_dir=tmp_path)
    doc = xml.dom.minidom.parseString(plist_bytes(spec))
    assert doc.documentElement.tagName == "plist"
    # and a round trip through plutil's format (plistlib's binary writer) keeps everything
    assert plistlib.loads(plistlib.dumps(plistlib.loads(plist_bytes(spec)), fmt=plistlib.FMT_BINARY)) == \
        plistlib.loads(plist_bytes(spec))
