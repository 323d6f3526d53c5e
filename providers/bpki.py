"""STB 34.101.78 ("bpki") private-key containers, as bee2 (src/crypto/bpki.c) writes them.

The plain container is a PKCS#8 PrivateKeyInfo with nothing optional::

    SEQUENCE {
      INTEGER 0,
      SEQUENCE { OID bign-pubkey (1.2.112.0.2.0.34.101.45.2.1), OID bign-curveXXX },
      OCTET STRING -- the private key d, little-endian, l/4 bytes
    }

and the protected one an EncryptedPrivateKeyInfo under PBES2::

    SEQUENCE {
      SEQUENCE { OID id-PBES2 (1.2.840.113549.1.5.13),
        SEQUENCE {
          SEQUENCE { OID id-PBKDF2 (1.2.840.113549.1.5.12),
            SEQUENCE { OCTET STRING salt (8 bytes), INTEGER iterations (>= 10000),
                       SEQUENCE { OID hmac-hbelt (1.2.112.0.2.0.34.101.47.12), NULL } } },
          SEQUENCE { OID belt-kwp256 (1.2.112.0.2.0.34.101.31.73), NULL } } },
      OCTET STRING -- belt-kwp(PrivateKeyInfo, header 0^128) under PBKDF2's 32-byte key
    }

No key length is written in the PBKDF2 parameters (the key is belt-kwp256's 32 bytes).  The
password is taken as bytes, used as given (bee2 takes the octets of the typed password).
Reading a protected container is :func:`tanba.providers.pkcs12_decode.decrypt_encrypted_private_key_info`
(the PBES2 code of the PKCS#12 reader); this module writes them, and reads / writes the plain
PrivateKeyInfo.
"""

from __future__ import annotations

import secrets

from asn1crypto import core

from tanba.crypto import beltwrap, kdf

__all__ = ["BELT_KWP256", "BIGN_PUBKEY", "CURVE_KEY_SIZES", "HMAC_HBELT", "MIN_ITERATIONS",
           "encrypt_private_key_info", "plain_private_key_info", "read_private_key_info"]

BIGN_PUBKEY = "1.2.112.0.2.0.34.101.45.2.1"
HMAC_HBELT = "1.2.112.0.2.0.34.101.47.12"
BELT_KWP256 = "1.2.112.0.2.0.34.101.31.73"
_PBES2 = "1.2.840.113549.1.5.13"
_PBKDF2 = "1.2.840.113549.1.5.12"

#: the curve OIDs bee2's containers name, with the length of their private keys (l/4 bytes);
#: 45.3.0 is bee2's bign-curve192v1 (l = 96), outside STB 34.101.45's three curves
CURVE_KEY_SIZES: dict[str, int] = {
    "1.2.112.0.2.0.34.101.45.3.0": 24,
    "1.2.112.0.2.0.34.101.45.3.1": 32,
    "1.2.112.0.2.0.34.101.45.3.2": 48,
    "1.2.112.0.2.0.34.101.45.3.3": 64,
}
#: bee2's least iteration count for a container it writes (bpkiPrivkeyWrap)
MIN_ITERATIONS = 10_000
_SALT_SIZE = 8


class _BignAlgorithm(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    _fields = [("algorithm", core.ObjectIdentifier), ("curve", core.ObjectIdentifier)]


class _PrivateKeyInfo(core.Sequence):  # type: ignore[misc]
    _fields = [("version", core.Integer), ("algorithm", _BignAlgorithm), ("private_key", core.OctetString)]


class _AlgorithmNull(core.Sequence):  # type: ignore[misc]
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Null)]


class _Pbkdf2Params(core.Sequence):  # type: ignore[misc]
    _fields = [("salt", core.OctetString), ("iteration_count", core.Integer), ("prf", _AlgorithmNull)]


class _Pbkdf2Algorithm(core.Sequence):  # type: ignore[misc]
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", _Pbkdf2Params)]


class _Pbes2Params(core.Sequence):  # type: ignore[misc]
    _fields = [("key_derivation_func", _Pbkdf2Algorithm), ("encryption_scheme", _AlgorithmNull)]


class _Pbes2Algorithm(core.Sequence):  # type: ignore[misc]
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", _Pbes2Params)]


class _EncryptedPrivateKeyInfo(core.Sequence):  # type: ignore[misc]
    _fields = [("encryption_algorithm", _Pbes2Algorithm), ("encrypted_data", core.OctetString)]


def plain_private_key_info(curve_oid: str, secret_le: bytes) -> bytes:
    """The bign PrivateKeyInfo DER of the little-endian private key ``secret_le`` on the curve
    ``curve_oid``; ValueError for an unknown curve or a key of the wrong length."""
    size = CURVE_KEY_SIZES.get(curve_oid)
    if size is None:
        raise ValueError(f"not a bign curve of bpki: {curve_oid}")
    key = bytes(secret_le)
    if len(key) != size:
        raise ValueError(f"a private key on {curve_oid} is {size} bytes, not {len(key)}")
    info = _PrivateKeyInfo({
        "version": 0,
        "algorithm": {"algorithm": BIGN_PUBKEY, "curve": curve_oid},
        "private_key": key,
    })
    return bytes(info.dump())


def read_private_key_info(der: bytes) -> tuple[str, bytes]:
    """(curve OID, little-endian private key) of a bign PrivateKeyInfo in exactly the form
    :func:`plain_private_key_info` writes (bee2's); ValueError for anything else (other
    algorithms, attributes or a public key, BER, trailing bytes, a key of the wrong length)."""
    data = bytes(der)
    try:
        info = _PrivateKeyInfo.load(data, strict=True)
        version = info["version"].native
        algorithm = info["algorithm"]["algorithm"].dotted
        curve = info["algorithm"]["curve"].dotted
        key = info["private_key"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"not a bign PrivateKeyInfo ({exc})") from exc
    if version != 0 or algorithm != BIGN_PUBKEY or not isinstance(key, bytes):
        raise ValueError("not a bign PrivateKeyInfo")
    if plain_private_key_info(curve, key) != data:  # also checks the curve and the key length
        raise ValueError("not a bign PrivateKeyInfo in DER")
    return curve, key


def encrypt_private_key_info(pkcs8_der: bytes, password: bytes, *, iterations: int = MIN_ITERATIONS,
                             salt: bytes | None = None) -> bytes:
    """The EncryptedPrivateKeyInfo of bee2's bpki containers around the PrivateKeyInfo
    ``pkcs8_der``: PBKDF2 with hmac-hbelt over ``password`` and an 8-byte ``salt`` (random
    when None), then belt-kwp256 with the zero header.  ValueError for fewer than 10,000
    iterations, a salt of another length, or ``pkcs8_der`` that is not one DER SEQUENCE."""
    plain = bytes(pkcs8_der)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < MIN_ITERATIONS:
        raise ValueError(f"bpki containers take {MIN_ITERATIONS} iterations or more, not {iterations!r}")
    salt_bytes = secrets.token_bytes(_SALT_SIZE) if salt is None else bytes(salt)
    if len(salt_bytes) != _SALT_SIZE:
        raise ValueError(f"the bpki salt is {_SALT_SIZE} bytes, not {len(salt_bytes)}")
    try:
        core.Sequence.load(plain, strict=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PrivateKeyInfo ({exc})") from exc
    key = kdf.pbkdf2_hmac("belt-hash", bytes(password), salt_bytes, iterations, 32)
    epki = _EncryptedPrivateKeyInfo({
        "encryption_algorithm": {
            "algorithm": _PBES2,
            "parameters": {
                "key_derivation_func": {
                    "algorithm": _PBKDF2,
                    "parameters": {
                        "salt": salt_bytes,
                        "iteration_count": iterations,
                        "prf": {"algorithm": HMAC_HBELT, "parameters": core.Null()},
                    },
                },
                "encryption_scheme": {"algorithm": BELT_KWP256, "parameters": core.Null()},
            },
        },
        "encrypted_data": beltwrap.kwp_wrap(key, plain),
    })
    return bytes(epki.dump())
