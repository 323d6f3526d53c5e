"""The certificate model: what Tanba knows about a certificate, read once.

:class:`CertInfo` is built from an ``x509.Certificate`` by :meth:`CertInfo.from_certificate`
and is what filters, the consent UI, ``certs.list`` and the NCALayer ``getKeyInfo`` answer
read.  :func:`cert_info` builds it for an :class:`~tanba.providers.base.Identity` and caches
it, so a request never re-parses certificates.

Definitions (documented here because clients depend on them):

* ``subject`` maps short attribute names (``CN``, ``SURNAME``, ``GIVENNAME``, ``O``, ``OU``,
  ``C``, ``L``, ``ST``, ``E``, ``serialNumber`` ...; unknown attributes by dotted OID) to
  values.  An attribute that repeats (two ``OU``) is joined with ``", "`` in certificate order.
* ``iin`` is the 12 digits of a subject ``serialNumber`` ``IIN<12 digits>``; ``bin`` the 12
  digits of a subject ``OU`` ``BIN<12 digits>`` (Kazakhstan's individual / business numbers).
* ``personal_number`` and ``unp``: Belarus's personal number (subject attribute
  1.2.112.1.2.1.1.1.1.1) and УНП, the payer's number (1.2.112.1.2.1.1.1.1.2), as written,
  upper-cased and stripped (RUC GosSUOK's certificates carry them).
* ``serial_number`` is lowercase hexadecimal without leading zeros (the DER sign byte and
  any zero padding dropped: serial 0x00ab12 is ``"ab12"``); compare serials only after the
  same normalisation (:func:`normalize_serial`).
* ``purposes`` — what Tanba offers the key for (DESIGN security rule 5):
  ``"auth"`` when the extended key usage lists clientAuth (1.3.6.1.5.5.7.3.2); ``"sign"``
  when it lists emailProtection (1.3.6.1.5.5.7.3.4) or the key usage has nonRepudiation.
  A clientAuth key without either signing mark serves ``auth`` only (a login key never signs
  documents).  A key with both marks serves both (Russian qualified certificates list both
  EKUs).  NCA's GOST 2015 keys — one key per person since 2024: digitalSignature +
  nonRepudiation, emailProtection + a role, no clientAuth — serve both too: egov.kz logs
  their owners in with them.  Older NCA signing keys (RSA, GOST 2004) came with a separate
  login key and stay ``sign`` only.  No mark at all (a CA, a TSA): ``()``, matching neither
  ``keyUsage`` filter value.  ``purpose_label`` is ``"sign"``, ``"auth"``, ``"sign+auth"``
  or None.
* ``can_authenticate`` says whether a relying party could accept a signature of this key as
  a login: the extended key usage lists clientAuth or anyExtendedKeyUsage (2.5.29.37.0), or
  there is no extended key usage at all while the key usage allows digitalSignature (or is
  absent).  Such a key never makes a raw signature over caller-chosen bytes (DESIGN security
  rule 5): it would be a Web eID login token for any site.  A signing key can be
  authentication-capable too (a certificate without EKU); the dual-use national keys are.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tanba.protocol.errors import StoreError
from tanba.protocol.methods.filter import KeyUsage as Purpose
from tanba.crypto import gost
from tanba.providers.base import Identity
from tanba.providers.keyalg import key_family


# NCA's certificates carry names longer than X.520's 64-character bound (organisation and
# CA names in Kazakh); cryptography warns on every such parse, which users would see on
# every command.  The names are read as they are.
warnings.filterwarnings("ignore", message="Attribute's length must be >= 1 and <= 64", category=UserWarning)

OID_CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string  # 1.3.6.1.5.5.7.3.2
OID_EMAIL_PROTECTION = ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string  # 1.3.6.1.5.5.7.3.4
OID_ANY_EKU = "2.5.29.37.0"
#: Belarus: the personal number and the УНП in the subject (STB 34.101.19 / RUC GosSUOK)
OID_BY_PERSONAL_NUMBER = x509.ObjectIdentifier("1.2.112.1.2.1.1.1.1.1")
OID_BY_UNP = x509.ObjectIdentifier("1.2.112.1.2.1.1.1.1.2")

#: subject attribute -> short name used in ``CertInfo.subject`` and on the wire.
SHORT_NAMES: Mapping[x509.ObjectIdentifier, str] = MappingProxyType(
    {
        NameOID.COMMON_NAME: "CN",
        NameOID.SURNAME: "SURNAME",
        NameOID.GIVEN_NAME: "GIVENNAME",
        NameOID.ORGANIZATION_NAME: "O",
        NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
        NameOID.COUNTRY_NAME: "C",
        NameOID.LOCALITY_NAME: "L",
        NameOID.STATE_OR_PROVINCE_NAME: "ST",
        NameOID.STREET_ADDRESS: "STREET",
        NameOID.EMAIL_ADDRESS: "E",
        NameOID.SERIAL_NUMBER: "serialNumber",
        NameOID.TITLE: "T",
        NameOID.DOMAIN_COMPONENT: "DC",
        NameOID.USER_ID: "UID",
        NameOID.BUSINESS_CATEGORY: "businessCategory",
        NameOID.PSEUDONYM: "pseudonym",
        OID_BY_PERSONAL_NUMBER: "personalNumber",
        OID_BY_UNP: "UNP",
    }
)

# Names used in DN strings (RFC 4514 and NCALayer's style); cryptography's defaults print
# SURNAME, GIVENNAME, serialNumber and E as dotted OIDs.
_DN_NAMES: dict[x509.ObjectIdentifier, str] = {
    NameOID.SURNAME: "SURNAME",
    NameOID.GIVEN_NAME: "GIVENNAME",
    NameOID.SERIAL_NUMBER: "SERIALNUMBER",
    NameOID.EMAIL_ADDRESS: "E",
    NameOID.TITLE: "T",
}
# NCALayer (BouncyCastle) prints givenName as G.
_NCA_DN_NAMES = {**_DN_NAMES, NameOID.GIVEN_NAME: "G"}

_KEY_USAGE_NAMES = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
)

_CURVES = {"secp256r1": "P256", "secp384r1": "P384", "secp521r1": "P521"}
#: national key families whose one key serves login and signing (NCA since 2024)
_ONE_KEY_PER_PERSON = (gost.KZ_2015_512, gost.KZ_2015_256)
_IIN = re.compile(r"^IIN([0-9]{12})$")
_BIN = re.compile(r"^BIN([0-9]{12})$")


def to_pem(cert: x509.Certificate | bytes) -> str:
    """A certificate (or its DER, armoured as it is — a verifier shows what it was given,
    parseable or not) as PEM text: the one spelling of every wire and file."""
    der = cert if isinstance(cert, bytes) else cert.public_bytes(serialization.Encoding.DER)
    text = base64.b64encode(der).decode("ascii")
    body = "".join(text[i : i + 64] + "\n" for i in range(0, len(text), 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"


def normalize_serial(serial_hex: str) -> str:
    """Lowercase hex without leading zeros (``"00AB12"`` -> ``"ab12"``, ``"0"`` -> ``"0"``)."""
    return serial_hex.strip().lower().lstrip("0") or "0"


def _attr_value(attr: x509.NameAttribute[Any]) -> str:
    value = attr.value
    return value if isinstance(value, str) else value.hex()


def _subject_map(name: x509.Name) -> dict[str, str]:
    out: dict[str, str] = {}
    for attr in name:
        key = SHORT_NAMES.get(attr.oid, attr.oid.dotted_string)
        value = _attr_value(attr)
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    attrs = name.get_attributes_for_oid(oid)
    return _attr_value(attrs[0]) if attrs else None


def _number(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    value = _first(name, oid)
    if value is None:
        return None
    return value.strip().upper() or None


def _forward_dn(name: x509.Name) -> str:
    """DN in certificate order, comma-separated, as NCALayer (BouncyCastle) prints it."""
    return ",".join(rdn.rfc4514_string(_NCA_DN_NAMES) for rdn in name.rdns)


def _extension(cert: x509.Certificate, kind: type[Any]) -> Any:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _key_usage(cert: x509.Certificate) -> tuple[str, ...]:
    ku = _extension(cert, x509.KeyUsage)
    if ku is None:
        return ()
    names = [label for attr, label in _KEY_USAGE_NAMES if getattr(ku, attr)]
    if ku.key_agreement:
        names += [label for attr, label in (("encipher_only", "encipherOnly"), ("decipher_only", "decipherOnly")) if getattr(ku, attr)]
    return tuple(names)


def _purposes(eku: tuple[str, ...], key_usage: tuple[str, ...], cert: x509.Certificate) -> tuple[Purpose, ...]:
    auth = OID_CLIENT_AUTH in eku
    sign = OID_EMAIL_PROTECTION in eku or "nonRepudiation" in key_usage
    if sign and not auth and key_family(cert) in _ONE_KEY_PER_PERSON and "digitalSignature" in key_usage:
        auth = True
    out: list[Purpose] = []
    if sign:
        out.append("sign")
    if auth:
        out.append("auth")
    return tuple(out)


def _algorithm(cert: x509.Certificate) -> str:
    family = key_family(cert)
    if family is not None:
        return family.name
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):  # GOST ... cryptography cannot load: name it by OID
        return f"OID-{cert.public_key_algorithm_oid.dotted_string}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC-{_CURVES.get(key.curve.name, key.curve.name)}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA-{key.key_size}"
    return f"OID-{cert.public_key_algorithm_oid.dotted_string}"


@dataclass(frozen=True)
class CertInfo:
    """One certificate, read once; see the module docstring for the definitions."""

    id: str
    storage: str
    subject: Mapping[str, str]
    subject_dn: str  # RFC 4514
    subject_dn_forward: str  # certificate order, as NCALayer prints it
    subject_cn: str | None
    iin: str | None
    bin: str | None
    personal_number: str | None
    unp: str | None
    issuer: str  # RFC 4514
    issuer_dn_forward: str
    issuer_cn: str | None
    serial_number: str  # lowercase hex, no leading zeros
    not_before: dt.datetime  # aware, UTC
    not_after: dt.datetime  # aware, UTC
    key_usage: tuple[str, ...]
    ext_key_usage: tuple[str, ...]  # dotted OIDs
    policies: tuple[str, ...]  # dotted OIDs of certificatePolicies
    purposes: tuple[Purpose, ...]  # ("sign",), ("auth",), ("sign", "auth") or ()
    algorithm: str  # "RSA-2048", "EC-P256", "GOST3410-2015-512", ...
    fingerprint_sha256: str  # lowercase hex
    subject_key_id: str | None  # lowercase hex
    authority_key_id: str | None  # lowercase hex
    pem: str
    certificate: x509.Certificate = field(repr=False, compare=False)
    chain_pem: tuple[str, ...] = ()

    def __hash__(self) -> int:
        return hash((self.id, self.fingerprint_sha256))

    @classmethod
    def from_certificate(
        cls, cert: x509.Certificate, *, id: str, storage: str, chain: Sequence[x509.Certificate] = ()
    ) -> CertInfo:
        subject = _subject_map(cert.subject)
        serial_attr = _first(cert.subject, NameOID.SERIAL_NUMBER) or ""
        iin_match = _IIN.match(serial_attr)
        bin_value = None
        for ou in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME):
            m = _BIN.match(_attr_value(ou))
            if m:
                bin_value = m.group(1)
                break
        eku_ext = _extension(cert, x509.ExtendedKeyUsage)
        eku = tuple(oid.dotted_string for oid in eku_ext) if eku_ext is not None else ()
        pol_ext = _extension(cert, x509.CertificatePolicies)
        policies = tuple(p.policy_identifier.dotted_string for p in pol_ext) if pol_ext is not None else ()
        key_usage = _key_usage(cert)
        ski = _extension(cert, x509.SubjectKeyIdentifier)
        aki = _extension(cert, x509.AuthorityKeyIdentifier)
        der = cert.public_bytes(serialization.Encoding.DER)
        return cls(
            id=id,
            storage=storage,
            subject=MappingProxyType(subject),
            subject_dn=cert.subject.rfc4514_string(_DN_NAMES),
            subject_dn_forward=_forward_dn(cert.subject),
            subject_cn=_first(cert.subject, NameOID.COMMON_NAME),
            iin=iin_match.group(1) if iin_match else None,
            bin=bin_value,
            personal_number=_number(cert.subject, OID_BY_PERSONAL_NUMBER),
            unp=_number(cert.subject, OID_BY_UNP),
            issuer=cert.issuer.rfc4514_string(_DN_NAMES),
            issuer_dn_forward=_forward_dn(cert.issuer),
            issuer_cn=_first(cert.issuer, NameOID.COMMON_NAME),
            serial_number=format(cert.serial_number, "x"),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            key_usage=key_usage,
            ext_key_usage=eku,
            policies=policies,
            purposes=_purposes(eku, key_usage, cert),
            algorithm=_algorithm(cert),
            fingerprint_sha256=hashlib.sha256(der).hexdigest(),
            subject_key_id=ski.digest.hex() if ski is not None else None,
            authority_key_id=aki.key_identifier.hex() if aki is not None and aki.key_identifier else None,
            pem=to_pem(cert),
            chain_pem=tuple(to_pem(c) for c in chain),
            certificate=cert,
        )

    @property
    def ncalayer_algorithm(self) -> str:
        """NCALayer's ``getKeyInfo.algorithm``: Kalkan's names (``RSA``, ``ECGOST34310``,
        ``ECGOST3410-2015``), else the family of :attr:`algorithm` (``EC``)."""
        family = key_family(self.certificate)
        return family.ncalayer_name if family is not None else self.algorithm.split("-", 1)[0]

    def serves(self, purpose: Purpose) -> bool:
        """Whether Tanba offers this key for ``purpose`` (the ``keyUsage`` filter and rule 5
        read this, and a key that serves ``auth`` is never used for raw signatures)."""
        return purpose in self.purposes

    @property
    def purpose_label(self) -> str | None:
        """``"sign"``, ``"auth"``, ``"sign+auth"`` (a dual-use key) or None."""
        return "+".join(self.purposes) or None

    @property
    def can_authenticate(self) -> bool:
        """Whether a signature of this key could pass for a login (see the module doc)."""
        if self.serves("auth"):
            return True
        if OID_CLIENT_AUTH in self.ext_key_usage or OID_ANY_EKU in self.ext_key_usage:
            return True
        if self.ext_key_usage:
            return False
        return not self.key_usage or "digitalSignature" in self.key_usage

    @property
    def owner_name(self) -> str:
        """What a user calls this certificate: the CN, with the organisation when there is one."""
        name = self.subject_cn or self.subject_dn
        org = self.subject.get("O")
        return f"{name} / {org}" if org else name

    def is_valid(self, now: dt.datetime) -> bool:
        """True when ``now`` (aware) lies within notBefore..notAfter, both inclusive."""
        return self.not_before <= now <= self.not_after


@functools.lru_cache(maxsize=1024)
def _cached(
    id: str, storage: str, cert: x509.Certificate, chain: tuple[x509.Certificate, ...]
) -> CertInfo:
    return CertInfo.from_certificate(cert, id=id, storage=storage, chain=chain)


def cert_info(identity: Identity) -> CertInfo:
    """The :class:`CertInfo` of ``identity``, parsed once and cached.

    The cache key includes the certificate itself (compared by DER), not only the id, so a
    token whose certificate was replaced under the same id is re-read.
    """
    try:
        return _cached(identity.id, identity.storage, identity.certificate, identity.chain)
    except ValueError as exc:  # cryptography parses fields lazily: a malformed one surfaces here
        raise StoreError(f"{identity.location}: the certificate {identity.id} cannot be read: {exc}") from exc
