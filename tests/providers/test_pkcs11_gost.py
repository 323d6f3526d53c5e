"""GOST keys behind PKCS#11: Pkcs11Store with the GOST build of SoftHSM, and the TC26 vendor path.

The 256-bit tests run against a real token: SoftHSM 2.6.1 built with GOST
(scripts/build-softhsm-gost.sh), holding a GOST R 34.10-2012 256-bit key made by OpenSSL's gost
engine (softhsm-setup.sh).  Signatures are checked by Tanba's own verifier and by the gost
engine (``openssl pkeyutl -verify``, ``openssl dgst -verify``).

The 512-bit path (``CKK_GOSTR3410_512`` / ``CKM_GOSTR3410_512``, the TC26 vendor numbers) is
tested at the python-pkcs11 boundary with a fake module object: no free token implements it
(SoftHSM 2.6 has no 512-bit GOST keys).  The fake stands in for the loaded module only; the
vendor numbers still go through python-pkcs11's own ``MechanismWithParam`` and attribute
mapper, the parts that refuse them without Tanba's shim.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pkcs11
import pytest
from asn1crypto import x509 as ax509
from conftest import SoftHSMGost
from cryptography import x509
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11e
from pkcs11._pkcs11 import MechanismWithParam
from pkcs11.attributes import AttributeMapper
from pkcs11.defaults import DEFAULT_SIGN_MECHANISMS
from support.gost_engine import openssl

import tanba.providers.pkcs11 as p11store
from tanba.agent.setup import gost_pki
from tanba.crypto import gost, gost3410, hashes
from tanba.protocol.errors import InvalidParams, WrongPin
from tanba.providers.base import HashAlgorithm, Identity, SignatureScheme
from tanba.providers.certificate import cert_info
from tanba.providers.keyalg import gost_public_key
from tanba.providers.pkcs11 import Pkcs11Store

STREEBOG256 = HashAlgorithm.STREEBOG256
GOST = SignatureScheme.GOST3410


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


# -- the SoftHSM GOST token (256-bit) ---------------------------------------------------


@pytest.fixture
async def gost_store(softhsm_gost: SoftHSMGost) -> AsyncIterator[Pkcs11Store]:
    store = Pkcs11Store(Path(softhsm_gost.module), "AKKaztokenStore", token_label=softhsm_gost.label)
    try:
        yield store
    finally:
        await store.close()


async def _identity(store: Pkcs11Store) -> Identity:
    identities = await store.identities()
    assert len(identities) == 1, identities  # the CA certificate beside it is not offered
    return identities[0]


@pytest.mark.softhsm
async def test_gost_identity_is_listed_with_its_certificate_and_chain(
    gost_store: Pkcs11Store, softhsm_gost: SoftHSMGost
) -> None:
    ident = await _identity(gost_store)
    leaf, ca = _load(softhsm_gost.pki / "gost-ru.pem"), _load(softhsm_gost.pki / "ca.pem")
    assert ident.certificate == leaf
    assert ident.chain == (ca,)
    ski = leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert ident.id.startswith("p11:") and ident.id.endswith(":" + ski.hex())
    assert ident.location.startswith(f"{softhsm_gost.label} (")
    info = cert_info(ident)
    assert info.algorithm == "GOST3410-2012-256"
    assert info.storage == "AKKaztokenStore"
    assert set(info.ext_key_usage) == {"1.3.6.1.5.5.7.3.4", "1.3.6.1.5.5.7.3.2"}
    assert set(info.purposes) == {"sign", "auth"}


@pytest.mark.softhsm
async def test_gost_signatures_verify_with_tanba_and_the_gost_engine(
    gost_store: Pkcs11Store, softhsm_gost: SoftHSMGost, tmp_path: Path
) -> None:
    ident = await _identity(gost_store)
    public = gost_public_key(ident.certificate)
    messages = [b"", b"Tanba GOST token", bytes(range(256)) * 40]
    digests = [hashes.digest("streebog256", m) for m in messages]
    async with await gost_store.open(ident, bytearray(softhsm_gost.pin.encode())) as signer:
        signatures = await signer.sign_digests(digests, STREEBOG256, GOST)
        single = await signer.sign_digest(digests[1], STREEBOG256, GOST)
    assert all(len(sig) == 64 for sig in [*signatures, single])
    assert single != signatures[1]  # a fresh k per signature
    for digest, sig in zip([*digests, digests[1]], [*signatures, single]):
        assert public.verify(digest, sig)
        assert not public.verify(digest, sig[32:] + sig[:32])
    cert = softhsm_gost.pki / "gost-ru.pem"
    pub = tmp_path / "pub.pem"
    openssl(tmp_path, "x509", "-in", str(cert), "-pubkey", "-noout", "-out", str(pub))
    for i, (message, digest, sig) in enumerate(zip(messages, digests, signatures)):
        (tmp_path / f"m{i}").write_bytes(message)
        (tmp_path / f"d{i}").write_bytes(digest)
        (tmp_path / f"s{i}").write_bytes(sig)
        # the raw signature over the digest ...
        ok = openssl(tmp_path, "pkeyutl", "-verify", "-certin", "-inkey", str(cert),
                     "-in", f"d{i}", "-sigfile", f"s{i}")
        assert b"Signature Verified Successfully" in ok.stdout
        # ... and over the message, the gost engine hashing it (Tanba's Streebog agrees)
        ok = openssl(tmp_path, "dgst", "-md_gost12_256", "-verify", str(pub), "-signature", f"s{i}", f"m{i}")
        assert b"Verified OK" in ok.stdout
    (tmp_path / "bad").write_bytes(bytes([digests[0][0] ^ 1]) + digests[0][1:])
    bad = openssl(tmp_path, "pkeyutl", "-verify", "-certin", "-inkey", str(cert), "-in", "bad",
                  "-sigfile", "s0", check=False)
    assert bad.returncode != 0


@pytest.mark.softhsm
async def test_gost_key_refuses_other_hashes_and_schemes(
    gost_store: Pkcs11Store, softhsm_gost: SoftHSMGost
) -> None:
    ident = await _identity(gost_store)
    async with await gost_store.open(ident, bytearray(softhsm_gost.pin.encode())) as signer:
        with pytest.raises(InvalidParams, match="streebog256"):
            await signer.sign_digest(bytes(32), HashAlgorithm.SHA256, GOST)
        with pytest.raises(InvalidParams):
            await signer.sign_digest(bytes(32), STREEBOG256, SignatureScheme.ECDSA)
        with pytest.raises(InvalidParams):
            await signer.sign_digest(bytes(64), STREEBOG256, GOST)


@pytest.mark.softhsm
async def test_wrong_pin_on_the_gost_token_is_reported_and_never_retried(
    gost_store: Pkcs11Store, softhsm_gost: SoftHSMGost, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    real_login = p11store.login

    def counting_login(token: Any, pin: str | None, *, allow_final_try: bool) -> Any:
        calls.append(pin)
        return real_login(token, pin, allow_final_try=allow_final_try)

    monkeypatch.setattr(p11store, "login", counting_login)
    ident = await _identity(gost_store)
    with pytest.raises(WrongPin) as info:
        await gost_store.open(ident, bytearray(b"0000"))
    assert info.value.reason == "wrong_pin"
    assert calls == ["0000"]  # one C_Login, no retry
    assert info.value.retries_left is None  # SoftHSM only raises CKF_USER_PIN_COUNT_LOW
    status = await gost_store.pin_status(ident)
    assert status.needs_pin and not status.locked
    async with await gost_store.open(ident, bytearray(softhsm_gost.pin.encode())) as signer:
        digest = hashes.digest("streebog256", b"after a wrong PIN")
        assert gost_public_key(ident.certificate).verify(digest, await signer.sign_digest(digest, STREEBOG256, GOST))


# -- the 512-bit vendor path, at the python-pkcs11 boundary --------------------------------
#
# No free token implements CKK_GOSTR3410_512 / CKM_GOSTR3410_512, so a fake module object
# (lib -> slot -> token -> session -> objects) stands in for one.  Its private key signs as a
# TC26 token would, s || r big-endian, after building python-pkcs11's real MechanismWithParam
# from what it was given -- the step that refuses a bare vendor number -- and it reads its own
# key type through the session's attribute mapper, as python-pkcs11's key.sign does.

_ULONG = struct.Struct("L")


class FakeVendorKey:
    def __init__(self, session: FakeSession, key: gost.PrivateKey, cka_id: bytes) -> None:
        self._session = session
        self._key = key
        self.id = cka_id
        self.mechanisms: list[int] = []

    @property
    def key_type(self) -> Any:  # python-pkcs11 decodes the attribute through the session's mapper
        return self._session.mapper.unpack_attributes(Attribute.KEY_TYPE, _ULONG.pack(p11store.CKK_GOSTR3410_512))

    def sign(self, data: bytes, mechanism: Any = None, mechanism_param: Any = None) -> bytes:
        MechanismWithParam(self.key_type, DEFAULT_SIGN_MECHANISMS, mechanism, mechanism_param)
        self.mechanisms.append(int(mechanism))
        d = int.from_bytes(self._key.secret_bytes(), "little")
        r, s = gost3410.sign(self._key.curve, d, data)
        n = self._key.curve.size
        return s.to_bytes(n, "big") + r.to_bytes(n, "big")


class FakeSession:
    def __init__(self, token: FakeToken, mapper: Any) -> None:
        self.token = token
        self.mapper = mapper

    def __enter__(self) -> FakeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        pass

    def get_objects(self, template: dict[Attribute, Any]) -> Iterator[Any]:
        if template[Attribute.CLASS] == ObjectClass.CERTIFICATE:
            for cka_id, der in self.token.certificates:
                yield {Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509, Attribute.ID: cka_id,
                       Attribute.VALUE: der}
        elif template[Attribute.CLASS] == ObjectClass.PRIVATE_KEY:
            key = FakeVendorKey(self, self.token.key, self.token.key_id)
            if template.get(Attribute.ID) == key.id:
                self.token.keys.append(key)
                yield key


class FakeToken:
    label = "fake-tc26"
    serial = b"TC26-512-FAKE   "
    flags = TokenFlag.TOKEN_INITIALIZED | TokenFlag.LOGIN_REQUIRED | TokenFlag.USER_PIN_INITIALIZED

    def __init__(self, key: gost.PrivateKey, cert: ax509.Certificate) -> None:
        self.key = key
        self.key_id = b"\x51\x2f"
        self.certificates = [(self.key_id, cert.dump())]
        self.keys: list[FakeVendorKey] = []
        self.slot = self
        self.slot_id = 7
        self.pins: list[object] = []

    def get_token(self) -> FakeToken:
        return self

    def open(self, user_pin: object = None, attribute_mapper: Any = None) -> FakeSession:
        if user_pin is not None:
            self.pins.append(user_pin)
            if user_pin != "1234":
                raise p11e.PinIncorrect()
        return FakeSession(self, attribute_mapper or AttributeMapper())


class FakeLib:
    def __init__(self, token: FakeToken) -> None:
        self.token = token

    def get_slots(self, token_present: bool = False) -> list[FakeToken]:
        return [self.token]

    def finalize(self) -> None:  # the worker finalises its module when the store closes
        pass


def _gost512_certificate(family: gost.Family, curve_oid: str) -> tuple[gost.PrivateKey, ax509.Certificate]:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    key = gost_pki.new_key(family, curve_oid)
    name = ax509.Name.build({"country_name": "RU", "common_name": f"Tanba fake {family.name}"})
    ext = [{"extn_id": "key_usage", "critical": True, "extn_value": {"digital_signature", "non_repudiation"}},
           {"extn_id": "extended_key_usage", "critical": False, "extn_value": ["1.3.6.1.5.5.7.3.4"]}]
    return key, gost_pki.issue(key, name, None, now - dt.timedelta(days=1), now + dt.timedelta(days=30), ext)


@pytest.mark.parametrize(("family", "curve_oid"), [
    (gost.RU_2012_512, "1.2.643.7.1.2.1.2.1"),  # RFC order: the token's layout as it is
    (gost.KZ_2015_512, "1.2.398.3.10.1.1.2.2.1"),  # NCA order: reordered to r_LE || s_LE
])
async def test_512_bit_keys_sign_with_the_tc26_vendor_mechanism(
    family: gost.Family, curve_oid: str, tmp_path: Path
) -> None:
    key, cert = _gost512_certificate(family, curve_oid)
    token = FakeToken(key, cert)
    store = Pkcs11Store(tmp_path / "libfake-tc26.so", "AKKaztokenStore")
    store.worker._lib = FakeLib(token)  # the worker never loads a module: the fake is it
    try:
        (ident,) = await store.identities()
        assert cert_info(ident).algorithm == family.name
        with pytest.raises(WrongPin):
            await store.open(ident, bytearray(b"9999"))
        digests = [hashes.digest("streebog512", m) for m in (b"one", b"two")]
        async with await store.open(ident, bytearray(b"1234")) as signer:
            signatures = await signer.sign_digests(digests, HashAlgorithm.STREEBOG512, GOST)
            with pytest.raises(InvalidParams):
                await signer.sign_digest(digests[0][:32], HashAlgorithm.STREEBOG256, GOST)
    finally:
        await store.close()
    assert token.pins == ["9999", "1234"]
    (used,) = token.keys
    assert used.mechanisms == [0xD4321006, 0xD4321006]  # CKM_GOSTR3410_512, on the wire as a number
    public = key.public_key
    assert all(public.verify(d, s) for d, s in zip(digests, signatures))


def test_vendor_numbers_pass_python_pkcs11_without_changing_its_enums() -> None:
    mechanism, key_type = p11store.MECHANISM_GOSTR3410_512, p11store.KEY_GOSTR3410_512
    assert isinstance(mechanism, Mechanism) and int(mechanism) == 0xD4321006
    assert isinstance(key_type, KeyType) and int(key_type) == 0xD4321003
    assert 0xD4321006 not in Mechanism._value2member_map_
    assert 0xD4321003 not in KeyType._value2member_map_
    # python-pkcs11 itself refuses the bare number: the reason for the shim
    with pytest.raises(p11e.ArgumentsBad):
        MechanismWithParam(key_type, DEFAULT_SIGN_MECHANISMS, 0xD4321006, None)
    mapper = p11store.VendorAttributeMapper()
    assert mapper.unpack_attributes(Attribute.KEY_TYPE, _ULONG.pack(0xD4321003)) is key_type
    assert mapper.unpack_attributes(Attribute.KEY_TYPE, _ULONG.pack(0x30)) is KeyType.GOSTR3410
    assert mapper.unpack_attributes(Attribute.KEY_TYPE, _ULONG.pack(0x80001234)) == 0x80001234
    assert mapper.pack_attribute(Attribute.KEY_TYPE, key_type) == _ULONG.pack(0xD4321003)
    with pytest.raises(ValueError):  # the stock mapper, for comparison
        AttributeMapper().unpack_attributes(Attribute.KEY_TYPE, _ULONG.pack(0xD4321003))


def test_token_signatures_are_reordered_for_the_family_in_one_place() -> None:
    s, r = bytes(range(1, 33)), bytes(range(101, 133))
    raw = s + r  # PKCS#11: s || r, each big-endian
    assert p11store._gost_signature(raw, gost.RU_2012_256) == raw
    assert p11store._gost_signature(raw, gost.KZ_2004) == r[::-1] + s[::-1]
    with pytest.raises(p11store.StoreError):
        p11store._gost_signature(raw[:63], gost.RU_2012_256)
