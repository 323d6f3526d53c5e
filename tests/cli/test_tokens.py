"""`tanba tokens` on the SoftHSM test token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tanba.cli.main import main

pytestmark = pytest.mark.softhsm


def test_tokens_json_lists_the_test_token(softhsm: Any) -> None:
    result = CliRunner().invoke(
        main, ["tokens", "--no-autodetect", "--pkcs11", f"AKKaztokenStore={softhsm.module}",
               "--json"])
    assert result.exit_code == 0, result.output
    (module,) = json.loads(result.output)["modules"]
    assert module["storage"] == "AKKaztokenStore" and module["library"]
    tokens = [s["token"] for s in module["slots"] if s["token"] and s["token"]["label"]]
    (token,) = tokens
    assert token["label"] == softhsm.label and token["serial"]
    assert token["manufacturer"] == "SoftHSM project"
    assert "login required" in token["flags"]
    assert "PIN locked" not in token["flags"]
    assert {"RSA_PKCS", "RSA_PKCS_PSS", "ECDSA"} <= set(token["mechanisms"])


def test_tokens_text_with_detection_and_a_broken_module(softhsm: Any, tmp_path: Path) -> None:
    broken = tmp_path / "libbroken.so"
    result = CliRunner().invoke(main, ["tokens", "--pkcs11", str(broken)])
    assert result.exit_code == 1  # the module the user named does not load
    assert f"{broken}" in result.output and "error: cannot load PKCS#11 module" in result.output
    # detected SoftHSM still shown, with the flags in words
    assert "SoftHSM: " in result.output
    assert f"token: {softhsm.label}" in result.output
    assert "flags: initialized, login required, user PIN set" in result.output
