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


# --- shape_problem: "not a PKCS#12 file" before any password ----------------------------


def test_every_real_key_file_has_the_shape_of_a_pkcs12_file(gost: GostManifest, pki: Manifest, tmp_path: Path) -> None:
    """RSA/EC, Russian and NCA GOST (Java's indefinite lengths), bign: none is refused."""
    from tanba.agent.setup.bign_pki import make_bign_pki
    from tanba.providers.pkcs12_peek import shape_problem

    files = [ident.p12 for ident in pki.identities.values()] + list(gost.p12.values())
    files += list(make_bign_pki(tmp_path / "bign").p12.values())
    if NCA.exists():
        files += sorted(NCA.glob("*.p12"))
    assert len(files) > 10
    assert {str(f): shape_problem(f) for f in files} == {str(f): None for f in files}


def test_other_files_are_named_for_what_they_are(pki: Manifest, tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from tanba.providers.pkcs12_peek import shape_problem

    der = tmp_path / "root.cer"
    der.write_bytes(x509.load_pem_x509_certificate(pki.root_pem.read_bytes()).public_bytes(Encoding.DER))
    cut = tmp_path / "cut.p12"
    cut.write_bytes(pki.identities["rsa-sign"].p12.read_bytes()[:500])
    text = tmp_path / "notes.p12"
    text.write_text("Договор № 7\n" * 400)
    empty = tmp_path / "empty.p12"
    empty.write_bytes(b"")
    assert shape_problem(pki.root_pem) == "it is a PEM text file holding a CERTIFICATE"
    assert shape_problem(der) == "it holds a certificate or another DER structure"
    assert (shape_problem(cut) or "").startswith("it is cut short: 500 bytes of the")
    assert shape_problem(text) == "its content is not PKCS#12 data"
    assert shape_problem(empty) == "the file is empty"
    assert shape_problem(tmp_path / "missing.p12") is None  # the unlock says it cannot be read
