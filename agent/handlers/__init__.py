"""One module per method, and the one place where the request path is imported lazily.

:func:`table` maps every ``/v1`` method to the module that handles it, and
:data:`NCALAYER_MODULES` every NCALayer module name to its handler module; a module is
imported the first time a request needs it.  Below this boundary — handlers, the signing
service, formats, verification — modules import what they use at the top, so the agent
starts without lxml, signxml or pyhanko and the code reads plainly.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from tanba.agent.dispatch import Method
from tanba.protocol import ncalayer

if TYPE_CHECKING:
    from tanba.agent.ncalayer.session import Session

#: ``/v1`` method -> its module under tanba.agent.handlers (which exposes ``method``)
NATIVE_MODULES: dict[str, str] = {
    "agent.hello": "hello",
    "certs.list": "certs_list",
    "sign": "sign",
    "auth": "auth",
    "verify": "verify",
}

#: NCALayer module -> its handler module (which exposes ``handle(session, envelope)``)
NCALAYER_MODULES: dict[str, str] = {
    ncalayer.COMMON_UTILS: "tanba.agent.ncalayer.commonutils",
    ncalayer.BASICS: "tanba.agent.ncalayer.basics",
}

NcaLayerHandler = Callable[["Session", ncalayer.Envelope], Awaitable[dict[str, Any]]]


class MethodTable(Mapping[str, Method[Any, Any]]):
    """The ``/v1`` methods, each imported on its first request."""

    def __init__(self) -> None:
        self._loaded: dict[str, Method[Any, Any]] = {}

    def __getitem__(self, name: str) -> Method[Any, Any]:
        method = self._loaded.get(name)
        if method is None:
            module = importlib.import_module(f"tanba.agent.handlers.{NATIVE_MODULES[name]}")
            method = self._loaded[name] = module.method
        return method

    def __iter__(self) -> Iterator[str]:
        return iter(NATIVE_MODULES)

    def __len__(self) -> int:
        return len(NATIVE_MODULES)


def table() -> MethodTable:
    return MethodTable()


def ncalayer_handler(module_name: str | None) -> NcaLayerHandler | None:
    """The handler of an NCALayer module, or None for a module Tanba does not have."""
    path = NCALAYER_MODULES.get(module_name or "")
    if path is None:
        return None
    handle: NcaLayerHandler = importlib.import_module(path).handle
    return handle
