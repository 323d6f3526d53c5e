"""The Windows logon task XML (Task Scheduler schema 1.2)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tanba.agent.setup.autostart import ServiceSpec
from tanba.agent.setup.autostart.windows import NAMESPACE, task_xml

NS = {"t": NAMESPACE}


def spec(tmp_path: Path, **kw: object) -> ServiceSpec:
    return ServiceSpec(command=(r"C:\Users\Ana Li\pipx\venvs\tanba\Scripts\pythonw.exe", "-m", "tanba", "serve",
                                "--allow-origin", "https://a.kz", "--p12", r"C:\keys\my key.p12"),
                       config_dir=tmp_path, state_dir=Path(r"C:\Users\Ana Li\AppData\Local\tanba"), **kw)  # type: ignore[arg-type]


def test_task_runs_at_this_users_logon_without_elevation_or_time_limit(tmp_path: Path) -> None:
    text = task_xml(spec(tmp_path), r"CORP\ana & co")
    assert text.startswith('<?xml version="1.0" encoding="UTF-16"?>')
    root = ET.fromstring(text.encode("utf-16"))  # as schtasks reads it: UTF-16 with a BOM
    assert root.tag == f"{{{NAMESPACE}}}Task" and root.get("version") == "1.2"
    assert root.findtext("t:Triggers/t:LogonTrigger/t:UserId", namespaces=NS) == r"CORP\ana & co"
    principal = root.find("t:Principals/t:Principal", NS)
    assert principal is not None
    assert principal.findtext("t:LogonType", namespaces=NS) == "InteractiveToken"
    assert principal.findtext("t:RunLevel", namespaces=NS) == "LeastPrivilege"
    settings = root.find("t:Settings", NS)
    assert settings is not None
    assert settings.findtext("t:ExecutionTimeLimit", namespaces=NS) == "PT0S"
    assert settings.findtext("t:MultipleInstancesPolicy", namespaces=NS) == "IgnoreNew"
    assert settings.findtext("t:RestartOnFailure/t:Count", namespaces=NS) == "3"
    assert settings.findtext("t:DisallowStartIfOnBatteries", namespaces=NS) == "false"


def test_command_line_is_quoted_for_windows(tmp_path: Path) -> None:
    root = ET.fromstring(task_xml(spec(tmp_path), "ana").encode("utf-16"))
    exec_ = root.find("t:Actions/t:Exec", NS)
    assert exec_ is not None
    assert exec_.findtext("t:Command", namespaces=NS) == r"C:\Users\Ana Li\pipx\venvs\tanba\Scripts\pythonw.exe"
    assert exec_.findtext("t:Arguments", namespaces=NS) == \
        r'-m tanba serve --allow-origin https://a.kz --p12 "C:\keys\my key.p12"'
    assert exec_.findtext("t:WorkingDirectory", namespaces=NS) == r"C:\Users\Ana Li\AppData\Local\tanba"


def test_environment_overrides_are_refused_not_dropped(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="TANBA_STATE_DIR"):
        task_xml(spec(tmp_path, environment={"TANBA_STATE_DIR": "x"}), "ana")
