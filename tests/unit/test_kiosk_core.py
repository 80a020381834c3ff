"""The kiosk state machine with a fake clock: screens, timeouts, privacy, staff."""

from __future__ import annotations

import sys
from datetime import UTC

import pytest

from broker.contract import Answer, Feedback, Query
from kiosk import core
from kiosk.core import KioskCore, SendFeedback, SendQuery

UID_A = "04A1B2C3D4E5F6"
UID_B = "0499887766"


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t

    def advance(self, seconds):
        self.t += seconds


def member_answer(query_id, name="กิ่งตฤทัย ศรีสุข", balance=295, staff=False, uid=UID_A):
    member = {
        "id": 7,
        "name": name,
        "tier": "silver",
        "group": "U1",
        "valid_until": "2026-05-31",
        "staff": staff,
        "card": uid,
    }
    return Answer(
        query_id=query_id,
        outcome="member",
        member=member,
        balance=balance,
        privileges={
            "borrow": {"books": 15, "loan_days": 30},
            "locker_days": 3,
            "study_room_hours": 3,
            "fine_discount_baht": 55,
            "fine_discount_points": 275,
            "next": {"points": 300, "needed": 5, "unlocks": {"th": "ยืม 20 เล่ม", "en": "20 books"}},
        },
        history=[],
        stats={"earned_today": 5, "earned_semester": 45, "semester": "2/2568"},
    )


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def kiosk(clock):
    return KioskCore(clock, id_prefix="t")


def tap(kiosk, uid=UID_A):
    (effect,) = kiosk.tap(uid)
    assert isinstance(effect, SendQuery) and effect.uid == uid
    # the query id must be valid on the wire
    Query.parse(Query(effect.query_id, uid).encode())
    return effect.query_id


def test_core_imports_no_kivy():
    assert "kivy" not in sys.modules or all(not m.startswith("kivy") for m in sys.modules if m in ("kiosk.core",))
    src = open(core.__file__, encoding="utf-8").read()
    assert "import kivy" not in src and "from kivy" not in src


def test_tap_then_answer_shows_member(kiosk):
    assert kiosk.state == core.IDLE
    qid = tap(kiosk)
    assert kiosk.state == core.LOADING
    kiosk.answer_received(member_answer(qid).encode())
    assert kiosk.state == core.MEMBER
    assert kiosk.answer.balance == 295
    assert kiosk.health.last_rtt_ms == 0


@pytest.mark.parametrize(
    "outcome,state",
    [
        ("unknown_card", core.UNKNOWN),
        ("card_blocked", core.BLOCKED),
        ("expired", core.EXPIRED),
        ("invalid", core.UNKNOWN),
    ],
)
def test_outcomes_pick_their_screen(kiosk, outcome, state):
    qid = tap(kiosk)
    kiosk.answer_received(Answer(query_id=qid, outcome=outcome))
    assert kiosk.state == state
    assert kiosk.session.reason == ("invalid" if outcome == "invalid" else None)


def test_idle_timeout_20s_and_touch_resets_it(kiosk, clock):
    kiosk.answer_received(member_answer(tap(kiosk)))
    clock.advance(19.9)
    kiosk.tick()
    assert kiosk.state == core.MEMBER
    kiosk.touch()
    clock.advance(19.9)
    kiosk.tick()
    assert kiosk.state == core.MEMBER
    clock.advance(0.2)
    kiosk.tick()
    assert kiosk.state == core.IDLE
    assert kiosk.session is None  # patron data cleared


def test_new_tap_replaces_member_and_ignores_old_answers(kiosk):
    first = tap(kiosk)
    kiosk.answer_received(member_answer(first))
    second = tap(kiosk, UID_B)
    assert kiosk.state == core.LOADING
    assert kiosk.answer is None  # previous patron gone at once
    # a late/duplicate answer for the first patron must not show
    kiosk.answer_received(member_answer(first, name="Previous Patron"))
    assert kiosk.state == core.LOADING and kiosk.answer is None
    kiosk.answer_received(member_answer(second, name="Second", uid=UID_B))
    assert kiosk.state == core.MEMBER and kiosk.answer.member["name"] == "Second"


def test_the_same_card_within_repeat_s_is_one_tap_as_on_a_gate(kiosk, clock):
    """A card held on the reader, or tapped twice, asks once; each read extends the window (gate semantics)."""
    assert kiosk.timings.repeat_s == 3  # broker.settings' default for a kiosk
    qid = tap(kiosk)
    kiosk.answer_received(member_answer(qid))
    revision = kiosk.revision
    clock.advance(2.9)
    assert kiosk.tap(UID_A) == [] and kiosk.state == core.MEMBER and kiosk.revision == revision
    clock.advance(2.9)  # 5.8 s after the first read, 2.9 s after the last: still the same tap
    assert kiosk.tap(UID_A) == [] and kiosk.answer.balance == 295 and kiosk.debounced == 2
    clock.advance(3.0)
    assert tap(kiosk) != qid and kiosk.state == core.LOADING  # the window has passed: a new tap


def test_another_card_between_two_reads_makes_the_second_a_new_tap(kiosk, clock):
    """Unlike a gate's per-card memory, the window is the showing session's card only: patron A
    must never be left looking at patron B's screen because A tapped again within A's window."""
    tap(kiosk)
    tap(kiosk, UID_B)
    clock.advance(1.0)
    tap(kiosk)
    assert kiosk.session.uid == UID_A


def test_after_the_session_ends_the_same_card_is_a_new_tap_at_once(kiosk, clock):
    kiosk.answer_received(member_answer(tap(kiosk)))
    kiosk.back()  # the patron pressed exit: idle
    clock.advance(0.5)
    tap(kiosk)
    assert kiosk.state == core.LOADING


def test_repeat_s_changes_live_and_zero_turns_it_off(kiosk, clock):
    tap(kiosk)
    kiosk.timings.repeat_s = 0  # what the app does with the retained config's repeat_s
    tap(kiosk)
    kiosk.timings.repeat_s = 10
    clock.advance(9.0)
    assert kiosk.tap(UID_A) == []


def test_the_reader_test_shows_every_read(clock):
    kiosk = KioskCore(clock, id_prefix="t")
    kiosk.answer_received(member_answer(tap(kiosk), staff=True))
    kiosk.open_staff()
    kiosk.session.staff_unlocked = True
    kiosk.toggle_reader_test()
    for _ in range(2):
        clock.advance(0.5)
        assert kiosk.tap(UID_B) == [] and kiosk.session.reader_read[0] == UID_B
        kiosk.session.reader_read = None
    assert kiosk.debounced == 0


def test_new_tap_during_loading_drops_first_query(kiosk):
    first = tap(kiosk)
    second = tap(kiosk, UID_B)
    kiosk.answer_received(member_answer(first))
    assert kiosk.state == core.LOADING
    kiosk.answer_received(member_answer(second))
    assert kiosk.state == core.MEMBER


def test_server_timeout_2s_then_background_retry_and_recovery(kiosk, clock):
    first = tap(kiosk)
    clock.advance(1.9)
    assert kiosk.tick() == []
    assert kiosk.state == core.LOADING
    clock.advance(0.2)
    kiosk.tick()
    assert kiosk.state == core.UNAVAILABLE and kiosk.session.reason == "timeout"
    assert kiosk.health.down
    clock.advance(3.0)
    (retry,) = kiosk.tick()
    assert isinstance(retry, SendQuery) and retry.uid == UID_A and retry.query_id != first
    # the server comes back and answers the retry: the member screen shows
    kiosk.answer_received(member_answer(retry.query_id))
    assert kiosk.state == core.MEMBER and not kiosk.health.down


def test_late_answer_to_first_attempt_still_recovers(kiosk, clock):
    first = tap(kiosk)
    clock.advance(2.5)
    kiosk.tick()
    assert kiosk.state == core.UNAVAILABLE
    kiosk.answer_received(member_answer(first))
    assert kiosk.state == core.MEMBER


def test_unavailable_goes_idle_after_20s_and_stops_retrying(kiosk, clock):
    tap(kiosk)
    clock.advance(2.1)
    kiosk.tick()
    sent = 0
    for _ in range(40):
        clock.advance(0.5)
        sent += len(kiosk.tick())
    assert kiosk.state == core.IDLE and kiosk.pending is None
    assert 4 <= sent <= 7
    clock.advance(10)
    assert kiosk.tick() == []


def test_unreadable_answer_for_our_query_shows_a_screen_not_a_crash(kiosk):
    qid = tap(kiosk)
    kiosk.answer_received(b'{"v":1,"query_id":"%s","outcome":"party"}' % qid.encode())
    assert kiosk.state == core.UNAVAILABLE and kiosk.session.reason == "bad_answer"
    assert kiosk.pending is None


def test_garbage_answers_are_ignored(kiosk):
    qid = tap(kiosk)
    for junk in (b"", b"not json", b"[]", b'{"v":2}', b'{"v":1,"outcome":"member"}', "\xff"):
        kiosk.answer_received(junk)
    assert kiosk.state == core.LOADING
    kiosk.answer_received(Answer(query_id=qid, outcome="member"))  # member outcome with nothing else
    assert kiosk.state == core.MEMBER


def test_language_toggle_keeps_screen(kiosk):
    kiosk.answer_received(member_answer(tap(kiosk)))
    kiosk.toggle_lang()
    assert kiosk.lang == "en" and kiosk.state == core.MEMBER
    kiosk.toggle_lang()
    assert kiosk.lang == "th"
    kiosk.set_lang("en")
    assert kiosk.lang == "en"


def test_history_back_done_feedback(kiosk, clock):
    kiosk.answer_received(member_answer(tap(kiosk)))
    kiosk.show_history()
    assert kiosk.state == core.HISTORY
    kiosk.back()
    assert kiosk.state == core.MEMBER
    kiosk.done()
    assert kiosk.state == core.FEEDBACK
    assert kiosk.rate(9) == []
    (effect,) = kiosk.rate(4)
    assert isinstance(effect, SendFeedback) and effect.rating == 4 and effect.uid == UID_A
    from datetime import datetime

    Feedback.parse(Feedback(effect.feedback_id, 4, datetime.now(UTC), effect.uid).encode())
    assert kiosk.rate(5) == []  # once per visit
    assert kiosk.state == core.FEEDBACK
    clock.advance(3.1)
    kiosk.tick()
    assert kiosk.state == core.IDLE


def test_feedback_skip(kiosk):
    kiosk.answer_received(member_answer(tap(kiosk)))
    kiosk.done()
    kiosk.skip_feedback()
    assert kiosk.state == core.IDLE and kiosk.session is None


def test_message_screen_done_goes_idle(kiosk):
    kiosk.answer_received(Answer(query_id=tap(kiosk), outcome="unknown_card"))
    kiosk.done()
    assert kiosk.state == core.IDLE


def staff_kiosk(clock):
    k = KioskCore(clock, id_prefix="t")
    k.answer_received(member_answer(tap(k), staff=True))
    return k


def type_pin(k, pin="1234"):
    """Type ``pin`` and press OK; the effect that carries it to the server."""
    for d in pin:
        k.pin_digit(d)
    return k.pin_submit()


def unlocked_staff_kiosk(clock):
    k = staff_kiosk(clock)
    k.open_staff()
    (send,) = type_pin(k)
    k.answer_received(Answer(send.query_id, "staff_unlocked"))
    assert k.staff_step == core.STAFF_UNLOCKED
    return k


def test_staff_needs_staff_card(kiosk):
    kiosk.answer_received(member_answer(tap(kiosk)))
    kiosk.open_staff()
    assert kiosk.state == core.MEMBER


def test_the_pin_goes_to_the_server_once_and_only_its_allow_unlocks(clock):
    k = staff_kiosk(clock)
    k.open_staff()
    assert k.state == core.STAFF and k.staff_step == core.PIN_ENTRY
    (send,) = type_pin(k, "48261937")
    assert isinstance(send, SendQuery) and send.pin == "48261937" and send.uid == UID_A and not send.probe
    assert "48261937" not in repr(send)  # effects may be logged: the PIN never is
    # on the wire: a valid query carrying the PIN
    assert Query.parse(Query(send.query_id, send.uid, pin=send.pin).encode()).pin == "48261937"
    assert k.staff_step == core.PIN_CHECKING and k.session.pin == "" and k.session.pin_error == "staff.pin_checking"
    assert type_pin(k, "1") == [] and k.session.pin == ""  # no typing, no second send while checking
    clock.advance(1.9)
    assert k.tick() == []  # never resent: each PIN is a guess the server counts
    assert not k.session.staff_unlocked
    clock.advance(0.05)
    k.answer_received(Answer(send.query_id, "staff_unlocked"))
    assert k.staff_step == core.STAFF_UNLOCKED and k.session.staff_unlocked and k.session.pin_error is None
    assert k.health.last_rtt_ms == pytest.approx(1950, abs=1)


def test_reader_test_and_probe_after_unlock(clock):
    k = unlocked_staff_kiosk(clock)
    k.toggle_reader_test()
    assert k.tap(UID_B, "ISO14443A") == []  # a test read does not query the server
    assert k.state == core.STAFF and k.session.reader_read[0] == UID_B
    (probe,) = k.test_server()
    assert probe.probe
    clock.advance(0.05)
    k.answer_received(member_answer(probe.query_id))
    assert k.state == core.STAFF and k.health.last_rtt_ms == pytest.approx(50, abs=1)


def test_wrong_pin_says_how_many_tries_are_left(clock):
    k = staff_kiosk(clock)
    k.open_staff()
    (send,) = type_pin(k, "9999")
    k.answer_received(Answer(send.query_id, "pin_wrong", attempts_left=3))
    assert k.staff_step == core.PIN_ENTRY and not k.session.staff_unlocked
    assert (k.session.pin_error, k.session.pin_error_args) == ("staff.pin_wrong_left", {"left": 3})
    (again,) = type_pin(k, "1234")
    assert again.query_id != send.query_id


def test_locked_out_by_the_server_counts_minutes_down_and_sends_nothing(clock):
    k = staff_kiosk(clock)
    k.open_staff()
    (send,) = type_pin(k, "9999")
    k.answer_received(Answer(send.query_id, "pin_locked", locked_until="2026-11-23T10:15:00Z", retry_after_s=900))
    assert k.staff_step == core.PIN_LOCKED and k.session.pin_error == "staff.pin_locked"
    assert k.pin_locked_minutes == 15
    assert type_pin(k, "1234") == [] and k.session.pin_error == "staff.pin_locked"  # nothing is sent
    clock.advance(14 * 60 + 1)
    k.touch()
    assert k.pin_locked_minutes == 1
    k.back()
    k.open_staff()  # leaving and coming back does not reset the lock-out
    assert k.staff_step == core.PIN_LOCKED and k.session.pin_error == "staff.pin_locked"
    clock.advance(60)
    assert k.staff_step == core.PIN_ENTRY and k.pin_locked_minutes == 0
    assert len(type_pin(k, "1234")) == 1


def test_no_verdict_in_time_is_server_unreachable_and_never_unlocks(clock):
    k = staff_kiosk(clock)
    k.open_staff()
    (send,) = type_pin(k)
    clock.advance(2.0)
    assert k.tick() == []
    assert k.staff_step == core.PIN_ENTRY and k.session.pin_error == "staff.pin_unreachable" and k.health.down
    # a verdict arriving after the timeout is ignored: the staff must try again
    k.answer_received(Answer(send.query_id, "staff_unlocked"))
    assert not k.session.staff_unlocked


@pytest.mark.parametrize("outcome", ["card_blocked", "expired", "unknown_card", "invalid", "member"])
def test_any_other_verdict_refuses(clock, outcome):
    k = staff_kiosk(clock)
    k.open_staff()
    (send,) = type_pin(k)
    k.answer_received(Answer(send.query_id, outcome))
    assert not k.session.staff_unlocked and k.session.pin_error == "staff.pin_refused"


def test_an_unreadable_verdict_refuses(clock):
    k = staff_kiosk(clock)
    k.open_staff()
    (send,) = type_pin(k)
    k.answer_received(b'{"v":1,"query_id":"%s","outcome":"open_sesame"}' % send.query_id.encode())
    assert not k.session.staff_unlocked and k.session.pin_error == "staff.pin_refused"
    assert k.staff_step == core.PIN_ENTRY


def test_a_short_pin_is_not_sent(clock):
    k = staff_kiosk(clock)
    k.open_staff()
    assert type_pin(k, "123") == [] and k.session.pin_error == "staff.pin_short"
    assert k.session.pin == "123"  # kept: the staff can finish typing
    k.pin_clear()
    for d in "123456789":
        k.pin_digit(d)
    assert k.session.pin == "12345678"  # at most 8 digits
    k.pin_digit("x")
    assert k.session.pin == "12345678"


def probing_staff_kiosk(clock):
    """A kiosk on the unlocked staff screen that has just sent a server probe."""
    k = unlocked_staff_kiosk(clock)
    k.test_server()
    return k


def test_staff_probe_timeout_marks_server_down(clock):
    k = probing_staff_kiosk(clock)
    clock.advance(2.1)
    k.tick()
    assert k.health.down and k.state == core.STAFF


def test_new_tap_on_staff_screen_leaves_staff(clock):
    k = staff_kiosk(clock)
    k.open_staff()
    k.tap(UID_B)
    assert k.state == core.LOADING and not k.is_staff_card


def test_idle_screen_needs_no_tick_every_other_screen_does(kiosk, clock):
    # the app stops its 0.2 s tick while needs_tick is False: it must mean tick() has nothing to do
    assert not kiosk.needs_tick
    revision = kiosk.revision
    clock.advance(3600)
    assert kiosk.tick() == [] and kiosk.state == core.IDLE and kiosk.revision == revision
    qid = tap(kiosk)
    assert kiosk.needs_tick  # the 2 s server timeout runs
    kiosk.answer_received(member_answer(qid))
    assert kiosk.pending is None and kiosk.needs_tick  # the 20 s idle timeout runs
    clock.advance(20.1)
    kiosk.tick()
    assert kiosk.state == core.IDLE and not kiosk.needs_tick


def test_staff_probe_is_forgotten_on_the_way_to_idle(clock):
    k = probing_staff_kiosk(clock)
    assert k.pending is not None and k.needs_tick
    k._go_idle()
    assert k.state == core.IDLE and not k.needs_tick
    clock.advance(10)
    assert k.tick() == [] and not k.health.down
