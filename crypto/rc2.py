"""RC2 (RFC 2268), only as far as old PKCS#12 files need it: CBC with a chosen effective key size.

NCA's PKCS#12 files encrypt their certificate bag with pbeWithSHAAnd40BitRC2-CBC (a 5-byte
key, 40 effective bits).  cryptography's RC2 accepts 128-bit keys only, so the cipher is here.
It protects nothing secret (the certificates are public; the key bag uses 3DES): it is read
so the files open, and written only by the test PKI to make files shaped like NCA's.
"""

from __future__ import annotations

PITABLE = bytes.fromhex(
    "d978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2"
    "179a59f587b34f1361456d8d09817d32bd8f40eb86b77b0bf09521225c6b4e82"
    "54d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626"
    "6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed7"
    "08e8eade8052eef784aa72ac354d6a2a961ad2715a1549744b9fd05e0418a4ec"
    "c2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731"
    "2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a9"
    "0d38341bab33ffb0bb480c5fb9b1cd2ec5f3db47e5a59c770aa62068fe7fc1ad"
)
_MASK = 0xFFFF
_SHIFTS = (1, 2, 3, 5)


def expand_key(key: bytes, effective_bits: int) -> list[int]:
    """The 64 16-bit subkeys K[0..63] (RFC 2268 section 2)."""
    if not 1 <= len(key) <= 128 or not 1 <= effective_bits <= 1024:
        raise ValueError("RC2 key of 1..128 bytes and 1..1024 effective bits")
    t = len(key)
    t8 = (effective_bits + 7) // 8
    tm = 0xFF >> (8 * t8 - effective_bits)
    buf = bytearray(128)
    buf[:t] = key
    for i in range(t, 128):
        buf[i] = PITABLE[(buf[i - 1] + buf[i - t]) & 0xFF]
    buf[128 - t8] = PITABLE[buf[128 - t8] & tm]
    for i in range(127 - t8, -1, -1):
        buf[i] = PITABLE[buf[i + 1] ^ buf[i + t8]]
    subkeys = [buf[2 * i] | buf[2 * i + 1] << 8 for i in range(64)]
    buf[:] = bytes(128)
    return subkeys


def _rol(x: int, s: int) -> int:
    return ((x << s) | (x >> (16 - s))) & _MASK


def _ror(x: int, s: int) -> int:
    return ((x >> s) | (x << (16 - s))) & _MASK


def encrypt_block(k: list[int], block: bytes) -> bytes:
    r = [int.from_bytes(block[i : i + 2], "little") for i in range(0, 8, 2)]
    j = 0
    for rnd in range(16):
        for i in range(4):
            r[i] = _rol((r[i] + k[j] + (r[i - 1] & r[i - 2]) + (~r[i - 1] & r[i - 3])) & _MASK, _SHIFTS[i])
            j += 1
        if rnd in (4, 10):  # a mashing round after the 5th and the 11th mixing round
            for i in range(4):
                r[i] = (r[i] + k[r[i - 1] & 63]) & _MASK
    return b"".join(x.to_bytes(2, "little") for x in r)


def decrypt_block(k: list[int], block: bytes) -> bytes:
    r = [int.from_bytes(block[i : i + 2], "little") for i in range(0, 8, 2)]
    j = 63
    for rnd in range(16):
        for i in (3, 2, 1, 0):
            r[i] = (_ror(r[i], _SHIFTS[i]) - k[j] - (r[i - 1] & r[i - 2]) - (~r[i - 1] & r[i - 3])) & _MASK
            j -= 1
        if rnd in (4, 10):
            for i in (3, 2, 1, 0):
                r[i] = (r[i] - k[r[i - 1] & 63]) & _MASK
    return b"".join(x.to_bytes(2, "little") for x in r)


def cbc_decrypt(key: bytes, effective_bits: int, iv: bytes, data: bytes) -> bytes:
    """CBC decryption, padding left in place (the caller checks and strips it)."""
    if len(iv) != 8 or len(data) % 8:
        raise ValueError("RC2-CBC needs an 8-byte IV and whole 8-byte blocks")
    k = expand_key(key, effective_bits)
    out = bytearray()
    prev = iv
    for i in range(0, len(data), 8):
        block = data[i : i + 8]
        plain = decrypt_block(k, block)
        out += bytes(a ^ b for a, b in zip(plain, prev))
        prev = block
    return bytes(out)


def cbc_encrypt(key: bytes, effective_bits: int, iv: bytes, data: bytes) -> bytes:
    """CBC encryption of whole blocks (the caller pads)."""
    if len(iv) != 8 or len(data) % 8:
        raise ValueError("RC2-CBC needs an 8-byte IV and whole 8-byte blocks")
    k = expand_key(key, effective_bits)
    out = bytearray()
    prev = iv
    for i in range(0, len(data), 8):
        prev = encrypt_block(k, bytes(a ^ b for a, b in zip(data[i : i + 8], prev)))
        out += prev
    return bytes(out)
