"""One thread per PKCS#11 module: every call into the module happens on it.

python-pkcs11 initialises modules with ``C_Initialize(NULL)``: no locking callbacks, which
tells the module the application will not call it from several threads at once.  Two threads
driving two sessions of SoftHSM then crash the process.  So each module gets a dedicated
thread that loads it, lists slots, opens sessions, logs in and signs; the event loop hands it
a job through a queue and awaits an asyncio future the thread resolves with
``loop.call_soon_threadsafe``.  The default executor is never used for module calls.

Workers are shared per module path (:func:`acquire_worker` / :meth:`ModuleWorker.release`):
two stores over the same module must not mean two threads in it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pkcs11

from tanba.protocol.errors import StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: A job: fn(lib, *args) run on the worker thread, its outcome delivered to a future.
_Job = tuple[Callable[..., Any], tuple[Any, ...], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]

_shared: dict[Path, ModuleWorker] = {}
_shared_lock = threading.Lock()


def acquire_worker(path: Path) -> ModuleWorker:
    """The worker of module ``path``, shared by everyone using that module."""
    key = Path(path).resolve()  # one worker per file, however it is reached
    with _shared_lock:
        worker = _shared.get(key)
        if worker is None or worker.closed:
            worker = ModuleWorker(key)
            _shared[key] = worker
        worker._refs += 1
        return worker


class ModuleWorker:
    """A thread owning one loaded PKCS#11 module.

    Jobs are ``fn(lib, *args)``: ``lib`` is the loaded :class:`pkcs11.lib`, valid only
    inside jobs.  The module is loaded on the first job; a module that fails to load raises
    :class:`StoreError` naming the path (and is tried again on the next job).

    Build one directly only where nothing else may load the same module (benchmarks);
    stores go through :func:`acquire_worker`.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.closed = False
        #: Bumped each time the module is re-initialised: sessions from an older
        #: generation are dead and must not be used (their handles may be reused).
        self.generation = 0
        #: State kept by jobs between calls (touched on the worker thread only).
        self.state: dict[str, Any] = {}
        self._refs = 0
        self._stale = False
        self._lib: Any = None
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._main, name=f"pkcs11:{self.path.name}", daemon=True
        )
        self._thread.start()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(lib, *args)`` on the worker thread and return its result."""
        if self.closed:
            raise StoreError(f"PKCS#11 module {self.path} is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, args, loop, future))
        return await future

    def mark_stale(self) -> None:
        """Re-initialise the module before the next job (after a token went away).

        Some modules (SoftHSM among them) keep answering with stale state after a token
        vanished until they are finalised; a fresh ``C_Initialize`` forgets it.  Every
        session of this module is lost then, which :attr:`generation` tells their owners.
        """
        self._stale = True

    def release(self) -> None:
        """Drop one :func:`acquire_worker` reference; the last one closes the worker."""
        with _shared_lock:
            self._refs -= 1
            if self._refs > 0:
                return
            if _shared.get(self.path) is self:
                del _shared[self.path]
        self.close()

    def close(self) -> None:
        """Finalise the module and stop the thread (waits for the job in progress)."""
        if self.closed:
            return
        self.closed = True
        self._queue.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join()

    # -- worker thread ------------------------------------------------------------

    def _main(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                break
            fn, args, loop, future = job
            try:
                result = fn(self._load(), *args)
            except BaseException as exc:  # delivered to the awaiting coroutine
                self._deliver(loop, future, None, exc)
            else:
                self._deliver(loop, future, result, None)
        self._finalize()

    def _load(self) -> Any:
        if self._lib is not None and self._stale:
            self._stale = False
            self.generation += 1
            log.info("re-initialising PKCS#11 module %s", self.path)
            try:
                self._lib.reinitialize()
            except pkcs11.PKCS11Error as exc:
                self._lib = None
                raise StoreError(f"cannot re-initialise PKCS#11 module {self.path}") from exc
        if self._lib is None:
            try:
                self._lib = pkcs11.lib(str(self.path))
            except (pkcs11.PKCS11Error, OSError) as exc:
                raise StoreError(f"cannot load PKCS#11 module {self.path}: {exc}") from exc
            self._stale = False
        return self._lib

    def _finalize(self) -> None:
        if self._lib is None:
            return
        try:
            self._lib.finalize()
        except pkcs11.PKCS11Error:
            log.warning("C_Finalize failed for %s", self.path, exc_info=True)
        self._lib = None

    @staticmethod
    def _deliver(
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
        result: Any,
        exc: BaseException | None,
    ) -> None:
        def settle() -> None:
            if future.done():  # the awaiting task was cancelled
                return
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(result)

        try:
            loop.call_soon_threadsafe(settle)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            log.debug("PKCS#11 result dropped: event loop closed")
