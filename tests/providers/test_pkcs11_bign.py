"""bign keys behind PKCS#11, with the module's vendor numbers from the config ([bign-pkcs11]).

No token available here (free or otherwise) implements bign, and the vendors' PKCS#11 numbers
are not public, so this is a fake module object (lib -> slot -> token -> session -> objects),
as tests/providers/test_pkcs11_gost.py does for the 512-bit TC26 path.  The numbers below are
arbitrary vendor-range values, not any vendor's.  The fake stands in for the loaded module
only: the configured numbers still go through python-pkcs11's own ``MechanismWithParam`` and
attribute mapper (the parts that refuse bare vendor numbers), and the fake key signs with
Tanba's bign (STB 34.101.45, S0 || S1 as the standard writes it).
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
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11e
from pkcs11._pkcs11 import MechanismWithParam
from pkcs11.attributes import AttributeMapper
from pkcs11.defaults import DEFAULT_SIGN_MECHANISMS

import tanba.providers.pkcs11 as p11store
from tanba.agent.setup import gost_pki
from tanba.crypto import bign, gost, hashes
from tanba.protocol.errors import InvalidParams, NoCertificate, StoreError, WrongPin
from tanba.providers.base import HashAlgorithm, Identity, SignatureScheme
from tanba.providers.certificate import cert_info
from tanba.providers.keyalg import gost_public_key
from tanba.providers.pkcs11 import Pkcs11Store
from tanba.providers.registry import BignPkcs11, build_stores

CKM_FAKE_BIGN = 0x80000A51
CKK_FAKE_BIGN = 0x80000A52
MAPPING = BignPkcs11(mechanism=CKM_FAKE_BIGN, key_type=CKK_FAKE_BIGN)
BELT = HashAlgorithm.BELT_HASH
BIGN = SignatureScheme.BIGN
PIN = "1234"

_ULONG = struct.Struct("L")


class FakeBignKey:
    def __init__(self, session: FakeSession, token: FakeToken) -> None:
        self._session = session
        self._token = token
        self.id = token.key_id
        self.mechanisms: list[int] = []

    @property
    def key_type(self) -> Any:  # python-pkcs11 decodes the attribute through the session's mapper
        return self._session.mapper.unpack_attributes(Attribute.KEY_TYPE, _ULONG.pack(self._token.key_type))

    def sign(self, data: bytes, mechanism: Any = None, mechanism_param: Any = None) -> bytes:
        # python-pkcs11's key.sign builds this first: it refuses a bare int mechanism
        MechanismWithParam(self.key_type, DEFAULT_SIGN_MECHANISMS, mechanism, mechanism_param)
        self.mechanisms.append(int(mechanism))
        if int(mechanism) != self._token.mechanism:
            raise p11e.MechanismInvalid()
        return self._token.key.sign(data)[: self._token.signature_length]


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
            key = FakeBignKey(self, self.token)
            if template.get(Attribute.ID) == key.id:
                self.token.keys.append(key)
                yield key


class FakeToken:
    label = "fake-bign"
    serial = b"BIGN-FAKE-0001  "
    flags = TokenFlag.TOKEN_INITIALIZED | TokenFlag.LOGIN_REQUIRED | TokenFlag.USER_PIN_INITIALIZED

    def __init__(self, key: gost.PrivateKey, cert: ax509.Certificate) -> None:
        self.key = key
        self.key_id = b"\xb1\x9e"
        self.certificates = [(self.key_id, cert.dump())]
        self.key_type = CKK_FAKE_BIGN  # what the module calls its bign keys
        self.mechanism = CKM_FAKE_BIGN  # and its bign signing
        self.signature_length = 48
        self.keys: list[FakeBignKey] = []
        self.slot = self
        self.slot_id = 3
        self.pins: list[object] = []

    def get_token(self) -> FakeToken:
        return self

    def open(self, user_pin: object = None, attribute_mapper: Any = None) -> FakeSession:
        if user_pin is not None:
            self.pins.append(user_pin)
            if user_pin != PIN:
                raise p11e.PinIncorrect()
        return FakeSession(self, attribute_mapper or AttributeMapper())


class FakeLib:
    def __init__(self, token: FakeToken) -> None:
        self.token = token

    def get_slots(self, token_present: bool = False) -> list[FakeToken]:
        return [self.token]

    def finalize(self) -> None:  # the worker finalises its module when the store closes
        pass


def _bign_certificate() -> tuple[gost.PrivateKey, ax509.Certificate]:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    key = gost_pki.new_key(gost.BIGN_256, bign.CURVE256V1.oids[0])
    name = ax509.Name.build({"country_name": "BY", "common_name": "Tanba fake bign token key"})
    ext = [{"extn_id": "key_usage", "critical": True, "extn_value": {"digital_signature", "non_repudiation"}},
           {"extn_id": "extended_key_usage", "critical": False, "extn_value": ["1.3.6.1.5.5.7.3.4"]}]
    return key, gost_pki.issue(key, name, None, now - dt.timedelta(days=1), now + dt.timedelta(days=30), ext)


@pytest.fixture
def token() -> FakeToken:
    return FakeToken(*_bign_certificate())


def _store(tmp_path: Path, token: FakeToken, mapping: BignPkcs11 | None) -> Pkcs11Store:
    store = Pkcs11Store(tmp_path / "libfake-bign.so", "bign-token", bign=mapping)
    store.worker._lib = FakeLib(token)  # the worker never loads a module: the fake is it
    return store


@pytest.fixture
async def store(tmp_path: Path, token: FakeToken) -> AsyncIterator[Pkcs11Store]:
    store = _store(tmp_path, token, MAPPING)
    try:
        yield store
    finally:
        await store.close()


async def _identity(store: Pkcs11Store) -> Identity:
    (ident,) = await store.identities()
    return ident


async def test_bign_key_signs_with_the_configured_mechanism(store: Pkcs11Store, token: FakeToken) -> None:
    ident = await _identity(store)
    assert cert_info(ident).algorithm == "BIGN-256"
    assert ident.id == f"p11:BIGN-FAKE-0001:{token.key_id.hex()}"
    with pytest.raises(WrongPin) as info:
        await store.open(ident, bytearray(b"9999"))
    assert info.value.reason == "wrong_pin"
    digests = [hashes.digest("belt-hash", m) for m in (b"one", b"two")]
    async with await store.open(ident, bytearray(PIN.encode())) as signer:
        signatures = await signer.sign_digests(digests, BELT, BIGN)
    assert token.pins == ["9999", PIN]  # one C_Login per open, the wrong PIN never retried
    (used,) = token.keys  # found by the configured key type
    assert used.mechanisms == [CKM_FAKE_BIGN, CKM_FAKE_BIGN]  # on the wire as the configured number
    public = gost_public_key(ident.certificate)
    assert all(len(s) == 48 for s in signatures)
    assert all(public.verify(d, s) for d, s in zip(digests, signatures, strict=True))
    # returned as the token gave it: S0 || S1, the standard's (deterministic) signature
    assert signatures == [token.key.sign(d) for d in digests]
    assert not public.verify(digests[0], signatures[1])


async def test_a_signature_of_the_wrong_length_is_a_store_error(store: Pkcs11Store, token: FakeToken) -> None:
    token.signature_length = 47
    ident = await _identity(store)
    async with await store.open(ident, bytearray(PIN.encode())) as signer:
        with pytest.raises(StoreError, match="47-byte bign signature, not 48"):
            await signer.sign_digest(hashes.digest("belt-hash", b"x"), BELT, BIGN)


async def test_bign_key_refuses_other_schemes_and_hashes(store: Pkcs11Store, token: FakeToken) -> None:
    ident = await _identity(store)
    digest = hashes.digest("belt-hash", b"x")
    async with await store.open(ident, bytearray(PIN.encode())) as signer:
        for scheme in (SignatureScheme.GOST3410, SignatureScheme.RSA_PKCS1V15, SignatureScheme.ECDSA):
            with pytest.raises(InvalidParams, match="BIGN-256"):
                await signer.sign_digest(digest, BELT, scheme)
        with pytest.raises(InvalidParams, match="belt-hash"):
            await signer.sign_digest(bytes(32), HashAlgorithm.SHA256, BIGN)
    assert token.keys[0].mechanisms == []  # nothing reached the token


async def test_without_the_mapping_bign_keys_are_listed_but_cannot_sign(tmp_path: Path, token: FakeToken) -> None:
    store = _store(tmp_path, token, None)
    try:
        ident = await _identity(store)  # the user sees the key ...
        assert cert_info(ident).algorithm == "BIGN-256"
        with pytest.raises(StoreError) as info:  # ... and the administrator what to set
            await store.open(ident, bytearray(PIN.encode()))
    finally:
        await store.close()
    message = str(info.value)
    assert "[bign-pkcs11]" in message and "mechanism" in message and "key-type" in message
    assert token.pins == []  # refused before any PIN reached the token


async def test_a_key_of_another_type_is_not_taken_for_the_bign_key(store: Pkcs11Store, token: FakeToken) -> None:
    token.key_type = 0x80000A99  # the module calls its keys otherwise than configured
    ident = await _identity(store)
    with pytest.raises(NoCertificate):
        await store.open(ident, bytearray(PIN.encode()))


async def test_a_wrong_mechanism_number_is_the_tokens_error(tmp_path: Path, token: FakeToken) -> None:
    token.mechanism = 0x80000B00
    store = _store(tmp_path, token, MAPPING)
    try:
        ident = await _identity(store)
        async with await store.open(ident, bytearray(PIN.encode())) as signer:
            with pytest.raises(StoreError, match="MechanismInvalid"):
                await signer.sign_digest(hashes.digest("belt-hash", b"x"), BELT, BIGN)
    finally:
        await store.close()


def test_configured_numbers_pass_python_pkcs11_without_changing_its_enums() -> None:
    numbers = p11store.BignNumbers.of(MAPPING)
    assert isinstance(numbers.mechanism, Mechanism) and int(numbers.mechanism) == CKM_FAKE_BIGN
    assert isinstance(numbers.key_type, KeyType) and int(numbers.key_type) == CKK_FAKE_BIGN
    assert CKM_FAKE_BIGN not in Mechanism._value2member_map_
    assert CKK_FAKE_BIGN not in KeyType._value2member_map_
    MechanismWithParam(numbers.key_type, DEFAULT_SIGN_MECHANISMS, numbers.mechanism, None)
    with pytest.raises(p11e.ArgumentsBad):  # the bare number, refused: the reason for the shim
        MechanismWithParam(numbers.key_type, DEFAULT_SIGN_MECHANISMS, CKM_FAKE_BIGN, None)
    mapper = p11store.VendorAttributeMapper((numbers.key_type,))
    assert mapper.unpack_attributes(Attribute.KEY_TYPE, _ULONG.pack(CKK_FAKE_BIGN)) is numbers.key_type
    assert p11store.VendorAttributeMapper().unpack_attributes(
        Attribute.KEY_TYPE, _ULONG.pack(CKK_FAKE_BIGN)) == CKK_FAKE_BIGN  # plain int elsewhere


@pytest.mark.parametrize(("mechanism", "key_type", "name"), [
    (0x7FFFFFFF, CKK_FAKE_BIGN, "mechanism"),
    (CKM_FAKE_BIGN, 0x42, "key-type"),
    (CKM_FAKE_BIGN, 0x1_0000_0000, "key-type"),
])
def test_mapping_numbers_must_be_vendor_defined(mechanism: int, key_type: int, name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name}: .* not a vendor-defined number"):
        BignPkcs11(mechanism, key_type)


async def test_build_stores_gives_every_module_the_mapping(tmp_path: Path) -> None:
    stores = await build_stores([], [f"A={tmp_path / 'a.so'}", f"B={tmp_path / 'b.so'}"], False, bign=MAPPING)
    try:
        assert [s.bign for s in stores] == [p11store.BignNumbers.of(MAPPING)] * 2  # type: ignore[attr-defined]
    finally:
        for s in stores:
            await s.close()
    stores = await build_stores([], [str(tmp_path / "c.so")], False)
    try:
        assert stores[0].bign is None  # type: ignore[attr-defined]
    finally:
        await stores[0].close()
