"""A guess of a PKCS#12 file's key kind from what can be read without its password.

`tanba sign` hashes big files while the rest of Tanba loads and the password is asked; the
hash depends on the key (SHA-256 for RSA/EC, Streebog for GOST keys), which is encrypted.
The length of the encrypted private key gives it away well enough for a guess: a GOST
PrivateKeyInfo is 70–80 bytes (256-bit keys) or about 110 (512-bit), an EC P-256 one about
140 and an RSA one over a thousand.  A key in Belarus's own container (STB 34.101.78: PBES2
with hmac-hbelt and belt-kwp256, named in the clear) is a bign key: belt-hash for the 81
bytes of a bign-256 key, bash384 / bash512 for the larger ones.  The guess only decides what is hashed *early*: the key
itself decides what is signed, and a wrong guess costs a second hashing pass, never a wrong
signature.

Only the standard library and a minimal DER walk (no asn1crypto: this runs before anything
heavy is imported); anything unexpected answers None.

:func:`shape_problem` is the other read without the password: whether the file can be a
PKCS#12 file at all, so a wrong file (a certificate, a document) is named as such before
anyone is asked a password for it.
"""

from __future__ import annotations

from pathlib import Path

_SHROUDED_KEY_BAG = bytes.fromhex("2a864886f70d010c0a0102")  # 1.2.840.113549.1.12.10.1.2
_DATA = bytes.fromhex("2a864886f70d010701")  # 1.2.840.113549.1.7.1
_MAX_FILE = 1 << 20
#: DER of the object identifiers that name STB 34.101.78's key encryption
_HMAC_HBELT = bytes.fromhex("2a7000020022652f0c")  # 1.2.112.0.2.0.34.101.47.12
_BELT_KWP256 = bytes.fromhex("2a7000020022651f49")  # 1.2.112.0.2.0.34.101.31.73


Element = tuple[int, int, int, int]  # tag, content start, content end, where the next element starts


def _tlv(buf: bytes, at: int) -> Element:
    """The BER element at ``at`` (NCA's files, written by Java, use indefinite lengths)."""
    tag = buf[at]
    length = buf[at + 1]
    at += 2
    if length == 0x80:  # indefinite: children up to the end-of-contents octets
        if not tag & 0x20:
            raise ValueError("indefinite primitive")
        pos = at
        while buf[pos : pos + 2] != b"\0\0":
            pos = _tlv(buf, pos)[3]
        return tag, at, pos, pos + 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("length")
        length = int.from_bytes(buf[at : at + count], "big")
        at += count
    end = at + length
    if end > len(buf):
        raise ValueError("truncated")
    return tag, at, end, end


def _children(buf: bytes, element: Element) -> list[Element]:
    out = []
    pos = element[1]
    while pos < element[2]:
        child = _tlv(buf, pos)
        out.append(child)
        pos = child[3]
    return out


def _octets(buf: bytes, element: Element) -> bytes:
    """An OCTET STRING's bytes, primitive or constructed from chunks."""
    if element[0] == 0x04:
        return buf[element[1] : element[2]]
    if element[0] == 0x24:
        return b"".join(_octets(buf, chunk) for chunk in _children(buf, element))
    raise ValueError("not an OCTET STRING")


def _explicit_octets(buf: bytes, element: Element) -> bytes:
    """The OCTET STRING inside a ``[0] EXPLICIT`` wrapper."""
    return _octets(buf, _children(buf, element)[0])


def _key_bags(pfx: bytes) -> list[tuple[int, bool]]:
    """(length, whether belt protects it) of each encrypted key in the file's unencrypted
    SafeContents."""
    _version, auth_safe, *_ = _children(pfx, _tlv(pfx, 0))
    oid, wrapper = _children(pfx, auth_safe)[:2]
    if pfx[oid[1] : oid[2]] != _DATA:
        return []
    safe = _explicit_octets(pfx, wrapper)
    lengths = []
    for info in _children(safe, _tlv(safe, 0)):
        parts = _children(safe, info)
        if len(parts) < 2 or safe[parts[0][1] : parts[0][2]] != _DATA:
            continue  # an encrypted part (certificates): nothing to read before the password
        bags = _explicit_octets(safe, parts[1])
        for bag in _children(bags, _tlv(bags, 0)):
            bag_parts = _children(bags, bag)
            if bags[bag_parts[0][1] : bag_parts[0][2]] != _SHROUDED_KEY_BAG:
                continue
            epki = _children(bags, bag_parts[1])[0]
            algorithm, encrypted = _children(bags, epki)[:2]
            named = bags[algorithm[1] : algorithm[2]]
            lengths.append((len(_octets(bags, encrypted)), _HMAC_HBELT in named or _BELT_KWP256 in named))
    return lengths


def guess_hash(path: Path) -> str | None:
    """``"streebog256"`` / ``"streebog512"`` when the file's one key looks like a GOST key of
    that size, ``"belt-hash"`` / ``"bash384"`` / ``"bash512"`` for a key in the bign
    container, ``"sha256"`` when it looks like another key, None when nothing can be told."""
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_FILE + 1)
        if len(data) > _MAX_FILE:
            return None
        bags = _key_bags(data)
    except (OSError, ValueError, IndexError):
        return None
    if len(bags) != 1:
        return None
    size, belt = bags[0]
    if belt:  # kwp adds 16 bytes to a PrivateKeyInfo of 65 / 81 / 97 bytes
        return "belt-hash" if size <= 81 else "bash384" if size <= 97 else "bash512"
    if size <= 96:
        return "streebog256"
    if size <= 128:
        return "streebog512"
    return "sha256"


#: what a PKCS#12 file starts with: PFX ::= SEQUENCE { version INTEGER (3), authSafe
#: ContentInfo (data, or signedData), macData OPTIONAL }
_PFX_HEAD = 64
_SIGNED_DATA = bytes.fromhex("2a864886f70d010702")  # 1.2.840.113549.1.7.2


def _header(buf: bytes, at: int) -> tuple[int, int, int | None]:
    """(tag, where the content starts, content length or None when indefinite) of the
    element at ``at``, from its header alone."""
    tag, length = buf[at], buf[at + 1]
    at += 2
    if length == 0x80:
        return tag, at, None
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4 or at + count > len(buf):
            raise ValueError("length")
        length = int.from_bytes(buf[at : at + count], "big")
        at += count
    return tag, at, length


def shape_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a PKCS#12 file, from its first bytes (no password, no
    parser): None when it starts as one (a SEQUENCE, version 3, an authSafe of data or
    signedData, within the file's size) or cannot be read (the unlock says why)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(_PFX_HEAD)
    except OSError:
        return None
    if not head:
        return "the file is empty"
    if head.lstrip().startswith(b"-----BEGIN"):
        kind = head.lstrip()[11:].split(b"-----", 1)[0].decode("ascii", "replace").strip() or "PEM"
        return f"it is a PEM text file holding a {kind}"
    try:
        tag, at, length = _header(head, 0)
        if tag != 0x30:
            raise ValueError("not a DER SEQUENCE")
        if length is not None and at + length > size:
            return f"it is cut short: {size} bytes of the {at + length} it announces"
        tag, vat, vlen = _header(head, at)
        if tag == 0x30:
            return "it holds a certificate or another DER structure"
        if tag != 0x02 or vlen != 1 or head[vat] != 3:
            raise ValueError("no version 3")
        tag, cat, _ = _header(head, vat + 1)
        otag, oat, olen = _header(head, cat)
        if tag != 0x30 or otag != 0x06 or head[oat : oat + (olen or 0)] not in (_DATA, _SIGNED_DATA):
            raise ValueError("no authSafe")
    except (ValueError, IndexError):
        return "its content is not PKCS#12 data"
    return None
