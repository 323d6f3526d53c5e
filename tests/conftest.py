"""Fixtures shared by the whole test suite, and the CI rule.

``pki``      session-scoped :class:`tanba.agent.setup.testpki.Manifest`: the test PKI, built once per
             session in a temp dir by ``softhsm-setup.sh`` (with the SoftHSM token).
``softhsm``  function-scoped :class:`SoftHSM`: a private copy of the token directory, with
             ``SOFTHSM2_CONF`` pointing at it, so a test may lock PINs or delete objects freely.
``softhsm_gost``  the same for the GOST token "tanba-gost" on the GOST build of SoftHSM
             (:class:`SoftHSMGost`, with the directory of its certificates).

CI rule: when the environment variable ``CI`` is set, a skipped test (or a skipped module)
is reported as a failure, so "the token was not there" can never pass silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tanba.agent.setup.testpki import Manifest

if TYPE_CHECKING:
    from support.ocsp_server import RevocationServer

REPO = Path(__file__).resolve().parent.parent
SOFTHSM_MODULE = os.environ.get("TANBA_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so")
TOKEN_LABEL = "tanba-test"
USER_PIN = "1234"
SO_PIN = "12345678"


@dataclass(frozen=True)
class SoftHSM:
    """A private SoftHSM token directory for one test (``SOFTHSM2_CONF`` already points at it)."""

    module: str  # path of the PKCS#11 module, for pkcs11.lib() / --pkcs11
    label: str
    pin: str
    so_pin: str
    conf: Path
    tokendir: Path


def softhsm_conf_text(tokendir: Path) -> str:
    return (f"directories.tokendir = {tokendir}\nobjectstore.backend = file\n"
            "log.level = ERROR\nslots.removable = false\n")


def finalize_softhsm_module(module: str = SOFTHSM_MODULE) -> None:
    """C_Finalize the module if python-pkcs11 has it loaded in this process.

    python-pkcs11 keeps one initialised ``lib`` per module path; SoftHSM reads
    ``SOFTHSM2_CONF`` only in C_Initialize.  Finalising makes the next ``pkcs11.lib(module)``
    initialise again and so see the current test's token copy.  Handles obtained before
    (sessions, objects) become invalid.
    """
    try:
        import pkcs11
    except ImportError:
        return
    loaded = getattr(pkcs11, "_loaded", {})
    lib = loaded.get(module)
    if lib is not None and lib.initialized:
        lib.finalize()


@pytest.fixture(scope="session")
def softhsm_setup_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory ``softhsm-setup.sh`` filled: pki/, tokens/, softhsm2.conf."""
    base = tmp_path_factory.mktemp("softhsm-setup")
    env = {**os.environ, "PYTHON": sys.executable, "TANBA_PKCS11_MODULE": SOFTHSM_MODULE}
    proc = subprocess.run(["bash", str(REPO / "softhsm-setup.sh"), str(base)], env=env,
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.fail(f"softhsm-setup.sh failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return base


@pytest.fixture(scope="session")
def pki(softhsm_setup_dir: Path) -> Manifest:
    """The test PKI (read-only: tests that alter files copy them first)."""
    return Manifest.load(softhsm_setup_dir / "pki")


@pytest.fixture
def softhsm(softhsm_setup_dir: Path, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[SoftHSM]:
    """A fresh copy of the "tanba-test" token for this test alone."""
    tokendir = tmp_path / "softhsm-tokens"
    shutil.copytree(softhsm_setup_dir / "tokens", tokendir)
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(softhsm_conf_text(tokendir), encoding="utf-8")
    finalize_softhsm_module()
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    monkeypatch.setenv("TANBA_PKCS11_MODULE", SOFTHSM_MODULE)
    yield SoftHSM(module=SOFTHSM_MODULE, label=TOKEN_LABEL, pin=USER_PIN, so_pin=SO_PIN,
                  conf=conf, tokendir=tokendir)
    finalize_softhsm_module()


# --- TANBA_PURE_PYTHON=1: the whole session on the pure-Python hashes --------------------------

def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("TANBA_PURE_PYTHON") == "1":
        from tanba.crypto import accel

        accel.use_pure(True)


# --- the GOST token (SoftHSM built with GOST by scripts/build-softhsm-gost.sh) -------------

GOST_TOKEN_LABEL = "tanba-gost"


def softhsm_gost_module() -> str:
    """The GOST build of SoftHSM: $TANBA_SOFTHSM_GOST_MODULE, else where the build script puts it."""
    module = os.environ.get("TANBA_SOFTHSM_GOST_MODULE")
    if module:
        return module
    proc = subprocess.run(["bash", str(REPO / "scripts" / "build-softhsm-gost.sh"), "--path"],
                          capture_output=True, text=True, timeout=30, check=True)
    return proc.stdout.strip()


@dataclass(frozen=True)
class SoftHSMGost(SoftHSM):
    """A private copy of the "tanba-gost" token; ``pki`` holds its key's certificate
    (gost-ru.pem), the CA (ca.pem), both keys (*.key.pem) and the gost engine config."""

    pki: Path


@pytest.fixture
def softhsm_gost(softhsm_setup_dir: Path, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[SoftHSMGost]:
    """A fresh copy of the GOST token for this test alone (``SOFTHSM2_CONF`` points at it).

    Skips, with the reason, when softhsm-setup.sh made no GOST token (under CI: a failure).
    """
    module = softhsm_gost_module()
    if not Path(module).is_file():
        pytest.skip(f"no GOST build of SoftHSM at {module}: run scripts/build-softhsm-gost.sh "
                    "(or set TANBA_SOFTHSM_GOST_MODULE)")
    if not (softhsm_setup_dir / "gost-token.stamp").is_file():
        pytest.skip("softhsm-setup.sh made no GOST token (is libengine-gost-openssl installed?)")
    tokendir = tmp_path / "softhsm-gost-tokens"
    shutil.copytree(softhsm_setup_dir / "gost-tokens", tokendir)
    conf = tmp_path / "softhsm2-gost.conf"
    conf.write_text(softhsm_conf_text(tokendir), encoding="utf-8")
    finalize_softhsm_module(module)
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    monkeypatch.setenv("TANBA_SOFTHSM_GOST_MODULE", module)
    yield SoftHSMGost(module=module, label=GOST_TOKEN_LABEL, pin=USER_PIN, so_pin=SO_PIN,
                      conf=conf, tokendir=tokendir, pki=softhsm_setup_dir / "pki" / "gost-ru")
    finalize_softhsm_module(module)


# --- CI rule: under CI, skips are failures ----------------------------------------------------

def _ci() -> bool:
    return bool(os.environ.get("CI"))


def _as_failure(report: pytest.TestReport | pytest.CollectReport) -> None:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else longrepr
    report.outcome = "failed"
    report.longrepr = f"skipped under CI (skips are failures when CI is set): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
        item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, object, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if _ci() and report.skipped and not hasattr(report, "wasxfail"):
        _as_failure(report)


_skipped_modules: list[str] = []


def pytest_collectreport(report: pytest.CollectReport) -> None:
    # A skipped module is not turned into a collection error (that would stop the whole
    # run); it is remembered and fails the session at the end.
    if _ci() and report.skipped:
        _skipped_modules.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped_modules and session.exitstatus in (pytest.ExitCode.OK,
                                                   pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for nodeid in _skipped_modules:
        terminalreporter.write_line(f"FAILED (skipped under CI): {nodeid}", red=True)


@pytest.fixture
def ocsp(pki: Manifest) -> Iterator[RevocationServer]:
    """The test PKI's OCSP responder and CRL server (on the port its certificates name),
    answering normally at the start and end of each test."""
    from support.ocsp_server import shared_server

    server = shared_server(pki)
    server.reset()
    yield server
    server.reset()
