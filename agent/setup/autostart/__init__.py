"""Starting Tanba with the user's session: a systemd user unit (Linux), a launchd agent
(macOS), a logon task (Windows).

:class:`ServiceSpec` says what to run; :mod:`.systemd`, :mod:`.launchd` and
:mod:`.windows` turn it into each system's file; :mod:`.manager` installs, removes and
inspects it (`tanba service install|uninstall|status`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from tanba.agent.state import paths

NAME: Final = "tanba"
DESCRIPTION: Final = "Tanba signing agent (electronic signatures for web portals)"
#: what the agent's environment keeps from the installer's: where its files are
KEPT_ENVIRONMENT: Final = ("TANBA_CONFIG_DIR", "TANBA_STATE_DIR", "SOFTHSM2_CONF")


@dataclass(frozen=True)
class ServiceSpec:
    """What the service runs, and the only directories it may write."""

    command: tuple[str, ...]
    config_dir: Path
    state_dir: Path
    environment: Mapping[str, str] = field(default_factory=dict)
    description: str = DESCRIPTION

    @classmethod
    def default(cls, serve_args: Sequence[str] = (), python: str | None = None) -> ServiceSpec:
        """`tanba serve` with this interpreter (a venv's or pipx's: its packages come along)."""
        interpreter = python or sys.executable
        if sys.platform == "win32" and interpreter.lower().endswith("python.exe"):
            windowless = interpreter[: -len("python.exe")] + "pythonw.exe"
            if Path(windowless).exists():
                interpreter = windowless  # no console window at logon
        env = {k: os.environ[k] for k in KEPT_ENVIRONMENT if os.environ.get(k)}
        return cls(
            command=(interpreter, "-m", "tanba", "serve", *serve_args),
            config_dir=paths.config_dir(),
            state_dir=paths.state_dir(),
            environment=env,
        )
