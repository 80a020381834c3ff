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


def test_a_card_not_genuine_answer_shows_its_own_screen_in_thai_and_english():
    from broker.contract import Answer
    from kiosk.present import message_view

    clock = Clock()
    kiosk = KioskCore(clock, id_prefix="t")
    (query,) = kiosk.tap("04DE5F1EACC040", "iso14443a", None)
    message = {
        "th": "ตรวจสอบบัตรไม่ผ่าน กรุณาติดต่อเคาน์เตอร์",
        "en": "This card could not be verified - please ask at the counter",
    }
    kiosk.answer_received(Answer(query.query_id, "card_not_genuine", message=message))
    assert kiosk.state == core.UNKNOWN and kiosk.session.reason == "not_genuine"
    en = message_view(kiosk.state, kiosk.session.reason, kiosk.session.answer, "en")
    th = message_view(kiosk.state, kiosk.session.reason, kiosk.session.answer, "th")
    assert en["title"] == "This card could not be verified" and "copy" in en["hint"]
    assert th["title"] == "ตรวจสอบบัตรไม่ผ่าน" and "Join" not in en["body"]
