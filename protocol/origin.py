"""Web origins and loopback Host names, as plain strings (RFC 6454 serialisation).

An origin is ``scheme://host[:port]`` with the scheme http or https, the host lower-case
and the default port left out, so ``https://Portal.test:443`` and ``https://portal.test``
are the same site and ``http://portal.test`` is a different one.  ``null`` (sandboxed
frames, file pages) and anything with a path, user info or query is not an origin.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_HOST: Final = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$")
_LOOPBACK_NAMES: Final = frozenset({"127.0.0.1", "localhost", "[::1]"})


def _split_host_port(authority: str) -> tuple[str, int | None] | None:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return None
        host, rest = authority[: end + 1], authority[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else None
    else:
        host, sep, port_text_or_empty = authority.partition(":")
        port_text = port_text_or_empty if sep else None
    if not _HOST.match(host):
        return None
    if port_text is None:
        return host.lower(), None
    if not port_text.isdigit() or len(port_text) > 5 or not 0 < int(port_text) < 65536:
        return None
    return host.lower(), int(port_text)


def normalize_origin(value: str | None) -> str | None:
    """The canonical form of an origin, or None if ``value`` is not a usable web origin."""
    if not value or len(value) > 2048:
        return None
    scheme, sep, authority = value.strip().partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS:
        return None
    if authority.endswith("/"):
        authority = authority[:-1]
    if any(ch in authority for ch in "/?#@\\ "):
        return None
    parsed = _split_host_port(authority)
    if parsed is None:
        return None
    host, port = parsed
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def is_loopback_host(host_header: str | None, port: int) -> bool:
    """True if a Host header names this agent: a loopback name and exactly our port.

    DNS rebinding sends ``Host: rebind.example:PORT`` to 127.0.0.1; refusing every Host but
    the loopback literals and ``localhost`` stops it.
    """
    if not host_header:
        return False
    parsed = _split_host_port(host_header.strip())
    if parsed is None:
        return False
    host, host_port = parsed
    if host_port != port:
        return False
    if host in _LOOPBACK_NAMES:
        return True
    if host.startswith("["):
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
