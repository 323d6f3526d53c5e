"""A throw-away GOST test PKI in NCA's 2015 profile, beside the RSA/EC one of testpki.py.

``make_gost_pki(outdir)`` writes, in ``outdir``: a self-signed GOST 2015-512 root, an issuing
CA, a CRL of that CA, and PKCS#12 files shaped like NCA's (key bag under PBE-SHA1-3DES with
the 2015 key encoding, certificates under PBE-SHA1-RC2-40, SHA-1 MAC, 2048 iterations) for

* ``gost-kz``: an individual's one key for login and signing (KU digitalSignature +
  nonRepudiation + keyAgreement, EKU emailProtection + the individual mark, no clientAuth,
  as NCA issues since 2024);
* ``gost-kz-revoked``: the same person, revoked in the CRL;
* ``gost-kz-2004-expired``: a GOST 34.310-2004 signing key of the two-key era (KU
  digitalSignature + nonRepudiation, EKU emailProtection: signing only; the 2004 key
  encoding, a DER INTEGER), its certificate expired a month ago — what NCALayer's
  ``allowExpired`` is for;

and ``manifest.json`` (written last).  Everything is made with Tanba's own GOST code and
asn1crypto (cryptography cannot sign with GOST keys); private keys are test material.

Run as ``python -m tanba.agent.setup.gost_pki OUTDIR`` (``softhsm-setup.sh`` does).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import algos, core, crl, keys, pkcs12
from asn1crypto import x509 as ax509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from tanba.agent.state.atomic import write_atomic, write_private
from tanba.crypto import gost, hashes, rc2
from tanba.providers.gost_asn1 import encode_pkcs8, encode_spki
from tanba.providers.pkcs12_decode import pkcs12_kdf

PASSWORD = "123456"  # the same as the RSA/EC test files (testpki.P12_PASSWORD): one password for the demo
ITERATIONS = 2048
CURVE = "1.2.398.3.10.1.1.2.2.1"  # tc26-512-paramSetA, as NCA's keys
POLICY = "1.2.398.3.3.2"  # NCA's certificate policy
INDIVIDUAL = "1.2.398.3.3.4.1.1"
EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4"


@dataclass(frozen=True)
class GostManifest:
    """What ``make_gost_pki`` wrote, with absolute paths."""

    outdir: Path
    root_pem: Path
    ca_pem: Path
    crl_pem: Path
    p12: dict[str, Path]
    password: str
    iin: str

    @classmethod
    def load(cls, outdir: Path) -> GostManifest:
        outdir = Path(outdir).resolve()
        raw = json.loads((outdir / "manifest.json").read_text("utf-8"))
        return cls(outdir, outdir / raw["root_pem"], outdir / raw["ca_pem"], outdir / raw["crl_pem"],
                   {name: outdir / rel for name, rel in raw["p12"].items()}, raw["password"], raw["iin"])

    def to_json(self) -> str:
        def rel(path: Path) -> str:
            return path.relative_to(self.outdir).as_posix()

        doc = {"root_pem": rel(self.root_pem), "ca_pem": rel(self.ca_pem), "crl_pem": rel(self.crl_pem),
               "p12": {name: rel(path) for name, path in self.p12.items()}, "password": self.password,
               "iin": self.iin}
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def new_key(family: gost.Family = gost.KZ_2015_512, curve_oid: str = CURVE) -> gost.PrivateKey:
    while True:
        try:
            return gost.PrivateKey(family, curve_oid, secrets.token_bytes(family.size))
        except gost.UnsupportedKey:  # above the curve's order (rare): draw again
            continue


def _algorithm(key: gost.PrivateKey) -> ax509.SignedDigestAlgorithm:
    """The family's signature OID with NULL (bign-with-hspec: with its hash's OID)."""
    named = key.family.signature_params_oid
    params = core.ObjectIdentifier(named) if named else core.Null()
    return ax509.SignedDigestAlgorithm({"algorithm": key.family.signature_oid, "parameters": params})


def _sign(key: gost.PrivateKey, tbs: Any) -> bytes:
    return key.sign(hashes.digest(key.family.hash, tbs.dump()))


def _key_id(public: gost.PublicKey) -> bytes:
    return hashlib.sha1(public.to_bytes()).digest()


def _time(when: dt.datetime) -> ax509.Time:
    return ax509.Time({"utc_time": when} if when.year < 2050 else {"general_time": when})


def issue(
    key: gost.PrivateKey, subject: ax509.Name, issuer: tuple[gost.PrivateKey, ax509.Certificate] | None,
    not_before: dt.datetime, not_after: dt.datetime, extensions: Sequence[dict[str, Any]],
) -> ax509.Certificate:
    """A v3 certificate for ``key`` signed by ``issuer`` (key, certificate), or self-signed."""
    signer, issuer_cert = issuer if issuer is not None else (key, None)
    ext = [*extensions, {"extn_id": "key_identifier", "critical": False, "extn_value": _key_id(key.public_key)},
           {"extn_id": "authority_key_identifier", "critical": False,
            "extn_value": {"key_identifier": _key_id(signer.public_key)}}]
    tbs = ax509.TbsCertificate({
        "version": "v3",
        "serial_number": secrets.randbits(159),
        "signature": _algorithm(signer),
        "issuer": issuer_cert.subject if issuer_cert is not None else subject,
        "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
        "subject": subject,
        "subject_public_key_info": keys.PublicKeyInfo.load(encode_spki(key.public_key)),
        "extensions": ext,
    })
    return ax509.Certificate({"tbs_certificate": tbs, "signature_algorithm": _algorithm(signer),
                              "signature_value": _sign(signer, tbs)})


def revocation_list(ca: tuple[gost.PrivateKey, ax509.Certificate], revoked: Sequence[ax509.Certificate],
                    now: dt.datetime) -> crl.CertificateList:
    key, cert = ca
    tbs = crl.TbsCertList({
        "version": "v2",
        "signature": _algorithm(key),
        "issuer": cert.subject,
        "this_update": _time(now - dt.timedelta(hours=1)),
        "next_update": _time(now + dt.timedelta(days=30)),
        "revoked_certificates": [
            {"user_certificate": c.serial_number, "revocation_date": _time(now - dt.timedelta(hours=2)),
             "crl_entry_extensions": [{"extn_id": "crl_reason", "extn_value": "key_compromise"}]}
            for c in revoked],
        "crl_extensions": [{"extn_id": "crl_number", "extn_value": 1},
                           {"extn_id": "authority_key_identifier",
                            "extn_value": {"key_identifier": _key_id(key.public_key)}}],
    })
    return crl.CertificateList({"tbs_cert_list": tbs, "signature_algorithm": _algorithm(key),
                                "signature": _sign(key, tbs)})


# -- PKCS#12 in NCA's shape ------------------------------------------------------------------


def _pad(data: bytes) -> bytes:
    n = 8 - len(data) % 8
    return data + bytes([n]) * n


def _pbe(kind: str, password: bytes, plain: bytes) -> tuple[algos.EncryptionAlgorithm, bytes]:
    salt = secrets.token_bytes(20)
    iv = pkcs12_kdf("sha1", password, salt, ITERATIONS, 2, 8)
    if kind == "pkcs12_sha1_tripledes_3key":
        key = pkcs12_kdf("sha1", password, salt, ITERATIONS, 1, 24)
        encryptor = Cipher(TripleDES(key), modes.CBC(iv)).encryptor()
        data = encryptor.update(_pad(plain)) + encryptor.finalize()
    else:
        data = rc2.cbc_encrypt(pkcs12_kdf("sha1", password, salt, ITERATIONS, 1, 5), 40, iv, _pad(plain))
    algorithm = algos.EncryptionAlgorithm({"algorithm": kind,
                                           "parameters": {"salt": salt, "iterations": ITERATIONS}})
    return algorithm, data


def nca_pkcs12(key: gost.PrivateKey, certificate: ax509.Certificate, chain: Sequence[ax509.Certificate],
               password: str) -> bytes:
    """A PFX as NCA writes them: 3DES key bag, RC2-40 certificate bag, SHA-1 MAC."""
    secret = password.encode("utf-8")
    local_id = {"type": "local_key_id", "values": [_key_id(key.public_key)]}
    algorithm, encrypted = _pbe("pkcs12_sha1_tripledes_3key", secret, encode_pkcs8(key))
    key_bag = pkcs12.SafeBag({
        "bag_id": "pkcs8_shrouded_key_bag",
        "bag_value": keys.EncryptedPrivateKeyInfo({"encryption_algorithm": algorithm, "encrypted_data": encrypted}),
        "bag_attributes": [local_id],
    })
    cert_bags = [pkcs12.SafeBag({
        "bag_id": "cert_bag",
        "bag_value": pkcs12.CertBag({"cert_id": "x509", "cert_value": c}),
        "bag_attributes": [local_id] if c is certificate else [],
    }) for c in (certificate, *chain)]
    cert_algorithm, cert_data = _pbe("pkcs12_sha1_rc2_40", secret, pkcs12.SafeContents(cert_bags).dump())
    safe = pkcs12.AuthenticatedSafe([
        {"content_type": "encrypted_data",
         "content": {"version": "v0", "encrypted_content_info": {
             "content_type": "data", "content_encryption_algorithm": cert_algorithm,
             "encrypted_content": cert_data}}},
        {"content_type": "data", "content": pkcs12.SafeContents([key_bag]).dump()},
    ]).dump()
    salt = secrets.token_bytes(20)
    mac_key = pkcs12_kdf("sha1", secret, salt, ITERATIONS, 3, 20)
    mac = hmac.new(mac_key, safe, "sha1").digest()
    return bytes(pkcs12.Pfx({
        "version": "v3",
        "auth_safe": {"content_type": "data", "content": safe},
        "mac_data": {"mac": {"digest_algorithm": {"algorithm": "sha1"}, "digest": mac},
                     "mac_salt": salt, "iterations": ITERATIONS},
    }).dump())


# -- the PKI -----------------------------------------------------------------------------------


def _iin() -> str:
    from tanba.agent.setup.testpki import _iin as kz_iin  # one checksum rule for both PKIs

    return kz_iin("85010130001")


def _person(iin: str) -> ax509.Name:
    return ax509.Name.build({
        "common_name": "ТЕСТОВ ГОСТ", "surname": "ТЕСТОВ", "serial_number": f"IIN{iin}",
        "country_name": "KZ", "given_name": "ТЕСТОВИЧ",
    }, use_printable=False)


def _pem(label: str, der: bytes) -> bytes:
    from asn1crypto import pem

    return bytes(pem.armor(label, der))


def make_gost_pki(outdir: Path) -> GostManifest:
    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    manifest_path = outdir / "manifest.json"
    if manifest_path.exists():
        manifest_path.unlink()
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    ca_ext = [{"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": True}},
              {"extn_id": "key_usage", "critical": True, "extn_value": {"key_cert_sign", "crl_sign"}}]
    root_key = new_key()
    root = issue(root_key, ax509.Name.build({"country_name": "KZ", "common_name": "TANBA TEST ROOT CA (GOST)"}),
                 None, now - dt.timedelta(days=365), now + dt.timedelta(days=3650), ca_ext)
    ca_key = new_key()
    ca = issue(ca_key, ax509.Name.build({"country_name": "KZ", "common_name": "TANBA TEST CA (GOST)"}),
               (root_key, root), now - dt.timedelta(days=300), now + dt.timedelta(days=3000), ca_ext)
    iin = _iin()
    leaf_ext = [
        {"extn_id": "key_usage", "critical": True,
         "extn_value": {"digital_signature", "non_repudiation", "key_agreement"}},
        {"extn_id": "extended_key_usage", "critical": False, "extn_value": [EMAIL_PROTECTION, INDIVIDUAL]},
        {"extn_id": "certificate_policies", "critical": False, "extn_value": [{"policy_identifier": POLICY}]},
    ]
    sign_2004_ext = [
        {"extn_id": "key_usage", "critical": True, "extn_value": {"digital_signature", "non_repudiation"}},
        {"extn_id": "extended_key_usage", "critical": False, "extn_value": [EMAIL_PROTECTION, INDIVIDUAL]},
    ]
    files: dict[str, Path] = {}
    revoked: list[ax509.Certificate] = []
    for name in ("gost-kz", "gost-kz-revoked", "gost-kz-2004-expired"):
        if name.endswith("2004-expired"):
            key = new_key(gost.KZ_2004, "1.2.398.3.10.1.1.1.1.1")
            cert = issue(key, _person(iin), (ca_key, ca), now - dt.timedelta(days=400), now - dt.timedelta(days=30),
                         sign_2004_ext)
        else:
            key = new_key()
            cert = issue(key, _person(iin), (ca_key, ca), now - dt.timedelta(days=1), now + dt.timedelta(days=365),
                         leaf_ext)
        if name.endswith("revoked"):
            revoked.append(cert)
        files[name] = outdir / f"{name}.p12"
        write_private(files[name], nca_pkcs12(key, cert, [ca, root], PASSWORD))
        key.wipe()
    manifest = GostManifest(outdir, outdir / "root.pem", outdir / "ca.pem", outdir / "crl.pem", files, PASSWORD, iin)
    write_atomic(manifest.root_pem, _pem("CERTIFICATE", root.dump()), 0o644)
    write_atomic(manifest.ca_pem, _pem("CERTIFICATE", ca.dump()), 0o644)
    write_atomic(manifest.crl_pem, _pem("X509 CRL", revocation_list((ca_key, ca), revoked, now).dump()), 0o644)
    root_key.wipe()
    ca_key.wipe()
    write_atomic(manifest_path, manifest.to_json().encode("utf-8"), 0o644)
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m tanba.agent.setup.gost_pki OUTDIR", file=sys.stderr)
        return 2
    manifest = make_gost_pki(Path(args[0]))
    print(f"GOST test PKI ({len(manifest.p12)} PKCS#12 files, password {manifest.password}) in {manifest.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
