"""ChainValidator over GOST certificates and CRLs: NCA's test chain (Kazakh 2015-512 and
2004) and an engine-made Russian one (its CRL signed by ``openssl ca`` with the gost engine).

CRLs are served by an in-test HttpClient that answers only the URLs it was given, so what
is fetched, and how often, is visible; every other URL (OCSP, delta CRLs, NCA's root CRL)
fails as an unreachable host would.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from asn1crypto import cms as acms
from asn1crypto import pem
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding
from support.gost_engine import openssl

from tanba.agent.http import FetchError, HttpClient
from tanba.agent.verify.chain import SIGNATURE_VALIDATOR, ChainStatus, ChainValidator, RevocationPolicy
from tanba.providers.pkcs12 import Pkcs12Store

NCA = Path(__file__).resolve().parents[3] / "../shared/testdata/nca"
needs_nca = pytest.mark.skipif(not NCA.exists(), reason=f"no NCA test material at {NCA}")
NCA_CRL_URL = "http://test.pki.gov.kz/crl/nca_gost2022_test.crl"


class ServedUrls(HttpClient):
    """Answers the URLs in ``served``; any other is unreachable.  Records every request."""

    def __init__(self, served: dict[str, bytes]) -> None:
        super().__init__()
        self.served = served
        self.asked: list[str] = []

    async def fetch(self, url: str, *, accept: str, max_bytes: int, timeout: float, body: bytes | None = None,
                    content_type: str | None = None) -> bytes:
        self.asked.append(url)
        if url in self.served:
            return self.served[url]
        raise FetchError(f"{url}: not served in this test", "unreachable")


def flip_last_byte(der: bytes) -> bytes:
    """A certificate or CRL whose signature (the last bytes of its DER) is changed."""
    return der[:-1] + bytes([der[-1] ^ 0x01])


async def nca_leaf(name: str) -> x509.Certificate:
    path = NCA / name
    store = Pkcs12Store([path])
    try:
        [identity] = await store.unlock_file(path, bytearray(b"Qwerty12"))
        return identity.certificate
    finally:
        await store.close()


def kalkan_signer_cert(name: str) -> ax509.Certificate:
    signed = acms.ContentInfo.load((NCA / name).read_bytes())["content"]
    serial = signed["signer_infos"][0]["sid"].chosen["serial_number"].native
    [cert] = [c.chosen for c in signed["certificates"] if c.chosen.serial_number == serial]
    return cert


def nca_validator(*, revocation: RevocationPolicy = "soft", http: HttpClient | None = None) -> ChainValidator:
    return ChainValidator([NCA / "root_test_gost_2022.cer"], intermediates=[NCA / "nca_gost2022_test.cer"],
                          revocation=revocation, timeout=5.0, http=http)


# ---------------------------------------------------------------- Kazakhstan


@needs_nca
async def test_nca_chain_validates_to_the_test_root() -> None:
    leaf = await nca_leaf("individual_valid.p12")
    assert await nca_validator(revocation="off").validate(leaf) == ChainStatus(True, "unknown", ())
    ca = x509.load_der_x509_certificate((NCA / "nca_gost2022_test.cer").read_bytes())
    given = ChainValidator([NCA / "root_test_gost_2022.cer"], revocation="off")
    assert (await given.validate(leaf, [ca])).chain_valid
    assert (await given.validate(leaf)).problems == ("chain_untrusted",)  # no issuer at hand
    other_root = ChainValidator([NCA / "nca_gost2004_test_ca.cer"], intermediates=[NCA / "nca_gost2022_test.cer"],
                                revocation="off")
    assert (await other_root.validate(leaf)).problems == ("chain_untrusted",)


@needs_nca
async def test_a_changed_signature_breaks_the_nca_chain() -> None:
    leaf = await nca_leaf("individual_valid.p12")
    broken = ax509.Certificate.load(flip_last_byte(leaf.public_bytes(Encoding.DER)))
    status = await nca_validator(revocation="off").validate(broken)
    assert status == ChainStatus(False, "unknown", ("chain_invalid",))


@needs_nca
async def test_kalkan_signer_certificates_chain_inside_their_validity() -> None:
    """2015-512 (issued 2022, expired 2023) under the same NCA root, and 2004 (expired 2021)
    under its issuing CA: a GOST 34.310-2004 / 34.311-95 certificate signature."""
    cert2015 = kalkan_signer_cert("kalkan_gost2015_rsa.p7s")
    inside = dt.datetime(2022, 9, 27, tzinfo=dt.timezone.utc)
    validator = nca_validator(revocation="off")
    assert await validator.validate(cert2015, moment=inside) == ChainStatus(True, "unknown", ())
    assert (await validator.validate(cert2015)).problems == ("certificate_expired",)

    cert2004 = kalkan_signer_cert("kalkan_gost2004.p7s")
    ca2004 = ChainValidator([NCA / "nca_gost2004_test_ca.cer"], revocation="off")
    inside2004 = dt.datetime(2020, 6, 1, tzinfo=dt.timezone.utc)
    assert await ca2004.validate(cert2004, moment=inside2004) == ChainStatus(True, "unknown", ())
    assert (await ca2004.validate(cert2004)).problems == ("certificate_expired",)
    broken = ax509.Certificate.load(flip_last_byte(cert2004.dump()))
    assert (await ca2004.validate(broken, moment=inside2004)).problems == ("chain_invalid",)


@needs_nca
async def test_nca_crl_marks_the_revoked_certificate_revoked() -> None:
    """The CRL is NCA's own (GOST-signed); NCA's root CRL lives on another host, unreachable
    here, and still the revoked leaf comes out ``revoked``."""
    http = ServedUrls({NCA_CRL_URL: (NCA / "nca_gost2022_test.crl").read_bytes()})
    validator = nca_validator(http=http)
    revoked = await validator.validate(await nca_leaf("individual_revoked.p12"))
    assert revoked == ChainStatus(True, "revoked", ("revoked",))
    assert not validator.acceptable(revoked)
    assert http.asked.count(NCA_CRL_URL) == 1  # the two passes share what was fetched

    http.asked.clear()
    valid = await validator.validate(await nca_leaf("individual_valid.p12"))
    # not revoked, but the root's CRL could not be had: unknown, never "good"
    assert valid == ChainStatus(True, "unknown", ("revocation_unknown",))
    assert NCA_CRL_URL in http.asked and "http://crl.root.gov.kz/gost_test_2022.crl" in http.asked


@needs_nca
async def test_a_crl_with_a_broken_signature_revokes_nothing() -> None:
    http = ServedUrls({NCA_CRL_URL: flip_last_byte((NCA / "nca_gost2022_test.crl").read_bytes())})
    status = await nca_validator(http=http).validate(await nca_leaf("individual_revoked.p12"))
    assert status == ChainStatus(True, "unknown", ("revocation_unknown",))


@needs_nca
def test_pyhanko_reads_gost_public_keys_as_bit_strings() -> None:
    """What the chain module relies on instead of registering anything: once pyhanko-
    certvalidator is imported, asn1crypto hashes a GOST key (certificate registry, OCSP CertID)
    instead of raising KeyError."""
    cert = ax509.Certificate.load((NCA / "nca_gost2022_test.cer").read_bytes())
    assert len(cert.public_key.sha1) == 20
    assert cert.public_key["public_key"].native[:2] == b"\x04\x81"  # the OCTET STRING x_LE || y_LE


# ---------------------------------------------------------------- Russia


CRL_URL = "http://crl.ru.test/ca.crl"


def ru_ca(directory: Path) -> Path:
    """An engine-made CA able to revoke and publish CRLs (``openssl ca``) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    # the engine comes from OPENSSL_CONF (support.gost_engine); this file holds the CA part only
    (directory / "ca.cnf").write_text((
        "[ca]\ndefault_ca = ca_section\n[ca_section]\ndatabase = index.txt\ncrlnumber = crlnumber\n"
        "default_md = md_gost12_512\ndefault_crl_days = 7\ncrl_extensions = crl_ext\n"
        "[crl_ext]\nauthorityKeyIdentifier = keyid\n"))
    (directory / "index.txt").write_text("")
    (directory / "crlnumber").write_text("01\n")
    openssl(directory, "genpkey", "-algorithm", "gost2012_512", "-pkeyopt", "paramset:A", "-out", "ca.key")
    openssl(directory, "req", "-new", "-x509", "-key", "ca.key", "-md_gost12_512", "-days", "30",
            "-subj", "/C=RU/CN=Tanba RU CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-addext", "subjectKeyIdentifier=hash",
            "-out", "ca.pem")
    return directory


def ru_leaf(directory: Path, name: str, bits: int) -> Path:
    openssl(directory, "genpkey", "-algorithm", f"gost2012_{bits}", "-pkeyopt", "paramset:A", "-out", f"{name}.key")
    openssl(directory, "req", "-new", "-key", f"{name}.key", f"-md_gost12_{bits}", "-subj", f"/C=RU/CN={name}",
            "-out", f"{name}.csr")
    (directory / f"{name}.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n"
        f"subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\ncrlDistributionPoints=URI:{CRL_URL}\n")
    openssl(directory, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-md_gost12_512", "-days", "10", "-extfile", f"{name}.ext", "-out", f"{name}.pem")
    return directory / f"{name}.pem"


def ru_crl(directory: Path, revoke: Path) -> bytes:
    config = str(directory / "ca.cnf")
    openssl(directory, "ca", "-config", config, "-keyfile", "ca.key", "-cert", "ca.pem", "-revoke", str(revoke))
    openssl(directory, "ca", "-config", config, "-keyfile", "ca.key", "-cert", "ca.pem", "-gencrl", "-out", "crl.pem")
    _, _, der = pem.unarmor((directory / "crl.pem").read_bytes())
    return bytes(der)


@pytest.mark.parametrize("bits", [256, 512])
async def test_ru_chain_and_crl(tmp_path: Path, bits: int) -> None:
    directory = ru_ca(tmp_path)
    good_path, bad_path = ru_leaf(directory, "good", bits), ru_leaf(directory, "bad", bits)
    good, bad = (x509.load_pem_x509_certificate(p.read_bytes()) for p in (good_path, bad_path))
    http = ServedUrls({CRL_URL: ru_crl(directory, bad_path)})
    validator = ChainValidator([directory / "ca.pem"], timeout=5.0, http=http)
    assert await validator.validate(good) == ChainStatus(True, "good", ())
    assert await validator.validate(bad) == ChainStatus(True, "revoked", ("revoked",))

    http.served[CRL_URL] = flip_last_byte(http.served[CRL_URL])
    fresh = ChainValidator([directory / "ca.pem"], timeout=5.0, http=http)
    assert await fresh.validate(bad) == ChainStatus(True, "unknown", ("revocation_unknown",))

    other = ChainValidator([ru_ca(tmp_path / "other") / "ca.pem"], revocation="off")
    assert (await other.validate(good)).problems == ("chain_untrusted",)


def test_signature_validator_refuses_mismatched_and_unreadable_keys(tmp_path: Path) -> None:
    directory = ru_ca(tmp_path)
    leaf = ax509.Certificate.load(pem.unarmor(ru_leaf(directory, "leaf", 256).read_bytes())[2])
    ca = ax509.Certificate.load(pem.unarmor((directory / "ca.pem").read_bytes())[2])
    tbs, algorithm, signature = leaf["tbs_certificate"].dump(), leaf["signature_algorithm"], leaf["signature_value"].native
    SIGNATURE_VALIDATOR.validate_signature(signature, tbs, ca.public_key, algorithm)  # the real issuer: fine
    with pytest.raises(InvalidSignature):
        SIGNATURE_VALIDATOR.validate_signature(signature, tbs + b"\x00", ca.public_key, algorithm)
    with pytest.raises(InvalidSignature):  # a 512-bit signature checked with the 256-bit leaf key
        SIGNATURE_VALIDATOR.validate_signature(signature, tbs, leaf.public_key, algorithm)
    unknown_curve = ax509.PublicKeyInfo.load(ca.public_key.dump().replace(
        bytes.fromhex("06092a8503070102010201"), bytes.fromhex("06092a8503070102010209")))
    with pytest.raises(UnsupportedAlgorithm):
        SIGNATURE_VALIDATOR.validate_signature(signature, tbs, unknown_curve, algorithm)
