"""Localized messages in ru, kk and en."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from tanba.protocol import i18n
from tanba.protocol.errors import BY_REASON, UserCancelled, WrongPin


def test_every_catalog_has_every_english_key() -> None:
    english = set(i18n.catalog("en"))
    for locale in ("ru", "kk"):
        assert set(i18n.catalog(locale)) == english, locale


def test_catalogs_are_files_with_placeholders_preserved() -> None:
    en = json.loads(resources.files("tanba.protocol").joinpath("locales/en.json").read_text("utf-8"))
    for locale in ("ru", "kk"):
        other = i18n.catalog(locale)
        for key, value in en.items():
            for placeholder in ("{origin}", "{retriesLeft}", "{certificate}", "{count}", "{size}", "{action}"):
                assert (placeholder in value) == (placeholder in other[key]), (locale, key)


@pytest.mark.parametrize("reason", sorted(BY_REASON))
def test_every_reason_reads_differently_in_each_language(reason: str) -> None:
    texts = {loc: i18n.text(f"error.{reason}", loc) for loc in ("ru", "kk", "en")}
    assert len(set(texts.values())) == 3


def test_wrong_pin_says_how_many_tries_are_left() -> None:
    assert i18n.error_text(WrongPin(retries_left=2), "en") == "Wrong PIN: 2 tries left."
    assert "2" in i18n.error_text(WrongPin(retries_left=2), "ru")


def test_wrong_password_with_a_backoff_says_how_long_to_wait() -> None:
    error = WrongPin("x", retry_after=4)
    assert error.reason == "wrong_pin" and error.data == {"retryAfter": 4} and error.retry_after == 4
    assert i18n.error_text(error, "en") == "Wrong password. Wait 4 s before the next try."
    for locale in ("ru", "kk"):
        assert "4" in i18n.error_text(error, locale)
        assert i18n.error_text(error, locale) != i18n.error_text(WrongPin(), locale)
    assert i18n.error_text(UserCancelled(), "kk") == "Әрекетті пайдаланушы тоқтатты."


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ru-RU,ru;q=0.9,en-US;q=0.8", "ru"),
        ("en-US,en;q=0.9,kk;q=1.0", "en"),
        ("de-DE, kk;q=0.5, ru;q=0.7", "ru"),
        ("fr", "en"),
        ("", "en"),
        ("kk-KZ", "kk"),
        ("ru;q=0", "en"),
        ("ru;q=abc, kk", "kk"),
    ],
)
def test_accept_language_negotiation(header: str, expected: str) -> None:
    assert i18n.negotiate(header) == expected


def test_normalize_system_locales() -> None:
    assert i18n.normalize("ru_RU.UTF-8") == "ru"
    assert i18n.normalize("KK") == "kk"
    assert i18n.normalize("C.UTF-8", "ru") == "ru"
    assert i18n.normalize(None) == "en"
