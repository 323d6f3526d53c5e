"""Origins and Host headers."""

from __future__ import annotations

import pytest

from tanba.protocol.origin import is_loopback_host, normalize_origin


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://portal.test", "https://portal.test"),
        ("https://Portal.TEST:443", "https://portal.test"),
        ("http://portal.test:80", "http://portal.test"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("https://portal.test/", "https://portal.test"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("null", None),
        ("", None),
        (None, None),
        ("file://", None),
        ("chrome-extension://abcdef", None),
        ("https://portal.test/path", None),
        ("https://user@portal.test", None),
        ("https://portal.test?x", None),
        ("https://portal.test:0", None),
        ("https://portal.test:99999", None),
        ("https://portal.test:8a", None),
        ("https://-bad-.test", None),
        ("https://portal.test.evil.test", "https://portal.test.evil.test"),
    ],
)
def test_normalize_origin(value: str | None, expected: str | None) -> None:
    assert normalize_origin(value) == expected


def test_look_alike_origins_stay_distinct() -> None:
    assert normalize_origin("https://portal.test.evil.test") != normalize_origin("https://portal.test")
    assert normalize_origin("http://portal.test") != normalize_origin("https://portal.test")


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1:13579", True),
        ("localhost:13579", True),
        ("LOCALHOST:13579", True),
        ("[::1]:13579", True),
        ("127.0.0.2:13579", True),
        ("127.0.0.1", False),
        ("127.0.0.1:13580", False),
        ("rebind.test:13579", False),
        ("localhost.evil.test:13579", False),
        ("10.0.0.1:13579", False),
        ("[::2]:13579", False),
        ("", False),
        (None, False),
    ],
)
def test_loopback_host(host: str | None, ok: bool) -> None:
    assert is_loopback_host(host, 13579) is ok
