"""A private X server (Xvfb) for the Tk dialog tests, and the tools a user's hands stand in for.

``xvfb`` starts ``Xvfb`` on a display number it picks itself (``-displayfd``), so parallel
runs never collide; tests talk to it with xdotool (keys, clicks, window search) and
ImageMagick (``import`` screenshots, statistics).  Nothing here is faked: the dialogs are
real Tk windows on a real (virtual) X server.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Display:
    name: str  # ":N"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.name}

    def run(self, *cmd: str, timeout: float = 20) -> str:
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, f"{cmd}: {proc.returncode} {proc.stderr}"
        return proc.stdout

    def window(self, title_regex: str, timeout: float = 15) -> str:
        """The id of the visible window whose title matches, waiting for it to appear."""
        deadline = time.monotonic() + timeout
        while True:
            proc = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title_regex],
                                  env=self.env, capture_output=True, text=True, timeout=10)
            ids = proc.stdout.split()
            if ids:
                return ids[-1]
            assert time.monotonic() < deadline, f"no window titled {title_regex!r} appeared"
            time.sleep(0.1)

    def gone(self, title_regex: str, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title_regex],
                                  env=self.env, capture_output=True, text=True, timeout=10)
            if not proc.stdout.split():
                return True
            time.sleep(0.1)
        return False

    def key(self, *keys: str) -> None:
        self.run("xdotool", "key", "--delay", "60", *keys)

    def type(self, text: str) -> None:
        self.run("xdotool", "type", "--delay", "40", text)

    def screenshot(self, window_id: str, path: Path) -> Path:
        self.run("import", "-window", window_id, str(path))
        return path


def image_size(path: Path) -> tuple[int, int]:
    out = subprocess.run(["identify", "-format", "%w %h", str(path)], capture_output=True, text=True,
                         timeout=20, check=True).stdout.split()
    return int(out[0]), int(out[1])


def image_stddev(path: Path, crop: str | None = None) -> float:
    """Standard deviation of the grey levels (0 for a uniform image, ~0.1+ for text on a page)."""
    cmd = ["convert", str(path)]
    if crop:
        cmd += ["-crop", crop, "+repage"]
    cmd += ["-colorspace", "Gray", "-format", "%[fx:standard_deviation]", "info:"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=True).stdout
    return float(out)


def image_has_red(path: Path) -> bool:
    """Does the image contain the dialogs' warning red (#b00020) anywhere?"""
    out = subprocess.run(
        ["convert", str(path), "-fuzz", "12%", "-fill", "white", "+opaque", "#b00020", "-fill", "black",
         "-opaque", "#b00020",
         "-colorspace", "Gray", "-format", "%[fx:mean]", "info:"],
        capture_output=True, text=True, timeout=20, check=True).stdout
    return float(out) < 0.999


@pytest.fixture(scope="session")
def xvfb() -> Iterator[Display]:
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x900x24", "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        number = b""
        deadline = time.monotonic() + 20
        while not number.endswith(b"\n"):
            ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, "Xvfb did not report its display number"
            chunk = os.read(read_fd, 16)
            assert chunk, "Xvfb exited before it started"
            number += chunk
        yield Display(f":{int(number)}")
    finally:
        os.close(read_fd)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
