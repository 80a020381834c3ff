"""The console's date-and-minute format: Buddhist era in Thai, ISO in English, in library time."""

from zoneinfo import ZoneInfo

from server import catalogue

BKK = ZoneInfo("Asia/Bangkok")


def test_fmt_minute_thai_is_buddhist_era_and_english_is_iso():
    assert catalogue.fmt_minute("2026-12-07T00:00:00+07:00", "th", BKK) == "7/12/2569 00:00"
    assert catalogue.fmt_minute("2026-12-07T00:00:00+07:00", "en", BKK) == "2026-12-07 00:00"


def test_fmt_minute_converts_to_library_time_and_shows_a_dash_for_nothing():
    assert catalogue.fmt_minute("2026-12-06T17:00:00+00:00", "th", BKK) == "7/12/2569 00:00"
    assert catalogue.fmt_minute(None, "en", BKK) == "—"
