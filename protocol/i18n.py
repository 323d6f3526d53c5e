"""Localized texts (ru, kk, en) from the catalog files in ``locales/``.

Catalogs are package data read once through :mod:`importlib.resources`; keys missing from
a language fall back to English, so a half-translated string never shows as a key.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, Final

from tanba.protocol.errors import TanbaError, TimestampFailed

LOCALES: Final = ("ru", "kk", "en")
DEFAULT_LOCALE: Final = "en"


@cache
def catalog(locale: str) -> dict[str, str]:
    text = resources.files("tanba.protocol").joinpath(f"locales/{locale}.json").read_text("utf-8")
    data: dict[str, str] = json.loads(text)
    return data


def normalize(locale: str | None, default: str = DEFAULT_LOCALE) -> str:
    """Map ``ru_RU.UTF-8``, ``kk-KZ``, ``KK`` ... to a supported locale, else ``default``."""
    if locale:
        short = locale.strip().replace("_", "-").split("-", 1)[0].split(".", 1)[0].lower()
        if short in LOCALES:
            return short
    return default


def negotiate(accept_language: str | None, default: str = DEFAULT_LOCALE) -> str:
    """Pick the first supported language of an ``Accept-Language`` header (q-values honoured)."""
    if not accept_language:
        return default
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        lang = normalize(tag, default="")
        if lang and quality > 0:
            ranked.append((-quality, position, lang))
    return min(ranked)[2] if ranked else default


def text(key: str, locale: str, **values: Any) -> str:
    template = catalog(normalize(locale)).get(key) or catalog(DEFAULT_LOCALE)[key]
    return template.format(**values) if values else template


def error_text(error: TanbaError, locale: str) -> str:
    """The user-facing message of an error; never includes the internal detail."""
    retries = error.data.get("retriesLeft")
    wait = error.data.get("retryAfter")
    if error.reason == "wrong_pin" and wait is not None:
        return text("error.wrong_pin.wait", locale, retryAfter=wait)
    if error.reason == "wrong_pin" and retries is not None:
        return text("error.wrong_pin.retries", locale, retriesLeft=retries)
    if isinstance(error, TimestampFailed) and error.problem is not None:
        return _timestamp_text(error, locale)
    return text(f"error.{error.reason}", locale)


def _timestamp_text(error: TimestampFailed, locale: str) -> str:
    """Which case it is: none configured / the TSA at URL did not answer / it answered …"""
    answer = ""
    if error.problem == "bad_answer":
        answer = text(f"error.timestamp_failed.answer.{error.answer or 'not_timestamp'}", locale, status=error.status)
    return text(f"error.timestamp_failed.{error.problem}", locale, url=error.tsa_url, answer=answer)
