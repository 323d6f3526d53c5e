from __future__ import annotations

from pathlib import Path

from tanba.agent.state.client_token import check_bearer, load_or_create


def test_token_is_created_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "state" / "client-token"
    token = load_or_create(path)
    assert len(token) >= 40
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create(path) == token


def test_too_short_token_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "client-token"
    path.write_text("abc")
    assert load_or_create(path) != "abc"


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "client-token"
    path.write_text("x" * 43)
    path.chmod(0o644)
    load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600


def test_bearer_check() -> None:
    token = "s" * 43
    assert check_bearer(f"Bearer {token}", token)
    assert check_bearer(f"bearer  {token} ", token)
    assert not check_bearer(f"Bearer {token}x", token)
    assert not check_bearer(f"Basic {token}", token)
    assert not check_bearer(None, token)
    assert not check_bearer("Bearer", token)
