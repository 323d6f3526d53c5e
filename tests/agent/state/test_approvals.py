"""Approved sites persist privately and can be revoked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tanba.agent.state.approvals import OriginStore


def test_approve_persist_revoke(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "origins.json"
    store = OriginStore(path)
    store.approve("https://EGOV.kz")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    again = OriginStore(path)
    assert again.is_approved("https://egov.kz")
    assert not again.is_approved("http://egov.kz")
    assert again.revoke("https://egov.kz:443") is True
    assert again.revoke("https://egov.kz") is False
    assert not OriginStore(path).is_approved("https://egov.kz")


def test_refuses_non_origins(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        OriginStore(tmp_path / "o.json").approve("null")


@pytest.mark.parametrize("content", [b"{not json", b'{"origins": []}', b"[1]", b'{"origins": {"evil": 1}}'])
def test_corrupt_file_is_set_aside_and_admits_nobody(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "origins.json"
    path.write_bytes(content)
    store = OriginStore(path)
    assert store.items() == []
    if content != b'{"origins": {"evil": 1}}':
        assert (tmp_path / "origins.json.corrupt").read_bytes() == content
    store.approve("https://ok.test")
    assert json.loads(path.read_text())["origins"].keys() == {"https://ok.test"}


def test_entries_that_are_not_canonical_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "origins.json"
    path.write_text(json.dumps({"origins": {"https://a.test": 1, "https://A.test/x": 2}}))
    assert [o for o, _ in OriginStore(path).items()] == ["https://a.test"]
