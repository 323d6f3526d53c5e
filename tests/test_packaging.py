"""The wheel holds the four packages under the tanba namespace and runs from them."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )
    return next(out.glob("tanba-*.whl"))


def test_wheel_contains_the_packages_under_tanba(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (
        "tanba/__init__.py",
        "tanba/protocol/codec.py",
        "tanba/protocol/locales/kk.json",
        "tanba/providers/base.py",
        "tanba/agent/transport/server.py",
        "tanba/agent/formats/__init__.py",
        "tanba/agent/verify/__init__.py",
        "tanba/cli/main.py",
        "tanba/crypto/__init__.py",
        "tanba/agent/ncalayer/session.py",
        "tanba/agent/demo/static/index.html",
        "tanba/agent/demo/static/tanba.js",  # the JS client, copied in (a link in the tree)
    ):
        assert path in names, path
    assert not any(n.startswith(("protocol/", "agent/", "cli/", "providers/", "crypto/", "tests/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "tanba = tanba.cli.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_runs_without_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    deps = sysconfig.get_paths()["purelib"]
    code = "import tanba.protocol.i18n as i, tanba.cli.main as m; print(i.__file__); print(i.text('error.busy', 'kk'))"
    # -S: no site, so the editable install's finder is not loaded; only the wheel's copy can answer.
    out = subprocess.run([sys.executable, "-S", "-c", code], env={"PYTHONPATH": f"{target}:{deps}"},
                         capture_output=True, text=True, check=True, cwd=tmp_path).stdout.splitlines()
    assert out[0].startswith(str(target))
    assert out[1] == "Tanba басқа сұраумен айналысып жатыр. Сәлден кейін қайталап көріңіз."
