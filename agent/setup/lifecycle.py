"""Running the agent: start, signals, graceful shutdown, reload.

Shutdown (SIGTERM, SIGINT, or :meth:`Agent.request_stop`), in order:

1. the listening sockets close: new connections are refused;
2. requests arriving on open connections get ``busy`` ("the agent is stopping");
3. open dialogs are closed at once, by cancelling the requests waiting on them;
4. requests already past their dialogs (signing) get ``stop_timeout`` seconds to finish
   and send their complete result; what is still running then is cancelled and answered
   with ``busy`` — a batch is answered whole or not at all, never in part;
5. connections close (1001 going away), key stores close (tokens logged out, PKCS#11
   modules finalised) and :meth:`Agent.run` returns.  A second signal skips the wait.

State files are only ever replaced atomically (:mod:`tanba.agent.state.atomic`), so stopping at
any point leaves the old or the new version of each.

Reload (SIGHUP): the config file is read again and the command-line flags laid on top,
as at start.  What changes live, for the requests that start after the reload:
``allow-origin``, ``p12``, ``pkcs11``, ``autodetect`` (the key stores are rebuilt; the
old ones close once the requests using them end), ``tsa-url``, ``trust-anchor``,
``locale`` and every ``[limits]`` value but ``max-message``.  What needs a restart, and is
kept as it was with a warning in the log: ``host``, ``port``, ``ipv6``, ``tls``,
``approver``, ``pin-file`` and ``limits.max-message`` (the listening sockets and the
approver's loud start-up warning belong to the start).  A file that does not load or
does not validate changes nothing; the log says why.

Under systemd (``Type=notify``) the agent reports READY, RELOADING and STOPPING.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tanba.agent.setup import logs
from tanba.agent.setup.config import ConfigError, Settings, build_settings, load_file
from tanba.agent.state import paths
from tanba.agent.transport import memory
from tanba.agent.consent.base import ConsentUI, WrappedConsent
from tanba.agent.transport.tracker import Tracker

if TYPE_CHECKING:  # the real imports happen in Agent.start (start-up speed)
    from tanba.agent.transport.server import AgentServer
    from tanba.agent.services import Services
    from tanba.agent.access.unlock import UnlockWindow
    from tanba.providers.registry import Stores

log = logging.getLogger(__name__)
T = TypeVar("T")

#: seconds in-flight requests get to finish when the agent is asked to stop
DEFAULT_STOP_TIMEOUT = 10.0
#: settings that only a restart changes (the listening sockets, the approver)
RESTART_ONLY = ("host", "port", "ipv6", "tls", "approver", "pin_file")
STORE_FIELDS = ("p12", "pkcs11", "autodetect", "bign_pkcs11")


class StartError(Exception):
    """The agent cannot start; the message says why and what to do."""


def load_settings(config_path: Path | None, flags: Mapping[str, Any]) -> Settings:
    """The settings `tanba serve` runs with: the config file, the flags on top.

    ``config_path`` None means the default file, which may be absent; a given file must
    exist.  Raises :class:`ConfigError`.
    """
    if config_path is not None and not config_path.exists():
        raise ConfigError(f"{config_path}: no such file")
    return build_settings(load_file(config_path or paths.config_file()), flags)


# -- dialogs in flight -------------------------------------------------------------


class TrackedConsent(WrappedConsent):
    """Forwards to the real consent UI, noting who waits on a dialog (so that shutdown
    can close it)."""

    def __init__(self, inner: ConsentUI, tracker: Tracker) -> None:
        super().__init__(inner)
        self._tracker = tracker

    async def _asked(self, question: Awaitable[T]) -> T:
        with self._tracker.dialog():
            return await question


# -- systemd --------------------------------------------------------------------------


def sd_notify(state: str) -> bool:
    """Tell systemd (``Type=notify``) about a state change; False when not under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address or not hasattr(socket, "AF_UNIX"):
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(state.encode(), address)
    except OSError as exc:
        log.debug("sd_notify %s failed: %s", state, exc)
        return False
    return True


def _register_pin_file(settings: Settings) -> None:
    """Make the auto approver's PIN unloggable (logs.register_secret keeps only a hash)."""
    if settings.pin_file is None:
        return
    try:
        pin = bytearray(settings.pin_file.read_bytes())
    except OSError:
        return  # the approver reports it when it needs the PIN
    try:
        while pin and pin[-1] in b"\r\n":
            pin.pop()
        logs.register_secret(pin)
    finally:
        for i in range(len(pin)):
            pin[i] = 0


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """wss with the certificate of `tanba tls install`: when installed (tls unset), or
    required (tls = true)."""
    if settings.tls is False:
        return None
    from tanba.agent.setup import tls

    try:
        context = tls.server_ssl_context()
    except tls.TlsError as exc:
        raise StartError(str(exc)) from exc
    if context is None and settings.tls:
        raise StartError("tls is on but no local certificate is installed: run `tanba tls install` (or --no-tls)")
    return context


# -- the agent ------------------------------------------------------------------------


class Agent:
    """One running agent: its server, its stores, its settings; stops and reloads."""

    def __init__(
        self,
        settings: Settings,
        *,
        version: str,
        config_path: Path | None = None,
        flags: Mapping[str, Any] | None = None,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
        make_consent: Callable[[Settings], ConsentUI] | None = None,
    ) -> None:
        self.settings = settings
        self.version = version
        self.config_path = config_path
        self.flags = dict(flags or {})
        self.stop_timeout = stop_timeout
        self.tracker = Tracker()
        self.server: AgentServer | None = None
        self._make_consent = make_consent
        self._stop = asyncio.Event()
        self._hurry = asyncio.Event()
        self._retired: list[tuple[Stores | None, UnlockWindow | None, set[asyncio.Task[Any]]]] = []
        #: reloads asked by SIGHUP and still running (a stop waits for them)
        self._reloads: set[asyncio.Task[bool]] = set()

    # -- start ------------------------------------------------------------------------

    def _consent(self, settings: Settings) -> ConsentUI:
        if self._make_consent is not None:
            inner = self._make_consent(settings)
        else:
            from tanba.agent.consent import make_consent

            inner = make_consent(settings)
        return TrackedConsent(inner, self.tracker)

    @staticmethod
    async def _stores(settings: Settings) -> Stores:
        from tanba.providers.registry import Stores, build_stores

        return Stores(await build_stores(settings.p12, settings.pkcs11, settings.autodetect,
                                          bign=settings.bign_pkcs11))

    async def start(self) -> AgentServer:
        """Build the services and listen.  Raises :class:`StartError`."""
        from tanba.agent.state.client_token import load_or_create
        from tanba.agent.state.approvals import OriginStore
        from tanba.agent.transport.server import AgentServer, AgentStartError
        from tanba.agent.services import Services

        settings = self.settings
        _register_pin_file(settings)
        memory.configure()
        try:
            stores = await self._stores(settings)
        except ValueError as exc:
            raise StartError(str(exc)) from exc
        from tanba.agent.state.audit import AuditLog, default_path

        services = Services(
            settings=settings,
            consent=self._consent(settings),
            origins=OriginStore(paths.origins_file()),
            client_token=load_or_create(paths.token_file()),
            version=self.version,
            stores=stores,
            audit=AuditLog(default_path()),
        )
        try:
            ssl_context = _ssl_context(settings)
        except StartError:
            await stores.close()
            raise
        server = AgentServer(services, self.tracker, ssl_context)
        try:
            await server.start()
        except AgentStartError as exc:
            await stores.close()
            raise StartError(str(exc)) from exc
        self.server = server
        return server

    @property
    def services(self) -> Services:
        assert self.server is not None
        return self.server.services

    # -- signals ----------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGTERM, self.request_stop, "SIGTERM")
            loop.add_signal_handler(signal.SIGINT, self.request_stop, "SIGINT")
            if hasattr(signal, "SIGHUP"):
                loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        except NotImplementedError:  # Windows: Ctrl+C arrives as KeyboardInterrupt
            log.debug("no asyncio signal handlers on this platform")

    def request_stop(self, why: str = "asked") -> None:
        if self._stop.is_set():
            log.warning("%s again: stopping without waiting for requests", why)
            self._hurry.set()
            return
        log.info("%s: stopping", why)
        self._stop.set()

    def request_reload(self) -> None:
        if self._stop.is_set():
            log.info("SIGHUP while stopping: not reloading")
            return
        task = asyncio.get_running_loop().create_task(self.reload())
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    # -- reload -----------------------------------------------------------------------

    async def reload(self) -> bool:
        """Read the config again; True when the new settings are in force.  An agent that
        is stopping (or stopped) does not reload: the stop owns the services it closes."""
        if self._stop.is_set() or self.server is None:
            log.info("not reloading: the agent is stopping")
            return False
        sd_notify(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")
        try:
            return await self._reload()
        finally:
            sd_notify("READY=1")

    async def _reload(self) -> bool:
        from tanba.agent.services import Services

        old = self.services
        try:
            new = load_settings(self.config_path, self.flags)
        except ConfigError as exc:
            log.error("config reload failed, keeping the running settings: %s", exc)
            return False
        kept = [name for name in RESTART_ONLY if getattr(new, name) != getattr(old.settings, name)]
        limits = new.limits
        if limits.max_message != old.settings.limits.max_message:
            kept.append("limits.max_message")
            limits = dataclasses.replace(limits, max_message=old.settings.limits.max_message)
        try:
            new = dataclasses.replace(
                new, limits=limits, **{name: getattr(old.settings, name) for name in RESTART_ONLY}
            )
        except ConfigError as exc:  # pragma: no cover - old values passed validation before
            log.error("config reload failed, keeping the running settings: %s", exc)
            return False
        if kept:
            log.warning("config reload: %s changed but take effect only after a restart",
                        ", ".join(k.replace("_", "-") for k in kept))
        stores = old.stores
        if any(getattr(new, f) != getattr(old.settings, f) for f in STORE_FIELDS):
            try:
                stores = await self._stores(new)
            except ValueError as exc:
                log.error("config reload failed, keeping the running settings: %s", exc)
                return False
            if self._stop.is_set() or self.server is None:  # a stop began while the stores opened
                await stores.close()
                log.info("not reloading: the agent is stopping")
                return False
        consent = old.consent
        if new.allow_origin != old.settings.allow_origin and new.approver == "auto":
            consent = self._consent(new)
        # Keys kept open by the unlock window belong to the old stores: a new store set or
        # a new window length starts a new window (the old one closes with the old stores).
        window = old.unlock_window
        if stores is not old.stores or new.unlock_window != old.settings.unlock_window:
            window = None
        _register_pin_file(new)
        assert self.server is not None
        self.server.services = Services(
            settings=new, consent=consent, origins=old.origins, client_token=old.client_token,
            version=old.version, prompts=old.prompts, stores=stores, unlock_window=window, audit=old.audit,
            http=old.http,
        )
        if window is None:
            # Requests started before the reload keep what they found.
            retired = old.stores if stores is not old.stores else None
            self._retired.append((retired, old.unlock_window, set(self.tracker.requests)))
            asyncio.get_running_loop().create_task(self._close_retired())
        changed = [f.name for f in dataclasses.fields(Settings) if getattr(new, f.name) != getattr(old.settings, f.name)]
        log.info("config reloaded; changed: %s", ", ".join(c.replace("_", "-") for c in changed) or "nothing")
        return True

    async def _close_retired(self) -> None:
        while self._retired:
            stores, window, users = self._retired.pop()
            pending = [t for t in users if not t.done()]
            if pending:
                await asyncio.wait(pending)
            if window is not None:
                await window.close_all()
            if stores is not None:
                await stores.close()

    # -- run and stop -----------------------------------------------------------------

    async def run(self, on_ready: Callable[[AgentServer], None] | None = None) -> None:
        """Start, serve until asked to stop, then stop gracefully."""
        server = await self.start()
        self.install_signal_handlers()
        if on_ready is not None:
            on_ready(server)
        sd_notify("READY=1")
        await self._stop.wait()
        await self.shutdown()

    async def shutdown(self) -> None:
        server = self.server
        if server is None:
            return
        self._stop.set()  # also when called directly: no reload starts from here on
        sd_notify("STOPPING=1")
        if self._reloads:  # one that began before the stop finishes (or gives up) first
            await asyncio.gather(*self._reloads, return_exceptions=True)
        tracker = self.tracker
        tracker.draining = True
        server.stop_listening()  # open connections stay for now
        if tracker.dialogs:
            log.info("closing %d open dialog(s)", len(tracker.dialogs))
            tracker.stop(list(tracker.dialogs))
        pending = [t for t in tracker.requests if not t.done()]
        if pending:
            log.info("waiting up to %.0f s for %d request(s) in flight", self.stop_timeout, len(pending))
            await self._wait_requests(pending)
        await server.close()
        services = self.services
        if services.unlock_window is not None:
            await services.unlock_window.close_all()
        await services.stores.close()
        await services.http.aclose()
        await self._close_retired()
        if services.audit is not None:
            await asyncio.to_thread(services.audit.close)  # the last lines reach the disk
        self.server = None
        log.info("stopped")

    async def _wait_requests(self, pending: list[asyncio.Task[Any]]) -> None:
        loop = asyncio.get_running_loop()
        hurry = asyncio.ensure_future(self._hurry.wait())
        deadline = loop.time() + self.stop_timeout
        while True:
            left = [t for t in pending if not t.done()]
            if not left or hurry.done() or loop.time() >= deadline:
                break
            await asyncio.wait([*left, hurry], timeout=deadline - loop.time(), return_when=asyncio.FIRST_COMPLETED)
        hurry.cancel()
        left = [t for t in pending if not t.done()]
        if left:
            log.warning("cancelling %d request(s) still running", len(left))
            self.tracker.stop(left)
            await asyncio.wait(left, timeout=5.0)
