"""GOST R 34.11-2012 "Streebog" (RFC 6986), 256- and 512-bit, hashlib-style.

Byte order: the standard writes a 512-bit block as a number; a byte string is that number
little-endian (the string's first byte is the number's lowest byte).  RFC 6986 prints
messages and digests as numbers, so its hex reads in reverse of the byte strings here (and
of what ``openssl dgst -md_gost12_512`` prints).

Speed: the state is 8 Python ints (64-bit words, word ``i`` = bytes ``8i..8i+7``).  The three
steps S (pi), P (byte transposition) and L (the 64x64 GF(2) matrix) are fused into 8 tables
of 256 words, ``_T[j][b] = l(pi(b) << 8j)``: output word ``i`` of LPS is the XOR over ``j``
of ``_T[j][byte i of word j]``.  The 64 bytes come out of the 8 words through one ``struct``
pack and unpack, so an LPS costs 64 list look-ups and 56 XORs.

Accelerated path: when :func:`tanba.crypto.accel.speedups` gives the C extension, whole blocks
and the final stage's g_N go through it instead (about 150 times faster), on the same state:
the tables and constants below are handed to it as ``_CTX``.  The pure code stays the
reference; both give the same bytes (tests/crypto/test_speedups.py).
"""

from __future__ import annotations

from collections.abc import Callable
from struct import Struct

from tanba.crypto import accel
from tanba.crypto.blocks import absorb
from tanba.crypto.pi import PI

__all__ = ["Streebog"]

#: a 512-bit value as 8 little-endian 64-bit words (word 0 is the lowest)
Words = tuple[int, int, int, int, int, int, int, int]

_M64 = (1 << 64) - 1
_M512 = (1 << 512) - 1

# pi, the S step's byte substitution (RFC 6986 section 6, "pi'"), shared with Kuznyechik
_PI = PI

# The rows A_0..A_63 of the L step's matrix (RFC 6986 section 6): l(a) is the XOR of A_i
# over the set bits a_{63-i}, i.e. bit 63 (the top bit) selects A_0 and bit 0 selects A_63.
_A = (
    0x8e20faa72ba0b470, 0x47107ddd9b505a38, 0xad08b0e0c3282d1c, 0xd8045870ef14980e,
    0x6c022c38f90a4c07, 0x3601161cf205268d, 0x1b8e0b0e798c13c8, 0x83478b07b2468764,
    0xa011d380818e8f40, 0x5086e740ce47c920, 0x2843fd2067adea10, 0x14aff010bdd87508,
    0x0ad97808d06cb404, 0x05e23c0468365a02, 0x8c711e02341b2d01, 0x46b60f011a83988e,
    0x90dab52a387ae76f, 0x486dd4151c3dfdb9, 0x24b86a840e90f0d2, 0x125c354207487869,
    0x092e94218d243cba, 0x8a174a9ec8121e5d, 0x4585254f64090fa0, 0xaccc9ca9328a8950,
    0x9d4df05d5f661451, 0xc0a878a0a1330aa6, 0x60543c50de970553, 0x302a1e286fc58ca7,
    0x18150f14b9ec46dd, 0x0c84890ad27623e0, 0x0642ca05693b9f70, 0x0321658cba93c138,
    0x86275df09ce8aaa8, 0x439da0784e745554, 0xafc0503c273aa42a, 0xd960281e9d1d5215,
    0xe230140fc0802984, 0x71180a8960409a42, 0xb60c05ca30204d21, 0x5b068c651810a89e,
    0x456c34887a3805b9, 0xac361a443d1c8cd2, 0x561b0d22900e4669, 0x2b838811480723ba,
    0x9bcf4486248d9f5d, 0xc3e9224312c8c1a0, 0xeffa11af0964ee50, 0xf97d86d98a327728,
    0xe4fa2054a80b329c, 0x727d102a548b194e, 0x39b008152acb8227, 0x9258048415eb419d,
    0x492c024284fbaec0, 0xaa16012142f35760, 0x550b8e9e21f7a530, 0xa48b474f9ef5dc18,
    0x70a6a56e2440598e, 0x3853dc371220a247, 0x1ca76e95091051ad, 0x0edd37c48a08a6d8,
    0x07e095624504536c, 0x8d70c431ac02a736, 0xc83862965601dd1b, 0x641c314b2b8ee083,
)

# The round constants C_1..C_12 (RFC 6986 section 6), as the numbers the RFC prints.
_C = (
    "b1085bda1ecadae9ebcb2f81c0657c1f2f6a76432e45d016714eb88d7585c4fc"
    "4b7ce09192676901a2422a08a460d31505767436cc744d23dd806559f2a64507",
    "6fa3b58aa99d2f1a4fe39d460f70b5d7f3feea720a232b9861d55e0f16b50131"
    "9ab5176b12d699585cb561c2db0aa7ca55dda21bd7cbcd56e679047021b19bb7",
    "f574dcac2bce2fc70a39fc286a3d843506f15e5f529c1f8bf2ea7514b1297b7b"
    "d3e20fe490359eb1c1c93a376062db09c2b6f443867adb31991e96f50aba0ab2",
    "ef1fdfb3e81566d2f948e1a05d71e4dd488e857e335c3c7d9d721cad685e353f"
    "a9d72c82ed03d675d8b71333935203be3453eaa193e837f1220cbebc84e3d12e",
    "4bea6bacad4747999a3f410c6ca923637f151c1f1686104a359e35d7800fffbd"
    "bfcd1747253af5a3dfff00b723271a167a56a27ea9ea63f5601758fd7c6cfe57",
    "ae4faeae1d3ad3d96fa4c33b7a3039c02d66c4f95142a46c187f9ab49af08ec6"
    "cffaa6b71c9ab7b40af21f66c2bec6b6bf71c57236904f35fa68407a46647d6e",
    "f4c70e16eeaac5ec51ac86febf240954399ec6c7e6bf87c9d3473e33197a93c9"
    "0992abc52d822c3706476983284a05043517454ca23c4af38886564d3a14d493",
    "9b1f5b424d93c9a703e7aa020c6e41414eb7f8719c36de1e89b4443b4ddbc49a"
    "f4892bcb929b069069d18d2bd1a5c42f36acc2355951a8d9a47f0dd4bf02e71e",
    "378f5a541631229b944c9ad8ec165fde3a7d3a1b258942243cd955b7e00d0984"
    "800a440bdbb2ceb17b2b8a9aa6079c540e38dc92cb1f2a607261445183235adb",
    "abbedea680056f52382ae548b2e4f3f38941e71cff8a78db1fffe18a1b336103"
    "9fe76702af69334b7a1e6c303b7652f43698fad1153bb6c374b4c7fb98459ced",
    "7bcd9ed0efc889fb3002c6cd635afe94d8fa6bbbebab07612001802114846679"
    "8a1d71efea48b9caefbacd1d7d476e98dea2594ac06fd85d6bcaa4cd81f32d1b",
    "378ee767f11631bad21380b00449b17acda43c32bcdf1d77f82012d430219f9b"
    "5d80ef9d1891cc86e71da4aa88e12852faf417d5d9b21b9948bc924af11bd720",
)

_WORDS = Struct("<8Q")
_pack = _WORDS.pack
_unpack_from = _WORDS.unpack_from
_unpack_bytes = Struct("64B").unpack


def _words(value: int) -> Words:
    """The 8 little-endian 64-bit words of a 512-bit number."""
    w: Words = _WORDS.unpack(value.to_bytes(64, "little"))
    return w


def _tables() -> tuple[list[int], ...]:
    """The 8 fused LPS tables ``T[j][b] = l(pi(b) << 8j)``."""
    tables = []
    for j in range(8):
        # l is linear: l of a byte value is built from l of its lowest set bit and the rest.
        lin = [0] * 256
        for v in range(1, 256):
            low = (v & -v).bit_length() - 1
            lin[v] = lin[v & (v - 1)] ^ _A[63 - (8 * j + low)]
        tables.append([lin[_PI[b]] for b in range(256)])
    return tuple(tables)


_T0, _T1, _T2, _T3, _T4, _T5, _T6, _T7 = _tables()
_CW = tuple(_words(int(c, 16)) for c in _C)
_ZERO: Words = (0, 0, 0, 0, 0, 0, 0, 0)
_IV256: Words = _words(int.from_bytes(b"\x01" * 64, "little"))

# The C extension's context: the 8 tables, then the 12 constants, as native-order 64-bit words.
_CTX = Struct(f"={8 * 256 + 12 * 8}Q").pack(*_T0, *_T1, *_T2, *_T3, *_T4, *_T5, *_T6, *_T7,
                                             *(w for c in _CW for w in c))


def _lps(x0: int, x1: int, x2: int, x3: int, x4: int, x5: int, x6: int, x7: int) -> Words:
    """L(P(S(x))) of the 512-bit value with words ``x0..x7``."""
    T0, T1, T2, T3, T4, T5, T6, T7 = _T0, _T1, _T2, _T3, _T4, _T5, _T6, _T7
    # a* are the bytes of word 0, b* of word 1, ... (digit = byte position in the word)
    (a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7,
     c0, c1, c2, c3, c4, c5, c6, c7, d0, d1, d2, d3, d4, d5, d6, d7,
     e0, e1, e2, e3, e4, e5, e6, e7, f0, f1, f2, f3, f4, f5, f6, f7,
     g0, g1, g2, g3, g4, g5, g6, g7, h0, h1, h2, h3, h4, h5, h6, h7) = _unpack_bytes(
        _pack(x0, x1, x2, x3, x4, x5, x6, x7))
    return (
        T0[a0] ^ T1[b0] ^ T2[c0] ^ T3[d0] ^ T4[e0] ^ T5[f0] ^ T6[g0] ^ T7[h0],
        T0[a1] ^ T1[b1] ^ T2[c1] ^ T3[d1] ^ T4[e1] ^ T5[f1] ^ T6[g1] ^ T7[h1],
        T0[a2] ^ T1[b2] ^ T2[c2] ^ T3[d2] ^ T4[e2] ^ T5[f2] ^ T6[g2] ^ T7[h2],
        T0[a3] ^ T1[b3] ^ T2[c3] ^ T3[d3] ^ T4[e3] ^ T5[f3] ^ T6[g3] ^ T7[h3],
        T0[a4] ^ T1[b4] ^ T2[c4] ^ T3[d4] ^ T4[e4] ^ T5[f4] ^ T6[g4] ^ T7[h4],
        T0[a5] ^ T1[b5] ^ T2[c5] ^ T3[d5] ^ T4[e5] ^ T5[f5] ^ T6[g5] ^ T7[h5],
        T0[a6] ^ T1[b6] ^ T2[c6] ^ T3[d6] ^ T4[e6] ^ T5[f6] ^ T6[g6] ^ T7[h6],
        T0[a7] ^ T1[b7] ^ T2[c7] ^ T3[d7] ^ T4[e7] ^ T5[f7] ^ T6[g7] ^ T7[h7],
    )


def _g(h: Words, n: Words, m: Words) -> Words:
    """The compression function g_N(h, m) = E(LPS(h ^ N), m) ^ h ^ m."""
    h0, h1, h2, h3, h4, h5, h6, h7 = h
    n0, n1, n2, n3, n4, n5, n6, n7 = n
    m0, m1, m2, m3, m4, m5, m6, m7 = m
    lps = _lps
    k0, k1, k2, k3, k4, k5, k6, k7 = lps(h0 ^ n0, h1 ^ n1, h2 ^ n2, h3 ^ n3,
                                         h4 ^ n4, h5 ^ n5, h6 ^ n6, h7 ^ n7)
    s0, s1, s2, s3, s4, s5, s6, s7 = m
    for c0, c1, c2, c3, c4, c5, c6, c7 in _CW:
        s0, s1, s2, s3, s4, s5, s6, s7 = lps(k0 ^ s0, k1 ^ s1, k2 ^ s2, k3 ^ s3,
                                             k4 ^ s4, k5 ^ s5, k6 ^ s6, k7 ^ s7)
        k0, k1, k2, k3, k4, k5, k6, k7 = lps(k0 ^ c0, k1 ^ c1, k2 ^ c2, k3 ^ c3,
                                             k4 ^ c4, k5 ^ c5, k6 ^ c6, k7 ^ c7)
    return (k0 ^ s0 ^ h0 ^ m0, k1 ^ s1 ^ h1 ^ m1, k2 ^ s2 ^ h2 ^ m2, k3 ^ s3 ^ h3 ^ m3,
            k4 ^ s4 ^ h4 ^ m4, k5 ^ s5 ^ h5 ^ m5, k6 ^ s6 ^ h6 ^ m6, k7 ^ s7 ^ h7 ^ m7)


def _compression(ext: accel.Speedups | None) -> Callable[[Words, Words, Words], Words]:
    """g_N: the pure :func:`_g`, or the same through the C extension ``ext``."""
    if ext is None:
        return _g

    def g(h: Words, n: Words, m: Words) -> Words:
        out: Words = _unpack_from(ext.streebog_g(_CTX, _pack(*h), _pack(*n), _pack(*m)))
        return out

    return g


class Streebog:
    """GOST R 34.11-2012 with a 32- or 64-byte digest; ``digest()`` leaves the object usable."""

    __slots__ = ("name", "digest_size", "block_size", "_h", "_n", "_sigma", "_tail")

    name: str
    digest_size: int
    block_size: int

    def __init__(self, digest_size: int = 64, data: bytes | bytearray | memoryview = b"") -> None:
        if digest_size == 64:
            self.name, self._h = "streebog512", _ZERO
        elif digest_size == 32:
            self.name, self._h = "streebog256", _IV256
        else:
            raise ValueError(f"Streebog digest size must be 32 or 64 bytes, not {digest_size!r}")
        self.digest_size = digest_size
        self.block_size = 64
        self._n = 0  # bits processed, mod 2**512
        self._sigma = 0  # sum of the processed blocks, mod 2**512
        self._tail = bytearray()  # fewer than 64 bytes not yet processed
        if data:
            self.update(data)

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        """Absorb ``data``; whole blocks are compressed straight from its buffer."""
        absorb(self._tail, data, 64, self._blocks)

    def _blocks(self, buffer: bytes | bytearray | memoryview, start: int, stop: int) -> None:
        """Compress the whole blocks ``buffer[start:stop]`` (``stop - start`` a multiple of 64)."""
        ext = accel.speedups()
        if ext is not None:
            state = ext.streebog_compress(_CTX, _pack(*self._h) + self._n.to_bytes(64, "little")
                                          + self._sigma.to_bytes(64, "little"), buffer[start:stop])
            self._h = _unpack_from(state)
            self._n = int.from_bytes(state[64:128], "little")
            self._sigma = int.from_bytes(state[128:], "little")
            return
        h, n, sigma = self._h, self._n, self._sigma
        g, unpack_from, from_bytes = _g, _unpack_from, int.from_bytes
        for offset in range(start, stop, 64):
            m: Words = unpack_from(buffer, offset)
            h = g(h, (n & _M64, n >> 64 & _M64, n >> 128 & _M64, n >> 192 & _M64,
                      n >> 256 & _M64, n >> 320 & _M64, n >> 384 & _M64, n >> 448), m)
            n = (n + 512) & _M512
            sigma += from_bytes(buffer[offset:offset + 64], "little")
        self._h, self._n, self._sigma = h, n, sigma & _M512

    def _final(self) -> Words:
        """The last stage (padding, length, checksum) on copies of the state."""
        tail = bytes(self._tail)
        last = tail + b"\x01" + bytes(63 - len(tail))
        m: Words = _unpack_from(last)
        g = _compression(accel.speedups())
        h = g(self._h, _words(self._n), m)
        n = (self._n + 8 * len(tail)) & _M512
        sigma = (self._sigma + int.from_bytes(last, "little")) & _M512
        h = g(h, _ZERO, _words(n))
        return g(h, _ZERO, _words(sigma))

    def digest(self) -> bytes:
        """The digest of everything absorbed so far (the object is not finalised)."""
        out = _pack(*self._final())
        return out if self.digest_size == 64 else out[32:]

    def hexdigest(self) -> str:
        return self.digest().hex()

    def copy(self) -> Streebog:
        """An independent object with the same state."""
        other = Streebog.__new__(Streebog)
        other.name, other.digest_size, other.block_size = self.name, self.digest_size, self.block_size
        other._h, other._n, other._sigma = self._h, self._n, self._sigma
        other._tail = bytearray(self._tail)
        return other
