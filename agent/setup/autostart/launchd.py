"""The launchd agent (``~/Library/LaunchAgents/org.tanba.agent.plist``).

Loaded into the user's GUI session (``LimitLoadToSessionType=Aqua``: the consent dialogs
need the desktop), started at login (``RunAtLoad``) and restarted when it exits with an
error (``KeepAlive.SuccessfulExit=false``), throttled to once in 10 s.
"""

from __future__ import annotations

import plistlib
from typing import Any, Final

from tanba.agent.setup.autostart import ServiceSpec

LABEL: Final = "org.tanba.agent"
PLIST_NAME: Final = f"{LABEL}.plist"


def plist_dict(spec: ServiceSpec) -> dict[str, Any]:
    return {
        "Label": LABEL,
        "ProgramArguments": list(spec.command),
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1", **spec.environment},
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        "ExitTimeOut": 30,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
        "Umask": 0o077,
        # The agent keeps its own rotating log; this catches what happens before it starts.
        "StandardErrorPath": str(spec.state_dir / "launchd-stderr.log"),
        "StandardOutPath": "/dev/null",
    }


def plist_bytes(spec: ServiceSpec) -> bytes:
    return plistlib.dumps(plist_dict(spec), fmt=plistlib.FMT_XML, sort_keys=True)
