"""What the Tanba on the agent's port serves, for `tanba doctor` (Linux ``/proc``).

Doctor must not contradict the running agent: ``tanba serve --p12 FILE`` serves a key the
config file does not name, ``tanba demo`` keeps its own state directory (so this user's
client token is not its token) and may use another SoftHSM token directory.  The process
that holds the listening socket is found among this user's processes; its command line,
start-up environment and working directory say what it serves, which state directory
holds the client token it accepts, and which ``SOFTHSM2_CONF`` its modules read.  Only
processes of the user running doctor can be read, and nothing is written.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from tanba.agent.setup.config import ConfigError, Settings, build_settings, load_file

log = logging.getLogger(__name__)

#: environment variables of the agent that change what it sees (its PKCS#11 modules read them)
MODULE_ENV: Final = ("SOFTHSM2_CONF",)
#: `tanba serve` options that are not settings (see cli/serve.py)
_NOT_SETTINGS: Final = frozenset({"config_path", "log_level", "log_file", "no_log_file", "stop_timeout"})
_PATH_SETTINGS: Final = ("p12", "trust_anchor", "pin_file")


@dataclass(frozen=True)
class Served:
    """The running Tanba: which command, what it offers, where its token lives."""

    pid: int
    command: str  # "serve" or "demo"
    #: its settings, when its command line and config file could be read (`serve` only)
    settings: Settings | None = None
    #: the client-token file it accepts, when known
    token_file: Path | None = None
    #: what its PKCS#11 modules read (``SOFTHSM2_CONF``), when it differs from doctor's
    module_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_demo(self) -> bool:
        return self.command == "demo"


def pid_of_socket(inode: int) -> int | None:
    """The pid of this user's process holding socket ``inode``."""
    target = f"socket:[{inode}]"
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == target for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
        except OSError:
            continue
    return None


def _argv(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    return [part.decode("utf-8", "surrogateescape") for part in raw.split(b"\0") if part]


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (part.decode("utf-8", "surrogateescape").partition("=") for part in raw.split(b"\0") if part)
    return {name: value for name, _, value in pairs}


def tanba_command(argv: Sequence[str]) -> tuple[str, list[str]] | None:
    """(subcommand, its arguments) when ``argv`` runs the `tanba` console script."""
    for index, arg in enumerate(argv[:-1]):
        if Path(arg).name == "tanba":
            return argv[index + 1], list(argv[index + 2:])
    return None


def _params(command: Any, name: str, args: list[str]) -> dict[str, Any]:
    """The click parameters ``args`` give ``command`` (defaults filled in)."""
    ctx = command.make_context(name, args, resilient_parsing=True)
    params: dict[str, Any] = ctx.params
    return params


def _absolute(value: Any, cwd: Path) -> Any:
    if isinstance(value, Path):
        return value if value.is_absolute() else cwd / value
    if isinstance(value, tuple):
        return tuple(_absolute(v, cwd) for v in value)
    return value


def _serve_settings(args: list[str], environ: Mapping[str, str], cwd: Path) -> Settings | None:
    """The settings a `tanba serve ARGS` process runs with (its flags over its config file)."""
    from tanba.cli.serve import command  # the same options serve parsed (imported when used)

    params = _params(command, "serve", args)
    flags = {k: _absolute(v, cwd) for k, v in params.items() if k not in _NOT_SETTINGS}
    config = _absolute(params.get("config_path"), cwd)
    if config is None:
        from tanba.agent.state import paths

        directory = environ.get("TANBA_CONFIG_DIR")
        config = Path(directory) / "config.toml" if directory else paths.config_file()
    try:
        return build_settings(load_file(config), flags)
    except ConfigError as exc:
        log.info("the running agent's settings cannot be read: %s", exc)
        return None


def read_served(pid: int) -> Served | None:
    """What process ``pid`` serves, when it is `tanba serve` or `tanba demo`; else None."""
    try:
        found = tanba_command(_argv(pid))
        environ = _environ(pid)
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError as exc:
        log.debug("process %d cannot be read: %s", pid, exc)
        return None
    if found is None or found[0] not in ("serve", "demo"):
        return None
    name, args = found
    module_env = {k: environ[k] for k in MODULE_ENV if k in environ}
    state_dir = environ.get("TANBA_STATE_DIR")
    token = Path(state_dir) / "client-token" if state_dir else None
    if name == "serve":
        return Served(pid, name, _serve_settings(args, environ, cwd), token, module_env)
    from tanba.cli.demo import command as demo  # its --dir and --softhsm

    params = _params(demo, "demo", args)
    workdir, softhsm = _absolute(params.get("workdir"), cwd), _absolute(params.get("softhsm_dir"), cwd)
    if softhsm is not None:
        module_env = {**module_env, "SOFTHSM2_CONF": str(softhsm / "softhsm2.conf")}
    # the demo's token is in its directory; without --dir that is a temporary one
    return Served(pid, name, None, workdir / "state" / "client-token" if workdir is not None else None, module_env)
