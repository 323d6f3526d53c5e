"""National keys by family (GOST and bign): each signs in its own byte order and verifies only
in it; a wiped key no longer signs."""

from __future__ import annotations

import secrets

import pytest

from tanba.crypto import bign, gost, gost3410, hashes
from tanba.crypto.curves import by_oid


def new_key(family: gost.Family) -> gost.PrivateKey:
    """A random key on the family's first curve (KZ 2015-256 has none of its own: TC26 256 A)."""
    curve_oid = family.curve_oids[0] if family.curve_oids else "1.2.643.7.1.2.1.1.1"
    curve = gost.curve_for(family, curve_oid)
    return gost.PrivateKey(family, curve_oid, (1 + secrets.randbelow(curve.q - 1)).to_bytes(curve.size, "little"))


@pytest.mark.parametrize("family", gost.FAMILIES, ids=lambda f: f.name)
def test_each_family_signs_in_its_order_and_a_tampered_digest_fails(family: gost.Family) -> None:
    key = new_key(family)
    digest = hashes.digest(family.hash, b"document")
    signature = key.sign(digest)
    assert len(signature) == family.signature_size
    assert key.public_key.verify(digest, signature)
    assert not key.public_key.verify(hashes.digest(family.hash, b"documenT"), signature)
    assert not new_key(family).public_key.verify(digest, signature)
    n = key.curve.size
    if family.order is gost.ByteOrder.STB:  # S0 || S1 as STB 34.101.45: what bign.verify reads
        assert bign.verify(key.curve, key.public_key.to_bytes(), digest, signature, family.hash_oid)
        assert key.sign(digest) == signature  # the standard's deterministic k
        assert not bign.verify(key.curve, key.public_key.to_bytes(), digest, signature, bign.BASH256)
    elif family.order is gost.ByteOrder.NCA:  # r_LE || s_LE: not valid read as s || r big-endian
        assert not gost3410.verify_rfc(key.curve, key.public_key.to_bytes(), digest, signature)
        assert gost3410.verify_nca(key.curve, key.public_key.to_bytes(), digest, signature)
    else:
        assert not gost3410.verify_nca(key.curve, key.public_key.to_bytes(), digest, signature)
        s, r = int.from_bytes(signature[:n], "big"), int.from_bytes(signature[n:], "big")
        assert 0 < r < key.curve.q and 0 < s < key.curve.q


def test_wiped_key_refuses_to_sign_and_out_of_range_keys_are_refused() -> None:
    key = new_key(gost.KZ_2015_512)
    key.wipe()
    with pytest.raises(gost.UnsupportedKey):
        key.sign(bytes(64))
    q = by_oid("1.2.643.7.1.2.1.1.1").q
    for bad in (0, q):
        with pytest.raises(gost.UnsupportedKey):
            gost.PrivateKey(gost.RU_2012_256, "1.2.643.7.1.2.1.1.1", bad.to_bytes(32, "little"))
    with pytest.raises(gost.UnsupportedKey):  # a 512-bit curve for a 256-bit family
        gost.PrivateKey(gost.RU_2012_256, "1.2.643.7.1.2.1.2.1", (5).to_bytes(32, "little"))
    assert "secret" not in repr(new_key(gost.KZ_2004)) and str(new_key(gost.KZ_2004).curve.q) not in repr(key)


def test_wrong_length_digest_is_refused_or_fails() -> None:
    key = new_key(gost.KZ_2015_512)
    with pytest.raises(ValueError):
        key.sign(bytes(32))
    assert not key.public_key.verify(bytes(32), key.sign(bytes(64))[:64])


def test_signature_oids_and_key_oids_both_name_the_family() -> None:
    for family in gost.FAMILIES:
        assert gost.signs_with(family, family.signature_oid)
        if family.kind is gost.Kind.GOST:
            assert gost.by_signature_oid(family.signature_oid) is family
            assert gost.by_signature_oid(family.key_oid) is family
        assert gost.by_xml_signature_uri(family.xml_signature_uri) is family
        assert gost.hash_of_oid(family.hash_oid) == family.hash
    assert gost.by_signature_oid("1.2.840.113549.1.1.11") is None


def test_bign_families_are_told_apart_by_curve_and_signature_oids_by_membership() -> None:
    assert gost.by_key_oid(bign.BIGN_PUBKEY) is None  # one key OID, three families
    assert gost.is_national_key_oid(bign.BIGN_PUBKEY)
    for family, curve in ((gost.BIGN_256, bign.CURVE256V1), (gost.BIGN_384, bign.CURVE384V1),
                          (gost.BIGN_512, bign.CURVE512V1)):
        assert gost.by_key(bign.BIGN_PUBKEY, curve.oids[0]) is family
    assert gost.by_key(bign.BIGN_PUBKEY, "1.2.643.7.1.2.1.1.1") is None
    assert gost.signs_with(gost.BIGN_256, bign.BIGN_WITH_HBELT)
    assert not gost.signs_with(gost.BIGN_256, bign.BIGN_WITH_HSPEC)
    assert gost.signs_with(gost.BIGN_512, bign.BIGN_WITH_HSPEC)
    assert not gost.signs_with(gost.BIGN_256, bign.BIGN_PUBKEY)  # unlike GOST, the key OID is no signature OID
    assert gost.signs_with(gost.RU_2012_256, gost.RU_2012_256.key_oid)
    with pytest.raises(gost.UnsupportedKey):  # a 384-bit curve for the 256-bit family
        gost.curve_for(gost.BIGN_256, bign.CURVE384V1.oids[0])
    assert gost.by_xml_signature_uri("http://www.w3.org/2001/04/xmldsig-more#bign-with-hbelt") is gost.BIGN_256
