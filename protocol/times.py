"""Times on the wire: one spelling for every method."""

from __future__ import annotations

import datetime as dt


def utc_z(moment: dt.datetime) -> str:
    """``2026-01-31T12:00:00Z``: UTC, whole seconds unless the value has a fraction (a naive
    value is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def epoch_ms(moment: dt.datetime) -> str:
    """Milliseconds since 1970 as a decimal string (NCALayer's ``certNotAfter``)."""
    return str(int(moment.timestamp() * 1000))
