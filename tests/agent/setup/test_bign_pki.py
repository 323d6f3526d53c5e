"""The Belarusian (bign) test PKI: a root and a CA whose certificates and CRLs carry bign-with-hbelt
signatures that verify (checked by tests/support/bign_cms.py, written from STB 34.101.45), the
person's and the organisation's numbers in the subjects, the revoked twin in the CA's CRL, and
PKCS#12 files that open with their password only, the key in STB 34.101.78's container."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from asn1crypto import core, crl, keys, parser, pem, pkcs12
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from support.bign_cms import BIGN_WITH_HBELT, G, Q, _mul, bign_public_key, bign_verify
from tanba.agent.setup.bign_pki import BignManifest, make_bign_pki
from tanba.crypto.belt import belt_hash
from tanba.protocol.errors import WrongPin
from tanba.providers.base import Identity
from tanba.providers.certificate import CertInfo
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.pkcs12_decode import decrypt_encrypted_private_key_info

PERSONAL_NUMBER = x509.ObjectIdentifier("1.2.112.1.2.1.1.1.1.1")
UNP = x509.ObjectIdentifier("1.2.112.1.2.1.1.1.1.2")
PBES2 = "1.2.840.113549.1.5.13"
PBKDF2 = "1.2.840.113549.1.5.12"
HMAC_HBELT = "1.2.112.0.2.0.34.101.47.12"
BELT_KWP256 = "1.2.112.0.2.0.34.101.31.73"
BIGN_PUBKEY = "1.2.112.0.2.0.34.101.45.2.1"
CURVE256V1 = "1.2.112.0.2.0.34.101.45.3.1"
NULL = b"\x05\x00"


@pytest.fixture(scope="module")
def bign(tmp_path_factory: pytest.TempPathFactory) -> BignManifest:
    return make_bign_pki(tmp_path_factory.mktemp("bign"))


@pytest.fixture(scope="module")
def leaves(bign: BignManifest) -> dict[str, Identity]:
    """Each file's identity, opened by Tanba's PKCS#12 store with the manifest's password."""
    import asyncio

    async def open_all() -> dict[str, Identity]:
        store = Pkcs12Store(list(bign.p12.values()))
        try:
            out = {}
            for name, path in bign.p12.items():
                [identity] = await store.unlock_file(path, bytearray(bign.password.encode()))
                out[name] = identity
            return out
        finally:
            await store.close()

    return asyncio.run(open_all())


def _der(path: Path) -> bytes:
    kind, _, der = pem.unarmor(path.read_bytes())
    assert kind in ("CERTIFICATE", "X509 CRL"), kind
    return bytes(der)


def _cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _assert_bign_with_hbelt(algorithm: core.Sequence) -> None:
    assert algorithm["algorithm"].dotted == BIGN_WITH_HBELT
    assert algorithm["parameters"].dump() == NULL  # NULL, as STB 34.101.45 writes it


def _signed_by(issuer_der: bytes, tbs: bytes, signature: bytes) -> bool:
    return bign_verify(bign_public_key(issuer_der), belt_hash(tbs), signature)


def test_manifest_round_trips_with_relative_paths(bign: BignManifest) -> None:
    assert BignManifest.load(bign.outdir) == bign
    raw = json.loads((bign.outdir / "manifest.json").read_text("utf-8"))
    assert raw["root_pem"] == "root.pem" and raw["ca_pem"] == "ca.pem" and raw["crl_pem"] == "crl.pem"
    assert raw["root_crl_pem"] == "root-crl.pem"
    assert raw["p12"] == {"bign-person": "bign-person.p12", "bign-org": "bign-org.p12",
                          "bign-person-revoked": "bign-person-revoked.p12"}
    assert raw["password"] == "123456" and raw["personal_number"] and raw["unp"]
    assert json.loads(bign.to_json()) == raw
    for path in (bign.root_pem, bign.ca_pem, bign.crl_pem, bign.root_crl_pem, *bign.p12.values()):
        assert path.is_file() and path.parent == bign.outdir
    for path in bign.p12.values():
        assert path.stat().st_mode & 0o777 == 0o600  # key files are private


def test_root_and_ca_are_signed_with_bign_with_hbelt_and_verify(bign: BignManifest) -> None:
    root_der, ca_der = _der(bign.root_pem), _der(bign.ca_pem)
    root, ca = ax509.Certificate.load(root_der), ax509.Certificate.load(ca_der)
    for cert in (root, ca):
        _assert_bign_with_hbelt(cert["signature_algorithm"])
        _assert_bign_with_hbelt(cert["tbs_certificate"]["signature"])
        # the keys are bign-curve256v1 ones (bign_public_key asserts the OIDs)
        assert len(bign_public_key(cert.dump())) == 64
    assert root["tbs_certificate"]["issuer"].dump() == root["tbs_certificate"]["subject"].dump()
    assert ca["tbs_certificate"]["issuer"].dump() == root["tbs_certificate"]["subject"].dump()
    root_tbs, ca_tbs = root["tbs_certificate"].dump(), ca["tbs_certificate"].dump()
    assert _signed_by(root_der, root_tbs, root["signature_value"].native)  # self-signed
    assert _signed_by(root_der, ca_tbs, ca["signature_value"].native)
    assert not _signed_by(ca_der, ca_tbs, ca["signature_value"].native)  # not by itself
    flipped = bytearray(ca["signature_value"].native)
    flipped[5] ^= 1
    assert not _signed_by(root_der, ca_tbs, bytes(flipped))
    for der in (root_der, ca_der):
        constraints = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(x509.BasicConstraints)
        assert constraints.critical and constraints.value.ca


def test_leaves_are_signed_by_the_ca(bign: BignManifest, leaves: dict[str, Identity]) -> None:
    root_der, ca_der = _der(bign.root_pem), _der(bign.ca_pem)
    for name, identity in leaves.items():
        leaf = ax509.Certificate.load(_cert_der(identity.certificate))
        _assert_bign_with_hbelt(leaf["signature_algorithm"])
        tbs = leaf["tbs_certificate"].dump()
        assert _signed_by(ca_der, tbs, leaf["signature_value"].native), name
        assert not _signed_by(root_der, tbs, leaf["signature_value"].native), name
        assert [_cert_der(c) for c in identity.chain] == [ca_der, root_der], name


def test_the_ca_crl_is_signed_by_the_ca_and_lists_only_the_revoked_person(
        bign: BignManifest, leaves: dict[str, Identity]) -> None:
    root_der, ca_der = _der(bign.root_pem), _der(bign.ca_pem)
    revocations = crl.CertificateList.load(_der(bign.crl_pem))
    tbs = revocations["tbs_cert_list"]
    _assert_bign_with_hbelt(revocations["signature_algorithm"])
    _assert_bign_with_hbelt(tbs["signature"])
    assert tbs["issuer"].dump() == ax509.Certificate.load(ca_der)["tbs_certificate"]["subject"].dump()
    assert _signed_by(ca_der, tbs.dump(), revocations["signature"].native)
    assert not _signed_by(root_der, tbs.dump(), revocations["signature"].native)
    listed = [entry["user_certificate"].native for entry in tbs["revoked_certificates"]]
    assert listed == [leaves["bign-person-revoked"].certificate.serial_number]
    assert leaves["bign-person"].certificate.serial_number not in listed
    assert leaves["bign-org"].certificate.serial_number not in listed
    now = dt.datetime.now(dt.timezone.utc)
    assert tbs["this_update"].native <= now < tbs["next_update"].native


def test_the_root_crl_is_signed_by_the_root_and_revokes_nothing(bign: BignManifest) -> None:
    root_der, ca_der = _der(bign.root_pem), _der(bign.ca_pem)
    revocations = crl.CertificateList.load(_der(bign.root_crl_pem))
    tbs = revocations["tbs_cert_list"]
    _assert_bign_with_hbelt(revocations["signature_algorithm"])
    assert _signed_by(root_der, tbs.dump(), revocations["signature"].native)
    assert not _signed_by(ca_der, tbs.dump(), revocations["signature"].native)
    assert len(tbs["revoked_certificates"]) == 0


def test_subjects_carry_the_personal_number_and_the_org_the_unp(
        bign: BignManifest, leaves: dict[str, Identity]) -> None:
    def values(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> list[str]:
        return [str(a.value) for a in cert.subject.get_attributes_for_oid(oid)]

    for name in ("bign-person", "bign-person-revoked"):
        cert = leaves[name].certificate
        assert values(cert, PERSONAL_NUMBER) == [bign.personal_number], name
        assert values(cert, UNP) == [], name
    org = leaves["bign-org"].certificate
    assert values(org, PERSONAL_NUMBER) == [bign.personal_number]
    assert values(org, UNP) == [bign.unp]
    for name, identity in leaves.items():
        info = CertInfo.from_certificate(identity.certificate, id=identity.id, storage="PKCS12")
        assert info.algorithm == "BIGN-256" and info.purposes == ("sign", "auth"), name
        assert info.personal_number == bign.personal_number, name
        assert info.unp == (bign.unp if name == "bign-org" else None), name
        assert info.is_valid(dt.datetime.now(dt.timezone.utc)), name


async def test_each_file_opens_with_its_password_only(bign: BignManifest) -> None:
    for name, path in bign.p12.items():
        store = Pkcs12Store([path])
        try:
            with pytest.raises(WrongPin):
                await store.unlock_file(path, bytearray(b"654321"))
            [identity] = await store.unlock_file(path, bytearray(bign.password.encode()))
            assert identity.storage == "PKCS12", name
        finally:
            await store.close()


def _shrouded_key_bags(p12_der: bytes) -> list[pkcs12.SafeBag]:
    """The pkcs8ShroudedKeyBags of the PFX (the certificate bags are not parsed: asn1crypto
    does not know bign keys)."""
    pfx = pkcs12.Pfx.load(p12_der)
    assert pfx["auth_safe"]["content_type"].native == "data"
    found = []
    for info in pfx.authenticated_safe:
        assert info["content_type"].native == "data"  # certificates in the clear, as documented
        for bag in pkcs12.SafeContents.load(info["content"].native):
            if bag["bag_id"].native == "pkcs8_shrouded_key_bag":
                found.append(bag)
    return found


def _children(der: bytes) -> list[bytes]:
    """The whole encodings of the elements of a DER SEQUENCE."""
    contents, out, offset = parser.parse(der)[4], [], 0
    while offset < len(contents):
        _, _, _, header, body, trailer = parser.parse(contents[offset:])
        out.append(header + body + trailer)
        offset += len(header) + len(body) + len(trailer)
    return out


def test_the_key_bag_is_the_stb_34_101_78_container(bign: BignManifest, leaves: dict[str, Identity]) -> None:
    for name, path in bign.p12.items():
        [bag] = _shrouded_key_bags(path.read_bytes())
        epki_der = parser.parse(bag["bag_value"].dump())[4]  # inside [0] EXPLICIT, as written
        epki = keys.EncryptedPrivateKeyInfo.load(epki_der)
        algorithm = epki["encryption_algorithm"]
        assert algorithm["algorithm"].dotted == PBES2, name
        kdf, scheme = algorithm["parameters"]["key_derivation_func"], algorithm["parameters"]["encryption_scheme"]
        assert kdf["algorithm"].dotted == PBKDF2
        params = kdf["parameters"]
        assert len(params["salt"].native) == 8 and params["iteration_count"].native >= 10_000
        assert params["key_length"].native is None  # belt-kwp256's key: no length written
        assert params["prf"]["algorithm"].dotted == HMAC_HBELT
        assert params["prf"]["parameters"].dump() == NULL
        assert scheme["algorithm"].dotted == BELT_KWP256
        assert scheme["parameters"].dump() == NULL
        # the same OIDs, as bytes in the DER (so asn1crypto's reading is not taken on trust)
        for oid in (PBES2, PBKDF2, HMAC_HBELT, BELT_KWP256):
            assert core.ObjectIdentifier(oid).dump() in epki_der, oid

        # decrypted, it is bee2's plain PrivateKeyInfo, and d*G is the certificate's key
        plain = decrypt_encrypted_private_key_info(epki_der, bign.password.encode())
        version, key_algorithm, private = _children(plain)
        assert core.Integer.load(version).native == 0
        assert [core.ObjectIdentifier.load(o).dotted for o in _children(key_algorithm)] == [BIGN_PUBKEY, CURVE256V1]
        d = int.from_bytes(core.OctetString.load(private).native, "little")
        assert 0 < d < Q
        point = _mul(d, G)
        assert point is not None
        public = point[0].to_bytes(32, "little") + point[1].to_bytes(32, "little")
        assert public == bign_public_key(_cert_der(leaves[name].certificate)), name
    with pytest.raises(WrongPin):  # belt-kwp's header check is what tells a wrong password
        decrypt_encrypted_private_key_info(epki_der, b"654321")
