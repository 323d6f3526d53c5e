"""A throw-away Belarusian test PKI signed with bign (STB 34.101.45), beside the GOST one.

``make_bign_pki(outdir)`` writes, in ``outdir``: a self-signed bign-curve256v1 root, an issuing
CA (both sign with bign-with-hbelt over belt-hash), a CRL of each (``crl.pem``: the CA's,
``root-crl.pem``: the root's, revoking nothing), and PKCS#12 files for

* ``bign-person``: a citizen's key (personal number in the subject, 1.2.112.1.2.1.1.1.1.1),
  KU digitalSignature + nonRepudiation, EKU emailProtection + clientAuth: it signs and logs in;
* ``bign-org``: an organisation's employee (the same kind of key, and the organisation's УНП,
  1.2.112.1.2.1.1.1.1.2, in the subject);
* ``bign-person-revoked``: the person again, revoked in the CRL;

and ``manifest.json`` (written last).  The private key sits in its PKCS#12 shrouded key bag
as the standard's own container (STB 34.101.78, what bee2's ``bpkiPrivkeyWrap`` writes:
PBES2 with PBKDF2 over hmac-hbelt and belt-kwp256); the certificates are left unencrypted
beside it (as ``openssl pkcs12 -certpbe NONE`` does); the MAC is the usual PKCS#12 one with
SHA-256.  Everything is made with Tanba's own belt/bign code and asn1crypto; the keys are
test material.

Run as ``python -m tanba.agent.setup.bign_pki OUTDIR`` (``softhsm-setup.sh`` does).
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

from asn1crypto import core, keys, pkcs12
from asn1crypto import x509 as ax509

from tanba.agent.formats.cms import der_tlv
from tanba.agent.setup.gost_pki import issue, new_key, revocation_list
from tanba.agent.state.atomic import write_atomic, write_private
from tanba.crypto import bign, gost
from tanba.providers.bpki import encrypt_private_key_info
from tanba.providers.gost_asn1 import encode_pkcs8
from tanba.providers.pkcs12_decode import pkcs12_kdf

PASSWORD = "123456"  # as the other test PKIs: one password for the demo
KDF_ITERATIONS = 10_000  # STB 34.101.78's minimum
MAC_ITERATIONS = 2048
CURVE = bign.CURVE256V1.oids[0]
PERSONAL_NUMBER = "1.2.112.1.2.1.1.1.1.1"
UNP = "1.2.112.1.2.1.1.1.1.2"
EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4"
CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"
#: where the CRLs would be published (the .invalid name never resolves: verifiers are given
#: the files, ``tanba verify --crl``); revocation is checked only for certificates naming one
CRL_BASE = "http://crl.tanba.invalid/bign/"


@dataclass(frozen=True)
class BignManifest:
    """What ``make_bign_pki`` wrote, with absolute paths."""

    outdir: Path
    root_pem: Path
    ca_pem: Path
    crl_pem: Path
    root_crl_pem: Path
    p12: dict[str, Path]
    password: str
    personal_number: str
    unp: str

    @classmethod
    def load(cls, outdir: Path) -> BignManifest:
        outdir = Path(outdir).resolve()
        raw = json.loads((outdir / "manifest.json").read_text("utf-8"))
        return cls(outdir, outdir / raw["root_pem"], outdir / raw["ca_pem"], outdir / raw["crl_pem"],
                   outdir / raw["root_crl_pem"], {name: outdir / rel for name, rel in raw["p12"].items()}, raw["password"],
                   raw["personal_number"], raw["unp"])

    def to_json(self) -> str:
        def rel(path: Path) -> str:
            return path.relative_to(self.outdir).as_posix()

        doc = {"root_pem": rel(self.root_pem), "ca_pem": rel(self.ca_pem), "crl_pem": rel(self.crl_pem),
               "root_crl_pem": rel(self.root_crl_pem), "p12": {name: rel(path) for name, path in self.p12.items()}, "password": self.password,
               "personal_number": self.personal_number, "unp": self.unp}
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _name(attributes: Sequence[tuple[str, str]]) -> ax509.Name:
    """A subject with one attribute per RDN, Belarusian numbers included (asn1crypto names
    only the attributes it knows, so the RDNs are built by OID)."""
    rdns = []
    for oid, value in attributes:
        string: Any = core.PrintableString(value) if oid == "2.5.4.6" else core.UTF8String(value)
        rdns.append([{"type": oid, "value": core.Any.load(string.dump())}])
    return ax509.Name.load(ax509.RDNSequence(rdns).dump())


def bign_pkcs12(key: gost.PrivateKey, certificate: ax509.Certificate, chain: Sequence[ax509.Certificate],
                password: str, *, kdf_iterations: int = KDF_ITERATIONS) -> bytes:
    """A PFX with the key in STB 34.101.78's encrypted container, certificates in the clear
    and a SHA-256 MAC."""
    secret = password.encode("utf-8")
    local_id = {"type": "local_key_id", "values": [hashlib.sha1(key.public_key.to_bytes()).digest()]}
    pkcs8 = bytearray(encode_pkcs8(key))
    try:
        shrouded = encrypt_private_key_info(bytes(pkcs8), secret, iterations=kdf_iterations)
    finally:
        pkcs8[:] = bytes(len(pkcs8))
    key_bag = pkcs12.SafeBag({
        "bag_id": "pkcs8_shrouded_key_bag",
        "bag_value": keys.EncryptedPrivateKeyInfo.load(shrouded),
        "bag_attributes": [local_id],
    })
    cert_bags = _cert_bags(certificate, chain, local_id)
    safe = pkcs12.AuthenticatedSafe([
        {"content_type": "data", "content": cert_bags},
        {"content_type": "data", "content": pkcs12.SafeContents([key_bag]).dump()},
    ]).dump()
    salt = secrets.token_bytes(16)
    mac_key = pkcs12_kdf("sha256", secret, salt, MAC_ITERATIONS, 3, 32)
    mac = hmac.new(mac_key, safe, "sha256").digest()
    return bytes(pkcs12.Pfx({
        "version": "v3",
        "auth_safe": {"content_type": "data", "content": safe},
        "mac_data": {"mac": {"digest_algorithm": {"algorithm": "sha256"}, "digest": mac},
                     "mac_salt": salt, "iterations": MAC_ITERATIONS},
    }).dump())


def _cert_bags(certificate: ax509.Certificate, chain: Sequence[ax509.Certificate], local_id: dict[str, Any]) -> bytes:
    """SafeContents of certBags (RFC 7292 4.2.3), written out: asn1crypto re-encodes a
    certificate it cannot fully parse (a bign key) when it nests it, and fails."""
    attribute = pkcs12.Attributes([local_id]).dump()
    bags = b""
    for cert in (certificate, *chain):
        bag = der_tlv(0x30, core.ObjectIdentifier("1.2.840.113549.1.9.22.1").dump()
                   + der_tlv(0xA0, der_tlv(0x04, cert.dump())))
        bags += der_tlv(0x30, core.ObjectIdentifier("1.2.840.113549.1.12.10.1.3").dump() + der_tlv(0xA0, bag)
                     + (attribute if cert is certificate else b""))
    return der_tlv(0x30, bags)


def _pem(label: str, der: bytes) -> bytes:
    from asn1crypto import pem

    return bytes(pem.armor(label, der))


def _crl_point(name: str) -> dict[str, Any]:
    return {"extn_id": "crl_distribution_points", "critical": False,
            "extn_value": [{"distribution_point": {"full_name": [
                ax509.GeneralName({"uniform_resource_identifier": CRL_BASE + name})]}}]}


def _bign_key() -> gost.PrivateKey:
    return new_key(gost.BIGN_256, CURVE)


def make_bign_pki(outdir: Path, *, kdf_iterations: int = KDF_ITERATIONS) -> BignManifest:
    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    manifest_path = outdir / "manifest.json"
    if manifest_path.exists():
        manifest_path.unlink()
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    ca_ext = [{"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": True}},
              {"extn_id": "key_usage", "critical": True, "extn_value": {"key_cert_sign", "crl_sign"}}]
    root_key = _bign_key()
    root = issue(root_key, _name([("2.5.4.6", "BY"), ("2.5.4.3", "TANBA TEST ROOT CA (BIGN)")]),
                 None, now - dt.timedelta(days=365), now + dt.timedelta(days=3650), ca_ext)
    ca_key = _bign_key()
    ca = issue(ca_key, _name([("2.5.4.6", "BY"), ("2.5.4.3", "TANBA TEST CA (BIGN)")]),
               (root_key, root), now - dt.timedelta(days=300), now + dt.timedelta(days=3000),
               [*ca_ext, _crl_point("root.crl")])
    personal_number, unp = "3140583A001PB5", "190000001"
    leaf_ext = [
        {"extn_id": "key_usage", "critical": True, "extn_value": {"digital_signature", "non_repudiation"}},
        {"extn_id": "extended_key_usage", "critical": False, "extn_value": [EMAIL_PROTECTION, CLIENT_AUTH]},
        _crl_point("ca.crl"),
    ]
    person = [("2.5.4.6", "BY"), ("2.5.4.3", "Тестовы Тэст Тэставіч"), ("2.5.4.4", "Тестовы"),
              ("2.5.4.42", "Тэст Тэставіч"), (PERSONAL_NUMBER, personal_number)]
    employee = [*person[:-1], ("2.5.4.10", "ТАА «Тэст»"), (PERSONAL_NUMBER, personal_number), (UNP, unp)]
    files: dict[str, Path] = {}
    revoked: list[ax509.Certificate] = []
    for name, subject in (("bign-person", person), ("bign-org", employee), ("bign-person-revoked", person)):
        key = _bign_key()
        cert = issue(key, _name(subject), (ca_key, ca), now - dt.timedelta(days=1), now + dt.timedelta(days=365),
                     leaf_ext)
        if name.endswith("revoked"):
            revoked.append(cert)
        files[name] = outdir / f"{name}.p12"
        write_private(files[name], bign_pkcs12(key, cert, [ca, root], PASSWORD, kdf_iterations=kdf_iterations))
        key.wipe()
    manifest = BignManifest(outdir, outdir / "root.pem", outdir / "ca.pem", outdir / "crl.pem",
                            outdir / "root-crl.pem", files, PASSWORD, personal_number, unp)
    write_atomic(manifest.root_pem, _pem("CERTIFICATE", root.dump()), 0o644)
    write_atomic(manifest.ca_pem, _pem("CERTIFICATE", ca.dump()), 0o644)
    write_atomic(manifest.crl_pem, _pem("X509 CRL", revocation_list((ca_key, ca), revoked, now).dump()), 0o644)
    write_atomic(manifest.root_crl_pem, _pem("X509 CRL", revocation_list((root_key, root), [], now).dump()), 0o644)
    root_key.wipe()
    ca_key.wipe()
    write_atomic(manifest_path, manifest.to_json().encode("utf-8"), 0o644)
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m tanba.agent.setup.bign_pki OUTDIR", file=sys.stderr)
        return 2
    manifest = make_bign_pki(Path(args[0]))
    print(f"Belarusian bign test PKI ({len(manifest.p12)} PKCS#12 files, password {manifest.password}) "
          f"in {manifest.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
