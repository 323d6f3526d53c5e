"""GOST keys in SubjectPublicKeyInfo / PKCS#8: the three private-key encodings round-trip, and
NCA's real certificates yield keys that verify their own chain (NCA conventions)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from asn1crypto import x509 as ax509

from tanba.crypto import gost, hashes
from tanba.agent.setup.gost_pki import new_key as make_key
from tanba.providers.gost_asn1 import (
    encode_pkcs8,
    encode_spki,
    private_key_from_pkcs8,
    public_key_from_spki,
    public_key_of_certificate,
)

NCA = Path(__file__).resolve().parents[2] / "../shared/testdata/nca"


def new_key(family: gost.Family) -> gost.PrivateKey:
    # a family's first curve (KZ 2015-256 has none of its own: TC26 256 A)
    return make_key(family, family.curve_oids[0] if family.curve_oids else "1.2.643.7.1.2.1.1.1")


@pytest.mark.parametrize("family", gost.FAMILIES, ids=lambda f: f.name)
def test_containers_round_trip(family: gost.Family) -> None:
    key = new_key(family)
    assert public_key_from_spki(encode_spki(key.public_key)) == key.public_key
    for style in ("nca", "raw"):
        again = private_key_from_pkcs8(encode_pkcs8(key, style=style))
        assert again.public_key == key.public_key and again.secret_bytes() == key.secret_bytes()



def test_garbage_is_unsupported_not_a_crash() -> None:
    for blob in (b"", b"\x30\x00", b"\x04\x02ab", encode_spki(new_key(gost.KZ_2004).public_key)[:-3]):
        with pytest.raises(gost.UnsupportedKey):
            public_key_from_spki(blob)
        with pytest.raises(gost.UnsupportedKey):
            private_key_from_pkcs8(blob)
    with pytest.raises(gost.UnsupportedKey):
        public_key_of_certificate(b"not a certificate")


def _der(name: str) -> bytes:
    data = (NCA / name).read_bytes()
    if data[:1] == b"\x30":
        return data
    return base64.b64decode(b"".join(line for line in data.splitlines() if not line.startswith(b"-----")))


@pytest.mark.skipif(not NCA.exists(), reason="NCA test data (../shared/testdata/nca) not present")
def test_nca_certificates_verify_with_nca_conventions() -> None:
    root_der, ca_der = _der("root_test_gost_2022.cer"), _der("nca_gost2022_test.cer")
    root = public_key_from_spki(bytes(ax509.Certificate.load(root_der)["tbs_certificate"]
                                      ["subject_public_key_info"].dump()))
    assert root.family is gost.KZ_2015_512
    for der in (root_der, ca_der):
        cert = ax509.Certificate.load(der)
        digest = hashes.digest("streebog512", cert["tbs_certificate"].dump())
        signature = cert["signature_value"].native
        assert gost.by_signature_oid(cert["signature_algorithm"]["algorithm"].dotted) is gost.KZ_2015_512
        assert root.verify(digest, signature)
        assert not root.verify(digest[::-1], signature)
        assert not root.verify(digest, signature[::-1])
