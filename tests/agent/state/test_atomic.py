from __future__ import annotations

import os
from pathlib import Path

import pytest

from tanba.agent.state import atomic


def test_writes_private_file_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "d" / "state.json"
    atomic.write_private(path, b"one")
    atomic.write_private(path, b"two")
    assert path.read_bytes() == b"two"
    assert path.stat().st_mode & 0o777 == 0o600
    assert os.listdir(path.parent) == ["state.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.json"
    atomic.write_private(path, b"old")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        atomic.write_private(path, b"new")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["state.json"]
