"""Belarusian test certificates (RUC GosSUOK's subject numbers), for the tests of the certificate model."""

from __future__ import annotations

import datetime as dt

from tanba.providers.base import Identity


def belarusian_identity(personal_number: str, unp: str | None) -> Identity:
    """A certificate as RUC GosSUOK writes the person's numbers (an EC key stands in for bign)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, "Иванов Иван"), x509.NameAttribute(NameOID.COUNTRY_NAME, "BY"),
             x509.NameAttribute(x509.ObjectIdentifier("1.2.112.1.2.1.1.1.1.1"), personal_number)]
    if unp is not None:
        attrs.append(x509.NameAttribute(x509.ObjectIdentifier("1.2.112.1.2.1.1.1.1.2"), unp))
    name = x509.Name(attrs)
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=9))
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    return Identity(f"by:{personal_number}", "PKCS12", cert, (), "memory", personal_number)
