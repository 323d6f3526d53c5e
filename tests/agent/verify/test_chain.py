"""ChainValidator against the test PKI and its real OCSP/CRL server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from support.ocsp_server import RevocationServer

from tanba.agent.setup.testpki import Manifest
from tanba.agent.verify.chain import ChainStatus, ChainValidator
from tanba.protocol.errors import InvalidParams


def _cert(pki: Manifest, name: str) -> x509.Certificate:
    return pki.identities[name].certificate()


def _intermediate(pki: Manifest) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pki.intermediate_pem.read_bytes())


def _other_root() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "TANBA TEST ROOT CA")])
    now = dt.datetime.now(dt.timezone.utc)
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


async def test_valid_leaf_chains_and_is_good(pki: Manifest, ocsp: RevocationServer) -> None:
    validator = ChainValidator([pki.root_pem], timeout=2.0)
    for name in ("rsa-sign", "ec-sign", "org-rsa-sign"):
        status = await validator.validate(_cert(pki, name), [_intermediate(pki)])
        assert status == ChainStatus(True, "good", ()), name
    assert ocsp.hits["ocsp"] >= 3
    assert validator.acceptable(status)


async def test_revoked_leaf_via_ocsp(pki: Manifest, ocsp: RevocationServer) -> None:
    validator = ChainValidator([pki.root_pem], timeout=2.0)
    status = await validator.validate(_cert(pki, "rsa-sign-revoked"), [_intermediate(pki)])
    assert status.revocation == "revoked"
    assert status.chain_valid  # the path is fine; its status is not
    assert not validator.acceptable(status)
    assert ocsp.hits["ocsp"] >= 1


async def test_revoked_leaf_via_crl_when_ocsp_is_down(pki: Manifest, ocsp: RevocationServer) -> None:
    validator = ChainValidator([pki.root_pem], timeout=2.0)
    with ocsp.modes(ocsp="down"):
        status = await validator.validate(_cert(pki, "rsa-sign-revoked"), [_intermediate(pki)])
        assert ocsp.hits["crl"] >= 1
    assert status.revocation == "revoked"


async def test_hanging_ocsp_falls_back_to_crl_within_the_timeout(pki: Manifest, ocsp: RevocationServer) -> None:
    validator = ChainValidator([pki.root_pem], timeout=1.0)
    start = time.monotonic()
    with ocsp.modes(ocsp="hang"):
        status = await validator.validate(_cert(pki, "rsa-sign-revoked"), [_intermediate(pki)])
    assert status.revocation == "revoked"
    assert time.monotonic() - start < 2.0


@pytest.mark.parametrize("mode", ["down", "drop", "garbage", "hang"])
async def test_unreachable_responders_give_unknown_quickly(
    pki: Manifest, ocsp: RevocationServer, mode: str
) -> None:
    validator = ChainValidator([pki.root_pem], timeout=0.8)
    start = time.monotonic()
    with ocsp.modes(ocsp=mode, crl=mode):  # type: ignore[arg-type]
        status = await validator.validate(_cert(pki, "rsa-sign-revoked"), [_intermediate(pki)])
    assert time.monotonic() - start < 1.8
    assert status == ChainStatus(True, "unknown", ("revocation_unknown",))
    assert ChainValidator([pki.root_pem], revocation="soft").acceptable(status)
    assert not ChainValidator([pki.root_pem], revocation="require").acceptable(status)


async def test_untrusted_root_is_not_a_valid_chain_and_fetches_nothing(
    pki: Manifest, ocsp: RevocationServer, tmp_path: Path
) -> None:
    validator = ChainValidator([_other_root()], timeout=2.0)
    status = await validator.validate(_cert(pki, "rsa-sign"), [_intermediate(pki)])
    assert status == ChainStatus(False, "unknown", ("chain_untrusted",))
    assert ocsp.hits["ocsp"] == ocsp.hits["crl"] == 0  # URLs from untrusted certificates are not fetched
    no_anchor = await ChainValidator([], timeout=2.0).validate(_cert(pki, "rsa-sign"), [_intermediate(pki)])
    assert not no_anchor.chain_valid


async def test_missing_intermediate_can_come_from_configuration(pki: Manifest, ocsp: RevocationServer) -> None:
    bare = await ChainValidator([pki.root_pem], timeout=2.0).validate(_cert(pki, "rsa-sign"))
    assert bare.problems == ("chain_untrusted",)
    configured = ChainValidator([pki.root_pem], timeout=2.0, intermediates=[pki.intermediate_pem])
    assert (await configured.validate(_cert(pki, "rsa-sign"))).chain_valid


async def test_expired_leaf(pki: Manifest, ocsp: RevocationServer) -> None:
    status = await ChainValidator([pki.root_pem]).validate(_cert(pki, "rsa-sign-expired"), [_intermediate(pki)])
    assert status == ChainStatus(False, "unknown", ("certificate_expired",))


async def test_expired_leaf_is_valid_at_a_moment_inside_its_validity(pki: Manifest, ocsp: RevocationServer) -> None:
    cert = _cert(pki, "rsa-sign-expired")
    inside = cert.not_valid_before_utc + (cert.not_valid_after_utc - cert.not_valid_before_utc) / 2
    status = await ChainValidator([pki.root_pem], revocation="off").validate(cert, [_intermediate(pki)], inside)
    assert status == ChainStatus(True, "unknown", ())


async def test_revocation_off_makes_no_requests(pki: Manifest, ocsp: RevocationServer) -> None:
    status = await ChainValidator([pki.root_pem], revocation="off").validate(
        _cert(pki, "rsa-sign-revoked"), [_intermediate(pki)]
    )
    assert status == ChainStatus(True, "unknown", ())
    assert ocsp.hits["ocsp"] == ocsp.hits["crl"] == 0


def test_unreadable_anchor_is_invalid_params(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(InvalidParams):
        ChainValidator([bad])
    with pytest.raises(InvalidParams):
        ChainValidator([tmp_path / "missing.pem"])
