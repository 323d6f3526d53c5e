"""The secret that local programs (no Origin header) present as ``Authorization: Bearer``.

It lives in a 0600 file in the user's state directory, so only programs running as this
user can read it; `tanba token` prints the path.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from tanba.agent.state.atomic import write_private


def load_or_create(path: Path) -> str:
    try:
        token = path.read_text("ascii").strip()
        if len(token) >= 32:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
            return token
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    token = secrets.token_urlsafe(32)
    write_private(path, token.encode("ascii") + b"\n")
    return token


def check_bearer(authorization: str | None, token: str) -> bool:
    if not authorization:
        return False
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())
