"""Tanba: a local signing agent.

The code lives in four packages kept at the top of the repository and mapped under this
namespace when installed: :mod:`tanba.protocol` (the wire, pure), :mod:`tanba.providers`
(where keys live), :mod:`tanba.agent` (the daemon) and :mod:`tanba.cli` (commands).

``tanba.__version__`` is read from the installed metadata on first use only:
importlib.metadata costs tens of milliseconds that `tanba --help` should not pay.
"""

from __future__ import annotations

from functools import cache


@cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tanba")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return _version()
    raise AttributeError(f"module 'tanba' has no attribute {name!r}")


__all__ = ["__version__"]
