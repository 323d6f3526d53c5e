"""GOST R 34.11-94 hash (RFC 5831), with the S-box set as a parameter.

* ``TEST_SBOX`` — id-GostR3411-94-TestParamSet (the appendix of the standard): also
  Kazakhstan's GOST 34.311-95, what NCA's GOST 2004 keys sign with;
* ``CRYPTOPRO_SBOX`` — id-GostR3411-94-CryptoProParamSet (RFC 4357), the gost engine's
  ``md_gost94``.

Byte order: the message is read as in the gost engine, a 32-byte block being a 256-bit
little-endian integer (first byte lowest); :meth:`Gost341194.digest` returns the final H
as 32 little-endian bytes, which is what ``openssl dgst -md_gost94 -binary`` prints.  RFC 5831
section 7 writes H (and every intermediate value) as a number, most significant digit first,
so its printed hash is ``digest()[::-1]`` (e.g. "This is message, length=32 bytes" under the
test S-boxes: RFC H = FAFF37A6...C466C4B1 is digest() = b1c466d3...37fffa reversed).

The step function works on integers: the key derivation's A and P transforms, four
GOST 28147-89 encryptions (the fused round tables of :mod:`.gost28147`), and the linear
shuffle psi^61(H xor psi(M xor psi^12(S))), precomputed as one map from the 48 16-bit words of
H, M and S to the output.

The empty message: the widely published values (Wikipedia's test vectors, libgcrypt, RHash,
BouncyCastle, PyGOST: "" -> 981e5f3c... under CryptoPro, ce85b99c... under the test S-boxes) hash
no message block at all.  The gost engine instead hashes one zero block first (3f25bc1f... under
CryptoPro; its maintainers keep that as CryptoCom's reading of stage 3 of the standard, gost-engine
issue #142); ``pad_empty=True`` does the same.  Every non-empty message hashes the same either way.

Accelerated path: when :func:`tanba.crypto.accel.speedups` gives the C extension, the blocks and
the final steps go through its ``gost94_compress`` / ``gost94_step`` instead, on the same state,
with the S-box set's four round tables handed over as bytes (:func:`_ext_tables`).  The pure
:func:`_step` stays the reference; both give the same bytes (tests/crypto/test_speedups.py).
"""

from __future__ import annotations

from functools import lru_cache
from struct import Struct

from tanba.crypto import accel
from tanba.crypto.blocks import absorb
from tanba.crypto.gost28147 import GOSTR3411_94_CRYPTOPRO, GOSTR3411_94_TEST, SBox, encrypt_words

TEST_SBOX = GOSTR3411_94_TEST
CRYPTOPRO_SBOX = GOSTR3411_94_CRYPTOPRO

_M64 = (1 << 64) - 1
_M256 = (1 << 256) - 1
_C3 = 0xFF00FFFF000000FFFF0000FF00FFFF0000FF00FF00FF00FFFF00FF00FF00FF00


def _psi_spread(power: int) -> tuple[int, ...]:
    """For psi^power: entry i is the sum of 2^(16 j) over the output words j that contain
    input word i, so that psi^power(Y) = XOR_i (word_i(Y) * entry_i)."""
    masks = [1 << i for i in range(16)]  # output word j as a set of input words
    for _ in range(power):
        top = masks[0] ^ masks[1] ^ masks[2] ^ masks[3] ^ masks[12] ^ masks[15]
        masks = masks[1:] + [top]
    return tuple(sum(1 << (16 * j) for j in range(16) if masks[j] >> i & 1) for i in range(16))


# H' = psi^61(H) xor psi^62(M) xor psi^74(S)
_SPREAD = tuple(zip(range(0, 256, 16), _psi_spread(61), _psi_spread(62), _psi_spread(74)))


def _key(w: int) -> tuple[int, ...]:
    """P(w) as the cipher's eight key words: key word j is bytes j, 8+j, 16+j, 24+j of w."""
    b = w.to_bytes(32, "little")
    return tuple(int.from_bytes(b[j::8], "little") for j in range(8))


def _step(tables: tuple[tuple[int, ...], ...], h: int, m: int) -> int:
    """The compression function f(H, M) of GOST R 34.11-94."""
    u, v = h, m
    s = 0
    for i in range(4):
        if i:
            u = (u >> 64) | (((u ^ (u >> 64)) & _M64) << 192)
            if i == 2:
                u ^= _C3
            v = (v >> 64) | (((v ^ (v >> 64)) & _M64) << 192)
            v = (v >> 64) | (((v ^ (v >> 64)) & _M64) << 192)
        k = _key(u ^ v)
        hi = h >> (64 * i)  # h_i, the i-th 64-bit part of H
        lo32, hi32 = encrypt_words(tables, k, hi & 0xFFFFFFFF, (hi >> 32) & 0xFFFFFFFF)
        s |= (lo32 | hi32 << 32) << (64 * i)
    out = 0
    for sh, rh, rm, rs in _SPREAD:
        out ^= (h >> sh & 0xFFFF) * rh ^ (m >> sh & 0xFFFF) * rm ^ (s >> sh & 0xFFFF) * rs
    return out


_TABLES_STRUCT = Struct("=1024I")


@lru_cache(maxsize=16)
def _ext_tables(sbox: SBox) -> bytes:
    """The S-box set's four fused round tables for the C extension: 4 x 256 native 32-bit words
    (the pure code's fourth table is doubled for an unmasked index; the C code masks it)."""
    t0, t1, t2, t3 = sbox.tables
    return _TABLES_STRUCT.pack(*t0, *t1, *t2, *t3[:256])


class Gost341194:
    """A GOST R 34.11-94 hash object, hashlib-style (``hmac`` accepts it as ``digestmod``)."""

    digest_size = 32
    block_size = 32

    __slots__ = ("name", "sbox", "pad_empty", "_tables", "_h", "_sigma", "_bits", "_tail")

    def __init__(self, sbox: SBox = TEST_SBOX, data: bytes | bytearray | memoryview = b"", *,
                 name: str = "gost3411-94", pad_empty: bool = False) -> None:
        self.name = name
        self.sbox = sbox
        self.pad_empty = pad_empty
        self._tables = sbox.tables
        self._h = 0
        self._sigma = 0
        self._bits = 0
        self._tail = bytearray()  # fewer than 32 bytes not yet processed
        if data:
            self.update(data)

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        """Absorb ``data``; whole blocks are compressed straight from its buffer."""
        absorb(self._tail, data, 32, self._blocks)

    def _blocks(self, buffer: bytes | bytearray | memoryview, start: int, stop: int) -> None:
        """Compress the whole 32-byte blocks of ``buffer[start:stop]``."""
        buf = memoryview(buffer)[start:stop]
        n = len(buf)
        ext = accel.speedups()
        if ext is not None:
            state = ext.gost94_compress(_ext_tables(self.sbox), self._h.to_bytes(32, "little")
                                        + self._sigma.to_bytes(32, "little"), buf)
            self._h = int.from_bytes(state[:32], "little")
            self._sigma = int.from_bytes(state[32:], "little")
            self._bits += 8 * n
            return
        tables, h, sigma = self._tables, self._h, self._sigma
        frombytes = int.from_bytes
        for i in range(0, n, 32):
            m = frombytes(buf[i:i + 32], "little")
            h = _step(tables, h, m)
            sigma += m
        self._h, self._sigma = h, sigma & _M256
        self._bits += 8 * n

    def digest(self) -> bytes:
        """The 32-byte hash of everything absorbed so far (the object stays usable)."""
        ext = accel.speedups()
        if ext is None:
            tables = self._tables

            def step(h: int, m: int) -> int:
                return _step(tables, h, m)
        else:
            ext_tables = _ext_tables(self.sbox)

            def step(h: int, m: int) -> int:  # _step through the C extension
                out = ext.gost94_step(ext_tables, h.to_bytes(32, "little"), m.to_bytes(32, "little"))
                return int.from_bytes(out, "little")
        h, sigma, bits = self._h, self._sigma, self._bits
        if self._tail:
            m = int.from_bytes(self._tail, "little")
            h = step(h, m)
            sigma += m
            bits += 8 * len(self._tail)
        elif bits == 0 and self.pad_empty:
            h = step(h, 0)
        h = step(h, bits & _M256)
        h = step(h, sigma & _M256)
        return h.to_bytes(32, "little")

    def hexdigest(self) -> str:
        return self.digest().hex()

    def copy(self) -> Gost341194:
        c = Gost341194.__new__(Gost341194)
        c.name, c.sbox, c.pad_empty, c._tables = self.name, self.sbox, self.pad_empty, self._tables
        c._h, c._sigma, c._bits, c._tail = self._h, self._sigma, self._bits, bytearray(self._tail)
        return c
