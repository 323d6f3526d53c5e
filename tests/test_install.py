"""`python -m build` makes a wheel and an sdist; the wheel installs into a fresh venv (its
dependencies from the package index, as pipx would fetch them) and `tanba` runs from it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".venv", ".mypy_cache",
                              ".pytest_cache", ".hypothesis", "node_modules", ".state", ".softhsm", ".cache", "*.so")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist, then the wheel built from that sdist (so the sdist is proven complete)."""
    base = tmp_path_factory.mktemp("build")
    src = base / "src"
    shutil.copytree(REPO, src, ignore=SKIP)  # a copy: building writes build/ and egg-info beside the sources
    out = base / "dist"
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def test_build_makes_a_wheel_and_an_sdist_with_everything(dist: Path) -> None:
    # with a C compiler (CI has one) the wheel carries the optional GOST speedups, so it is
    # a platform wheel; their C sources go into the sdist only
    [wheel] = dist.glob("tanba-*-cp3*-*.whl") if shutil.which("cc") else dist.glob("tanba-*-py3-none-any.whl")
    [sdist] = dist.glob("tanba-*.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    if shutil.which("cc"):
        for module in ("_speedups", "_ecspeed"):
            assert any(n.startswith(f"tanba/crypto/{module}.") and n.endswith(".so") for n in names), module
    assert not any(n.endswith(".c") for n in names)
    for path in ("tanba/cli/service.py", "tanba/cli/doctor.py", "tanba/agent/setup/lifecycle.py", "tanba/agent/setup/logs.py",
                 "tanba/agent/setup/doctor.py", "tanba/agent/setup/autostart/systemd.py", "tanba/agent/setup/autostart/manager.py",
                 "tanba/protocol/locales/ru.json"):
        assert path in names, path
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    assert {"pyproject.toml", "README.md", "agent/setup/autostart/launchd.py", "protocol/locales/kk.json",
            "setup.py", "crypto/_speedups.c", "crypto/_ecspeed.c"} <= members
    assert not any(m.endswith(".so") for m in members)


def test_wheel_installs_into_a_fresh_venv_and_runs(dist: Path, tmp_path: Path) -> None:
    [wheel] = dist.glob("tanba-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                          str(wheel)], capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-3000:]
    tanba = venv / "bin" / "tanba"
    version = subprocess.run([str(tanba), "--version"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == "tanba, version 0.1.0", version.stdout + version.stderr
    # The installed copy (not this checkout) answers, with its locales and the service files.
    code = ("import tanba.agent.setup.autostart.systemd as s, tanba.protocol.i18n as i; "
            "print(s.__file__); print(i.text('error.busy', 'ru')[:5])")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    where, text = out.stdout.splitlines()
    assert where.startswith(str(venv)) and text == "Tanba"
    help_ = subprocess.run([str(tanba), "--help"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert "serve" in help_.stdout
