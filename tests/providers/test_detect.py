"""Module auto-detection: real files on this machine, and vendor names in a scratch dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanba.providers.detect import Detected, detect, for_autodetect


@pytest.mark.softhsm
def test_finds_softhsm_installed_here() -> None:
    found = detect()
    softhsm = [d for d in found if d.storage == "SoftHSM"]
    assert softhsm and softhsm[0].path.is_file()
    assert softhsm[0].path.resolve() == Path("/usr/lib/softhsm/libsofthsm2.so").resolve()
    # one entry per file, however many paths reach it
    assert len({d.path.resolve() for d in found}) == len(found)


def test_vendor_modules_get_ncalayer_storage_names(tmp_path: Path) -> None:
    for name in ("libjcPKCS11-2.so", "libeTPkcs11.so", "librtpkcs11ecp.so", "unrelated.so"):
        (tmp_path / name).write_bytes(b"")
    found = detect([tmp_path])
    assert found == [
        Detected("AKJaCartaStore", tmp_path / "libjcPKCS11-2.so"),
        Detected("AKEToken5110Store", tmp_path / "libeTPkcs11.so"),
        Detected("Rutoken", tmp_path / "librtpkcs11ecp.so"),
    ]


def test_same_file_under_two_names_is_listed_once(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "libsofthsm2.so").write_bytes(b"")
    (tmp_path / "b" / "libsofthsm2.so").symlink_to(tmp_path / "a" / "libsofthsm2.so")
    assert detect([tmp_path / "b", tmp_path / "a"]) == [
        Detected("SoftHSM", tmp_path / "b" / "libsofthsm2.so")
    ]


def test_p11kit_proxy_only_when_alone(tmp_path: Path) -> None:
    (tmp_path / "p11-kit-proxy.so").write_bytes(b"")
    assert [d.storage for d in for_autodetect(detect([tmp_path]))] == ["p11-kit"]
    (tmp_path / "opensc-pkcs11.so").write_bytes(b"")
    assert [d.storage for d in for_autodetect(detect([tmp_path]))] == ["OpenSC"]


def test_nothing_installed(tmp_path: Path) -> None:
    assert detect([tmp_path / "missing"]) == []
