"""The kiosk sends the card's SUN URL with its query, and with the query's background retries."""

from __future__ import annotations

from kiosk import core
from kiosk.core import KioskCore, SendQuery

URL = "https://lib.example/c?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086"


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_the_sun_url_goes_with_the_query_and_its_retries():
    clock = Clock()
    kiosk = KioskCore(clock, id_prefix="t")
    (first,) = kiosk.tap("04DE5F1EACC040", "iso14443a", URL)
    assert isinstance(first, SendQuery) and first.ndef == URL
    clock.t += 2.1
    kiosk.tick()
    assert kiosk.state == core.UNAVAILABLE
    clock.t += 3.0
    (retry,) = kiosk.tick()
    assert retry.query_id != first.query_id and retry.ndef == URL  # the same read: the server accepts it again
    (plain,) = kiosk.tap("04A1B2C3", "iso14443a")
    assert plain.ndef is None
