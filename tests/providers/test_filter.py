"""The certificate filter against the test PKI's certificates."""

from __future__ import annotations

import datetime as dt

import pytest
from tanba.agent.setup.testpki import Manifest
from tanba.protocol.methods.filter import CertFilter
from tanba.providers.base import Identity
from support.belarus import belarusian_identity
from tanba.providers.filter import select

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def identities(pki: Manifest) -> list[Identity]:
    """Every test identity, the first four on a token, the rest in PKCS#12 files."""
    out = []
    for name, ident in pki.identities.items():
        storage = "AKKaztokenStore" if name in ("rsa-auth", "ec-auth") else "PKCS12"
        out.append(Identity(id=name, storage=storage, certificate=ident.certificate(), chain=(),
                            location=str(ident.p12), key_ref=name))
    return out


def names(f: CertFilter, identities: list[Identity], now: dt.datetime = NOW) -> set[str]:
    return {i.id for i in select(identities, f, now)}


VALID = {"rsa-auth", "rsa-sign", "ec-auth", "ec-sign", "org-rsa-sign", "rsa-sign-revoked", "rsa-sign-legacy"}


def test_default_filter_hides_only_the_expired_certificate(identities: list[Identity]) -> None:
    assert names(CertFilter(), identities) == VALID
    assert names(CertFilter(valid_only=False), identities) == VALID | {"rsa-sign-expired"}


def test_not_yet_valid_is_hidden(identities: list[Identity], pki: Manifest) -> None:
    before = pki.identities["rsa-sign"].certificate().not_valid_before_utc - dt.timedelta(days=1)
    assert "rsa-sign" not in names(CertFilter(), identities, before)


def test_key_usage_by_purpose(identities: list[Identity]) -> None:
    assert names(CertFilter(key_usage="auth"), identities) == {"rsa-auth", "ec-auth"}
    assert names(CertFilter(key_usage="sign"), identities) == VALID - {"rsa-auth", "ec-auth"}


def test_ext_key_usage_mixes_eku_and_policy_oids(identities: list[Identity]) -> None:
    org_sign = CertFilter(ext_key_usage=("1.3.6.1.5.5.7.3.4", "1.2.398.3.3.4.1.2"))
    assert names(org_sign, identities) == {"org-rsa-sign"}
    individual_auth = CertFilter(ext_key_usage=("1.2.398.3.3.4.1.1", "1.3.6.1.5.5.7.3.2"))
    assert names(individual_auth, identities) == {"rsa-auth", "ec-auth"}
    assert names(CertFilter(ext_key_usage=("1.2.3.4",)), identities) == set()


def test_iin_and_bin(identities: list[Identity], pki: Manifest) -> None:
    ec = pki.identities["ec-sign"]
    assert ec.iin is not None
    assert names(CertFilter(iin=ec.iin), identities) == {"ec-auth", "ec-sign"}
    org = pki.identities["org-rsa-sign"]
    assert org.bin is not None
    assert names(CertFilter(bin=org.bin), identities) == {"org-rsa-sign"}
    assert names(CertFilter(bin="999999999999"), identities) == set()


def test_serial_number_ignores_case_and_leading_zeros(identities: list[Identity], pki: Manifest) -> None:
    serial = pki.identities["rsa-sign"].serial_hex
    assert names(CertFilter(serial_number=serial.upper()), identities) == {"rsa-sign"}
    assert names(CertFilter(serial_number="000" + serial), identities) == {"rsa-sign"}
    assert names(CertFilter(serial_number=serial + "0"), identities) == set()


def test_issuer_by_cn_or_dn_substring(identities: list[Identity]) -> None:
    assert names(CertFilter(issuer="tanba test intermediate ca"), identities) == VALID
    assert names(CertFilter(issuer="O=TANBA TEST"), identities) == VALID
    assert names(CertFilter(issuer="TANBA TEST ROOT CA"), identities) == set()


def test_storages(identities: list[Identity]) -> None:
    assert names(CertFilter(storages=("AKKaztokenStore",)), identities) == {"rsa-auth", "ec-auth"}
    assert names(CertFilter(storages=("PKCS12", "AKKaztokenStore")), identities) == VALID
    assert names(CertFilter(storages=("pkcs12",)), identities) == set()


def test_criteria_combine(identities: list[Identity], pki: Manifest) -> None:
    rsa = pki.identities["rsa-sign"]
    f = CertFilter(key_usage="sign", iin=rsa.iin, storages=("PKCS12",))
    assert names(f, identities) == {"rsa-sign"}
    assert names(CertFilter(key_usage="auth", iin=rsa.iin, storages=("PKCS12",)), identities) == set()


def test_belarusian_personal_number_and_unp_are_read_shown_and_filtered() -> None:
    from tanba.protocol.methods.certs import cert_wire
    from tanba.providers.certificate import cert_info

    person = belarusian_identity("3010176a001pb5", None)
    employee = belarusian_identity("4020385B002PB7", "190123456")
    info = cert_info(employee)
    assert info.personal_number == "4020385B002PB7" and info.unp == "190123456"
    assert info.subject["personalNumber"] == "4020385B002PB7" and info.subject["UNP"] == "190123456"
    assert cert_info(person).personal_number == "3010176A001PB5" and cert_info(person).unp is None
    wire = cert_wire(info)
    assert wire["personalNumber"] == "4020385B002PB7" and wire["unp"] == "190123456"
    assert "unp" not in cert_wire(cert_info(person))
    now = dt.datetime.now(dt.timezone.utc)
    both = [person, employee]
    assert select(both, CertFilter(personal_number="3010176A001PB5"), now) == [person]
    assert select(both, CertFilter(personal_number="4020385b002pb7"), now) == [employee]  # case-insensitive
    assert select(both, CertFilter(unp="190123456"), now) == [employee]
    assert select(both, CertFilter(unp="190123457"), now) == []
