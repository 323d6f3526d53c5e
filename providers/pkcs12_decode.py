"""Tanba's own PKCS#12 reader, for files cryptography's OpenSSL cannot open: GOST keys.

NCA's files (DESIGN.md, "National algorithms") hold a GOST key in a shrouded key bag under
pbeWithSHAAnd3-KeyTripleDES-CBC and their certificates in an EncryptedData under
pbeWithSHAAnd40BitRC2-CBC, with a SHA-1 MAC; OpenSSL decrypts both but then refuses the GOST
key, so the whole file is refused.  Here the bags are decrypted with cryptography's 3DES /
AES primitives and :mod:`tanba.crypto.rc2`, and the keys come back as PKCS#8 DER for the
caller to read (GOST through :mod:`~tanba.providers.gost_asn1`, others through cryptography).

Russian files in the TC26 profile (R 50.1.112-2016, what the gost engine writes; facts
checked on its files):

* PBES2 with PBKDF2 whose PRF is named by OID — HMAC-Streebog-512/256 (the gost engine's
  GOST 28147 bags) or hmacWithSHA256 (its Kuznyechik bags: its cipher names no PRF);
* GOST 28147-89 (1.2.643.2.2.21, parameters {IV, S-box OID}): CFB with CryptoPro key
  meshing; Kuznyechik CTR-ACPKM (1.2.643.7.1.1.5.2.1, parameters {ukm}): CTR with the IV
  ukm[0:8], re-keyed every 4096 bytes; both without padding;
* a Streebog MAC whose key is the last 32 of 96 bytes of PBKDF2-HMAC-Streebog-512 over the
  password and the MAC salt (OpenSSL's TC26 rule), the password used as typed (UTF-8).

Belarusian keys (STB 34.101.78, "bpki", what bee2 and bee2evp write): PBES2 with PBKDF2
whose PRF is hmac-hbelt (1.2.112.0.2.0.34.101.47.12, HMAC over belt-hash) and the cipher
belt-kwp256 (1.2.112.0.2.0.34.101.31.73, parameters NULL): the 32-byte key unwraps the whole
ciphertext with the all-zero header, whose check is the password check.  A lone
EncryptedPrivateKeyInfo of that kind (a bpki container) opens with
:func:`decrypt_encrypted_private_key_info`; :mod:`~tanba.providers.bpki` writes them.

The Russian and Belarusian KDFs run in Python (about a second per 2048 iterations of
HMAC-Streebog; hmac-hbelt's usual 10,000 take one to two): unlocking such a file takes a
few seconds.

The MAC is checked first: a wrong password is ``WrongPin``; a right one with contents that
cannot be read (an unknown cipher, a broken bag) is ``StoreError`` naming what was found.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import core, keys
from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tanba.crypto import beltwrap, kdf, kuznyechik, rc2
from tanba.crypto.gost28147 import Gost28147, sbox_by_oid
from tanba.protocol.errors import StoreError, WrongPin

_SHA = ("sha1", "sha224", "sha256", "sha384", "sha512")
#: HMAC PRF / digest OIDs of the national hashes -> tanba.crypto.hashes names
_GOST_HASHES = {
    "1.2.643.7.1.1.4.1": "streebog256", "1.2.643.7.1.1.4.2": "streebog512",  # HMAC-Streebog
    "1.2.643.7.1.1.2.2": "streebog256", "1.2.643.7.1.1.2.3": "streebog512",  # Streebog (MAC)
    "1.2.643.2.2.9": "gost3411-94",
}
#: PBKDF2 PRF OIDs of STB 34.101.47 -> tanba.crypto.hashes names (hmac-hbelt)
_BELT_PRFS = {"1.2.112.0.2.0.34.101.47.12": "belt-hash"}
_BELT_KWP256 = "1.2.112.0.2.0.34.101.31.73"
_GOST28147 = "1.2.643.2.2.21"
_KUZNYECHIK_CTR_ACPKM = "1.2.643.7.1.1.5.2.1"
_MAX_ITERATIONS = 10_000_000  # a file asking for more is not a key file but a denial of service


@dataclass
class Decoded:
    """What a decrypted file holds: PKCS#8 DER keys and DER certificates, with their
    localKeyId attributes (b"" when absent) for pairing."""

    keys: list[tuple[bytes, bytes]] = field(default_factory=list)
    certificates: list[tuple[bytes, bytes]] = field(default_factory=list)


def pkcs12_kdf(hash_name: str, password: bytes, salt: bytes, iterations: int, purpose: int, size: int) -> bytes:
    """RFC 7292 appendix B.2 key derivation; ``password`` is UTF-8, used as a BMPString."""
    h = hashlib.new(hash_name)
    u, v = h.digest_size, h.block_size
    secret = password.decode("utf-8").encode("utf-16-be") + b"\0\0"

    def stretch(value: bytes) -> bytes:
        if not value:
            return b""
        length = v * math.ceil(len(value) / v)
        return (value * (length // len(value) + 1))[:length]

    block_i = bytearray(stretch(salt) + stretch(secret))
    diversifier = bytes([purpose]) * v
    out = b""
    while True:
        a = hashlib.new(hash_name, diversifier + bytes(block_i)).digest()
        for _ in range(iterations - 1):
            a = hashlib.new(hash_name, a).digest()
        out += a
        if len(out) >= size:
            return out[:size]
        b = int.from_bytes((a * (v // u + 1))[:v], "big") + 1
        for j in range(0, len(block_i), v):
            chunk = (int.from_bytes(block_i[j : j + v], "big") + b) % (1 << (8 * v))
            block_i[j : j + v] = chunk.to_bytes(v, "big")


def mac_ok(pfx: Any, password: bytes) -> bool | None:
    """True/False when the file's MAC checks / fails with ``password``; None without a MAC
    Tanba can check."""
    mac_data = pfx["mac_data"]
    if mac_data.native is None:
        return None
    algorithm = mac_data["mac"]["digest_algorithm"]["algorithm"]
    hash_name = algorithm.native
    iterations = mac_data["iterations"].native
    if not 0 < iterations <= _MAX_ITERATIONS:
        return None
    salt = mac_data["mac_salt"].native
    content = pfx["auth_safe"]["content"].native
    gost_hash = _GOST_HASHES.get(algorithm.dotted)
    if gost_hash is not None:  # the TC26 rule: PBKDF2 with HMAC of that hash, last 32 of 96 bytes
        key = kdf.pbkdf2_hmac(gost_hash, password, salt, iterations, 96)[64:]
        mac = kdf.hmac_digest(gost_hash, key, content)
    elif hash_name in _SHA:
        key = pkcs12_kdf(hash_name, password, salt, iterations, 3, hashlib.new(hash_name).digest_size)
        mac = hmac.new(key, content, hash_name).digest()
    else:
        return None
    return hmac.compare_digest(mac, mac_data["mac"]["digest"].native)


class DecryptionFailed(ValueError):
    """The decrypted data fails the cipher's own check (padding, a key wrap's header): with
    a cipher that checks, the sign of a wrong password."""


def _unpad(data: bytes, block: int) -> bytes:
    n = data[-1] if data else 0
    if not 1 <= n <= block or data[-n:] != bytes([n]) * n:
        raise DecryptionFailed("bad padding")
    return data[:-n]


def _cbc(cipher: Any, iv: bytes, data: bytes) -> bytes:
    decryptor = Cipher(cipher, modes.CBC(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def _pkcs12_pbe(kind: str, params: Any, password: bytes, data: bytes) -> bytes:
    salt, iterations = params["salt"].native, params["iterations"].native
    if not 0 < iterations <= _MAX_ITERATIONS:
        raise ValueError(f"{iterations} iterations")
    iv = pkcs12_kdf("sha1", password, salt, iterations, 2, 8)
    if kind in ("pkcs12_sha1_tripledes_3key", "pkcs12_sha1_tripledes_2key"):
        key = pkcs12_kdf("sha1", password, salt, iterations, 1, 24)
        if kind.endswith("2key"):
            key = key[:16] + key[:8]
        return _unpad(_cbc(TripleDES(key), iv, data), 8)
    bits = 40 if kind == "pkcs12_sha1_rc2_40" else 128
    key = pkcs12_kdf("sha1", password, salt, iterations, 1, bits // 8)
    return _unpad(rc2.cbc_decrypt(key, bits, iv, data), 8)


def _pbes2(params: Any, password: bytes, data: bytes) -> bytes:
    derivation = params["key_derivation_func"]
    if derivation["algorithm"].native != "pbkdf2":
        raise ValueError(f"key derivation {derivation['algorithm'].dotted}")
    kp = derivation["parameters"]
    salt = kp["salt"].native
    iterations = kp["iteration_count"].native
    if not isinstance(salt, bytes) or not 0 < iterations <= _MAX_ITERATIONS:
        raise ValueError("PBKDF2 parameters")
    prf = kp["prf"]["algorithm"]
    scheme = params["encryption_scheme"]
    scheme_oid = scheme["algorithm"].dotted
    name = scheme["algorithm"].native
    sizes = {"aes128_cbc": 16, "aes192_cbc": 24, "aes256_cbc": 32, "tripledes_3key": 24,
             _GOST28147: 32, _KUZNYECHIK_CTR_ACPKM: 32, _BELT_KWP256: 32}
    size = sizes.get(name, sizes.get(scheme_oid))
    if size is None:
        raise ValueError(f"encryption scheme {scheme_oid}")
    prf_hash = str(prf.native).removeprefix("hmac_with_")
    national = _GOST_HASHES.get(prf.dotted) or _BELT_PRFS.get(prf.dotted)
    if national is not None:
        key = kdf.pbkdf2_hmac(national, password, salt, iterations, size)
    elif prf_hash in _SHA:
        key = hashlib.pbkdf2_hmac(prf_hash, password, salt, iterations, size)
    else:
        raise ValueError(f"PBKDF2 PRF {prf.dotted}")
    if scheme_oid == _GOST28147:
        iv, sbox_oid = _gost28147_parameters(scheme["parameters"])
        return Gost28147(key, sbox_by_oid(sbox_oid)).cfb_decrypt(iv, data, meshing=True)
    if scheme_oid == _KUZNYECHIK_CTR_ACPKM:
        ukm = _ukm(scheme["parameters"])
        return kuznyechik.ctr_acpkm(key, ukm[:8], data)
    if scheme_oid == _BELT_KWP256:
        return _belt_kwp(scheme["parameters"], key, data)
    iv = scheme["parameters"].native
    if name == "tripledes_3key":
        return _unpad(_cbc(TripleDES(key), iv, data), 8)
    return _unpad(_cbc(algorithms.AES(key), iv, data), 16)


class _Gost28147Params(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    _fields = [("iv", core.OctetString), ("sbox", core.ObjectIdentifier)]


class _UkmParams(core.Sequence):  # type: ignore[misc]
    _fields = [("ukm", core.OctetString)]


def _belt_kwp(parameters: Any, key: bytes, data: bytes) -> bytes:
    """belt-kwp256 unwrap with the zero header; its parameters are NULL (what bee2 writes and
    requires) or absent."""
    if parameters.native is not None:
        raise ValueError("belt-kwp256 parameters must be NULL")
    if len(data) < 32:
        raise ValueError("belt-kwp256 ciphertext shorter than 32 bytes")
    try:
        return beltwrap.kwp_unwrap(key, data)
    except ValueError as exc:
        raise DecryptionFailed(str(exc)) from exc


def _gost28147_parameters(value: Any) -> tuple[bytes, str]:
    params = _Gost28147Params.load(value.dump())
    iv = params["iv"].native
    if len(iv) != 8:
        raise ValueError("GOST 28147-89 IV must be 8 bytes")
    return iv, params["sbox"].dotted


def _ukm(value: Any) -> bytes:
    ukm = _UkmParams.load(value.dump())["ukm"].native
    if len(ukm) < 8:
        raise ValueError("Kuznyechik ukm too short")
    return bytes(ukm)


def decrypt(algorithm: Any, password: bytes, data: bytes) -> bytes:
    """Decrypt ``data`` encrypted under the AlgorithmIdentifier ``algorithm``; ValueError
    for what cannot be decrypted (unknown scheme, bad padding)."""
    kind = algorithm["algorithm"].native
    params = algorithm["parameters"]
    if kind in ("pkcs12_sha1_tripledes_3key", "pkcs12_sha1_tripledes_2key", "pkcs12_sha1_rc2_40",
                "pkcs12_sha1_rc2_128"):
        return _pkcs12_pbe(str(kind), params, password, data)
    if kind == "pbes2":
        return _pbes2(params, password, data)
    raise ValueError(f"encryption {algorithm['algorithm'].dotted}")


class _PrivateKeyInfoShape(core.Sequence):  # type: ignore[misc]
    """PKCS#8 PrivateKeyInfo as far as a decryption check needs: version, algorithm, key."""

    _fields = [("version", core.Integer), ("private_key_algorithm", core.Sequence),
               ("private_key", core.OctetString),
               ("attributes", core.Any, {"implicit": 0, "optional": True}),
               ("public_key", core.Any, {"implicit": 1, "optional": True})]


def decrypt_encrypted_private_key_info(der: bytes, password: bytes) -> bytes:
    """The PKCS#8 PrivateKeyInfo DER inside the EncryptedPrivateKeyInfo ``der`` (a PKCS#8
    file, a shrouded key bag's value, a bpki container), decrypted as shrouded key bags are.

    ``StoreError`` when ``der`` is not an EncryptedPrivateKeyInfo or its scheme cannot be
    used; ``WrongPin`` when the decryption fails its check (padding, belt-kwp's header) or
    yields no PrivateKeyInfo: with no MAC, that is what a wrong password looks like.
    """
    try:
        epki = keys.EncryptedPrivateKeyInfo.load(bytes(der), strict=True)
        algorithm = epki["encryption_algorithm"]
        data = epki["encrypted_data"].native
        if not isinstance(data, bytes):
            raise ValueError("no encrypted data")
    except (ValueError, TypeError, KeyError) as exc:
        raise StoreError(f"not a readable EncryptedPrivateKeyInfo ({exc})") from exc
    try:
        plain = decrypt(algorithm, password, data)
    except DecryptionFailed as exc:
        raise WrongPin("wrong password for the encrypted private key") from exc
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise StoreError(f"the encrypted private key cannot be decrypted here ({exc})") from exc
    try:
        shape = _PrivateKeyInfoShape.load(plain, strict=True)
        if shape["version"].native not in (0, 1) or not isinstance(shape["private_key"].native, bytes):
            raise ValueError("not a PrivateKeyInfo")
    except (ValueError, TypeError, KeyError) as exc:
        raise WrongPin("wrong password for the encrypted private key") from exc
    return plain


def _local_key_id(bag: Any) -> bytes:
    for attribute in bag["bag_attributes"]:
        if attribute["type"].native == "local_key_id" and len(attribute["values"]):
            value = attribute["values"][0].native
            return value if isinstance(value, bytes) else b""
    return b""


def _walk(contents: Any, password: bytes, out: Decoded, depth: int = 0) -> None:
    if depth > 4:
        raise ValueError("safe contents nested too deep")
    for bag in contents:
        bag_id = bag["bag_id"].native
        value = bag["bag_value"]
        if bag_id == "pkcs8_shrouded_key_bag":
            epki = value.untag() if hasattr(value, "untag") else value
            plain = decrypt(epki["encryption_algorithm"], password, epki["encrypted_data"].native)
            out.keys.append((plain, _local_key_id(bag)))
        elif bag_id == "key_bag":
            out.keys.append((bytes(value.dump()), _local_key_id(bag)))
        elif bag_id == "cert_bag" and value["cert_id"].native == "x509":
            cert = value["cert_value"]
            der = cert.parsed.dump() if hasattr(cert, "parsed") else cert.contents
            out.certificates.append((bytes(der), _local_key_id(bag)))
        elif bag_id == "safe_contents":
            _walk(value, password, out, depth + 1)


def decode(data: bytes, password: bytes, where: str) -> Decoded:
    """Check the MAC and decrypt every bag of a PFX; ``where`` names the file in errors."""
    try:
        pfx = asn1_pkcs12.Pfx.load(data, strict=True)
        authenticated = pfx.authenticated_safe
    except (ValueError, TypeError, KeyError) as exc:
        raise StoreError(f"{where} is not a readable PKCS#12 file ({exc})") from exc
    mac = mac_ok(pfx, password)
    if mac is False:
        raise WrongPin(f"wrong password for {where}")
    out = Decoded()
    try:
        for content_info in authenticated:
            kind = content_info["content_type"].native
            if kind == "data":
                _walk(asn1_pkcs12.SafeContents.load(content_info["content"].native), password, out)
            elif kind == "encrypted_data":
                eci = content_info["content"]["encrypted_content_info"]
                plain = decrypt(eci["content_encryption_algorithm"], password, eci["encrypted_content"].native)
                _walk(asn1_pkcs12.SafeContents.load(plain), password, out)
            else:
                raise ValueError(f"content type {kind}")
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        if mac is None:  # nothing proved the password: garbage after decryption means a wrong one
            raise WrongPin(f"wrong password for {where}") from exc
        raise StoreError(f"{where}: the password is right but the contents cannot be read ({exc})") from exc
    return out
