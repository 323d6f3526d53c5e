from __future__ import annotations

import pytest

from tanba.protocol.errors import InvalidParams
from tanba.protocol.methods.hello import HelloParams, HelloResult


def test_hello_takes_no_params() -> None:
    assert HelloParams.from_wire({}) == HelloParams()
    with pytest.raises(InvalidParams):
        HelloParams.from_wire({"verbose": True})


def test_hello_result_shape() -> None:
    assert HelloResult("1.2.3", ("agent.hello",)).to_wire() == {
        "name": "tanba", "version": "1.2.3", "protocol": 1, "capabilities": ["agent.hello"]
    }
