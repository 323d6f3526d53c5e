"""GOST 28147-89 block cipher (RFC 5830) with the RFC 4357 / RFC 7836 S-boxes and CryptoPro key meshing.

Byte conventions are the gost engine's (and RFC 4357's): the 256-bit key is eight 32-bit
little-endian words K0..K7 (bytes 4i..4i+3 give Ki); a 64-bit block is two little-endian
words, bytes 0..3 are N1 (the half added to the round key first) and bytes 4..7 are N2; the
output block is N2' || N1' in the same little-endian words, as GOST writes the result.

GOST R 34.12-2015 "Magma" (RFC 8891) is this cipher with the id-tc26-gost-28147-param-Z
S-boxes but with big-endian conventions: a Magma key k255..k0 written as 32 bytes becomes
the GOST 28147 key by reversing each 4-byte group (Magma K1 = first four bytes, big-endian,
is our K0); a Magma block (8 bytes, big-endian) becomes ours by reversing all 8 bytes, and the
same reversal turns our output back into Magma's.

Modes: ECB ("prostaya zamena"), CBC (RFC 4357 section 2.1), CFB ("gammirovanie s obratnoy
svyaz'yu"), CNT ("gammirovanie", the C1/C2 counter), the MAC ("imitovstavka", 16 rounds).
CFB, CNT and the MAC take ``meshing=True`` for CryptoPro key meshing (RFC 4357 section 2.3.2):
before each 8-byte block that follows a full 1024 bytes under one key, the key becomes the
32-byte constant C decrypted (ECB) under the current key, and the feedback register (CFB: the
last ciphertext block; CNT: the counter state, as the engine does) is encrypted once under
the new key.  The MAC meshes the key only (the MAC state is not touched).

What the gost engine does (libengine-gost-openssl 3.0.1, checked by experiment in
tests/crypto/test_gost28147.py on 1023..5000-byte inputs):

* ``gost89`` (the cipher of OID 1.2.643.2.2.21, id-Gost28147-89) is CFB *with* CryptoPro key
  meshing for every parameter set, paramset Z and CryptoPro-A alike; the S-boxes come from
  the ASN.1 parameters (Gost28147-89-Parameters: iv, encryptionParamSet) or, for
  ``openssl enc``, from ``CRYPT_PARAMS`` (default: param-Z).  So a PBES2 PKCS#12 with
  1.2.643.2.2.21 and paramset Z decrypts with ``cfb_decrypt(iv, data, meshing=True)``
  under ``TC26_Z``; without meshing only the first 1024 bytes come out right.
* ``gost89-cnt`` is CNT with meshing under CryptoPro-A, ``gost89-cnt-12`` the same under
  param-Z (neither follows ``CRYPT_PARAMS``); ``gost89-cbc`` is CBC without meshing.
* ``gost-mac`` (CryptoPro-A) and ``gost-mac-12`` (param-Z) mesh; a message of 1..8 bytes is
  zero-padded and followed by one zero block, the empty message gives the zero MAC.

Side channels: table lookups indexed by key-dependent data, in Python: nothing here is
constant time.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

_M32 = 0xFFFFFFFF
_C1 = 0x01010104  # added mod 2^32 - 1 to N4 (the second word) in CNT mode
_C2 = 0x01010101  # added mod 2^32 to N3 (the first word)
_MESH_BYTES = 1024

#: the CryptoPro key meshing constant C (RFC 4357 section 2.3.2)
MESHING_CONSTANT = bytes.fromhex(
    "69007222 64c90423 8d3adb96 46e92ac4 18feac94 00ed0712 c086dcc2 ef4ca92b".replace(" ", ""))


def _fuse(rows: tuple[tuple[int, ...], ...]) -> tuple[tuple[int, ...], ...]:
    """The four byte tables: substitution of one input byte and rotation left by 11, fused."""
    tables: list[tuple[int, ...]] = []
    for j in range(4):
        lo, hi = rows[2 * j], rows[2 * j + 1]
        t: list[int] = []
        for b in range(256):
            v = (lo[b & 15] | hi[b >> 4] << 4) << (8 * j)
            t.append(((v << 11) | (v >> 21)) & _M32)
        if j == 3:
            t = t + t  # 512 entries: the index may carry a 33rd bit from the unmasked key addition
        tables.append(tuple(t))
    return tuple(tables)


@dataclass(frozen=True)
class SBox:
    """A GOST 28147-89 S-box set: ``rows[i]`` substitutes bits 4i..4i+3 of the round input."""

    name: str
    oid: str
    rows: tuple[tuple[int, ...], ...]
    tables: tuple[tuple[int, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.rows) != 8 or any(sorted(r) != list(range(16)) for r in self.rows):
            raise ValueError(f"{self.name}: an S-box set is 8 permutations of 0..15")
        object.__setattr__(self, "tables", _fuse(self.rows))


def _sbox(name: str, oid: str, *rows: str) -> SBox:
    return SBox(name, oid, tuple(tuple(int(c, 16) for c in r) for r in rows))


# Rows lowest nibble first (the engine's gost89.c lists them highest first, k8..k1).
GOSTR3411_94_TEST = _sbox(
    "id-GostR3411-94-TestParamSet", "1.2.643.2.2.30.0",
    "4A92D80E6B1C7F53", "EB4C6DFA23810759", "581DA342EFC7609B", "7DA1089FE46CB253",
    "6C715FD84A9E03B2", "4BA0721D36859CFE", "DB413F590AE7682C", "1FD057A4923E6B8C")
GOSTR3411_94_CRYPTOPRO = _sbox(
    "id-GostR3411-94-CryptoProParamSet", "1.2.643.2.2.30.1",
    "A4568137DCE092BF", "5F402DB91763CEA8", "7FCE94103B526A8D", "4A7C0F28E165DB93",
    "764B9C2A180EFD35", "7624D9F0A15B8EC3", "DE41705A3C8F629B", "13A95B4F867ED02C")
GOST28147_TEST = _sbox(
    "id-Gost28147-89-TestParamSet", "1.2.643.2.2.31.0",
    "42F59108E3BCD7A6", "C9FE813A274D60B5", "D8EC739A15246F0B", "E9B25F710DC6A438",
    "3E59680DAB7C21F4", "8F6B19C5D37A0E24", "9BC0367548EF1A2D", "C652B09D3E7AF418")
CRYPTOPRO_A = _sbox(
    "id-Gost28147-89-CryptoPro-A-ParamSet", "1.2.643.2.2.31.1",
    "96328B17A4EFC0D5", "37E98AF0526CB4D1", "E462B3D8CF5A0719", "E7ACD13902B4F856",
    "B5198DF0E423C7A6", "3ADC120B75948FE6", "1D297A608C45F3BE", "BAF50CE8623917D4")
CRYPTOPRO_B = _sbox(
    "id-Gost28147-89-CryptoPro-B-ParamSet", "1.2.643.2.2.31.2",
    "84B135092EACD67F", "012A4D5C973FB86E", "EC0A92DB758F3614", "750DB6123ACF4E98",
    "27CF95AB140D68E3", "83264DEBC17FA095", "52AB91C374D06F8E", "04BE8371A296FD5C")
CRYPTOPRO_C = _sbox(
    "id-Gost28147-89-CryptoPro-C-ParamSet", "1.2.643.2.2.31.3",
    "1BC29D0F458EA763", "017DB4528EFC9A63", "825049FA37CD6E1B", "36015DA8B297EFC4",
    "8DB0451293CE6FA7", "C9B18E247365A0FD", "A968DE20F35B41C7", "7405A2FEC61BD938")
CRYPTOPRO_D = _sbox(
    "id-Gost28147-89-CryptoPro-D-ParamSet", "1.2.643.2.2.31.4",
    "FC2A645079ED1B83", "B634CFE27D805A91", "1CB0FE65AD489372", "15ECA70D62B493F8",
    "0C89D2AB73654EF1", "80F325EB1A47C9D6", "306F1E92D8C4BA57", "1A68FB04C3597D2E")
TC26_Z = _sbox(
    "id-tc26-gost-28147-param-Z", "1.2.643.7.1.2.5.1.1",
    "C462A5B9E8D703F1", "68239A5C1E47BD0F", "B3582FADE174C960", "C821D4F670A53E9B",
    "7F5A816D093EB42C", "5DF692CAB78143E0", "8E25691CF4B0DA37", "17ED05834FA69CB2")

#: every S-box set by OID
SBOXES: dict[str, SBox] = {s.oid: s for s in (
    GOSTR3411_94_TEST, GOSTR3411_94_CRYPTOPRO, GOST28147_TEST,
    CRYPTOPRO_A, CRYPTOPRO_B, CRYPTOPRO_C, CRYPTOPRO_D, TC26_Z)}


def sbox_by_oid(oid: str) -> SBox:
    """The S-box set known by ``oid``; ``KeyError`` if it is not one of :data:`SBOXES`."""
    return SBOXES[oid]


def crypt_words(tables: tuple[tuple[int, ...], ...], schedule: Sequence[int], n1: int, n2: int) -> tuple[int, int]:
    """Run the rounds of ``schedule`` (an even number of round keys) on (N1, N2); returns the
    halves as stored after the last round, (N1, N2), without the final GOST swap."""
    t0, t1, t2, t3 = tables
    it = iter(schedule)
    for ka, kb in zip(it, it):
        x = n1 + ka
        n2 ^= t0[x & 255] ^ t1[x >> 8 & 255] ^ t2[x >> 16 & 255] ^ t3[x >> 24]
        x = n2 + kb
        n1 ^= t0[x & 255] ^ t1[x >> 8 & 255] ^ t2[x >> 16 & 255] ^ t3[x >> 24]
    return n1, n2


def encrypt_words(tables: tuple[tuple[int, ...], ...], key: Sequence[int], n1: int, n2: int) -> tuple[int, int]:
    """Encrypt the block (N1, N2) under the eight key words; returns the output words in
    block order (first word = N2 after round 32)."""
    n1, n2 = crypt_words(tables, (*key, *key, *key, *key[::-1]), n1, n2)
    return n2, n1


class Gost28147:
    """GOST 28147-89 under one 32-byte key and S-box set (immutable: meshing makes new objects)."""

    __slots__ = ("sbox", "_key", "_enc", "_dec", "_mac")

    def __init__(self, key: bytes | bytearray | memoryview, sbox: SBox) -> None:
        key = bytes(key)
        if len(key) != 32:
            raise ValueError("GOST 28147-89 keys are 32 bytes")
        k = struct.unpack("<8I", key)
        self.sbox = sbox
        self._key = k
        self._enc = (*k, *k, *k, *k[::-1])
        self._dec = (*k, *k[::-1], *k[::-1], *k[::-1])
        self._mac = (*k, *k)

    def __repr__(self) -> str:
        return f"Gost28147(<key>, {self.sbox.name})"

    # -- single blocks -----------------------------------------------------------------------

    def _e(self, n1: int, n2: int) -> tuple[int, int]:
        a, b = crypt_words(self.sbox.tables, self._enc, n1, n2)
        return b, a

    def _d(self, n1: int, n2: int) -> tuple[int, int]:
        a, b = crypt_words(self.sbox.tables, self._dec, n1, n2)
        return b, a

    def encrypt_block(self, block: bytes | bytearray | memoryview) -> bytes:
        """Encrypt one 8-byte block."""
        return struct.pack("<2I", *self._e(*_block(block)))

    def decrypt_block(self, block: bytes | bytearray | memoryview) -> bytes:
        """Decrypt one 8-byte block."""
        return struct.pack("<2I", *self._d(*_block(block)))

    def meshed(self) -> Gost28147:
        """The cipher under the CryptoPro-meshed key: C (RFC 4357) decrypted in ECB under this key."""
        return Gost28147(self.ecb_decrypt(MESHING_CONSTANT), self.sbox)

    # -- modes -------------------------------------------------------------------------------

    def ecb_encrypt(self, data: bytes | bytearray | memoryview) -> bytes:
        """ECB over whole blocks (``len(data) % 8 == 0``)."""
        w = _words(data, whole=True)
        e = self._e
        out: list[int] = []
        for i in range(0, len(w), 2):
            out.extend(e(w[i], w[i + 1]))
        return _pack(out, len(w) * 4)

    def ecb_decrypt(self, data: bytes | bytearray | memoryview) -> bytes:
        """Inverse of :meth:`ecb_encrypt`."""
        w = _words(data, whole=True)
        d = self._d
        out: list[int] = []
        for i in range(0, len(w), 2):
            out.extend(d(w[i], w[i + 1]))
        return _pack(out, len(w) * 4)

    def cbc_encrypt(self, iv: bytes | bytearray | memoryview, data: bytes | bytearray | memoryview) -> bytes:
        """CBC (RFC 4357 section 2.1) over whole blocks, no padding, no meshing."""
        c1, c2 = _block(iv)
        w = _words(data, whole=True)
        e = self._e
        out: list[int] = []
        for i in range(0, len(w), 2):
            c1, c2 = e(w[i] ^ c1, w[i + 1] ^ c2)
            out += (c1, c2)
        return _pack(out, len(w) * 4)

    def cbc_decrypt(self, iv: bytes | bytearray | memoryview, data: bytes | bytearray | memoryview) -> bytes:
        """Inverse of :meth:`cbc_encrypt`."""
        c1, c2 = _block(iv)
        w = _words(data, whole=True)
        d = self._d
        out: list[int] = []
        for i in range(0, len(w), 2):
            p1, p2 = d(w[i], w[i + 1])
            out += (p1 ^ c1, p2 ^ c2)
            c1, c2 = w[i], w[i + 1]
        return _pack(out, len(w) * 4)

    def _cfb(self, iv: bytes | bytearray | memoryview, data: bytes | bytearray | memoryview,
             meshing: bool, decrypt: bool) -> bytes:
        r1, r2 = _block(iv)
        w = _words(data, whole=False)
        cipher = self
        e = cipher._e
        out: list[int] = []
        mesh_every = _MESH_BYTES // 4
        for i in range(0, len(w), 2):
            if meshing and i and i % mesh_every == 0:
                cipher = cipher.meshed()
                e = cipher._e
                r1, r2 = e(r1, r2)
            g1, g2 = e(r1, r2)
            x1, x2 = w[i], w[i + 1]
            y1, y2 = x1 ^ g1, x2 ^ g2
            out += (y1, y2)
            r1, r2 = (x1, x2) if decrypt else (y1, y2)
        return _pack(out, len(data))

    def cfb_encrypt(self, iv: bytes | bytearray | memoryview, data: bytes | bytearray | memoryview,
                    *, meshing: bool = False) -> bytes:
        """CFB with an 8-byte IV; any length (a partial last block uses part of its gamma)."""
        return self._cfb(iv, data, meshing, decrypt=False)

    def cfb_decrypt(self, iv: bytes | bytearray | memoryview, data: bytes | bytearray | memoryview,
                    *, meshing: bool = False) -> bytes:
        """Inverse of :meth:`cfb_encrypt`."""
        return self._cfb(iv, data, meshing, decrypt=True)

    def cnt(self, iv: bytes | bytearray | memoryview, data: bytes | bytearray | memoryview,
            *, meshing: bool = False) -> bytes:
        """Counter mode ("gammirovanie"): the same call encrypts and decrypts; any length.

        The counter starts at E(IV); before each block N3 += C2 (mod 2^32) and
        N4 += C1 (mod 2^32 - 1), and the gamma is E(N3, N4).
        """
        cipher = self
        e = cipher._e
        n3, n4 = e(*_block(iv))
        w = _words(data, whole=False)
        out: list[int] = []
        mesh_every = _MESH_BYTES // 4
        for i in range(0, len(w), 2):
            if meshing and i and i % mesh_every == 0:
                cipher = cipher.meshed()
                e = cipher._e
                n3, n4 = e(n3, n4)
            n3 = (n3 + _C2) & _M32
            n4 += _C1
            if n4 > _M32:
                n4 -= _M32
            g1, g2 = e(n3, n4)
            out += (w[i] ^ g1, w[i + 1] ^ g2)
        return _pack(out, len(data))

    def mac(self, data: bytes | bytearray | memoryview, *, size: int = 4,
            iv: bytes | bytearray | memoryview = bytes(8), meshing: bool = False) -> bytes:
        """The imitovstavka: 16 rounds per block from state ``iv``; the first ``size`` bytes of the
        final state.  The last partial block is zero-padded; a one-block message gets a zero
        block appended (GOST needs two blocks; the engine does the same); the empty message maps to
        ``iv``."""
        if not 1 <= size <= 8:
            raise ValueError("a GOST 28147-89 MAC is 1..8 bytes")
        s1, s2 = _block(iv)
        w = _words(data, whole=False)
        if len(w) == 2:
            w = (*w, 0, 0)
        cipher = self
        tables, sched = cipher.sbox.tables, cipher._mac
        mesh_every = _MESH_BYTES // 4
        for i in range(0, len(w), 2):
            if meshing and i and i % mesh_every == 0:
                cipher = cipher.meshed()
                sched = cipher._mac
            s1, s2 = crypt_words(tables, sched, s1 ^ w[i], s2 ^ w[i + 1])
        return struct.pack("<2I", s1, s2)[:size]


def _block(b: bytes | bytearray | memoryview) -> tuple[int, int]:
    if len(b) != 8:
        raise ValueError("GOST 28147-89 blocks and IVs are 8 bytes")
    n1, n2 = struct.unpack("<2I", b)
    return n1, n2


def _words(data: bytes | bytearray | memoryview, *, whole: bool) -> tuple[int, ...]:
    """``data`` as little-endian 32-bit words, zero-padded to whole 8-byte blocks."""
    n = len(data)
    if n % 8:
        if whole:
            raise ValueError("ECB and CBC take whole 8-byte blocks")
        data = bytes(data) + bytes(8 - n % 8)
    return struct.unpack(f"<{len(data) // 4}I", data)


def _pack(words: list[int], length: int) -> bytes:
    return struct.pack(f"<{len(words)}I", *words)[:length]
