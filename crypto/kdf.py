"""HMAC (RFC 2104) and PBKDF2 (RFC 8018 section 5.2) over the hashes of :mod:`.hashes`.

With Streebog these are HMAC_GOSTR3411_2012_256/512 (R 50.1.113-2016, RFC 7836 section 4.1)
and the PBKDF2 of R 50.1.111-2016.  The key is padded and hashed into the inner and outer
states once; every HMAC after that (each PBKDF2 iteration) copies those two states.
"""

from __future__ import annotations

from tanba.crypto import hashes
from tanba.crypto.hashes import Hash

__all__ = ["hmac_digest", "pbkdf2_hmac"]

_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


def _keyed(name: str, key: bytes) -> tuple[Hash, Hash]:
    """The inner and outer hash states with ``K ^ ipad`` and ``K ^ opad`` absorbed."""
    inner = hashes.new(name)
    block_size = inner.block_size
    if len(key) > block_size:
        key = hashes.new(name, key).digest()
    padded = bytes(key).ljust(block_size, b"\x00")
    inner.update(padded.translate(_IPAD))
    outer = hashes.new(name, padded.translate(_OPAD))
    return inner, outer


def _mac(inner: Hash, outer: Hash, data: bytes) -> bytes:
    """HMAC of ``data`` from pre-keyed states (left unchanged)."""
    i = inner.copy()
    i.update(data)
    o = outer.copy()
    o.update(i.digest())
    return o.digest()


def hmac_digest(name: str, key: bytes, data: bytes) -> bytes:
    """HMAC of ``data`` under ``key`` with hash ``name`` (``KeyError`` for an unknown name)."""
    inner, outer = _keyed(name, key)
    return _mac(inner, outer, data)


def pbkdf2_hmac(name: str, password: bytes, salt: bytes, iterations: int, dklen: int) -> bytes:
    """PBKDF2 with HMAC over hash ``name``: ``dklen`` bytes from ``iterations`` rounds."""
    if iterations < 1:
        raise ValueError(f"PBKDF2 needs at least one iteration, not {iterations}")
    if dklen < 1:
        raise ValueError(f"PBKDF2 key length must be positive, not {dklen}")
    inner, outer = _keyed(name, password)
    hlen = inner.digest_size
    count = -(-dklen // hlen)
    if count > 0xFFFFFFFF:
        raise ValueError("PBKDF2 key length too large")
    out = bytearray()
    for index in range(1, count + 1):
        u = _mac(inner, outer, bytes(salt) + index.to_bytes(4, "big"))
        acc = int.from_bytes(u, "big")
        for _ in range(iterations - 1):
            u = _mac(inner, outer, u)
            acc ^= int.from_bytes(u, "big")
        out += acc.to_bytes(hlen, "big")
    return bytes(out[:dklen])
