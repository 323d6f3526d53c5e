"""Settings from the TOML file and flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanba.agent.setup.config import ConfigError, Settings, build_settings, load_file

FULL = """
host = "127.0.0.1"
port = 14000
ipv6 = true
p12 = ["keys/AUTH_RSA256.p12", "/abs/RSA256.p12"]
pkcs11 = ["AKKaztokenStore=/usr/lib/libkztoken.so"]
allow-origin = ["https://EGOV.kz:443", "http://localhost:8080"]
tls = false
approver = "auto"
tsa-url = "http://tsp.test"
trust-anchor = "root.pem"
pin-file = "pin.txt"
locale = "kk"

[limits]
max-message = 1048576
max-values = 5000
max-connections = 10
handshake-timeout = 2.5
"""


def test_every_serve_setting_can_live_in_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(FULL)
    settings = build_settings(load_file(tmp_path / "config.toml"), {})
    assert settings.port == 14000 and settings.ipv6 is True
    assert settings.p12 == (tmp_path / "keys/AUTH_RSA256.p12", Path("/abs/RSA256.p12"))
    assert settings.pkcs11 == ("AKKaztokenStore=/usr/lib/libkztoken.so",)
    assert settings.allow_origin == ("https://egov.kz", "http://localhost:8080")
    assert settings.tls is False and settings.approver == "auto"
    assert settings.tsa_url == "http://tsp.test"
    assert settings.trust_anchor == (tmp_path / "root.pem",)
    assert settings.pin_file == tmp_path / "pin.txt"
    assert settings.locale == "kk"
    assert settings.limits.max_message == 1048576 and settings.limits.max_connections == 10
    assert settings.limits.max_values == 5000
    assert settings.limits.handshake_timeout == 2.5


def test_flags_override_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('port = 14000\nallow-origin = ["https://a.test"]\n')
    settings = build_settings(
        load_file(tmp_path / "config.toml"), {"port": 15000, "allow_origin": (), "host": None, "tls": None}
    )
    assert settings.port == 15000
    assert settings.allow_origin == ("https://a.test",)  # an empty repeatable flag does not wipe the file


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    assert build_settings(load_file(tmp_path / "absent.toml"), {}) == Settings()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("prot = 1", "prot: unknown setting"),
        ('port = "13579"', "port: expected an integer"),
        ("tls = 1", "tls: expected true or false"),
        ('allow-origin = ["egov.kz"]', "not a web origin"),
        ('approver = "yes"', "approver"),
        ('host = "0.0.0.0"', "not a loopback address"),
        ('host = "example.com"', "loopback IP address"),
        ("[limits]\nmax-size = 1", "limits.max-size: unknown setting"),
        ("[limits]\nmax-message = 0", "max_message must be positive"),
        ("port = [", "not valid TOML"),
        ('pin-file = "pin"', "only allowed with approver = auto"),
        ('approver = "auto"', "needs pin-file"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        build_settings(load_file(tmp_path / "config.toml"), {})


def test_non_loopback_bind_is_impossible() -> None:
    for host in ("0.0.0.0", "::", "192.168.1.5"):
        with pytest.raises(ConfigError):
            Settings(host=host)
    assert Settings(host="::1").host == "::1"


def test_the_bign_pkcs11_table_gives_the_modules_vendor_numbers(tmp_path: Path) -> None:
    from tanba.agent.setup.config import load_bign_pkcs11
    from tanba.providers.registry import BignPkcs11

    text = "port = 14000\n[bign-pkcs11]\nmechanism = 0x80000001\nkey-type = 0x80000002\n"
    (tmp_path / "config.toml").write_text(text)
    settings = build_settings(load_file(tmp_path / "config.toml"), {})
    assert settings.bign_pkcs11 == BignPkcs11(mechanism=0x80000001, key_type=0x80000002)
    assert load_bign_pkcs11(tmp_path / "config.toml") == settings.bign_pkcs11  # what the CLI reads
    assert Settings().bign_pkcs11 is None and load_bign_pkcs11(tmp_path / "absent.toml") is None
    (tmp_path / "other.toml").write_text("port = 14000\n")
    assert load_bign_pkcs11(tmp_path / "other.toml") is None


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("mechanism = 0x80000001", r"bign-pkcs11\.key-type: required"),
        ("key-type = 0x80000002", r"bign-pkcs11\.mechanism: required"),
        ("mechanism = 0x1041\nkey-type = 0x80000002", r"bign-pkcs11\.mechanism: 0x1041 is not a vendor-defined"),
        ("mechanism = 0x80000001\nkey-type = 3", r"bign-pkcs11\.key-type: 0x3 is not a vendor-defined"),
        ("mechanism = 0x80000001\nkey-type = 0x100000000", r"bign-pkcs11\.key-type: .* not a vendor-defined"),
        ('mechanism = "0x80000001"\nkey-type = 0x80000002', r"bign-pkcs11\.mechanism: expected an integer"),
        ("mechanism = 0x80000001\nkey-type = true", r"bign-pkcs11\.key-type: expected an integer"),
        ("mechanism = 0x80000001\nkey-type = 0x80000002\nkeytype = 1", r"bign-pkcs11\.keytype: unknown setting"),
    ],
)
def test_bign_pkcs11_mistakes_are_named(tmp_path: Path, table: str, message: str) -> None:
    from tanba.agent.setup.config import load_bign_pkcs11

    (tmp_path / "config.toml").write_text(f"[bign-pkcs11]\n{table}\n")
    with pytest.raises(ConfigError, match=message):
        build_settings(load_file(tmp_path / "config.toml"), {})
    with pytest.raises(ConfigError, match=message):
        load_bign_pkcs11(tmp_path / "config.toml")


def test_bign_pkcs11_must_be_a_table(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("bign-pkcs11 = 5\n")
    with pytest.raises(ConfigError, match="bign-pkcs11: expected a table"):
        load_file(tmp_path / "config.toml")


ADMISSION = """
[limits]
max-connections = 40
max-per-origin = 8
max-local-programs = 4
max-pending = 256
header-timeout = 1.5
handshake-timeout = 20
"""


def test_the_admission_limits_live_in_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(ADMISSION)
    limits = build_settings(load_file(tmp_path / "config.toml"), {}).limits
    assert (limits.max_connections, limits.max_per_origin, limits.max_local_programs) == (40, 8, 4)
    assert (limits.max_pending, limits.header_timeout, limits.handshake_timeout) == (256, 1.5, 20)
    assert limits.max_message == 64 * 1024 * 1024  # the rest keep their defaults


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("max-pending = 0", "max_pending must be positive"),
        ("max-per-origin = 2.5", "max_per_origin must be a whole number"),
        ("max-local-programs = true", r"limits\.max-local-programs: expected a number"),
        ("header-timeout = 0", "header_timeout must be positive"),
        ('header-timeout = "2"', r"limits\.header-timeout: expected a number"),
        ("header-timeout = inf", "header_timeout must be positive"),
        ("max-per-page = 4", r"limits\.max-per-page: unknown setting"),
    ],
)
def test_admission_limit_mistakes_are_named(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "config.toml").write_text(f"[limits]\n{line}\n")
    with pytest.raises(ConfigError, match=message):
        build_settings(load_file(tmp_path / "config.toml"), {})


def test_every_limits_key_is_documented() -> None:
    from tanba.agent.setup import config

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    for key in config._LIMIT_KEYS:
        assert f"``{key}``" in (config.__doc__ or "") or f"{key} =" in (config.__doc__ or ""), key
        assert f"{key} =" in readme, key
