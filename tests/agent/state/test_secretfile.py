"""One meaning of a PIN file for every command: its first line, without the line ending."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanba.agent.state.secretfile import read_secret_file


@pytest.mark.parametrize("content", [b"123456", b"123456\n", b"123456\r\n", b"123456\nsecond line\n"])
def test_the_secret_is_the_first_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "pin"
    path.write_bytes(content)
    assert read_secret_file(path) == bytearray(b"123456")


def test_a_password_keeps_its_spaces_and_non_ascii(tmp_path: Path) -> None:
    path = tmp_path / "pin"
    path.write_bytes(" пароль 1 \n".encode())
    assert read_secret_file(path) == bytearray(" пароль 1 ".encode())
