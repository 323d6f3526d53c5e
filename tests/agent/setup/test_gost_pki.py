"""The GOST test PKI: NCA-shaped files that OpenSSL reads as PKCS#12 (MAC, RC2-40 bag), whose
certificates chain with GOST signatures, whose key serves login and signing, and whose CRL
revokes the twin."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from asn1crypto import crl, pem
from asn1crypto import x509 as ax509

from tanba.agent.setup.gost_pki import GostManifest, make_gost_pki
from tanba.crypto import hashes
from tanba.providers.certificate import CertInfo
from tanba.providers.gost_asn1 import public_key_of_certificate
from tanba.providers.pkcs12 import Pkcs12Store


@pytest.fixture(scope="module")
def gost(tmp_path_factory: pytest.TempPathFactory) -> GostManifest:
    made = make_gost_pki(tmp_path_factory.mktemp("gost"))
    assert GostManifest.load(made.outdir) == made
    return made


def _der(path: Path) -> bytes:
    return bytes(pem.unarmor(path.read_bytes())[2])


def _signed_by(issuer_der: bytes, tbs: bytes, signature: bytes) -> bool:
    key = public_key_of_certificate(issuer_der)
    return key.verify(hashes.digest(key.family.hash, tbs), signature)


def test_openssl_reads_the_files_as_pkcs12_with_their_password_only(gost: GostManifest) -> None:
    def certs(password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["openssl", "pkcs12", "-in", str(gost.p12["gost-kz"]), "-nokeys", "-legacy",
                               "-passin", f"pass:{password}"], capture_output=True, text=True, timeout=30)

    good = certs(gost.password)
    assert good.returncode == 0 and good.stdout.count("BEGIN CERTIFICATE") == 3
    assert certs("Qwerty13").returncode != 0


def test_chain_and_crl_carry_gost_signatures(gost: GostManifest) -> None:
    root, ca = _der(gost.root_pem), _der(gost.ca_pem)
    for issuer, der in ((root, root), (root, ca)):
        cert = ax509.Certificate.load(der)
        assert _signed_by(issuer, cert["tbs_certificate"].dump(), cert["signature_value"].native)
    revocations = crl.CertificateList.load(_der(gost.crl_pem))
    assert _signed_by(ca, revocations["tbs_cert_list"].dump(), revocations["signature"].native)
    assert not _signed_by(root, revocations["tbs_cert_list"].dump(), revocations["signature"].native)
    assert len(revocations["tbs_cert_list"]["revoked_certificates"]) == 1


async def test_the_key_lists_for_login_and_signing_and_the_twin_is_the_revoked_one(gost: GostManifest) -> None:
    store = Pkcs12Store(list(gost.p12.values()))
    serials = {}
    for name, path in gost.p12.items():
        [identity] = await store.unlock_file(path, bytearray(gost.password.encode()))
        info = CertInfo.from_certificate(identity.certificate, id=identity.id, storage="PKCS12")
        assert info.iin == gost.iin and len(identity.chain) == 2
        if name == "gost-kz-2004-expired":  # the two-key era: a signing key only, expired
            assert info.purposes == ("sign",) and info.algorithm == "GOST34310-2004"
            assert not info.is_valid(dt.datetime.now(dt.timezone.utc))
        else:
            assert info.purposes == ("sign", "auth") and info.algorithm == "GOST3410-2015-512"
        serials[name] = identity.certificate.serial_number
    revoked = crl.CertificateList.load(_der(gost.crl_pem))["tbs_cert_list"]["revoked_certificates"]
    assert [r["user_certificate"].native for r in revoked] == [serials["gost-kz-revoked"]]
    await store.close()
