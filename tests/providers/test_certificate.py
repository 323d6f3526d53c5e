"""CertInfo read from the test PKI's Kazakhstan-style certificates."""

from __future__ import annotations

import datetime as dt
import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from tanba.agent.setup.testpki import Manifest
from tanba.protocol.methods.certs import cert_wire
from tanba.protocol.ncalayer import key_info
from tanba.providers.base import Identity
from tanba.providers.certificate import CertInfo, cert_info, normalize_serial

SIGN_EKU = "1.3.6.1.5.5.7.3.4"
AUTH_EKU = "1.3.6.1.5.5.7.3.2"
POLICY_INDIVIDUAL = "1.2.398.3.3.4.1.1"
POLICY_ORGANISATION = "1.2.398.3.3.4.1.2"

WIRE_KEYS = {
    "id", "storage", "subject", "issuer", "serialNumber", "notBefore", "notAfter",
    "keyUsage", "extKeyUsage", "algorithm", "fingerprintSha256", "pem",
}


def info_of(pki: Manifest, name: str, storage: str = "PKCS12") -> CertInfo:
    cert = pki.identities[name].certificate()
    return CertInfo.from_certificate(cert, id=f"test:{name}", storage=storage)


def test_individual_signing_certificate(pki: Manifest) -> None:
    ident = pki.identities["rsa-sign"]
    info = info_of(pki, "rsa-sign")
    assert info.iin == ident.iin and info.iin is not None and len(info.iin) == 12
    assert info.bin is None
    assert info.subject["serialNumber"] == f"IIN{ident.iin}"
    assert info.subject["C"] == "KZ"
    assert {"CN", "SURNAME", "GIVENNAME"} <= info.subject.keys()
    assert info.subject_cn == info.subject["CN"]
    assert info.purposes == ("sign",)
    assert info.key_usage == ("digitalSignature", "nonRepudiation")
    assert info.ext_key_usage == (SIGN_EKU,)
    assert info.policies == (POLICY_INDIVIDUAL,)
    assert info.algorithm == "RSA-2048"
    assert info.issuer_cn == "TANBA TEST INTERMEDIATE CA"
    assert "CN=TANBA TEST INTERMEDIATE CA" in info.issuer
    assert info.serial_number == ident.serial_hex.lower().lstrip("0")
    assert int(info.serial_number, 16) == ident.certificate().serial_number


def test_organisation_certificate_has_bin_and_iin(pki: Manifest) -> None:
    ident = pki.identities["org-rsa-sign"]
    info = info_of(pki, "org-rsa-sign")
    assert info.bin == ident.bin and info.bin is not None
    assert info.iin == ident.iin
    assert info.subject["OU"] == f"BIN{ident.bin}"
    assert "O" in info.subject and info.subject["O"] in info.owner_name
    assert info.policies == (POLICY_ORGANISATION,)
    assert info.purposes == ("sign",)


def test_auth_and_ec_certificates(pki: Manifest) -> None:
    auth = info_of(pki, "rsa-auth")
    assert auth.purposes == ("auth",)
    assert auth.ext_key_usage == (AUTH_EKU,)
    assert auth.key_usage == ("digitalSignature", "keyEncipherment")
    ec_sign = info_of(pki, "ec-sign")
    assert ec_sign.algorithm == "EC-P256"
    assert ec_sign.purposes == ("sign",)
    assert info_of(pki, "ec-auth").purposes == ("auth",)


def test_ca_certificate_has_no_purpose_and_no_iin(pki: Manifest) -> None:
    info = CertInfo.from_certificate(pki.certificate("intermediate_pem"), id="ca", storage="PKCS12")
    assert info.purposes == () and info.purpose_label is None
    assert info.iin is None and info.bin is None
    wire = cert_wire(info)
    assert "iin" not in wire and "bin" not in wire


def test_validity_and_fingerprint(pki: Manifest) -> None:
    cert = pki.identities["rsa-sign"].certificate()
    info = info_of(pki, "rsa-sign")
    now = dt.datetime.now(dt.UTC)
    assert info.is_valid(now)
    assert not info.is_valid(info.not_after + dt.timedelta(seconds=1))
    assert not info.is_valid(info.not_before - dt.timedelta(seconds=1))
    assert not info_of(pki, "rsa-sign-expired").is_valid(now)
    assert info.not_before.tzinfo is not None
    assert info.fingerprint_sha256 == cert.fingerprint(hashes.SHA256()).hex()
    assert x509.load_pem_x509_certificate(info.pem.encode()) == cert


def test_to_wire_is_exactly_the_design_object(pki: Manifest) -> None:
    org = cert_wire(info_of(pki, "org-rsa-sign"))
    assert set(org) == WIRE_KEYS | {"iin", "bin"}
    person = cert_wire(info_of(pki, "rsa-sign"))
    assert set(person) == WIRE_KEYS | {"iin"}
    assert person["storage"] == "PKCS12" and person["id"] == "test:rsa-sign"
    assert person["keyUsage"] == ["digitalSignature", "nonRepudiation"]
    assert person["extKeyUsage"] == [SIGN_EKU]
    for key in ("notBefore", "notAfter"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", person[key])
    cert = pki.identities["rsa-sign"].certificate()
    assert person["notAfter"] == cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert person["subject"]["serialNumber"] == f"IIN{pki.identities['rsa-sign'].iin}"


def test_ncalayer_key_info_shape(pki: Manifest) -> None:
    cert = pki.identities["ec-sign"].certificate()
    info = key_info(info_of(pki, "ec-sign"), "my-key")
    assert set(info) == {
        "alias", "keyId", "algorithm", "subjectCn", "subjectDn", "issuerCn", "issuerDn",
        "serialNumber", "certNotAfter", "certNotBefore", "authorityKeyIdentifier", "pem",
    }
    assert info["alias"] == "my-key"
    assert info["algorithm"] == "EC"
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert info["keyId"] == ski.digest.hex()
    assert info["certNotAfter"] == str(int(cert.not_valid_after_utc.timestamp()) * 1000)
    assert info["certNotBefore"] == str(int(cert.not_valid_before_utc.timestamp()) * 1000)
    assert info["issuerCn"] == "TANBA TEST INTERMEDIATE CA"
    assert info["subjectDn"].startswith("CN=")  # certificate order, as NCALayer prints it
    assert f"SERIALNUMBER=IIN{pki.identities['ec-sign'].iin}" in info["subjectDn"]
    assert key_info(info_of(pki, "rsa-sign"), "x")["algorithm"] == "RSA"


def test_cert_info_is_cached_per_identity_and_follows_a_replaced_certificate(pki: Manifest) -> None:
    first = pki.identities["rsa-sign"].certificate()
    ident = Identity(id="tok:1", storage="AKKaztokenStore", certificate=first, chain=(),
                     location="token", key_ref=1)
    info = cert_info(ident)
    assert cert_info(ident) is info  # parsed once
    assert info.storage == "AKKaztokenStore"
    replaced = Identity(id="tok:1", storage="AKKaztokenStore",
                        certificate=pki.identities["ec-sign"].certificate(), chain=(),
                        location="token", key_ref=1)
    assert cert_info(replaced).algorithm == "EC-P256"


def test_normalize_serial() -> None:
    assert normalize_serial("00AB12") == "ab12"
    assert normalize_serial("0") == "0"
    assert normalize_serial("000") == "0"
