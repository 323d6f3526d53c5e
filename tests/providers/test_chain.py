"""One chain rule for every store: names and, where it can be checked, the signature."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tanba.agent.setup.testpki import Manifest
from tanba.providers.chain import build_chain, issued_by


def _ca(name: str, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None = None) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer if issuer is not None else (subject, key)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
    return cert, key


def test_the_test_pki_leaf_chains_to_its_intermediate_and_root(pki: Manifest) -> None:
    leaf = pki.identities["rsa-sign"].certificate()
    inter, root = pki.certificate("intermediate_pem"), pki.certificate("root_pem")
    assert build_chain(leaf, [root, inter, leaf]) == (inter, root)
    assert build_chain(leaf, [root]) == ()  # the intermediate is missing: nothing guessed


def test_a_namesake_ca_whose_key_did_not_sign_is_not_taken() -> None:
    root, root_key = _ca("ROOT")
    real, real_key = _ca("ISSUING CA", (root.subject, root_key))
    impostor, _ = _ca("ISSUING CA", (root.subject, root_key))  # same name, another key
    leaf, _ = _ca("LEAF", (real.subject, real_key))
    assert issued_by(leaf, real) and not issued_by(leaf, impostor)
    assert build_chain(leaf, [impostor, real, root]) == (real, root)


def test_a_loop_of_cross_signed_cas_ends() -> None:
    a, a_key = _ca("A")
    b, b_key = _ca("B", (a.subject, a_key))
    a_by_b, _ = _ca("A", (b.subject, b_key))
    assert len(build_chain(a_by_b, [b, a_by_b, a])) <= 8
