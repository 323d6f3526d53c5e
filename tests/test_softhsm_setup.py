"""softhsm-setup.sh makes the token the contract promises, idempotently; the ``softhsm``
fixture gives each test its own copy; and, under CI, skipped tests fail the run."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pkcs11
import pytest
from conftest import REPO, SoftHSM, finalize_softhsm_module
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import Attribute, Mechanism, ObjectClass, TokenFlag

from tanba.agent.setup.gost_pki import GostManifest
from tanba.agent.setup.testpki import Manifest
from tanba.providers.certificate import CertInfo
from tanba.providers.pkcs12 import Pkcs12Store

SCRIPT = REPO / "softhsm-setup.sh"
ON_TOKEN = ("rsa-auth", "rsa-sign", "ec-auth", "ec-sign")


def _run_setup(target: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable}
    env.pop("SOFTHSM2_CONF", None)
    return subprocess.run(["bash", str(SCRIPT), str(target)], env=env, capture_output=True,
                          text=True, timeout=120)


def _objects(hsm: SoftHSM, cls: ObjectClass) -> dict[str, str]:
    """label -> CKA_ID (hex) of the objects of one class, after a fresh C_Initialize."""
    finalize_softhsm_module(hsm.module)
    token = pkcs11.lib(hsm.module).get_token(token_label=hsm.label)
    with token.open(user_pin=hsm.pin) as session:
        found = list(session.get_objects({Attribute.CLASS: cls}))
        return {o[Attribute.LABEL]: bytes(o[Attribute.ID]).hex() for o in found}


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                       p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.softhsm
def test_token_holds_the_four_keys_and_certificates_with_matching_ids(
        pki: Manifest, softhsm: SoftHSM) -> None:
    finalize_softhsm_module(softhsm.module)
    token = pkcs11.lib(softhsm.module).get_token(token_label="tanba-test")
    with token.open(user_pin=softhsm.pin) as session:
        keys = {o[Attribute.LABEL]: bytes(o[Attribute.ID]).hex() for o in
                list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))}
        certs = {o[Attribute.LABEL]: (bytes(o[Attribute.ID]).hex(), bytes(o[Attribute.VALUE]))
                 for o in list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}))}
    expected_ids = {n: pki.identities[n].cka_id_hex for n in ON_TOKEN}
    assert keys == expected_ids
    assert {n: i for n, (i, _) in certs.items()} == expected_ids
    for name, (_, der) in certs.items():
        assert x509.load_der_x509_certificate(der) == pki.identities[name].certificate()


@pytest.mark.softhsm
def test_private_keys_need_login(softhsm: SoftHSM) -> None:
    finalize_softhsm_module(softhsm.module)
    token = pkcs11.lib(softhsm.module).get_token(token_label=softhsm.label)
    with token.open() as session:
        assert not list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
        assert len(list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}))) == 4
    with pytest.raises(pkcs11.PinIncorrect):
        token.open(user_pin="0000")


@pytest.mark.softhsm
@pytest.mark.parametrize("name", ON_TOKEN)
def test_token_key_signs_what_the_certificate_verifies(pki: Manifest, softhsm: SoftHSM,
                                                       name: str) -> None:
    data = "ТАҢБА test document".encode()
    cert_key = pki.identities[name].certificate().public_key()
    finalize_softhsm_module(softhsm.module)
    token = pkcs11.lib(softhsm.module).get_token(token_label=softhsm.label)
    with token.open(user_pin=softhsm.pin) as session:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=name)
        assert isinstance(key, pkcs11.SignMixin)
        if isinstance(cert_key, rsa.RSAPublicKey):
            sig = key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS)
            cert_key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            assert isinstance(cert_key, ec.EllipticCurvePublicKey)
            digest = hashlib.sha256(data).digest()
            raw = key.sign(digest, mechanism=Mechanism.ECDSA)
            half = len(raw) // 2
            der = encode_dss_signature(int.from_bytes(raw[:half]), int.from_bytes(raw[half:]))
            cert_key.verify(der, data, ec.ECDSA(hashes.SHA256()))


@pytest.mark.softhsm
def test_each_test_gets_its_own_token_copy(softhsm: SoftHSM, softhsm_setup_dir: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert os.environ["SOFTHSM2_CONF"] == str(softhsm.conf)
    finalize_softhsm_module(softhsm.module)
    token = pkcs11.lib(softhsm.module).get_token(token_label=softhsm.label)
    with token.open(user_pin=softhsm.pin, rw=True) as session:
        for obj in list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})):
            obj.destroy()
    assert not _objects(softhsm, ObjectClass.CERTIFICATE)

    monkeypatch.setenv("SOFTHSM2_CONF", str(softhsm_setup_dir / "softhsm2.conf"))
    shared = SoftHSM(softhsm.module, softhsm.label, softhsm.pin, softhsm.so_pin,
                     softhsm_setup_dir / "softhsm2.conf", softhsm_setup_dir / "tokens")
    assert sorted(_objects(shared, ObjectClass.CERTIFICATE)) == sorted(ON_TOKEN)


def _token_flags(hsm: SoftHSM) -> TokenFlag:
    finalize_softhsm_module(hsm.module)
    return TokenFlag(pkcs11.lib(hsm.module).get_token(token_label=hsm.label).flags)


@pytest.mark.softhsm
def test_wrong_pins_stay_in_the_tests_own_copy(softhsm: SoftHSM, softhsm_setup_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # SoftHSM 2.6 facts the PKCS#11 provider relies on: a wrong PIN sets USER_PIN_COUNT_LOW
    # (persisted in the token files), it never sets FINAL_TRY or LOCKED however many tries,
    # and a good login clears COUNT_LOW.  Real tokens lock; tests of pin_locked cannot get
    # that from SoftHSM.
    token = pkcs11.lib(softhsm.module).get_token(token_label=softhsm.label)
    for _ in range(12):
        with pytest.raises(pkcs11.PinIncorrect):
            token.open(user_pin="0000")
    flags = _token_flags(softhsm)
    assert TokenFlag.USER_PIN_COUNT_LOW in flags
    assert not flags & (TokenFlag.USER_PIN_FINAL_TRY | TokenFlag.USER_PIN_LOCKED)

    monkeypatch.setenv("SOFTHSM2_CONF", str(softhsm_setup_dir / "softhsm2.conf"))
    shared = SoftHSM(softhsm.module, softhsm.label, softhsm.pin, softhsm.so_pin,
                     softhsm_setup_dir / "softhsm2.conf", softhsm_setup_dir / "tokens")
    assert TokenFlag.USER_PIN_COUNT_LOW not in _token_flags(shared)

    monkeypatch.setenv("SOFTHSM2_CONF", str(softhsm.conf))
    finalize_softhsm_module(softhsm.module)  # SoftHSM reads SOFTHSM2_CONF in C_Initialize
    token = pkcs11.lib(softhsm.module).get_token(token_label=softhsm.label)
    with token.open(user_pin=softhsm.pin):
        pass
    assert TokenFlag.USER_PIN_COUNT_LOW not in _token_flags(softhsm)


@pytest.mark.softhsm
def test_second_run_changes_nothing_and_prints_the_exports(softhsm_setup_dir: Path) -> None:
    before = _snapshot(softhsm_setup_dir)
    res = _run_setup(softhsm_setup_dir)
    assert res.returncode == 0, res.stderr
    assert _snapshot(softhsm_setup_dir) == before
    assert res.stdout.splitlines() == [
        f"export SOFTHSM2_CONF={softhsm_setup_dir}/softhsm2.conf",
        f"export TANBA_TEST_PKI={softhsm_setup_dir}/pki",
        "export TANBA_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so",
    ]
    conf = (softhsm_setup_dir / "softhsm2.conf").read_text(encoding="utf-8")
    assert f"directories.tokendir = {softhsm_setup_dir}/tokens" in conf


@pytest.mark.softhsm
def test_half_made_token_is_rebuilt_not_duplicated(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "hsm"
    assert _run_setup(target).returncode == 0
    (target / "token.stamp").unlink()  # as if the first run died while importing
    res = _run_setup(target)
    assert res.returncode == 0, res.stderr
    monkeypatch.setenv("SOFTHSM2_CONF", str(target / "softhsm2.conf"))
    hsm = SoftHSM("/usr/lib/softhsm/libsofthsm2.so", "tanba-test", "1234", "12345678",
                  target / "softhsm2.conf", target / "tokens")
    try:
        manifest = Manifest.load(target / "pki")
        keys = _objects(hsm, ObjectClass.PRIVATE_KEY)
        assert keys == {
            n: manifest.identities[n].cka_id_hex for n in ON_TOKEN}
        assert len(_objects(hsm, ObjectClass.CERTIFICATE)) == 4
        finalize_softhsm_module(hsm.module)
        slots = pkcs11.lib(hsm.module).get_slots(token_present=True)
        # SoftHSM always shows one more slot, with an uninitialised token
        labels = [s.get_token().label for s in slots]
        assert labels.count("tanba-test") == 1 and set(labels) <= {"tanba-test", ""}
    finally:
        finalize_softhsm_module(hsm.module)


def test_softhsm_dir_is_not_committed() -> None:
    res = subprocess.run(["git", "check-ignore", "-q", ".softhsm/tokens/x"], cwd=REPO,
                         timeout=30)
    assert res.returncode == 0


# --- the CI rule (tests/conftest.py): HSM tests must never be skipped silently ----------------

SKIPS = {
    "test_marker.py": """
        import pytest
        @pytest.mark.skip(reason="no token")
        def test_a(): pass
        def test_b(): pass
        """,
    "test_runtime.py": """
        import pytest
        def test_a(): pytest.skip("no token")
        """,
    "test_module.py": """
        import pytest
        pytest.skip("no token", allow_module_level=True)
        """,
}
GREEN = {
    "test_green.py": """
        import pytest
        def test_ok(): pass
        @pytest.mark.xfail(strict=True)
        def test_known_bug(): assert False
        """,
}


def _pytest_with_conftest(tmp_path: Path, files: dict[str, str],
                          ci: bool) -> subprocess.CompletedProcess[str]:
    """Run pytest in a subprocess on tiny test files next to a copy of tests/conftest.py."""
    (tmp_path / "conftest.py").write_text(
        (REPO / "tests" / "conftest.py").read_text(encoding="utf-8"), encoding="utf-8")
    for name, source in files.items():
        (tmp_path / name).write_text(textwrap.dedent(source), encoding="utf-8")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "-c",
         str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_under_ci_every_kind_of_skip_fails_the_run(tmp_path: Path) -> None:
    ci = _pytest_with_conftest(tmp_path, SKIPS, ci=True)
    assert ci.returncode != 0, ci.stdout
    reported = [line for line in ci.stdout.splitlines() if "skipped under CI" in line]
    for nodeid in ("test_marker.py::test_a", "test_runtime.py::test_a", "test_module.py"):
        assert any(nodeid in line for line in reported), ci.stdout
    assert "test_marker.py::test_b" not in "\n".join(reported)

    local = _pytest_with_conftest(tmp_path, SKIPS, ci=False)
    assert local.returncode == 0, local.stdout  # without CI a skip is only a skip
    assert "3 skipped" in local.stdout


def test_under_ci_passing_and_xfail_tests_stay_green(tmp_path: Path) -> None:
    res = _pytest_with_conftest(tmp_path, GREEN, ci=True)
    assert res.returncode == 0, res.stdout


@pytest.mark.softhsm
async def test_setup_makes_the_gost_files_beside_the_pki(softhsm_setup_dir: Path) -> None:
    gost = GostManifest.load(softhsm_setup_dir / "pki" / "gost")
    path = gost.p12["gost-kz"]
    assert path.stat().st_mode & 0o777 == 0o600
    store = Pkcs12Store([path])
    [identity] = await store.unlock_file(path, bytearray(gost.password.encode()))
    info = CertInfo.from_certificate(identity.certificate, id=identity.id, storage="PKCS12")
    assert info.algorithm == "GOST3410-2015-512" and info.purposes == ("sign", "auth")
    await store.close()
