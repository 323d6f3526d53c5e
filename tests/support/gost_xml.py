"""GOST keys, certificates and a Signer for the XML-DSig tests (format and verifier).

* :func:`issue_certificate` makes an X.509 certificate for a Tanba :class:`PrivateKey`
  (asn1crypto builds the TBSCertificate; the issuer's GOST key signs its family's hash of it,
  in its family's byte order, with NULL parameters as NCA writes them);
* :func:`engine_key` makes a Russian GOST 2012 key and a self-signed certificate with the gost
  engine (``openssl genpkey`` / ``req -x509``) and loads the key into Tanba from its PKCS#8;
* :func:`gost2001_spki` lets the engine check KZ 2004 signatures (same curve, other OIDs);
* :class:`GostSigner` is the providers' ``Signer`` interface over :meth:`PrivateKey.sign`,
  recording what it was asked (hash, scheme, batch sizes).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from pathlib import Path

from asn1crypto import core
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from support.gost_engine import openssl
from tanba.crypto import hashes
from tanba.crypto.gost import Family, PrivateKey
from tanba.providers.base import HashAlgorithm, Identity, SignatureScheme, Signer
from tanba.providers.gost_asn1 import encode_spki, private_key_from_pkcs8

#: the curve OID each test family's keys are made on
CURVES = {"GOST34310-2004": "1.2.398.3.10.1.1.1.1.1", "GOST3410-2015-512": "1.2.398.3.10.1.1.2.2.1"}


def new_key(family: Family) -> PrivateKey:
    """A fresh random key of a KZ family (the test writes no key file)."""
    curve = CURVES[family.name]
    for _ in range(8):
        try:
            return PrivateKey(family, curve, secrets.token_bytes(family.size))
        except ValueError:  # out of range for the curve's order: draw again
            continue
    raise AssertionError("no private key in range")


def issue_certificate(
    key: PrivateKey, common_name: str, *, issuer: tuple[PrivateKey, x509.Certificate] | None = None,
    not_before: dt.datetime | None = None, days: int = 365,
) -> x509.Certificate:
    """A v3 certificate for ``key``: self-signed, or signed by ``issuer`` (key, certificate)."""
    signing_key = issuer[0] if issuer else key
    subject = ax509.Name.build({"country_name": "KZ", "common_name": common_name})
    issuer_name = ax509.Certificate.load(issuer[1].public_bytes(Encoding.DER)).subject if issuer else subject
    start = not_before or dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    algorithm = ax509.SignedDigestAlgorithm(
        {"algorithm": signing_key.family.signature_oid, "parameters": core.Null()})
    tbs = ax509.TbsCertificate({
        "version": "v3",
        "serial_number": secrets.randbits(63),
        "signature": algorithm,
        "issuer": issuer_name,
        "validity": {"not_before": ax509.Time({"utc_time": start}),
                     "not_after": ax509.Time({"utc_time": start + dt.timedelta(days=days)})},
        "subject": subject,
        "subject_public_key_info": ax509.PublicKeyInfo.load(encode_spki(key.public_key)),
        "extensions": [
            {"extn_id": "key_usage", "critical": True,
             "extn_value": ax509.KeyUsage({"digital_signature", "non_repudiation"} if issuer
                                          else {"digital_signature", "key_cert_sign", "crl_sign"})},
            {"extn_id": "basic_constraints", "critical": True,
             "extn_value": ax509.BasicConstraints({"ca": issuer is None})},
        ],
    })
    signature = signing_key.sign(hashes.digest(signing_key.family.hash, tbs.dump()))
    cert = ax509.Certificate({"tbs_certificate": tbs, "signature_algorithm": algorithm,
                              "signature_value": signature})
    return x509.load_der_x509_certificate(cert.dump())


def gost2001_spki(point: bytes) -> bytes:
    """A SubjectPublicKeyInfo the gost engine reads for a KZ 2004 public point (x_LE || y_LE):
    id-GostR3410-2001 on CryptoPro-A (the 2004 curve) with the CryptoPro hash parameters."""
    class Algorithm(core.Sequence):
        _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any)]

    class Spki(core.Sequence):
        _fields = [("algorithm", Algorithm), ("public_key", core.OctetBitString)]

    class Oids(core.SequenceOf):
        _child_spec = core.ObjectIdentifier

    params = Oids([core.ObjectIdentifier("1.2.643.2.2.35.1"), core.ObjectIdentifier("1.2.643.2.2.30.1")])
    algorithm = Algorithm({"algorithm": "1.2.643.2.2.19", "parameters": core.Any.load(params.dump())})
    return bytes(Spki({"algorithm": algorithm, "public_key": core.OctetString(point).dump()}).dump())


def engine_key(directory: Path, bits: int) -> tuple[PrivateKey, x509.Certificate]:
    """A GOST R 34.10-2012 key (paramset A) and self-signed certificate from the gost engine,
    written to ``directory`` as key.pem / cert.pem / pub.pem, and the key read by Tanba."""
    openssl(directory, "genpkey", "-algorithm", f"gost2012_{bits}", "-pkeyopt", "paramset:A", "-out", "key.pem")
    openssl(directory, "pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem")
    der = openssl(directory, "pkey", "-in", "key.pem", "-outform", "DER").stdout
    openssl(directory, "req", "-x509", "-new", "-key", "key.pem", f"-md_gost12_{bits}", "-days", "30",
            "-subj", f"/C=RU/CN=Tanba test GOST 2012-{bits}", "-out", "cert.pem")
    cert = x509.load_pem_x509_certificate((directory / "cert.pem").read_bytes())
    return private_key_from_pkcs8(der), cert


class GostSigner(Signer):
    """A Signer over a Tanba GOST key, as a store's would be; records what it is asked."""

    def __init__(self, key: PrivateKey, certificate: x509.Certificate, *, corrupt: bool = False) -> None:
        self.key = key
        self.identity = Identity("gost-test", "PKCS12", certificate, (), "memory", "gost-test")
        self.corrupt = corrupt  # return a signature of other bytes (a broken token)
        self.asked: list[tuple[HashAlgorithm, SignatureScheme]] = []
        self.batches: list[int] = []
        #: one (batch size, hash, scheme) per sign_digests call
        self.calls: list[tuple[int, HashAlgorithm, SignatureScheme]] = []

    async def sign_digest(self, digest: bytes, hash_alg: HashAlgorithm, scheme: SignatureScheme) -> bytes:
        self.asked.append((hash_alg, scheme))
        if self.corrupt:
            digest = bytes([digest[0] ^ 1]) + digest[1:]
        return self.key.sign(digest)

    async def sign_digests(
        self, digests: Sequence[bytes], hash_alg: HashAlgorithm, scheme: SignatureScheme
    ) -> list[bytes]:
        self.batches.append(len(digests))
        self.calls.append((len(digests), hash_alg, scheme))
        return await super().sign_digests(digests, hash_alg, scheme)

    async def close(self) -> None:
        self.key.wipe()
