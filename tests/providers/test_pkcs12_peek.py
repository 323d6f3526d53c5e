"""The password-free guess of a PKCS#12 file's key kind (what `tanba sign` hashes early)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanba.agent.setup.gost_pki import GostManifest, make_gost_pki
from tanba.agent.setup.testpki import Manifest
from tanba.providers.pkcs12_peek import guess_hash

NCA = Path(__file__).resolve().parents[2] / "../shared/testdata/nca"


@pytest.fixture(scope="module")
def gost(tmp_path_factory: pytest.TempPathFactory) -> GostManifest:
    return make_gost_pki(tmp_path_factory.mktemp("gost"))


def test_gost_files_guess_streebog_and_rsa_ec_files_sha256(gost: GostManifest, pki: Manifest) -> None:
    assert guess_hash(gost.p12["gost-kz"]) == "streebog512"
    assert guess_hash(gost.p12["gost-kz-2004-expired"]) == "streebog256"  # a guess: it signs GOST 34.311
    for name in ("rsa-sign", "rsa-sign-legacy", "ec-sign", "org-rsa-sign"):
        assert guess_hash(pki.identities[name].p12) == "sha256", name


@pytest.mark.skipif(not NCA.exists(), reason="NCA test data (../shared/testdata/nca) not present")
def test_nca_files_in_java_s_indefinite_lengths_are_read() -> None:
    assert guess_hash(NCA / "individual_valid.p12") == "streebog512"
    assert guess_hash(NCA / "gost2004_sign_expired.p12") == "sha256"  # RSA keys, whatever the name says


def test_bign_files_guess_belt_hash_from_the_container_named_in_the_clear(tmp_path: Path) -> None:
    from tanba.agent.setup.bign_pki import make_bign_pki

    bign = make_bign_pki(tmp_path / "bign")
    for name in ("bign-person", "bign-org"):
        # the encrypted key has a 256-bit GOST key's size: only its container tells it apart
        assert guess_hash(bign.p12[name]) == "belt-hash", name


def test_anything_odd_is_no_guess(tmp_path: Path, gost: GostManifest) -> None:
    data = gost.p12["gost-kz"].read_bytes()
    for name, blob in (("empty", b""), ("text", b"not a pfx"), ("cut", data[: len(data) // 2]),
                       ("huge-length", b"\x30\x84\xff\xff\xff\xff" + data[6:])):
        (tmp_path / name).write_bytes(blob)
        assert guess_hash(tmp_path / name) is None, name
    assert guess_hash(tmp_path / "missing.p12") is None
