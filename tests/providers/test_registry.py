"""Store registry: --pkcs11 specs, building stores, listing them together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tanba.protocol.errors import NoCertificate
from tanba.providers.pkcs11 import Pkcs11Store
from tanba.providers.pkcs12 import Pkcs12Store
from tanba.providers.registry import Stores, build_stores, parse_pkcs11_spec


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("/usr/lib/libjcPKCS11-2.so", (None, Path("/usr/lib/libjcPKCS11-2.so"))),
        ("AKKaztokenStore=/opt/kz/lib.so", ("AKKaztokenStore", Path("/opt/kz/lib.so"))),
        ("MyToken=/opt/x.so", ("MyToken", Path("/opt/x.so"))),  # custom label allowed
        ("/opt/odd=name/lib.so", (None, Path("/opt/odd=name/lib.so"))),
        (r"C:\Windows\System32\eTPKCS11.dll", (None, Path(r"C:\Windows\System32\eTPKCS11.dll"))),
        (" AKJaCartaStore = /usr/lib/j.so ", None),
    ],
)
def test_parse_pkcs11_spec(spec: str, expected: tuple[str | None, Path] | None) -> None:
    if expected is None:  # spaces around the name make it no name at all
        with pytest.raises(ValueError):
            parse_pkcs11_spec(spec)
    else:
        assert parse_pkcs11_spec(spec) == expected


@pytest.mark.parametrize("spec", ["", "AKKaztokenStore=", "bad name!=/x.so", "=/x.so"])
def test_parse_pkcs11_spec_rejects(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_pkcs11_spec(spec)


async def test_build_stores_names_and_dedupes(tmp_path: Path) -> None:
    module = tmp_path / "libjcPKCS11-2.so"
    module.write_bytes(b"")
    stores = await build_stores(
        [tmp_path / "a.p12"],
        [str(module), f"AKEToken72KStore={module}", f"Custom={tmp_path / 'libx.so'}"],
        autodetect=False,
    )
    try:
        assert isinstance(stores[0], Pkcs12Store)
        assert [(s.storage, getattr(s, "module", None)) for s in stores[1:]] == [
            ("AKJaCartaStore", module),  # known file name -> its NCALayer name; given once
            ("Custom", tmp_path / "libx.so"),
        ]
    finally:
        await Stores(stores).close()


@pytest.mark.softhsm
async def test_autodetect_adds_softhsm_once(softhsm: Any) -> None:
    stores = await build_stores([], [f"AKKaztokenStore={softhsm.module}"], autodetect=True)
    try:
        p11 = [s for s in stores if isinstance(s, Pkcs11Store)]
        softhsm_stores = [s for s in p11 if s.module.resolve() == Path(softhsm.module).resolve()]
        assert [s.storage for s in softhsm_stores] == ["AKKaztokenStore"]
    finally:
        await Stores(stores).close()


@pytest.mark.softhsm
async def test_failing_store_is_reported_and_others_listed(softhsm: Any, tmp_path: Path) -> None:
    stores = Stores(await build_stores(
        [], [f"AKKaztokenStore={softhsm.module}", f"AKJaCartaStore={tmp_path / 'gone.so'}"],
        autodetect=False,
    ))
    try:
        identities = await stores.all_identities()
        assert len(identities) == 4
        assert all(i.storage == "AKKaztokenStore" for i in identities)
        (failure,) = stores.failures
        assert failure.error.reason == "store_error" and "gone.so" in failure.store
        store = stores.store_for(identities[0])
        assert store.storage == "AKKaztokenStore"
        stranger = type(identities[0])(
            id="p11:other:00", storage="X", certificate=identities[0].certificate, chain=(),
            location="", key_ref=None,
        )
        with pytest.raises(NoCertificate):
            stores.store_for(stranger)
    finally:
        await stores.close()
