"""STB 34.101.31 "belt": the block cipher and belt-hash (section 6.9).

Conventions (as in the standard): a 128-bit block is 4 words and a 256-bit key 8 words of 32
bits, each word read little-endian from 4 bytes (the first byte is the lowest).  Sums ``⊞`` and
differences ``⊟`` are mod 2**32.  ``G_r(u)`` substitutes each byte of ``u`` through the table H
and rotates the word ``r`` bits towards the high end (``RotHi``).

Speed: ``G_r`` is fused into four tables of 256 words per rotation,
``_G[r][j][b] = RotHi^r(H[b] << 8j)``; the XOR of the four look-ups on ``u``'s bytes is
``G_r(u)``.  The block functions run on words (ints), so belt-hash never rebuilds bytes
between its three encryptions per 32-byte block; that is about 0.6 MB/s.

Accelerated path: when :func:`tanba.crypto.accel.belt_speedups` gives the C extension,
``BeltHash`` compresses whole blocks through its ``belt_compress`` (the same fused tables, in
C) at about 100 MB/s, some 170 times the pure code (16 MiB, one core of an AMD EPYC), on the
same state ``h || s`` packed as 48 bytes.  The final stage and the block functions stay in
Python; the pure code is the reference, and both give the same bytes
(tests/crypto/test_speedups.py).
"""

from __future__ import annotations

from struct import Struct

from tanba.crypto import accel
from tanba.crypto.blocks import absorb

__all__ = ["H", "BeltHash", "belt_hash", "compress", "decrypt_block", "encrypt_block"]

#: The substitution table H of STB 34.101.31, H[0x00] .. H[0xFF] (its first 32 bytes are also
#: belt-hash's initial value; tests/crypto/test_belt.py regenerates it from its rule).
H = bytes.fromhex(
    "B194BAC80A08F53B366D008E584A5DE48504FA9D1BB6C7AC252E72C202FDCE0D"
    "5BE3D61217B96181FE6786AD716B890B5CB0C0FF33C356B835C405AED8E07F99"
    "E12BDC1AE28257EC703FCCF095EE8DF1C1AB76389FE678CAF7C6F860D5BB9C4F"
    "F33C657B637C306ADD4EA7799EB23D313E98B56E27D3BCCF591E181F4C5AB793"
    "E9DEE72C8F0C0FA62DDB49F46F73964706075316ED247A3739CBA38303A98BF6"
    "92BD9B1CE5D141015445FBC95E4D0EF2682080AA227D642F2687F93490405511"
    "BE32971343FC9A48A02A885F194B09A17ECDA4D01544AF8CA58450BF66D2E88A"
    "A2D7465242A8DFB36974C551EB232921D4EFD9B43A622875911410EA776CDA1D"
)

_M32 = 0xFFFFFFFF

#: A block / a key / a belt-hash state (or a 256-bit message block) as little-endian words.
Block = tuple[int, int, int, int]
Key = tuple[int, int, int, int, int, int, int, int]

_BLOCK = Struct("<4I")
_KEY = Struct("<8I")
_STATE = Struct("<12I")  # belt-hash's h || s, as the C extension takes it


def _rot_hi(x: int, r: int) -> int:
    """RotHi^r on a 32-bit word: rotate ``r`` bits towards the high end."""
    return ((x << r) | (x >> (32 - r))) & _M32


def _g_tables(r: int) -> tuple[tuple[int, ...], ...]:
    """The four look-up tables of G_r: table ``j`` maps byte ``b`` to RotHi^r(H[b] << 8j)."""
    return tuple(tuple(_rot_hi(H[b] << (8 * j), r) for b in range(256)) for j in range(4))


_G5 = _g_tables(5)
_G13 = _g_tables(13)
_G21 = _g_tables(21)


def g(r: int, u: int) -> int:
    """G_r(u) for r in {5, 13, 21} (the reference form of the inlined look-ups below)."""
    t = {5: _G5, 13: _G13, 21: _G21}[r]
    return t[0][u & 0xFF] ^ t[1][(u >> 8) & 0xFF] ^ t[2][(u >> 16) & 0xFF] ^ t[3][u >> 24]


def _encrypt(x: Block, key: Key) -> Block:
    """belt-block encryption (STB 34.101.31) on words.

    The round keys are K_1..K_56 with K_n = key[(n - 1) mod 8]; round ``i`` (1..8) uses
    K_{7i-6}..K_{7i}.  The comments number the steps of one round as the standard does.
    """
    a, b, c, d = x
    t50, t51, t52, t53 = _G5
    t130, t131, t132, t133 = _G13
    t210, t211, t212, t213 = _G21
    k = key * 7
    for i in range(8):
        n = 7 * i
        u = (a + k[n]) & _M32  # 1. b <- b ^ G5(a + K_{7i-6})
        b ^= t50[u & 0xFF] ^ t51[(u >> 8) & 0xFF] ^ t52[(u >> 16) & 0xFF] ^ t53[u >> 24]
        u = (d + k[n + 1]) & _M32  # 2. c <- c ^ G21(d + K_{7i-5})
        c ^= t210[u & 0xFF] ^ t211[(u >> 8) & 0xFF] ^ t212[(u >> 16) & 0xFF] ^ t213[u >> 24]
        u = (b + k[n + 2]) & _M32  # 3. a <- a - G13(b + K_{7i-4})
        a = (a - (t130[u & 0xFF] ^ t131[(u >> 8) & 0xFF] ^ t132[(u >> 16) & 0xFF] ^ t133[u >> 24])) & _M32
        u = (b + c + k[n + 3]) & _M32  # 4. e <- G21(b + c + K_{7i-3}) ^ <i>
        e = t210[u & 0xFF] ^ t211[(u >> 8) & 0xFF] ^ t212[(u >> 16) & 0xFF] ^ t213[u >> 24] ^ (i + 1)
        b = (b + e) & _M32  # 5. b <- b + e
        c = (c - e) & _M32  # 6. c <- c - e
        u = (c + k[n + 4]) & _M32  # 7. d <- d + G13(c + K_{7i-2})
        d = (d + (t130[u & 0xFF] ^ t131[(u >> 8) & 0xFF] ^ t132[(u >> 16) & 0xFF] ^ t133[u >> 24])) & _M32
        u = (a + k[n + 5]) & _M32  # 8. b <- b ^ G21(a + K_{7i-1})
        b ^= t210[u & 0xFF] ^ t211[(u >> 8) & 0xFF] ^ t212[(u >> 16) & 0xFF] ^ t213[u >> 24]
        u = (d + k[n + 6]) & _M32  # 9. c <- c ^ G5(d + K_{7i})
        c ^= t50[u & 0xFF] ^ t51[(u >> 8) & 0xFF] ^ t52[(u >> 16) & 0xFF] ^ t53[u >> 24]
        a, b, c, d = b, d, a, c  # 10.-12. a <-> b, c <-> d, b <-> c
    return b, d, a, c  # Y = b || d || a || c


def _decrypt(x: Block, key: Key) -> Block:
    """belt-block decryption (STB 34.101.31) on words: the rounds i = 8..1, the swaps of
    steps 10-12 being a <-> b, c <-> d, a <-> d."""
    a, b, c, d = x
    t50, t51, t52, t53 = _G5
    t130, t131, t132, t133 = _G13
    t210, t211, t212, t213 = _G21
    k = key * 7
    for i in range(7, -1, -1):
        n = 7 * i
        u = (a + k[n + 6]) & _M32  # 1. b <- b ^ G5(a + K_{7i})
        b ^= t50[u & 0xFF] ^ t51[(u >> 8) & 0xFF] ^ t52[(u >> 16) & 0xFF] ^ t53[u >> 24]
        u = (d + k[n + 5]) & _M32  # 2. c <- c ^ G21(d + K_{7i-1})
        c ^= t210[u & 0xFF] ^ t211[(u >> 8) & 0xFF] ^ t212[(u >> 16) & 0xFF] ^ t213[u >> 24]
        u = (b + k[n + 4]) & _M32  # 3. a <- a - G13(b + K_{7i-2})
        a = (a - (t130[u & 0xFF] ^ t131[(u >> 8) & 0xFF] ^ t132[(u >> 16) & 0xFF] ^ t133[u >> 24])) & _M32
        u = (b + c + k[n + 3]) & _M32  # 4. e <- G21(b + c + K_{7i-3}) ^ <i>
        e = t210[u & 0xFF] ^ t211[(u >> 8) & 0xFF] ^ t212[(u >> 16) & 0xFF] ^ t213[u >> 24] ^ (i + 1)
        b = (b + e) & _M32  # 5. b <- b + e
        c = (c - e) & _M32  # 6. c <- c - e
        u = (c + k[n + 2]) & _M32  # 7. d <- d + G13(c + K_{7i-4})
        d = (d + (t130[u & 0xFF] ^ t131[(u >> 8) & 0xFF] ^ t132[(u >> 16) & 0xFF] ^ t133[u >> 24])) & _M32
        u = (a + k[n + 1]) & _M32  # 8. b <- b ^ G21(a + K_{7i-5})
        b ^= t210[u & 0xFF] ^ t211[(u >> 8) & 0xFF] ^ t212[(u >> 16) & 0xFF] ^ t213[u >> 24]
        u = (d + k[n]) & _M32  # 9. c <- c ^ G5(d + K_{7i-6})
        c ^= t50[u & 0xFF] ^ t51[(u >> 8) & 0xFF] ^ t52[(u >> 16) & 0xFF] ^ t53[u >> 24]
        a, b, c, d = c, a, d, b  # 10.-12. a <-> b, c <-> d, a <-> d
    return c, a, d, b  # X = c || a || d || b


def _check(name: str, value: bytes | bytearray | memoryview, size: int) -> bytes:
    data = bytes(value)
    if len(data) != size:
        raise ValueError(f"belt {name} must be {size} bytes, not {len(data)}")
    return data


def encrypt_block(key: bytes | bytearray | memoryview, block: bytes | bytearray | memoryview) -> bytes:
    """belt-block: encrypt one 16-byte block under a 32-byte key."""
    k: Key = _KEY.unpack(_check("key", key, 32))
    x: Block = _BLOCK.unpack(_check("block", block, 16))
    return _BLOCK.pack(*_encrypt(x, k))


def decrypt_block(key: bytes | bytearray | memoryview, block: bytes | bytearray | memoryview) -> bytes:
    """belt-block: decrypt one 16-byte block under a 32-byte key."""
    k: Key = _KEY.unpack(_check("key", key, 32))
    x: Block = _BLOCK.unpack(_check("block", block, 16))
    return _BLOCK.pack(*_decrypt(x, k))


# ---------------------------------------------------------------------------------------------
# belt-hash


def _compress(m: Key, h: Key) -> tuple[Block, Key]:
    """belt-compress (STB 34.101.31) of X = X1 || X2 || X3 || X4 with X1 || X2 = ``m`` and
    X3 || X4 = ``h``; returns (S, Y) = (sigma1(X), sigma2(X))."""
    x1, x2 = m[:4], m[4:]
    x3, x4 = h[:4], h[4:]
    # 1. S <- belt-block(X3 ^ X4, X1 || X2) ^ X3 ^ X4
    v = (x3[0] ^ x4[0], x3[1] ^ x4[1], x3[2] ^ x4[2], x3[3] ^ x4[3])
    e = _encrypt(v, m)
    s = (e[0] ^ v[0], e[1] ^ v[1], e[2] ^ v[2], e[3] ^ v[3])
    # 2. Y1 <- belt-block(X1, S || X4) ^ X1
    e = _encrypt(x1, s + x4)
    y1 = (e[0] ^ x1[0], e[1] ^ x1[1], e[2] ^ x1[2], e[3] ^ x1[3])
    # 3. Y2 <- belt-block(X2, (S ^ 1^128) || X3) ^ X2
    ns = (s[0] ^ _M32, s[1] ^ _M32, s[2] ^ _M32, s[3] ^ _M32)
    e = _encrypt(x2, ns + x3)
    y2 = (e[0] ^ x2[0], e[1] ^ x2[1], e[2] ^ x2[2], e[3] ^ x2[3])
    return s, y1 + y2  # Y = Y1 || Y2


def compress(x: bytes | bytearray | memoryview) -> tuple[bytes, bytes]:
    """belt-compress on 64 bytes: (sigma1(X) as 16 bytes, sigma2(X) as 32 bytes)."""
    data = _check("compress input", x, 64)
    words = Struct("<16I").unpack(data)
    s, y = _compress(words[:8], words[8:])
    return _BLOCK.pack(*s), _KEY.pack(*y)


#: belt-hash's initial h: the first 32 bytes of H (section 6.9)
_IV: Key = _KEY.unpack(H[:32])
_ZERO_BLOCK: Block = (0, 0, 0, 0)
_M128 = (1 << 128) - 1


class BeltHash:
    """belt-hash (STB 34.101.31 section 6.9), hashlib-style; ``digest()`` leaves the object usable."""

    __slots__ = ("_h", "_s", "_count", "_tail")

    name = "belt-hash"
    digest_size = 32
    block_size = 32

    def __init__(self, data: bytes | bytearray | memoryview = b"") -> None:
        self._h: Key = _IV
        self._s: Block = _ZERO_BLOCK  # XOR of the sigma1 values of the processed blocks
        self._count = 0  # bytes absorbed
        self._tail = bytearray()  # fewer than 32 bytes not yet processed
        if data:
            self.update(data)

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        """Absorb ``data``; whole blocks are compressed straight from its buffer."""
        self._count += absorb(self._tail, data, 32, self._blocks)

    def _blocks(self, buffer: bytes | bytearray | memoryview, start: int, stop: int) -> None:
        """Compress the whole blocks ``buffer[start:stop]`` (a multiple of 32 bytes): step 3."""
        ext = accel.belt_speedups()
        if ext is not None:
            state = _STATE.unpack(ext.belt_compress(_STATE.pack(*self._h, *self._s), buffer[start:stop]))
            self._h, self._s = state[:8], state[8:]
            return
        h, (s0, s1, s2, s3) = self._h, self._s
        unpack_from, comp = _KEY.unpack_from, _compress
        for offset in range(start, stop, 32):
            t, h = comp(unpack_from(buffer, offset), h)
            s0 ^= t[0]
            s1 ^= t[1]
            s2 ^= t[2]
            s3 ^= t[3]
        self._h, self._s = h, (s0, s1, s2, s3)

    def _final(self) -> Key:
        """Steps 3 (the zero-padded last block, if any) and 4, on copies of the state."""
        h, s = self._h, self._s
        bits = (8 * self._count) & _M128  # <|X|>_128
        ext = accel.belt_speedups()
        if ext is not None:  # the same two compressions in C (what HMAC/PBKDF2 spend their time on)
            state = _STATE.pack(*h, *s)
            if self._tail:
                state = ext.belt_compress(state, bytes(self._tail).ljust(32, b"\x00"))
            last = bits.to_bytes(16, "little") + state[32:]  # <|X|>_128 || s
            return _KEY.unpack(ext.belt_compress(state[:32] + bytes(16), last)[:32])
        if self._tail:
            t, h = _compress(_KEY.unpack(bytes(self._tail).ljust(32, b"\x00")), h)
            s = (s[0] ^ t[0], s[1] ^ t[1], s[2] ^ t[2], s[3] ^ t[3])
        r = (bits & _M32, (bits >> 32) & _M32, (bits >> 64) & _M32, bits >> 96)
        # 4. Y <- sigma2(<|X|>_128 || s || h)
        return _compress(r + s, h)[1]

    def digest(self) -> bytes:
        """The digest of everything absorbed so far (the object is not finalised)."""
        return _KEY.pack(*self._final())

    def hexdigest(self) -> str:
        return self.digest().hex()

    def copy(self) -> BeltHash:
        """An independent object with the same state."""
        other = BeltHash.__new__(BeltHash)
        other._h, other._s, other._count = self._h, self._s, self._count
        other._tail = bytearray(self._tail)
        return other


def belt_hash(data: bytes | bytearray | memoryview) -> bytes:
    """belt-hash of ``data`` in one call."""
    return BeltHash(data).digest()
