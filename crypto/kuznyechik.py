"""GOST R 34.12-2015 "Kuznyechik" (RFC 7801) and its GOST R 34.13-2015 modes CTR and OMAC,
with CTR-ACPKM re-keying (RFC 8645 section 6.2.2, R 1323565.1.017-2018).

Blocks are 16 bytes, keys 32.  A block is held as a 128-bit big-endian integer: the first byte
of the block is the standard's a_15.  One round is a table look-up per byte: ``_LS[j][b]`` is
L(S(b)) with b at byte j, so LSX[k](a) = XOR of 16 look-ups of (a ^ k); decryption uses the
matching L^-1(S^-1(.)) tables on round keys moved through L^-1.
"""

from __future__ import annotations

from collections.abc import Callable

from tanba.crypto.pi import PI

BLOCK_SIZE = 16
KEY_SIZE = 32

# GOST R 34.12-2015 section 4.1.1 (RFC 7801 section 4.1): the substitution pi, shared with Streebog.
_PI = PI
_PI_INV = bytes(_PI.index(i) for i in range(256))

# l's coefficients for a_15 ... a_0 (GOST R 34.12-2015 section 4.1.2).
_L_COEFFICIENTS = (148, 32, 133, 16, 194, 192, 1, 251, 1, 192, 194, 16, 133, 32, 148, 1)

# CTR-ACPKM's constant D (RFC 8645 section 6.2.2): the bytes 0x80 ... 0x9F, two blocks.
ACPKM_D = bytes(range(0x80, 0xA0))

_MASK = (1 << 128) - 1

#: the gost engine's section size for kuznyechik-ctr-acpkm (and so for its PKCS#12 files)
ENGINE_SECTION_SIZE = 4096


def _gf_mul(a: int, b: int) -> int:
    """Product in GF(2^8) modulo x^8 + x^7 + x^6 + x + 1."""
    product = 0
    while b:
        if b & 1:
            product ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x1C3
        b >>= 1
    return product


_MUL_BY = {c: tuple(_gf_mul(c, x) for x in range(256)) for c in set(_L_COEFFICIENTS)}


def _l(a: list[int]) -> int:
    """l(a_15, ..., a_0) = 148 a_15 + 32 a_14 + ... + 1 a_0 over GF(2^8)."""
    value = 0
    for coefficient, byte in zip(_L_COEFFICIENTS, a):
        value ^= _MUL_BY[coefficient][byte]
    return value


def linear(block: bytes) -> bytes:
    """L = R^16 (R shifts right by a byte and puts l(a) in front), straight from the standard."""
    a = list(block)
    for _ in range(16):
        a = [_l(a)] + a[:15]
    return bytes(a)


def linear_inverse(block: bytes) -> bytes:
    """L^-1 = (R^-1)^16, straight from the standard."""
    a = list(block)
    for _ in range(16):
        a = a[1:] + [_l(a[1:] + a[:1])]
    return bytes(a)


def substitute(block: bytes) -> bytes:
    """S: pi on every byte."""
    return block.translate(_PI)


def _byte_tables(transform: Callable[[bytes], bytes]) -> tuple[tuple[int, ...], ...]:
    """For each byte position j, the 256 values transform(b at j), built from its 128 basis images."""
    basis = [int.from_bytes(transform((1 << bit).to_bytes(16, "big")), "big") for bit in range(128)]
    tables = []
    for j in range(16):
        shift = 8 * (15 - j)
        by_byte = [0] * 256
        for b in range(1, 256):
            low = b & -b
            by_byte[b] = by_byte[b ^ low] ^ basis[shift + low.bit_length() - 1]
        tables.append(tuple(by_byte))
    return tuple(tables)


def _fused(linear_tables: tuple[tuple[int, ...], ...], sbox: bytes) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(table[sbox[b]] for b in range(256)) for table in linear_tables)


_LS = _fused(_byte_tables(linear), _PI)
_ILS = _fused(_byte_tables(linear_inverse), _PI_INV)


def _lsx(x: int, tables: tuple[tuple[int, ...], ...]) -> int:
    """The fused linear map of S (or S^-1) of the 128-bit block x."""
    t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11, t12, t13, t14, t15 = tables
    b = x.to_bytes(16, "big")
    return (t0[b[0]] ^ t1[b[1]] ^ t2[b[2]] ^ t3[b[3]] ^ t4[b[4]] ^ t5[b[5]] ^ t6[b[6]] ^ t7[b[7]]
            ^ t8[b[8]] ^ t9[b[9]] ^ t10[b[10]] ^ t11[b[11]] ^ t12[b[12]] ^ t13[b[13]] ^ t14[b[14]]
            ^ t15[b[15]])


# The key schedule's constants C_i = L(Vec_128(i)), i = 1 ... 32.
_C = tuple(int.from_bytes(linear(i.to_bytes(16, "big")), "big") for i in range(1, 33))


def _expand_key(key: bytes) -> tuple[int, ...]:
    """The ten round keys K_1 ... K_10 (GOST R 34.12-2015 section 4.3)."""
    a1 = int.from_bytes(key[:16], "big")
    a0 = int.from_bytes(key[16:], "big")
    keys = [a1, a0]
    for i in range(4):
        for c in _C[8 * i:8 * i + 8]:
            a1, a0 = _lsx(a1 ^ c, _LS) ^ a0, a1
        keys += [a1, a0]
    return tuple(keys)


def _linear_inverse_int(x: int) -> int:
    """L^-1 of a 128-bit block by the fused tables: L^-1(x) = ILS(S(x))."""
    return _lsx(int.from_bytes(x.to_bytes(16, "big").translate(_PI), "big"), _ILS)


class Kuznyechik:
    """The block cipher under one 32-byte key."""

    __slots__ = ("_encrypt_keys", "_decrypt_keys")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError(f"Kuznyechik key must be {KEY_SIZE} bytes, not {len(key)}")
        self._encrypt_keys = _expand_key(bytes(key))
        self._decrypt_keys: tuple[int, ...] | None = None  # made on the first decryption

    def _decryption_keys(self) -> tuple[int, ...]:
        """K10, 0, L^-1(K9) ... L^-1(K2), K1: the keys in the order decrypt_int uses them."""
        # D = X[K1] S^-1 L^-1 X[K2] ... S^-1 L^-1 X[K10]; L^-1 is linear, so each inner
        # X[K_i] moves behind it as X[L^-1(K_i)] and S^-1 fuses with the next L^-1.
        # The first L^-1 has no key after it, hence the 0.
        if self._decrypt_keys is None:
            keys = self._encrypt_keys
            moved = tuple(_linear_inverse_int(k) for k in keys[1:9])
            self._decrypt_keys = (keys[9], 0) + moved[::-1] + (keys[0],)
        return self._decrypt_keys

    @property
    def round_keys(self) -> tuple[bytes, ...]:
        """K_1 ... K_10 as the standard prints them."""
        return tuple(k.to_bytes(16, "big") for k in self._encrypt_keys)

    def encrypt_int(self, x: int) -> int:
        """Encrypt a block given as a 128-bit big-endian integer."""
        t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11, t12, t13, t14, t15 = _LS
        k = self._encrypt_keys
        for key in k[:9]:
            b = (x ^ key).to_bytes(16, "big")
            x = (t0[b[0]] ^ t1[b[1]] ^ t2[b[2]] ^ t3[b[3]] ^ t4[b[4]] ^ t5[b[5]] ^ t6[b[6]]
                 ^ t7[b[7]] ^ t8[b[8]] ^ t9[b[9]] ^ t10[b[10]] ^ t11[b[11]] ^ t12[b[12]]
                 ^ t13[b[13]] ^ t14[b[14]] ^ t15[b[15]])
        return x ^ k[9]

    def decrypt_int(self, x: int) -> int:
        """Decrypt a block given as a 128-bit big-endian integer."""
        t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11, t12, t13, t14, t15 = _ILS
        k = self._decryption_keys()
        # L^-1(x ^ K10) = ILS(S(x ^ K10)): the first step has no S^-1 of its own.
        b = (x ^ k[0]).to_bytes(16, "big").translate(_PI)
        for key in k[1:10]:
            x = (t0[b[0]] ^ t1[b[1]] ^ t2[b[2]] ^ t3[b[3]] ^ t4[b[4]] ^ t5[b[5]] ^ t6[b[6]]
                 ^ t7[b[7]] ^ t8[b[8]] ^ t9[b[9]] ^ t10[b[10]] ^ t11[b[11]] ^ t12[b[12]]
                 ^ t13[b[13]] ^ t14[b[14]] ^ t15[b[15]]) ^ key
            b = x.to_bytes(16, "big")
        return int.from_bytes(b.translate(_PI_INV), "big") ^ k[10]

    def encrypt_block(self, block: bytes) -> bytes:
        """E_K of one 16-byte block."""
        if len(block) != BLOCK_SIZE:
            raise ValueError(f"a Kuznyechik block is {BLOCK_SIZE} bytes, not {len(block)}")
        return self.encrypt_int(int.from_bytes(block, "big")).to_bytes(16, "big")

    def decrypt_block(self, block: bytes) -> bytes:
        """D_K of one 16-byte block."""
        if len(block) != BLOCK_SIZE:
            raise ValueError(f"a Kuznyechik block is {BLOCK_SIZE} bytes, not {len(block)}")
        return self.decrypt_int(int.from_bytes(block, "big")).to_bytes(16, "big")


def _xor(data: bytes, gamma: list[int]) -> bytes:
    """data XOR the concatenated gamma blocks, cut to len(data)."""
    n = len(data)
    if n == 0:
        return b""
    stream = b"".join(g.to_bytes(16, "big") for g in gamma)[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def _first_counter(iv: bytes) -> int:
    if len(iv) != BLOCK_SIZE // 2:
        raise ValueError(f"CTR takes a {BLOCK_SIZE // 2}-byte IV, not {len(iv)}")
    return int.from_bytes(iv, "big") << 64


def ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    """CTR (GOST R 34.13-2015 section 5.2): counter IV || 0^64, +1 mod 2^128 a block.

    Encryption and decryption are the same operation."""
    cipher = Kuznyechik(key)
    counter = _first_counter(iv)
    blocks = -(-len(data) // BLOCK_SIZE)
    encrypt = cipher.encrypt_int
    return _xor(bytes(data), [encrypt((counter + i) & _MASK) for i in range(blocks)])


def _next_section_key(cipher: Kuznyechik) -> bytes:
    return cipher.encrypt_block(ACPKM_D[:16]) + cipher.encrypt_block(ACPKM_D[16:])


def acpkm(key: bytes) -> bytes:
    """ACPKM's next section key: E_K(D_1) || E_K(D_2) (RFC 8645 section 6.2.2)."""
    return _next_section_key(Kuznyechik(key))


def ctr_acpkm(key: bytes, iv: bytes, data: bytes, section_size: int = ENGINE_SECTION_SIZE) -> bytes:
    """CTR-ACPKM: CTR whose key is replaced by :func:`acpkm` after each ``section_size`` bytes.

    The counter runs on across sections.  ``section_size`` is in bytes, a multiple of the
    block; 4096 is what the gost engine uses.  Encryption and decryption are the same."""
    if section_size <= 0 or section_size % BLOCK_SIZE:
        raise ValueError(f"the ACPKM section size must be a positive multiple of {BLOCK_SIZE}")
    data = bytes(data)
    counter = _first_counter(iv)
    per_section = section_size // BLOCK_SIZE
    blocks = -(-len(data) // BLOCK_SIZE)
    gamma: list[int] = []
    cipher = Kuznyechik(key)
    for start in range(0, blocks, per_section):
        if start:
            cipher = Kuznyechik(_next_section_key(cipher))
        encrypt = cipher.encrypt_int
        gamma += [encrypt((counter + i) & _MASK) for i in range(start, min(start + per_section, blocks))]
    return _xor(data, gamma)


def _double(v: int) -> int:
    """v * x in GF(2^128) modulo x^128 + x^7 + x^2 + x + 1 (B_128 = 0^120 || 10000111)."""
    return ((v << 1) & _MASK) ^ (0x87 if v >> 127 else 0)


def omac_subkeys(key: bytes) -> tuple[bytes, bytes]:
    """OMAC's K1 and K2 (GOST R 34.13-2015 section 5.6.1)."""
    k1 = _double(Kuznyechik(key).encrypt_int(0))
    return k1.to_bytes(16, "big"), _double(k1).to_bytes(16, "big")


def omac(key: bytes, data: bytes, size: int = BLOCK_SIZE) -> bytes:
    """OMAC / CMAC (GOST R 34.13-2015 section 5.6): the first ``size`` bytes of the MAC."""
    if not 0 < size <= BLOCK_SIZE:
        raise ValueError(f"an OMAC is 1 to {BLOCK_SIZE} bytes")
    encrypt = Kuznyechik(key).encrypt_int
    k1 = _double(encrypt(0))
    data = bytes(data)
    full, rest = divmod(len(data), BLOCK_SIZE)
    if rest or not data:
        last_block = data[full * BLOCK_SIZE:] + b"\x80" + bytes(BLOCK_SIZE - 1 - rest)
        last_key = _double(k1)
    else:
        full -= 1
        last_block = data[full * BLOCK_SIZE:]
        last_key = k1
    state = 0
    for i in range(full):
        state = encrypt(state ^ int.from_bytes(data[i * BLOCK_SIZE:(i + 1) * BLOCK_SIZE], "big"))
    state = encrypt(state ^ int.from_bytes(last_block, "big") ^ last_key)
    return state.to_bytes(16, "big")[:size]
