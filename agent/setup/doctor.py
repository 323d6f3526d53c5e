"""`tanba doctor`: check the set-up and say, for each problem, how to fix it.

Each check gives one :class:`Check`: ``ok``, ``problem`` (something a user will trip on:
the exit code is non-zero) or ``info`` (worth knowing, not wrong).  Everything the checks
look at comes from a :class:`DoctorEnv`, so tests point them at their own files and ports.
Doctor only reads: it never moves a corrupt file aside, creates a token or an NSS database.

Before the local client token is sent to whatever listens on the agent's port, the
listening socket's owner is read from ``/proc/net/tcp`` (Linux): a program of another user
on that port gets no token.  When the listener is this user's `tanba serve` or `tanba
demo`, doctor first learns what it serves (:mod:`tanba.agent.setup.doctor_agent`): the
keys checked are the ones it offers, its own client token is used, and its modules are
loaded as it loads them; the config file is checked too, but does not contradict it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from tanba.agent.setup.config import ConfigError, Settings, build_settings, load_file
from tanba.agent.setup.doctor_agent import Served, pid_of_socket, read_served
from tanba.agent.state import paths

Status = Literal["ok", "problem", "info"]
CERTUTIL_TIMEOUT: Final = 20.0
START_HINT: Final = "start it: `tanba service install` (starts with your session) or `tanba serve`"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    message: str
    fix: str = ""


@dataclass
class DoctorEnv:
    config_file: Path
    token_file: Path
    origins_file: Path
    home: Path
    config_required: bool = False
    port: int | None = None  # None: the config's
    tls_files: Any = None  # tanba.agent.setup.tls.TlsFiles; None: the default
    certutil: str | None = field(default_factory=lambda: shutil.which("certutil"))
    #: (storage, module) to load; None: the config's plus the detected ones
    modules: Sequence[tuple[str, Path]] | None = None
    timeout: float = 3.0

    @classmethod
    def default(cls, config_path: Path | None = None, port: int | None = None) -> DoctorEnv:
        return cls(
            config_file=config_path or paths.config_file(),
            config_required=config_path is not None,
            token_file=paths.token_file(),
            origins_file=paths.origins_file(),
            home=Path.home(),
            port=port,
        )


# -- config --------------------------------------------------------------------------


def check_config(env: DoctorEnv) -> tuple[Check, Settings]:
    path = env.config_file
    try:
        if env.config_required and not path.exists():
            raise ConfigError(f"{path}: no such file")
        settings = build_settings(load_file(path), {})
    except ConfigError as exc:
        return Check("config", "problem", str(exc), f"correct {path}; every key is described in the README"), Settings()
    if not path.exists():
        return Check("config", "ok", f"no config file ({path}): defaults in use"), settings
    return Check("config", "ok", f"{path} is valid"), settings


# -- the running agent ---------------------------------------------------------------


def _proc_listeners(port: int) -> list[tuple[int, int]]:
    """(uid, inode) of the sockets listening on ``port`` (Linux; empty elsewhere)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != "0A":  # 0A: LISTEN
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.append((int(fields[7]), int(fields[9])))
    return found


def _process_of(inode: int) -> str | None:
    """``name (pid N)`` of this user's process holding socket ``inode``."""
    pid = pid_of_socket(inode)
    if pid is None:
        return None
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
    return f"{name} (pid {pid})"


async def _hello(host: str, port: int, token: str, tls: bool, timeout: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    context = None
    if tls:
        # Only the agent's liveness is checked here; the certificate has its own check.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    url = f"{'wss' if tls else 'ws'}://{host}:{port}/v1"
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, ssl=context,
                       open_timeout=timeout, proxy=None) as ws:
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "agent.hello"}))
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        return reply


def find_served(env: DoctorEnv, settings: Settings) -> Served | None:
    """The `tanba serve` / `tanba demo` of this user that listens on the agent's port."""
    port = env.port if env.port is not None else settings.port
    for uid, inode in _proc_listeners(port):
        if uid != os.getuid():
            continue
        pid = pid_of_socket(inode)
        served = read_served(pid) if pid is not None else None
        if served is not None:
            return served
    return None


def _running(served: Served | None) -> str:
    if served is None:
        return ""
    return f" (`tanba {served.command}`, pid {served.pid})"


def _refused(env: DoctorEnv, served: Served | None, shown: str, token_file: Path) -> Check:
    if served is not None and served.is_demo:
        return Check("agent", "info",
                     f"the demo{_running(served)} is running on {shown}; it keeps its own state directory, "
                     "so it is not asked (the checks below are of your own set-up)",
                     "stop the demo (Ctrl-C where it runs) before you start your own agent on this port")
    if served is not None:
        return Check("agent", "problem",
                     f"Tanba{_running(served)} on {shown} refused the client token in {token_file}",
                     "restart it (`tanba service install` or `tanba serve`): it was started with another "
                     "TANBA_STATE_DIR, or its token file was replaced")
    return Check("agent", "problem",
                 f"something on {shown} refused this user's token: another Tanba (other user or state dir)?",
                 f"stop the other one, or check TANBA_STATE_DIR; the token is {env.token_file}")


def _serves(served: Served | None) -> str:
    if served is None or served.settings is None:
        return ""
    settings = served.settings
    files = f"{len(settings.p12)} key file(s)"
    modules = f"{len(settings.pkcs11)} PKCS#11 module(s){' and the detected ones' if settings.autodetect else ''}"
    return f"; it serves {files}, {modules}"


async def check_agent(env: DoctorEnv, settings: Settings, served: Served | None = None) -> Check:
    from websockets.exceptions import InvalidStatus

    host, port = settings.host, env.port if env.port is not None else settings.port
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), env.timeout)
        writer.close()
    except (OSError, TimeoutError):
        return Check("agent", "problem", f"Tanba is not running (nothing listens on {shown})", START_HINT)
    listeners = _proc_listeners(port)
    if listeners and all(uid != os.getuid() for uid, _ in listeners):
        return Check("agent", "problem",
                     f"port {port} is held by a program of another user (uid {listeners[0][0]}): not Tanba of yours",
                     f"set another port (`port = …` in {env.config_file}) or ask an administrator")
    holder = next((p for _, inode in listeners if (p := _process_of(inode))), None)
    taken = Check("agent", "problem", f"port {port} is taken by another program{f': {holder}' if holder else ''}",
                  f"stop that program, or give Tanba another port (`port = …` in {env.config_file})")
    token_file = served.token_file if served is not None and served.token_file is not None else env.token_file
    try:
        token = token_file.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        token = ""
    for tls in (False, True):
        try:
            reply = await _hello(host, port, token, tls, env.timeout)
        except InvalidStatus as exc:
            if exc.response.status_code == 403:
                return _refused(env, served, shown, token_file)
            return taken
        except Exception:  # noqa: BLE001 - any other failure: not Tanba on this scheme
            continue
        result = reply.get("result") if isinstance(reply, dict) else None
        if isinstance(result, dict) and result.get("name") == "tanba":
            scheme = "wss" if tls else "ws"
            return Check("agent", "ok", f"Tanba {result.get('version')} is running on {scheme}://{shown}"
                                        f"{_running(served)}{_serves(served)}")
        return taken
    return taken


@contextmanager
def module_environment(values: Mapping[str, str]) -> Iterator[None]:
    """The running agent's ``SOFTHSM2_CONF`` (…) while its modules are loaded here, so
    doctor sees the tokens the agent sees."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# -- TLS and the browsers --------------------------------------------------------------


def _nss_listing(certutil: str, db: Path) -> dict[str, str]:
    """nickname -> trust flags ("C,," ...) in one NSS database."""
    proc = subprocess.run([certutil, "-L", "-d", f"sql:{db}"], capture_output=True, text=True,
                          timeout=CERTUTIL_TIMEOUT, check=False)
    listing = {}
    for line in proc.stdout.splitlines():
        head, _, flags = line.rstrip().rpartition(" ")
        if head.strip() and flags.count(",") == 2:
            listing[head.strip()] = flags
    return listing


def _nss_pem(certutil: str, db: Path, nickname: str) -> bytes:
    proc = subprocess.run([certutil, "-L", "-d", f"sql:{db}", "-n", nickname, "-a"], capture_output=True,
                          timeout=CERTUTIL_TIMEOUT, check=False)
    return proc.stdout


def _der_of(pem: bytes) -> bytes:
    body = b"".join(line for line in pem.splitlines() if line and not line.startswith(b"-----"))
    return base64.b64decode(body)


def check_tls(env: DoctorEnv) -> list[Check]:
    from tanba.agent.setup import tls

    files = env.tls_files or tls.TlsFiles.default()
    try:
        state = tls.status(files)
    except tls.TlsError as exc:
        return [Check("tls", "problem", str(exc), "run `tanba tls install` again")]
    if state.ca is None or state.server_not_after is None:
        return [Check("tls", "info", "no local TLS certificate: pages connect with ws:// (Safari needs wss://)",
                      "`tanba tls install` makes one and trusts it in your browsers")]
    import datetime as dt

    checks: list[Check] = []
    left = state.server_not_after - dt.datetime.now(dt.UTC)
    if left <= dt.timedelta(0):
        checks.append(Check("tls", "problem", f"the local TLS certificate expired on {state.server_not_after:%Y-%m-%d}",
                            "`tanba tls install` renews it"))
    else:
        checks.append(Check("tls", "ok", f"local TLS certificate valid until {state.server_not_after:%Y-%m-%d}"))
    databases = [db for db in tls.find_nss_databases(env.home) if (db.path / "cert9.db").exists()]
    if not databases:
        checks.append(Check("browsers", "info", f"no browser certificate database found under {env.home}"))
        return checks
    if env.certutil is None:
        checks.append(Check("browsers", "problem", "certutil (NSS tools) is missing: browser trust cannot be checked",
                            "install libnss3-tools (Debian/Ubuntu) or nss-tools (Fedora)"))
        return checks
    ours = _der_of(files.ca.read_bytes())
    nickname = state.ca.nickname
    for db in databases:
        name = f"browser {db.browser} ({db.path})"
        flags = _nss_listing(env.certutil, db.path).get(nickname)
        if flags is None:
            checks.append(Check(name, "problem", "does not trust Tanba's certificate: pages get a TLS error",
                                "close the browser and run `tanba tls install`"))
        elif _der_of(_nss_pem(env.certutil, db.path, nickname)) != ours:
            checks.append(Check(name, "problem", "holds another Tanba certificate under the same name",
                                "close the browser and run `tanba tls install`"))
        elif "C" not in flags.split(",")[0]:
            checks.append(Check(name, "problem", f"has Tanba's certificate but does not trust it for TLS ({flags})",
                                "close the browser and run `tanba tls install`"))
        else:
            checks.append(Check(name, "ok", "trusts Tanba's certificate"))
    return checks


# -- keys ------------------------------------------------------------------------------


def _tokens(lib: Any) -> list[str]:
    """Runs on the module's worker thread: labels of the (initialised) tokens present."""
    from pkcs11 import TokenFlag

    labels = []
    for slot in lib.get_slots(token_present=True):
        try:
            token = slot.get_token()
            if token.flags & TokenFlag.TOKEN_INITIALIZED:  # SoftHSM's spare slot is not a token yet
                labels.append(token.label.strip() or f"slot {slot.slot_id}")
        except Exception as exc:  # noqa: BLE001 - a broken slot is reported, not fatal
            labels.append(f"slot {slot.slot_id}: {type(exc).__name__}")
    return labels


async def check_modules(env: DoctorEnv, settings: Settings) -> tuple[list[Check], int]:
    """One check per PKCS#11 module; and how many tokens are present in all."""
    from tanba.providers import detect
    from tanba.providers.registry import parse_pkcs11_spec, storage_for_module

    modules: list[tuple[str, Path]]
    if env.modules is not None:
        modules = list(env.modules)
    else:
        modules = []
        for spec in settings.pkcs11:
            try:
                name, path = parse_pkcs11_spec(spec)
            except ValueError as exc:
                return [Check("pkcs11", "problem", str(exc), f"correct pkcs11 in {env.config_file}")], 0
            modules.append((name or storage_for_module(path), path))
        if settings.autodetect:
            seen = {p.resolve() for _, p in modules}
            modules += [(d.storage, d.path) for d in detect.for_autodetect(detect.detect()) if d.path.resolve() not in seen]
    if not modules:
        return [Check("pkcs11", "info", "no PKCS#11 module configured or found (no token drivers installed)",
                      "install your token's driver, or add `pkcs11 = [\"NAME=/path/module.so\"]` to the config")], 0
    checks, tokens = [], 0
    for storage, path in modules:
        name = f"pkcs11 {storage} ({path})"
        if not path.is_file():
            checks.append(Check(name, "problem", "module file not found",
                                "install the token's driver, or correct the path in the config"))
            continue
        from tanba.protocol.errors import StoreError
        from tanba.providers.pkcs11_worker import acquire_worker

        worker = acquire_worker(path)
        try:
            labels = await worker.run(_tokens)
        except (StoreError, Exception) as exc:  # noqa: BLE001 - whatever the module raised
            checks.append(Check(name, "problem", f"the module does not load: {exc}",
                                "reinstall the token's driver (a 64-bit one for a 64-bit Python)"))
            continue
        finally:
            worker.release()
        tokens += len(labels)
        if labels:
            checks.append(Check(name, "ok", f"loads; token(s) present: {', '.join(labels)}"))
        else:
            checks.append(Check(name, "info", "loads; no token inserted", "insert the token (or card) to use it"))
    return checks, tokens


def check_p12(settings: Settings) -> list[Check]:
    checks = []
    for path in settings.p12:
        name = f"p12 {path}"
        try:
            with path.open("rb") as handle:
                head = handle.read(4)
        except FileNotFoundError:
            checks.append(Check(name, "problem", "file not found", "correct the path in the config (p12 = [...])"))
            continue
        except OSError as exc:
            checks.append(Check(name, "problem", f"cannot be read: {exc.strerror}",
                                f"make it readable by you: `chmod u+r '{path}'` (and check it is a file)"))
            continue
        if head[:1] != b"\x30":
            checks.append(Check(name, "problem", "is not a PKCS#12 key file (.p12/.pfx)",
                                "point the config at the .p12 file you got from the certification authority"))
            continue
        checks.append(Check(name, "ok", "readable PKCS#12 file (its password is asked when used)"))
    return checks


# -- state files -------------------------------------------------------------------------


def check_origins(env: DoctorEnv, settings: Settings) -> Check:
    allowed = len(settings.allow_origin)
    listed = f"; {allowed} allowed by the config" if allowed else ""
    try:
        raw = env.origins_file.read_bytes()
    except FileNotFoundError:
        return Check("origins", "info" if not allowed else "ok",
                     f"no site approved yet{listed}", "sites are asked the first time they connect")
    except OSError as exc:
        return Check("origins", "problem", f"{env.origins_file} cannot be read: {exc.strerror}",
                     f"fix its permissions: `chmod 600 '{env.origins_file}'`")
    try:
        origins = sorted(json.loads(raw)["origins"])
    except (ValueError, KeyError, TypeError):
        return Check("origins", "problem", f"{env.origins_file} is damaged: approved sites will be asked again",
                     f"delete it (`rm '{env.origins_file}'`) and approve your sites again")
    shown = ", ".join(origins[:5]) + (" …" if len(origins) > 5 else "")
    return Check("origins", "ok", f"{len(origins)} site(s) approved{': ' + shown if origins else ''}{listed}",
                 "revoke with `tanba origins`" if origins else "")


def check_token_file(env: DoctorEnv) -> Check:
    path = env.token_file
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return Check("client token", "info", f"{path} does not exist yet (the agent makes it at start)")
    if mode & 0o077:
        return Check("client token", "problem", f"{path} can be read by other users (mode {mode:o})",
                     f"`chmod 600 '{path}'`")
    return Check("client token", "ok", f"{path} is private")


# -- all of it ------------------------------------------------------------------------------


async def run_checks(env: DoctorEnv) -> list[Check]:
    config, settings = check_config(env)
    served = find_served(env, settings)  # the running agent first: its keys are the ones in use
    checks = [config, await check_agent(env, settings, served)]
    checks += check_tls(env)
    keys = served.settings if served is not None and served.settings is not None else settings
    with module_environment(served.module_env if served is not None else {}):
        module_checks, tokens = await check_modules(env, keys)
    checks += module_checks
    p12 = check_p12(keys)
    checks += p12
    if not tokens and not any(c.status == "ok" for c in p12):
        checks.append(Check("keys", "problem", "no key is available: no token present and no readable .p12 file",
                            "insert your token, or add your key file: `p12 = [\"/path/key.p12\"]` in the config"))
    checks += [check_origins(env, settings), check_token_file(env)]
    return checks


def failed(checks: Sequence[Check]) -> bool:
    return any(c.status == "problem" for c in checks)


def to_json(checks: Sequence[Check]) -> str:
    return json.dumps({"ok": not failed(checks), "checks": [asdict(c) for c in checks]}, indent=2, ensure_ascii=False)


MARKS: Final = {"ok": "[ OK ]", "problem": "[FAIL]", "info": "[info]"}


def render(checks: Sequence[Check], color: bool = False) -> str:
    lines = []
    for check in checks:
        mark = MARKS[check.status]
        if color and sys.platform != "win32":
            mark = {"ok": "\x1b[32m", "problem": "\x1b[31;1m", "info": "\x1b[36m"}[check.status] + mark + "\x1b[0m"
        lines.append(f"{mark} {check.name}: {check.message}")
        if check.fix and check.status != "ok":
            lines.append(f"       fix: {check.fix}")
    problems = sum(c.status == "problem" for c in checks)
    lines.append("All good." if not problems else f"{problems} problem(s) found.")
    return "\n".join(lines)

