"""The Windows logon task (Task Scheduler XML, imported with ``schtasks /Create /XML``).

Runs `tanba serve` at the user's logon, as that user with their interactive token (least
privilege: no elevation), without a time limit, restarted up to 3 times a minute apart when
it fails; a second copy is never started beside a running one.
"""

from __future__ import annotations

import subprocess
from typing import Final
from xml.sax.saxutils import escape

from tanba.agent.setup.autostart import ServiceSpec

TASK_NAME: Final = "Tanba"
NAMESPACE: Final = "http://schemas.microsoft.com/windows/2004/02/mit/task"


def task_xml(spec: ServiceSpec, user: str) -> str:
    """The task definition for ``user`` (``DOMAIN\\name``).

    schtasks wants the file in UTF-16 (write it with ``encoding="utf-16"``).  Environment
    overrides cannot be given to a task; a spec with any is refused.
    """
    if spec.environment:
        raise ValueError(
            f"a logon task cannot set environment variables ({', '.join(sorted(spec.environment))}): "
            "set them in the user's environment instead"
        )
    command, *args = spec.command
    e = escape
    return f"""<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="{NAMESPACE}">
  <RegistrationInfo>
    <Description>{e(spec.description)}</Description>
    <URI>\\{TASK_NAME}</URI>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
      <UserId>{e(user)}</UserId>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>{e(user)}</UserId>
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>true</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <IdleSettings>
      <StopOnIdleEnd>false</StopOnIdleEnd>
      <RestartOnIdle>false</RestartOnIdle>
    </IdleSettings>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <RunOnlyIfIdle>false</RunOnlyIfIdle>
    <WakeToRun>false</WakeToRun>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Priority>7</Priority>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>3</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{e(command)}</Command>
      <Arguments>{e(subprocess.list2cmdline(args))}</Arguments>
      <WorkingDirectory>{e(str(spec.state_dir))}</WorkingDirectory>
    </Exec>
  </Actions>
</Task>
"""
