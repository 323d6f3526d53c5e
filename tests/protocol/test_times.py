"""One spelling of times on the wire."""

from __future__ import annotations

import datetime as dt

from tanba.protocol.times import epoch_ms, utc_z


def test_utc_with_z_whole_seconds_unless_there_is_a_fraction() -> None:
    almaty = dt.timezone(dt.timedelta(hours=5))
    assert utc_z(dt.datetime(2026, 1, 31, 17, 0, tzinfo=almaty)) == "2026-01-31T12:00:00Z"
    assert utc_z(dt.datetime(2026, 1, 31, 12, 0, 0, 250000)) == "2026-01-31T12:00:00.250000Z"  # naive = UTC


def test_epoch_milliseconds_as_ncalayer_writes_them() -> None:
    assert epoch_ms(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) == "1767225600000"
