"""ModuleWorker: every module call on one dedicated thread, shared per module path."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pkcs11
import pytest

from tanba.protocol.errors import StoreError
from tanba.providers.pkcs11_worker import ModuleWorker, acquire_worker

pytestmark = pytest.mark.softhsm


def where(lib: Any) -> tuple[int, str]:
    return threading.get_ident(), threading.current_thread().name


async def test_every_call_runs_on_the_module_thread(softhsm: Any) -> None:
    worker = acquire_worker(Path(softhsm.module))
    try:
        seen = {await worker.run(where) for _ in range(3)}
        seen |= set(await asyncio.gather(*(worker.run(where) for _ in range(5))))
        labels = await worker.run(
            lambda lib: [s.get_token().label for s in lib.get_slots(token_present=True)]
        )
    finally:
        worker.release()
    (ident, name), = seen  # one thread for every call
    assert ident != threading.get_ident()  # never the event loop's thread
    assert name == "pkcs11:libsofthsm2.so"  # a dedicated thread, not the default executor
    assert softhsm.label in labels


async def test_errors_reach_the_caller_and_the_worker_goes_on(softhsm: Any) -> None:
    worker = acquire_worker(Path(softhsm.module))

    def fail(lib: Any) -> None:
        raise pkcs11.exceptions.PinIncorrect()

    try:
        with pytest.raises(pkcs11.exceptions.PinIncorrect):
            await worker.run(fail)
        assert await worker.run(lambda lib, x: x + 1, 41) == 42
    finally:
        worker.release()


async def test_shared_per_path_and_finalised_by_the_last_release(softhsm: Any) -> None:
    first = acquire_worker(Path(softhsm.module))
    second = acquire_worker(Path(softhsm.module))
    assert first is second
    lib = await first.run(lambda lib: lib)
    assert lib.initialized
    first.release()
    assert not second.closed and lib.initialized  # still in use
    second.release()
    assert second.closed and not lib.initialized  # C_Finalize ran, thread joined
    with pytest.raises(StoreError):
        await second.run(where)
    third = acquire_worker(Path(softhsm.module))
    try:
        assert third is not second
        assert await third.run(lambda lib: lib.initialized)
    finally:
        third.release()


async def test_module_that_fails_to_load(tmp_path: Path) -> None:
    worker = ModuleWorker(tmp_path / "missing.so")
    try:
        with pytest.raises(StoreError, match="missing.so"):
            await worker.run(where)
    finally:
        worker.close()
