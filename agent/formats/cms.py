"""CMS SignedData in the CAdES-BES profile, built fast.

A :class:`CmsBuilder` is made once per (certificate, chain, hash, scheme) and encodes up
front everything that does not change between documents: the certificate set, the
SignerIdentifier (issuerAndSerialNumber), the algorithm identifiers, and the signed
attributes contentType and (where the profile has it) signingCertificateV2.  Per batch it encodes the signingTime;
per document only the messageDigest, the signature and the content differ, so a
SignedData is a concatenation of pre-encoded DER pieces — asn1crypto is used to prepare
the pieces and to parse existing CMS (timestamps), never per document.

Profile for RSA and EC keys (accepted by OpenSSL, BouncyCastle-based verifiers such as
NCALayer's):
- SignedData v1, eContentType id-data, content attached or detached;
- SignerInfo v1, sid issuerAndSerialNumber, digestAlgorithm SHA-256/384/512 (parameters
  absent, RFC 5754);
- signed attributes contentType, messageDigest, signingTime (UTCTime),
  signingCertificateV2 (ESSCertIDv2: SHA-256 of the certificate + issuerSerial), DER-sorted;
- signatureAlgorithm: rsaEncryption for PKCS#1 v1.5 (RFC 3370, what OpenSSL emits),
  id-RSASSA-PSS with explicit parameters (MGF1 same hash, salt = digest length),
  ecdsa-with-SHA256/384/512 (signature DER Ecdsa-Sig-Value).

GOST keys sign with their family's own hash (:mod:`tanba.providers.keyalg`) and write what
the real peers of each country write (:func:`profile_for`):

- Kazakhstan (NCA's 2004 and 2015 keys) — byte for byte what Kalkan, NCA's library, writes
  (``kalkan_gost2015_rsa.p7s``, ``kalkan_gost2004.p7s`` in the NCA test data):
  digestAlgorithm {1.2.398.3.10.1.3.3 (2015-512) / …3.2 (2015-256) / …3.1 (34.311-95), NULL},
  signatureAlgorithm {the family's signature OID, e.g. 1.2.398.3.10.1.1.2.3.2, NULL}, signed
  attributes contentType, signingTime, messageDigest and nothing else.  signingCertificateV2
  is left out: Kalkan never writes it, so NCA-side verifiers have never been shown one; its
  ESSCertIDv2 would name either SHA-256 (a foreign hash inside an all-GOST signature, which
  a GOST-only verifier cannot check) or a Kazakh hash OID no ESS reader knows.  Matching
  Kalkan exactly keeps our signatures indistinguishable from the ones portals already take.
- Russia (GOST R 34.10-2012) — what OpenSSL's gost engine writes for
  ``openssl cms -sign -cades -md md_gost12_256``: digestAlgorithm {1.2.643.7.1.1.2.2 / .2.3,
  NULL}, signatureAlgorithm {the *key* OID 1.2.643.7.1.1.1.1 / .1.2, NULL} (the engine, and
  Rutoken, name the key rather than 1.2.643.7.1.1.3.x there), and signingCertificateV2 with
  hashAlgorithm {the Streebog OID, NULL} and the Streebog hash of the certificate, as the
  engine's CAdES mode (and CAdES-BES) has it.  The engine's smimeCapabilities attribute, an
  OpenSSL default that says nothing about the signature, is not copied.
- Belarus (STB 34.101.45 bign): digestAlgorithm {belt-hash 1.2.112.0.2.0.34.101.31.81, NULL}
  (bash384/512 for the larger curves), signatureAlgorithm {bign-with-hbelt …45.12, NULL} —
  or bign-with-hspec …45.11 with the hash's OID as parameters — and, CAdES-BES as the
  Russian profile, signingCertificateV2 whose ESSCertIDv2 names the key's own hash.

The messageDigest is the hash output as it stands; the signature value comes from the
signer already in the family's byte order (NCA: r‖s little-endian; RFC: s‖r big-endian;
bign: S0‖S1 as the standard writes it).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from asn1crypto import algos as aalgos
from asn1crypto import cms as acms
from asn1crypto import core as acore
from asn1crypto import tsp as atsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tanba.agent.formats import digest as _digest
from tanba.crypto import accel
from tanba.crypto import gost
from tanba.protocol.errors import InternalError, InvalidParams
from tanba.providers import keyalg
from tanba.providers.base import HashAlgorithm, SignatureScheme, Signer

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- DER primitives


def der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def der_tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + der_length(len(content)) + content


def der_set(elements: Iterable[bytes], tag: int = 0x31) -> bytes:
    """A DER SET OF: element encodings in ascending order (X.690 11.6)."""
    return der_tlv(tag, b"".join(sorted(elements)))


def _hdr(tag: int, n: int) -> bytes:
    """Tag and length octets (the per-document hot path: no intermediate bytes)."""
    if n < 0x80:
        return bytes((tag, n))
    if n < 0x100:
        return bytes((tag, 0x81, n))
    if n < 0x10000:
        return bytes((tag, 0x82, n >> 8, n & 0xFF))
    return bytes((tag,)) + der_length(n)


def _oid(dotted: str) -> bytes:
    return bytes(acore.ObjectIdentifier(dotted).dump())


SEQ, SET, OCTETS = 0x30, 0x31, 0x04
CTX0, CTX1 = 0xA0, 0xA1
_NULL = b"\x05\x00"
_V1 = b"\x02\x01\x01"

OID_DATA = _oid("1.2.840.113549.1.7.1")
OID_SIGNED_DATA = _oid("1.2.840.113549.1.7.2")
OID_CONTENT_TYPE = _oid("1.2.840.113549.1.9.3")
OID_MESSAGE_DIGEST = _oid("1.2.840.113549.1.9.4")
OID_SIGNING_TIME = _oid("1.2.840.113549.1.9.5")
OID_SIGNATURE_TIMESTAMP = _oid("1.2.840.113549.1.9.16.2.14")

_HASH_OIDS = {
    HashAlgorithm.SHA256: "2.16.840.1.101.3.4.2.1",
    HashAlgorithm.SHA384: "2.16.840.1.101.3.4.2.2",
    HashAlgorithm.SHA512: "2.16.840.1.101.3.4.2.3",
}
_ECDSA_OIDS = {
    HashAlgorithm.SHA256: "1.2.840.10045.4.3.2",
    HashAlgorithm.SHA384: "1.2.840.10045.4.3.3",
    HashAlgorithm.SHA512: "1.2.840.10045.4.3.4",
}
#: the families whose CMS follows Kalkan (the others follow the gost engine)
_KALKAN_FAMILIES = frozenset({gost.KZ_2004.key_oid, gost.KZ_2015_512.key_oid, gost.KZ_2015_256.key_oid})


def digest_algorithm_der(alg: HashAlgorithm) -> bytes:
    """A SHA-2 DigestAlgorithmIdentifier, parameters absent (RFC 5754).  A GOST hash has
    one OID per country (:func:`gost_digest_algorithm_der`)."""
    if alg not in _HASH_OIDS:
        raise InvalidParams(f"{alg.value} is a national hash: its identifier depends on the key")
    return der_tlv(SEQ, _oid(_HASH_OIDS[alg]))


def gost_digest_algorithm_der(family: gost.Family) -> bytes:
    """The family's hash with NULL parameters (Kalkan and the gost engine alike)."""
    return der_tlv(SEQ, _oid(family.hash_oid) + _NULL)


def signature_algorithm_der(alg: HashAlgorithm, scheme: SignatureScheme) -> bytes:
    """The signatureAlgorithm of an RSA or EC SignerInfo (GOST ones: :func:`profile_for`)."""
    if scheme is SignatureScheme.RSA_PKCS1V15:
        return der_tlv(SEQ, _oid("1.2.840.113549.1.1.1") + _NULL)
    if scheme is SignatureScheme.ECDSA:
        return der_tlv(SEQ, _oid(_ECDSA_OIDS[alg]))
    if scheme is not SignatureScheme.RSA_PSS:
        raise InvalidParams(f"scheme {scheme.value} has no RSA/EC signature algorithm")
    hash_id = digest_algorithm_der(alg)
    mgf = der_tlv(SEQ, _oid("1.2.840.113549.1.1.8") + hash_id)
    salt = bytes((0x02, 1, alg.digest_size))
    params = der_tlv(SEQ, der_tlv(CTX0, hash_id) + der_tlv(CTX1, mgf) + der_tlv(0xA2, salt))
    return der_tlv(SEQ, _oid("1.2.840.113549.1.1.10") + params)


def check_scheme(certificate: x509.Certificate, scheme: SignatureScheme) -> None:
    """``invalid_params`` unless ``scheme`` is one the certificate's key signs with: PKCS#1
    v1.5 or PSS for RSA, ECDSA for EC, GOST R 34.10 for a national key."""
    own = keyalg.default_scheme(certificate)
    rsa_pss = own is SignatureScheme.RSA_PKCS1V15 and scheme is SignatureScheme.RSA_PSS
    if scheme is not own and not rsa_pss:
        raise InvalidParams(f"scheme {scheme.value} does not fit the certificate's key")


@dataclass(frozen=True)
class Profile:
    """The algorithm identifiers and the signing-certificate attribute of one SignerInfo."""

    digest_alg: bytes  #: DigestAlgorithmIdentifier DER (SignedData and SignerInfo)
    signature_alg: bytes  #: signatureAlgorithm DER
    #: the hash of signingCertificateV2's ESSCertIDv2; None: the attribute is left out
    ess_hash: HashAlgorithm | None


def profile_for(certificate: x509.Certificate, hash_alg: HashAlgorithm, scheme: SignatureScheme) -> Profile:
    """What a SignerInfo for ``certificate`` names (see the module docstring for why)."""
    family = keyalg.key_family(certificate)
    if family is None:
        digest_alg = digest_algorithm_der(hash_alg)
        return Profile(digest_alg, signature_algorithm_der(hash_alg, scheme), HashAlgorithm.SHA256)
    if hash_alg.value != family.hash:  # keyalg.signing_hash refuses this before
        raise InvalidParams(f"a {family.name} key signs only with {family.hash}")
    digest_alg = gost_digest_algorithm_der(family)
    if family.kind is gost.Kind.BIGN:
        params = _oid(family.signature_params_oid) if family.signature_params_oid else _NULL
        return Profile(digest_alg, der_tlv(SEQ, _oid(family.signature_oid) + params), hash_alg)
    if family.key_oid in _KALKAN_FAMILIES:
        return Profile(digest_alg, der_tlv(SEQ, _oid(family.signature_oid) + _NULL), None)
    return Profile(digest_alg, der_tlv(SEQ, _oid(family.key_oid) + _NULL), hash_alg)


def _hasher(alg: HashAlgorithm) -> Callable[[bytes], bytes]:
    """bytes -> digest: hashlib's constructor for SHA-2 (the hot path), Tanba's own code
    (through :mod:`~tanba.agent.formats.digest`) for the national hashes."""
    if alg.national:
        return functools.partial(_digest.hash_bytes, alg=alg)
    constructor: Callable[[bytes], Any] = getattr(hashlib, alg.value)

    def sha2(data: bytes) -> bytes:
        digest: bytes = constructor(data).digest()
        return digest

    return sha2


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class PrecomputedDigest:
    """A document given by its digest (detached signatures only)."""

    value: bytes


#: One document: bytes, a file path, a binary stream, an iterable of chunks, or a digest.
CmsInput = _digest.Source | PrecomputedDigest

Progress = Callable[[int, int], None]

_INLINE_LIMIT = 1 << 20  # larger documents, files and streams are hashed in a worker thread
#: without the C extension the national hashes run in Python (Streebog below 1 MB/s): past a
#: few KiB, or for more than a few signed-attribute sets, they are computed in a worker thread
_NATIONAL_INLINE_LIMIT = 4096
_NATIONAL_INLINE_ATTRS = 4


def _slow(alg: HashAlgorithm) -> bool:
    """A national hash on the pure-Python path (crypto/accel.py: the C one runs at ~100 MB/s)."""
    return alg.national and accel.speedups() is None


def inline_limit(alg: HashAlgorithm) -> int:
    """Bytes hashed on the event loop at most (more goes to a worker thread)."""
    return _NATIONAL_INLINE_LIMIT if _slow(alg) else _INLINE_LIMIT


def _resolve(item: CmsInput, alg: HashAlgorithm, detached: bool) -> tuple[bytes | None, bytes]:
    """(content to embed or None, digest); runs in a worker thread for non-bytes input."""
    if isinstance(item, PrecomputedDigest):
        if not detached:
            raise InvalidParams("a precomputed digest can only be signed detached")
        if len(item.value) != alg.digest_size:
            raise InvalidParams(
                f"digest is {len(item.value)} bytes, {alg.value} needs {alg.digest_size}"
            )
        return None, bytes(item.value)
    if detached:
        return None, _digest.digest_of(item, alg)
    if isinstance(item, (bytes, bytearray, memoryview)):
        content = bytes(item)
    elif isinstance(item, os.PathLike):
        try:
            with open(item, "rb") as f:
                content = f.read()
        except OSError as exc:
            raise InvalidParams(f"cannot read {os.fspath(item)!r}: {exc.strerror}") from exc
    elif isinstance(item, _digest.Stream):
        content = _read_all(item)
    else:
        try:
            content = b"".join(item)
        except TypeError as exc:
            raise InvalidParams("document chunks must be bytes") from exc
    return content, _digest.hash_bytes(content, alg)


def _read_all(stream: _digest.Stream) -> bytes:
    """An attached document from a stream: it is embedded, so it is read whole."""
    out = bytearray()
    view = memoryview(bytearray(_digest.CHUNK_SIZE))
    try:
        while n := stream.readinto(view):
            out += view[:n]
    except OSError as exc:
        raise InvalidParams(f"cannot read the document stream: {exc}") from exc
    return bytes(out)


# ---------------------------------------------------------------- the builder


@dataclass(frozen=True)
class _Frame:
    """Per-batch constants: signed attributes content = before + messageDigest + after."""

    before: bytes
    after: bytes
    set_header: bytes  # SET tag + length: the signed attributes as hashed
    si_head: bytes  # SignerInfo version, sid, digestAlgorithm, [0] tag + length


def _to_asn1(cert: x509.Certificate) -> ax509.Certificate:
    return ax509.Certificate.load(cert.public_bytes(Encoding.DER))


def _signing_certificate_v2(cert: ax509.Certificate, cert_der: bytes, profile: Profile) -> bytes:
    """signingCertificateV2 (RFC 5035): one ESSCertIDv2 naming ``cert``.  Its hashAlgorithm
    is left out for SHA-256 (the DEFAULT) and written with the profile's digest identifier
    otherwise (the gost engine's CAdES mode: Streebog with NULL)."""
    assert profile.ess_hash is not None
    cert_id: dict[str, Any] = {
        "cert_hash": _digest.hash_bytes(cert_der, profile.ess_hash),
        "issuer_serial": {
            "issuer": [ax509.GeneralName({"directory_name": cert.issuer})],
            "serial_number": cert.serial_number,
        },
    }
    if profile.ess_hash is not HashAlgorithm.SHA256:
        cert_id["hash_algorithm"] = aalgos.DigestAlgorithm.load(profile.digest_alg)
    ess = atsp.SigningCertificateV2({"certs": [cert_id]})
    return _attribute(_oid("1.2.840.113549.1.9.16.2.47"), bytes(ess.dump()))


def _attribute(oid: bytes, value: bytes) -> bytes:
    return der_tlv(SEQ, oid + der_tlv(SET, value))


def _utc_time(when: datetime) -> bytes:
    when = when.astimezone(timezone.utc)
    if not 1950 <= when.year < 2050:
        raise InvalidParams("signingTime outside the UTCTime range")
    return der_tlv(0x17, when.strftime("%y%m%d%H%M%SZ").encode("ascii"))


class CmsBuilder:
    """Makes CAdES-BES SignedData for one certificate, hash and scheme."""

    def __init__(
        self,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate] = (),
        hash_alg: HashAlgorithm | None = None,
        scheme: SignatureScheme | None = None,
        include_chain: bool = True,
    ) -> None:
        """``hash_alg`` None: the key's own (SHA-256, or a GOST key's family hash); a hash
        or scheme the key does not sign with is ``invalid_params``."""
        self.certificate = certificate
        self.hash_alg = keyalg.signing_hash(certificate, hash_alg)
        self.scheme = scheme or keyalg.default_scheme(certificate)
        check_scheme(certificate, self.scheme)
        self._hasher = _hasher(self.hash_alg)
        self._inline = inline_limit(self.hash_alg)
        profile = profile_for(certificate, self.hash_alg, self.scheme)

        cert = _to_asn1(certificate)
        self._cert_ders = [bytes(cert.dump())]
        if include_chain:
            self._cert_ders += [c.public_bytes(Encoding.DER) for c in chain]
        self._certs_field = der_tlv(CTX0, b"".join(self._cert_ders))
        self.digest_alg = profile.digest_alg
        self._sd_head = _V1 + der_tlv(SET, self.digest_alg)
        self._encap_detached = der_tlv(SEQ, OID_DATA)
        self.signature_alg = profile.signature_alg
        sid = acms.IssuerAndSerialNumber(
            {"issuer": cert.issuer, "serial_number": cert.serial_number}
        ).dump()
        self._si_head = _V1 + bytes(sid) + self.digest_alg

        self._fixed_attrs = [_attribute(OID_CONTENT_TYPE, OID_DATA)]
        if profile.ess_hash is not None:
            self._fixed_attrs.append(_signing_certificate_v2(cert, self._cert_ders[0], profile))
        digest_size = self.hash_alg.digest_size
        self._md_prefix = _attribute(OID_MESSAGE_DIGEST, der_tlv(OCTETS, bytes(digest_size)))[:-digest_size]
        #: the latest frame and the second (epoch) it is for
        self._frame: tuple[int, _Frame] | None = None

    # -- per batch / per document ------------------------------------------------

    def frame(self, when: datetime) -> _Frame:
        """What every document of a batch signed at ``when`` shares (signingTime counts whole
        seconds: requests within one second share the frame, made once)."""
        second = int(when.timestamp())
        cached = self._frame
        if cached is not None and cached[0] == second:
            return cached[1]
        frame = self._make_frame(when)
        self._frame = (second, frame)
        return frame

    def _make_frame(self, when: datetime) -> _Frame:
        marker = bytes(self.hash_alg.digest_size)
        md_attr = self._md_prefix + marker
        attrs = sorted([*self._fixed_attrs, _attribute(OID_SIGNING_TIME, _utc_time(when)), md_attr])
        content = b"".join(attrs)
        at = sum(len(a) for a in attrs[: attrs.index(md_attr)]) + len(self._md_prefix)
        n = len(content)
        return _Frame(
            before=content[:at],
            after=content[at + len(marker) :],
            set_header=_hdr(SET, n),
            si_head=self._si_head + _hdr(CTX0, n),
        )

    def signed_attrs(self, frame: _Frame, digests: Sequence[bytes]) -> tuple[list[bytes], list[bytes]]:
        """Signed-attribute bodies, and the digests to sign, for documents with ``digests``."""
        before, after, set_header, hasher = frame.before, frame.after, frame.set_header, self._hasher
        bodies = [before + d + after for d in digests]
        return bodies, [hasher(set_header + b) for b in bodies]

    def signer_info(self, frame: _Frame, body: bytes, signature: bytes) -> bytes:
        sig_hdr = _hdr(OCTETS, len(signature))
        n = len(frame.si_head) + len(body) + len(self.signature_alg) + len(sig_hdr) + len(signature)
        return b"".join(
            (_hdr(SEQ, n), frame.si_head, body, self.signature_alg, sig_hdr, signature)
        )

    def _assemble(self, frame: _Frame, body: bytes, signature: bytes, content: bytes | None) -> bytes:
        """The ContentInfo: lengths computed bottom-up, then one join (content copied once)."""
        si_head, sig_alg = frame.si_head, self.signature_alg
        sig_hdr = _hdr(OCTETS, len(signature))
        si_len = len(si_head) + len(body) + len(sig_alg) + len(sig_hdr) + len(signature)
        si_hdr = _hdr(SEQ, si_len)
        sis_hdr = _hdr(SET, len(si_hdr) + si_len)
        if content is None:
            encap_parts: tuple[bytes, ...] = (self._encap_detached,)
            encap_len = len(self._encap_detached)
        else:
            oct_hdr = _hdr(OCTETS, len(content))
            ctx_hdr = _hdr(CTX0, len(oct_hdr) + len(content))
            inner = len(OID_DATA) + len(ctx_hdr) + len(oct_hdr) + len(content)
            encap_hdr = _hdr(SEQ, inner)
            encap_parts = (encap_hdr, OID_DATA, ctx_hdr, oct_hdr, content)
            encap_len = len(encap_hdr) + inner
        sd_len = len(self._sd_head) + encap_len + len(self._certs_field) + len(sis_hdr) + len(si_hdr) + si_len
        sd_hdr = _hdr(SEQ, sd_len)
        ctx = _hdr(CTX0, len(sd_hdr) + sd_len)
        ci_hdr = _hdr(SEQ, len(OID_SIGNED_DATA) + len(ctx) + len(sd_hdr) + sd_len)
        return b"".join(
            (ci_hdr, OID_SIGNED_DATA, ctx, sd_hdr, self._sd_head, *encap_parts, self._certs_field,
             sis_hdr, si_hdr, si_head, body, sig_alg, sig_hdr, signature)
        )

    async def _sign(self, signer: Signer, to_sign: list[bytes]) -> list[bytes]:
        identity = getattr(signer, "identity", None)
        certificate = identity.certificate if identity is not None else self.certificate
        # ``is`` first: comparing certificates compares their DER, microseconds per request
        if certificate is not self.certificate and certificate != self.certificate:
            raise InternalError("signer key does not belong to the builder's certificate")
        signatures = await signer.sign_digests(to_sign, self.hash_alg, self.scheme)
        if len(signatures) != len(to_sign):
            raise InternalError("signer returned a wrong number of signatures")
        return signatures

    async def sign_batch(
        self,
        signer: Signer,
        items: Sequence[CmsInput],
        *,
        detached: bool = True,
        progress: Progress | None = None,
        signing_time: datetime | None = None,
    ) -> list[bytes]:
        """One CMS (DER) per item, all signatures in one ``signer.sign_digests`` call.

        ``progress(done, total)`` is called as each document has been hashed (files are
        hashed in a worker thread, in 1 MiB chunks when detached).
        """
        total = len(items)
        resolved: list[tuple[bytes | None, bytes]] = []
        hasher, inline = self._hasher, self._inline
        for i, item in enumerate(items):
            if type(item) is bytes and len(item) < inline:  # the common, fast case
                resolved.append((None if detached else item, hasher(item)))
            elif isinstance(item, PrecomputedDigest) or (
                isinstance(item, (bytes, bytearray)) and len(item) < inline
            ):
                resolved.append(_resolve(item, self.hash_alg, detached))
            else:
                resolved.append(await asyncio.to_thread(_resolve, item, self.hash_alg, detached))
            if progress is not None:
                progress(i + 1, total)
        frame = self.frame(signing_time or datetime.now(timezone.utc))
        digests = [d for _, d in resolved]
        if _slow(self.hash_alg) and len(digests) > _NATIONAL_INLINE_ATTRS:
            bodies, to_sign = await asyncio.to_thread(self.signed_attrs, frame, digests)
        else:
            bodies, to_sign = self.signed_attrs(frame, digests)
        signatures = await self._sign(signer, to_sign)
        assemble = self._assemble
        out = [
            assemble(frame, body, sig, content)
            for body, sig, (content, _) in zip(bodies, signatures, resolved)
        ]
        log.debug("built %d CMS (%s, %s, detached=%s)", total, self.hash_alg, self.scheme, detached)
        return out

    async def sign(self, signer: Signer, item: CmsInput, *, detached: bool = True) -> bytes:
        return (await self.sign_batch(signer, [item], detached=detached))[0]


# ---------------------------------------------------------------- existing CMS


def parse_signed_data(der: bytes) -> Any:
    """The ``asn1crypto`` SignedData inside a ContentInfo; anything else is invalid_params."""
    try:
        ci = acms.ContentInfo.load(der, strict=True)
        if ci["content_type"].dotted != "1.2.840.113549.1.7.2":
            raise InvalidParams("not a CMS SignedData")
        sd = ci["content"]
        if len(sd["signer_infos"]) == 0:
            raise InvalidParams("CMS has no signers")
        sd["encap_content_info"]["content_type"].dotted  # force a parse of the layers
        return sd
    except InvalidParams:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise InvalidParams(f"malformed CMS: {exc}") from exc


def build_content_info(
    *,
    version: int,
    digest_algs: Sequence[bytes],
    encap: bytes,
    certificates: Sequence[bytes],
    crls: bytes,
    signer_infos: Sequence[bytes],
) -> bytes:
    """ContentInfo(SignedData) from encoded parts (``crls`` is the whole [1] field or b"")."""
    body = bytes((0x02, 1, version)) + der_set(digest_algs) + encap
    if certificates:
        body += der_tlv(CTX0, b"".join(certificates))
    body += crls + der_tlv(SET, b"".join(signer_infos))  # kept in order: signers append
    return der_tlv(SEQ, OID_SIGNED_DATA + der_tlv(CTX0, der_tlv(SEQ, body)))
