"""The certificate filter as read off the wire."""

from __future__ import annotations

from typing import Any

import pytest

from tanba.protocol.errors import InvalidParams
from tanba.protocol.methods.filter import CertFilter


def test_reads_every_field() -> None:
    f = CertFilter.from_wire(
        {
            "keyUsage": "sign",
            "extKeyUsage": ["1.3.6.1.5.5.7.3.4", "1.2.398.3.3.4.1.1"],
            "iin": "123456789012",
            "bin": "987654321098",
            "serialNumber": "0A1b",
            "issuer": "TANBA TEST",
            "validOnly": False,
            "storages": ["PKCS12", "AKKaztokenStore"],
        }
    )
    assert f == CertFilter("sign", ("1.3.6.1.5.5.7.3.4", "1.2.398.3.3.4.1.1"), "123456789012", "987654321098",
                           "0A1b", "TANBA TEST", False, ("PKCS12", "AKKaztokenStore"))


def test_defaults_to_valid_only() -> None:
    assert CertFilter.from_wire({}).valid_only is True


@pytest.mark.parametrize(
    "bad",
    [
        {"keyUsage": "encrypt"},
        {"extKeyUsage": ["not-an-oid"]},
        {"extKeyUsage": "1.2.3"},
        {"iin": "12345"},
        {"bin": "12345678901a"},
        {"serialNumber": "xyz"},
        {"validOnly": "yes"},
        {"storages": [1]},
        {"pin": "1234"},
        [],
    ],
)
def test_refuses_bad_filters(bad: Any) -> None:
    with pytest.raises(InvalidParams):
        CertFilter.from_wire(bad)


def test_a_filter_names_its_own_fields_and_the_wire_adds_its_path() -> None:
    """The value does not know the wire: "iin", not "params.filter.iin" (issue 13)."""
    with pytest.raises(InvalidParams) as info:
        CertFilter(iin="12")
    assert info.value.data["field"] == "iin" and info.value.detail.startswith("iin ")
    with pytest.raises(InvalidParams) as info:
        CertFilter.from_wire({"iin": "12"}, "filter")
    assert info.value.data["field"] == "filter.iin"


@pytest.mark.parametrize(("wire", "field"), [({"personalNumber": "3010176A001PB"}, "personalNumber"),
                                             ({"personalNumber": "3010176A001PБ5"}, "personalNumber"),
                                             ({"unp": "19012345"}, "unp"), ({"unp": 190123456}, "unp")])
def test_malformed_belarusian_numbers_are_invalid_params(wire: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidParams) as err:
        CertFilter.from_wire(wire)
    assert err.value.data.get("field") == field
    assert CertFilter.from_wire({"personalNumber": "3010176A001PB5", "unp": "190123456"}).unp == "190123456"
