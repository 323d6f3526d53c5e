"""STB 34.101.31 "belt": wide-block encryption (belt-wblock) and key wrapping (belt-kwp).

belt-wblock (STB 34.101.31-2020; examples in tables A.6, A.7) encrypts a word X of 32 bytes or more under a
256-bit key, as one block: X = r1 || r2 || ... || rn with r1..r(n-1) of 16 bytes and rn of 1 to
16 bytes (n = ceil(|X| / 16)).  One round ``i`` (i = 1..2n) is

    s  <- r1 ^ r2 ^ ... ^ r(n-1)
    r* <- r* ^ belt-block(s, K) ^ <i>_128      (r*: the last 16 bytes of the word)
    r  <- ShLo^128(r)                          (r1 leaves on the left ...)
    r* <- s                                    (... and s enters on the right)

so with a short rn the last 16 bytes straddle r(n-1) and rn.  Decryption runs the rounds
i = 2n..1 backwards: s is the last 16 bytes, the word shifts right by 16 bytes with s in
front, the (new) last 16 bytes take ``^ belt-block(s) ^ <i>``, and the first block becomes
s ^ r2 ^ ... ^ r(n-1), which is r1 again.

belt-kwp (examples in tables A.21, A.22) wraps a key X (16 bytes or more) with a 16-byte header I:
Y = belt-wblock(X || I, K); unwrapping decrypts and checks that the last 16 bytes are I
(all zeros when no header is named, as STB 34.101.78's containers and bee2 use it).

Only 256-bit keys are taken (what bpki's belt-kwp256 and bign need).  Blocks are XORed as
little-endian integers; the round number is the 128-bit little-endian word <i>_128.
"""

from __future__ import annotations

import hmac

from tanba.crypto.belt import encrypt_block

__all__ = ["kwp_unwrap", "kwp_wrap", "wblock_decrypt", "wblock_encrypt"]

Buffer = bytes | bytearray | memoryview

_ZERO_HEADER = bytes(16)


def _check(key: Buffer, data: Buffer) -> tuple[bytes, bytes]:
    k, x = bytes(key), bytes(data)
    if len(k) != 32:
        raise ValueError(f"belt-wblock takes a 32-byte key, not {len(k)} bytes")
    if len(x) < 32:
        raise ValueError(f"belt-wblock takes 32 bytes or more, not {len(x)}")
    return k, x


def _sum(word: bytes, first: int, stop: int) -> int:
    """XOR of the 16-byte blocks of ``word`` at offsets first, first + 16, ... below ``stop``."""
    acc = 0
    for offset in range(first, stop, 16):
        acc ^= int.from_bytes(word[offset:offset + 16], "little")
    return acc


def wblock_encrypt(key: Buffer, data: Buffer, *, first_round: int = 1) -> bytes:
    """belt-wblock encryption of ``data`` (32 bytes or more) under the 32-byte ``key``.

    ``first_round`` numbers the first of the 2n rounds (1 in the standard's belt-wblock;
    bign-genk's later passes go on counting, see :func:`tanba.crypto.bign.genk`).
    """
    k, word = _check(key, data)
    size = len(word)
    n = -(-size // 16)
    full = 16 * (n - 1)  # r1 .. r(n-1) are word[:full]
    for i in range(first_round, first_round + 2 * n):
        s = _sum(word, 0, full).to_bytes(16, "little")
        mask = int.from_bytes(encrypt_block(k, s), "little") ^ i
        last = (int.from_bytes(word[size - 16:], "little") ^ mask).to_bytes(16, "little")
        word = word[16:size - 16] + last + s
    return word


def wblock_decrypt(key: Buffer, data: Buffer) -> bytes:
    """belt-wblock decryption of ``data`` (32 bytes or more) under the 32-byte ``key``."""
    k, word = _check(key, data)
    size = len(word)
    n = -(-size // 16)
    full = 16 * (n - 1)
    for i in range(2 * n, 0, -1):
        s = word[size - 16:]
        mask = int.from_bytes(encrypt_block(k, s), "little") ^ i
        last = (int.from_bytes(word[size - 32:size - 16], "little") ^ mask).to_bytes(16, "little")
        word = s + word[:size - 32] + last
        # the first block becomes s ^ r2 ^ ... ^ r(n-1) = r1
        r1 = int.from_bytes(s, "little") ^ _sum(word, 16, full)
        word = r1.to_bytes(16, "little") + word[16:]
    return word


def _header(header: Buffer | None) -> bytes:
    h = _ZERO_HEADER if header is None else bytes(header)
    if len(h) != 16:
        raise ValueError(f"belt-kwp header must be 16 bytes, not {len(h)}")
    return h


def kwp_wrap(key: Buffer, data: Buffer, header: Buffer | None = None) -> bytes:
    """belt-kwp: wrap ``data`` (16 bytes or more) with the 16-byte ``header`` (zeros by
    default) under the 32-byte ``key``; the result is 16 bytes longer."""
    x = bytes(data)
    if len(x) < 16:
        raise ValueError(f"belt-kwp wraps 16 bytes or more, not {len(x)}")
    return wblock_encrypt(key, x + _header(header))


def kwp_unwrap(key: Buffer, data: Buffer, header: Buffer | None = None) -> bytes:
    """belt-kwp: unwrap ``data`` (32 bytes or more) under the 32-byte ``key``; ValueError
    unless its header is ``header`` (zeros by default), i.e. for a wrong key or altered data."""
    h = _header(header)
    if len(data) < 32:
        raise ValueError(f"belt-kwp unwraps 32 bytes or more, not {len(data)}")
    x = wblock_decrypt(key, data)
    if not hmac.compare_digest(x[-16:], h):
        raise ValueError("belt-kwp: the header does not match (wrong key or altered data)")
    return x[:-16]
