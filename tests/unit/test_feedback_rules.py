"""The feedback desk's pure rules and its wire format: the contract's feedback payload (old
kiosks' ratings and the new written messages), the text rules, the statuses' transitions,
the report's median and percentile, the kiosk's write screen with a fake clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from broker.contract import MAX_FEEDBACK_TEXT, ContractError, Feedback, check_feedback_text
from kiosk import core
from kiosk.core import KioskCore, SendFeedback
from server.domain import feedback as fb

AT = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def refused(payload) -> ContractError:
    with pytest.raises(ContractError) as info:
        Feedback.parse(payload)
    return info.value


# --------------------------------------------------------------------------- the contract


def test_an_old_kiosks_rating_is_still_accepted_and_encodes_as_before():
    old = b'{"v":1,"feedback_id":"f:1","rating":4,"at":"2026-11-22T10:00:00+07:00","uid":null}'
    got = Feedback.parse(old)
    assert (got.rating, got.category, got.text) == (4, None, None)
    assert set(json.loads(got.encode())) == {"v", "feedback_id", "rating", "at", "uid"}
    assert "rating" in str(refused(b'{"v":1,"feedback_id":"f:1","at":"2026-11-22T10:00:00Z"}'))


def test_a_written_message_round_trips_with_thai_and_its_rating_optional():
    msg = Feedback("w:1", None, AT, "04A1B2C3D4", category="book_request", text="ขอซื้อ <Dune> ค่ะ")
    assert Feedback.parse(msg.encode()) == msg
    with_rating = Feedback("w:2", 5, AT, None, category="compliment", text="ดีมาก")
    assert Feedback.parse(with_rating.encode()) == with_rating
    # a message of 1,000 Thai characters fits a device payload (3 bytes each in UTF-8)
    long = Feedback("w:3", None, AT, None, category="question", text="ก" * MAX_FEEDBACK_TEXT)
    assert Feedback.parse(long.encode()).text == "ก" * MAX_FEEDBACK_TEXT


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"category": "rant"}, "category must be one of complaint, suggestion, compliment, question, book_request"),
        ({"text": "ก" * 1001}, "the feedback text is 1001 characters; the limit is 1000"),
        ({"text": "   "}, "the feedback text is empty"),
        ({"text": "a\x00b"}, "control character (U+0000)"),
        ({"text": "a\x1bb"}, "control character (U+001B)"),
        ({"text": 5}, "text must be str, got int"),
        ({"rating": 0}, "rating must be 1-5"),
        ({"extra": 1}, "unexpected field(s): extra"),
    ],
)
def test_bad_written_messages_are_refused_with_their_id(change, message):
    good = Feedback("w:9", None, AT, None, category="complaint", text="noisy").to_dict()
    exc = refused(json.dumps({**good, **change}, ensure_ascii=False))
    assert message in str(exc) and exc.ref == "w:9"


def test_text_without_a_category_or_a_category_without_text_is_refused():
    base = {"v": 1, "feedback_id": "w:8", "rating": None, "at": "2026-11-22T10:00:00Z", "uid": None}
    assert "missing field 'category'" in str(refused(json.dumps({**base, "text": "x"})))
    assert "missing field 'text'" in str(refused(json.dumps({**base, "category": "question"})))


def test_text_is_trimmed_and_normalised_line_breaks_kept():
    assert check_feedback_text("  e\u0301\r\nline two  ") == "\u00e9\nline two"


# --------------------------------------------------------------------------- statuses and figures


def test_transitions():
    assert fb.may_set("new", "in_progress") and fb.may_set("new", "closed")
    assert fb.may_set("in_progress", "closed") and fb.may_set("answered", "in_progress")
    assert not fb.may_set("new", "answered")  # only by writing the answer
    assert not fb.may_set("closed", "in_progress") and not fb.may_set("in_progress", "new")
    assert not fb.may_set("nonsense", "closed")


def test_median_and_percentile():
    assert fb.median([]) is None and fb.percentile([], 90) is None
    assert fb.median([5, 1, 3]) == 3 and fb.median([1, 2, 3, 10]) == 2.5
    hours = list(range(1, 11))
    assert fb.percentile(hours, 90) == 9 and fb.percentile(hours, 100) == 10 and fb.percentile(hours, 50) == 5


# --------------------------------------------------------------------------- the kiosk's write screen


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def at_feedback(clock) -> KioskCore:
    from broker.contract import Answer

    k = KioskCore(clock, id_prefix="t")
    (q,) = k.tap("04A1B2C3D4")
    k.answer_received(Answer(query_id=q.query_id, outcome="member", member={"id": 1, "name": "A"}, balance=5))
    k.done()
    assert k.state == core.FEEDBACK
    return k


def test_write_category_text_send():
    clock = Clock()
    k = at_feedback(clock)
    k.open_write()
    assert k.state == core.WRITE
    assert k.send_written() == [] and k.session.write_error == "write.need_category"
    k.choose_category("nonsense")
    assert k.session.category is None
    k.choose_category("complaint")
    assert k.send_written() == [] and k.session.write_error == "write.need_text"
    k.type_text("แอร์")
    k.type_text("\x07")  # a control character from a keyboard is dropped
    k.type_text("xy")
    k.backspace()
    (effect,) = k.send_written()
    assert effect == SendFeedback(effect.feedback_id, None, "04A1B2C3D4", "complaint", "แอร์x")
    Feedback.parse(Feedback(effect.feedback_id, None, AT, effect.uid, category="complaint", text=effect.text).encode())
    assert k.state == core.FEEDBACK and k.session.written
    k.open_write()  # once per visit
    assert k.state == core.FEEDBACK
    clock.t += 4
    k.tick()
    assert k.state == core.IDLE


def test_write_caps_the_text_and_waits_longer_for_a_typing_patron():
    clock = Clock()
    k = at_feedback(clock)
    k.open_write()
    k.type_text("ก" * (MAX_FEEDBACK_TEXT + 50))
    assert len(k.session.draft) == MAX_FEEDBACK_TEXT
    clock.t += 30  # past the 20 s idle timeout of the other screens
    k.tick()
    assert k.state == core.WRITE
    clock.t += 61
    k.tick()
    assert k.state == core.IDLE and k.session is None
    k2 = at_feedback(clock)
    k2.open_write()
    k2.cancel_write()
    assert k2.state == core.FEEDBACK
