"""The signing service (agent/access/signing.py), through a real agent: what reaches the user."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.agent import browser
from support.attack import request, rpc
from support.consent import ScriptedConsent
from support.native import agent_with_keys, b64
from tanba.agent.setup.testpki import Manifest


@pytest.mark.parametrize(
    ("document", "xml"),
    [
        (b"<doc><a>x</a>", {}),  # not well-formed
        (b"<doc><a>x</a></doc>", {"parent": "/doc/missing"}),  # the parent selects nothing
        (b"<!DOCTYPE doc [<!ENTITY e 'x'>]><doc>&e;</doc>", {}),  # a DOCTYPE
    ],
    ids=["malformed", "no-parent", "doctype"],
)
async def test_an_xml_document_that_cannot_be_signed_is_refused_before_the_dialog(
    tmp_path: Path, pki: Manifest, document: bytes, xml: dict[str, str]
) -> None:
    """The user is not asked to confirm (and type a PIN for) a batch that would fail."""
    consent = ScriptedConsent(pin="123456")
    async with agent_with_keys(tmp_path, pki, consent, p12=["rsa-sign"]) as server, browser(server) as ws:
        params = {"format": "xml", "data": [b64(b"<ok/>"), b64(document)], "xml": xml}
        reply = await rpc(ws, request("sign", params))
        assert reply["error"]["data"]["reason"] == "invalid_params", reply
        assert consent.asked == []
        good = await rpc(ws, request("sign", {"format": "xml", "data": [b64(b"<doc><a>x</a></doc>")]}, id=2))
        assert "signatures" in good["result"]
