"""Tanba: a local signing agent.

The code lives in four packages kept at the top of the repository and mapped under this
namespace when installed: :mod:`tanba.protocol` (the wire, pure), :mod:`tanba.providers`
(where keys live), :mod:`tanba.agent` (the daemon) and :mod:`tanba.cli` (commands).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tanba")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
