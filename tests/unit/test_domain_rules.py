"""server.domain.rules: business day, time windows, tap decisions, accrual keys (no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.domain import rules
from server.domain.config import load
from server.domain.rules import Decision, RuleError, accrual_key, business_day, decide_tap

BKK = ZoneInfo("Asia/Bangkok")
PROG = load()
# a Monday in the library's time zone
MONDAY = date(2026, 11, 23)
RECEIVED = datetime(2026, 11, 23, 12, 0, tzinfo=BKK)


def at(day: date, hh: int, mm: int = 0, ss: int = 0, tz=BKK) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=tz)


def decide(
    prog=PROG,
    *,
    kind="gate",
    direction="in",
    activity=None,
    card="active",
    member="active",
    until=None,
    when=None,
    clock_ok=True,
    received=None,
    item="",
    offline_since=None,
    online_since=None,
):
    when = when or RECEIVED
    return decide_tap(
        prog=prog,
        device_kind=kind,
        device_direction=direction,
        device_activity_code=activity,
        card_status=card,
        member_status=member,
        valid_until=until,
        at=when,
        clock_ok=clock_ok,
        received=received or when,
        offline_since=offline_since,
        online_since=online_since,
        item=item,
    )


# --------------------------------------------------------------------------- business day


def test_business_day_is_the_local_date_in_bangkok():
    # 23:30 UTC on the 22nd is 06:30 on the 23rd in Bangkok
    assert business_day(datetime(2026, 11, 22, 23, 30, tzinfo=UTC), PROG) == date(2026, 11, 23)
    assert business_day(datetime(2026, 11, 22, 16, 59, 59, tzinfo=UTC), PROG) == date(2026, 11, 22)
    assert business_day(datetime(2026, 11, 22, 17, 0, tzinfo=UTC), PROG) == date(2026, 11, 23)


def test_business_day_follows_a_configured_time_zone():
    prog = load(overrides={"library": {"timezone": "Europe/London"}})
    assert business_day(datetime(2026, 11, 22, 23, 30, tzinfo=UTC), prog) == date(2026, 11, 22)


def test_trusted_clock_uses_the_device_time_within_the_tolerance():
    received = at(MONDAY, 0, 2)
    tapped = at(MONDAY - timedelta(days=1), 23, 58)  # 4 minutes earlier: within the 300 s tolerance
    assert rules.tap_time(tapped, True, received, PROG, device_kind="gate") == rules.TapTime(tapped, True, "clock")
    assert decide(when=tapped, received=received).day == MONDAY - timedelta(days=1)


def test_a_buffered_tap_from_an_offline_period_the_server_saw_counts_on_its_own_day():
    received = at(MONDAY, 9, 0)
    tapped = at(MONDAY - timedelta(days=1), 23, 58)
    went_offline, came_back = at(MONDAY - timedelta(days=1), 20, 0), at(MONDAY, 8, 59)
    d = decide(when=tapped, received=received, offline_since=went_offline, online_since=came_back)
    assert (d.outcome, d.day, d.timing) == ("credited", MONDAY - timedelta(days=1), "buffered")
    still_offline = decide(when=tapped, received=received, offline_since=went_offline)
    assert (still_offline.day, still_offline.timing) == (MONDAY - timedelta(days=1), "buffered")


def test_a_back_dated_tap_without_an_offline_period_counts_at_the_receive_time():
    received = at(MONDAY, 9, 0)
    tapped = at(MONDAY - timedelta(days=1), 12, 0)
    d = decide(when=tapped, received=received)
    assert (d.outcome, d.day, d.timing) == ("credited", MONDAY, "backdated")
    # dated before the offline period began (beyond the tolerance), or after it ended
    went_offline, came_back = at(MONDAY - timedelta(days=1), 12, 6), at(MONDAY - timedelta(days=1), 14, 0)
    assert decide(when=tapped, received=received, offline_since=went_offline, online_since=came_back).day == MONDAY
    later = at(MONDAY - timedelta(days=1), 14, 6)
    assert decide(when=later, received=received, offline_since=went_offline, online_since=came_back).day == MONDAY
    # at the tolerance's edges it still counts on its own day
    edge = decide(when=tapped, received=received, offline_since=tapped + timedelta(seconds=300), online_since=came_back)
    assert edge.day == MONDAY - timedelta(days=1)


def test_back_dating_depends_on_the_device_kind():
    received = at(MONDAY, 9, 0)
    tapped = at(MONDAY - timedelta(days=3), 12, 0)
    went_offline = at(MONDAY - timedelta(days=4), 12, 0)
    assert decide(kind="counter", when=tapped, received=received, offline_since=went_offline).timing == "buffered"
    assert decide(kind="kiosk", when=tapped, received=received, offline_since=went_offline).timing == "backdated"
    trusting = load(overrides={"rules": {"backdating": {"gate": "max_age"}}})
    assert decide(trusting, when=tapped, received=received).day == MONDAY - timedelta(days=3)
    strict = load(overrides={"rules": {"backdating": {"gate": "none"}}})
    assert decide(strict, when=tapped, received=received, offline_since=went_offline).day == MONDAY


def test_a_back_dated_tap_is_refused_when_the_library_says_so():
    refuse = load(overrides={"rules": {"backdating": {"otherwise": "refuse"}}})
    received = at(MONDAY, 9, 0)
    d = decide(refuse, when=received - timedelta(days=1), received=received)
    assert (d.outcome, d.timing, d.open) == ("invalid", "backdated", False)
    assert d.reason == "tap dated earlier than this device may date it"
    # an unsynchronised clock is not back-dating: the receive time, as always
    assert decide(refuse, when=received - timedelta(days=1), clock_ok=False, received=received).outcome == "credited"


def test_thirty_one_back_dated_taps_earn_once_not_thirty_times():
    """Issue 11: 31 taps dated 1-31 days ago from a gate the server never saw offline."""
    received = at(MONDAY, 12, 0)
    days = {decide(when=received - timedelta(days=n), received=received).day for n in range(1, 32)}
    assert days == {MONDAY}  # one business day: the per-day limit lets one of them earn


def test_clock_not_ok_uses_the_receive_time():
    received = at(MONDAY, 0, 5)
    tapped = at(MONDAY - timedelta(days=1), 23, 58)
    assert rules.tap_time(tapped, False, received, PROG) == rules.TapTime(received, False, "unsynced")
    assert decide(when=tapped, clock_ok=False, received=received).day == MONDAY


def test_future_clock_beyond_tolerance_is_not_trusted():
    received = at(MONDAY, 23, 58)
    exactly = received + timedelta(seconds=300)
    assert rules.tap_time(exactly, True, received, PROG) == rules.TapTime(exactly, True, "clock")
    ahead = received + timedelta(seconds=301)
    assert rules.tap_time(ahead, True, received, PROG) == rules.TapTime(received, False, "future")
    # a clock hours ahead would put the tap on tomorrow: the receive day is used instead
    d = decide(when=received + timedelta(hours=3), received=received)
    assert d.outcome == "credited" and d.day == MONDAY


TRUSTING = load(overrides={"rules": {"backdating": {"gate": "max_age"}}})


def test_too_old_is_invalid_only_when_the_clock_is_trusted():
    received = at(MONDAY, 12, 0)
    old = received - timedelta(days=30, seconds=1)
    d = decide(TRUSTING, when=old, received=received)
    assert d.outcome == "invalid" and d.reason == "tap is older than 30 days"
    assert not d.open
    assert decide(TRUSTING, when=received - timedelta(days=30), received=received).outcome == "credited"
    # an untrusted clock's `at` is ignored: the receive time counts
    d = decide(TRUSTING, when=old, clock_ok=False, received=received)
    assert d.outcome == "credited" and d.day == MONDAY


def test_max_age_is_configuration():
    prog = load(overrides={"rules": {"max_tap_age_days": 2, "backdating": {"gate": "max_age"}}})
    received = at(MONDAY, 12, 0)
    assert decide(prog, when=received - timedelta(days=2, minutes=1), received=received).outcome == "invalid"
    assert decide(prog, when=received - timedelta(days=1), received=received).outcome == "credited"


# --------------------------------------------------------------------------- late-stay window


@pytest.mark.parametrize(
    "hh, mm, ss, inside",
    [
        (21, 29, 59, False),
        (21, 30, 0, True),
        (21, 45, 0, True),
        (22, 0, 0, True),
        (22, 0, 1, False),
        (10, 0, 0, False),
        (7, 45, 0, False),
    ],
)
def test_late_stay_window_is_the_last_30_minutes_before_closing(hh, mm, ss, inside):
    late = PROG.activity("late_stay")
    assert rules.in_window(late, at(MONDAY, hh, mm, ss), PROG) is inside
    d = decide(direction="out", when=at(MONDAY, hh, mm, ss))
    assert d.outcome == ("credited" if inside else "no_activity")
    assert d.open  # a member leaves either way
    if inside:
        assert d.activity.code == "late_stay" and d.activity.points == 10


def test_window_uses_that_weekdays_closing_time():
    prog = load(
        overrides={"hours": {"default": "08:00-22:00", "sat": "09:00-16:00", "sun": "closed", "fri": "08:00-24:00"}}
    )
    saturday, sunday, friday = MONDAY + timedelta(days=5), MONDAY + timedelta(days=6), MONDAY + timedelta(days=4)
    assert decide(prog, direction="out", when=at(saturday, 15, 30)).outcome == "credited"
    assert decide(prog, direction="out", when=at(saturday, 15, 29)).outcome == "no_activity"
    assert decide(prog, direction="out", when=at(saturday, 21, 45)).outcome == "no_activity"
    assert decide(prog, direction="out", when=at(MONDAY, 21, 45)).outcome == "credited"
    assert decide(prog, direction="out", when=at(sunday, 21, 45)).outcome == "no_activity"  # closed all day
    assert decide(prog, direction="out", when=at(friday, 23, 45)).outcome == "credited"  # open until midnight
    assert decide(prog, direction="out", when=at(friday, 21, 45)).outcome == "no_activity"
    assert rules.hours_on(sunday, prog) == {"open": None, "close": None, "closed": True}
    assert rules.hours_on(saturday, prog) == {"open": "09:00", "close": "16:00", "closed": False}


def test_window_length_is_configuration():
    prog = load(overrides={"activities": {"late_stay": {"window": "before_close:60"}}})
    assert decide(prog, direction="out", when=at(MONDAY, 21, 0)).outcome == "credited"
    assert decide(prog, direction="out", when=at(MONDAY, 20, 59)).outcome == "no_activity"


def test_window_is_judged_in_library_time_whatever_the_device_offset():
    # 14:45 UTC = 21:45 Bangkok
    assert decide(direction="out", when=datetime(2026, 11, 23, 14, 45, tzinfo=UTC)).outcome == "credited"


# --------------------------------------------------------------------------- device activities and card states


def test_device_activity_defaults():
    assert rules.device_activity("gate", "in", None) == "entry"
    assert rules.device_activity("gate", None, None) == "entry"
    assert rules.device_activity("gate", "out", None) == "late_stay"
    assert rules.device_activity("counter", None, None) == "borrow"
    assert rules.device_activity("kiosk", None, None) is None
    assert rules.device_activity("gate", "in", "pulinet_event") == "pulinet_event"


def test_entry_gate_credits_5_and_opens():
    d = decide()
    assert (d.outcome, d.activity.code, d.activity.points, d.day, d.open) == ("credited", "entry", 5, MONDAY, True)


def test_late_stay_needs_an_exit_gate():
    d = decide(direction="in", activity="late_stay", when=at(MONDAY, 21, 45))
    assert d.outcome == "no_activity" and d.open


@pytest.mark.parametrize(
    "card, member, until, outcome",
    [
        (None, None, None, "unknown_card"),
        ("blocked", "active", None, "card_blocked"),
        ("active", "blocked", None, "card_blocked"),
        ("active", "active", MONDAY - timedelta(days=1), "expired"),
        ("active", "active", MONDAY, "credited"),  # valid through its last day
    ],
)
def test_card_and_member_states(card, member, until, outcome):
    d = decide(card=card, member=member, until=until)
    assert d.outcome == outcome
    assert d.open is (outcome == "credited")


def test_expiry_is_judged_on_the_business_day_of_the_tap():
    # a buffered tap from before expiry still counts after the membership ended
    received = at(MONDAY, 9, 0)
    d = decide(
        until=MONDAY - timedelta(days=1),
        when=received - timedelta(days=1),
        received=received,
        offline_since=received - timedelta(days=2),  # the gate really was offline since then
    )
    assert d.outcome == "credited"


def test_unknown_or_zero_point_activity_earns_nothing():
    assert decide(kind="kiosk", direction=None).outcome == "no_activity"
    assert decide(activity="no_such_code").outcome == "no_activity"
    prog = load(overrides={"activities": {"entry": {"points": 0}}})
    assert decide(prog).outcome == "no_activity"


def test_decision_open_property():
    assert Decision("credited").open and Decision("limit_reached").open and Decision("no_activity").open
    for outcome in ("unknown_card", "card_blocked", "expired", "invalid"):
        assert not Decision(outcome).open


# --------------------------------------------------------------------------- limits


def test_accrual_keys_per_limit():
    prog = load(overrides={"activities": {"visit": {"points": 1, "limit": "unlimited"}}})
    assert accrual_key(prog.activity("signup"), MONDAY) == ("once", "")
    assert accrual_key(prog.activity("entry"), MONDAY) == ("2026-11-23", "")
    assert accrual_key(prog.activity("entry"), MONDAY, "ignored?") == ("2026-11-23", "")
    assert accrual_key(prog.activity("partner_purchase"), MONDAY, "More Coffee") == ("2026-11-23", "More Coffee")
    assert accrual_key(prog.activity("visit"), MONDAY) is None
    with pytest.raises(RuleError, match="partner_purchase needs an item"):
        accrual_key(prog.activity("partner_purchase"), MONDAY)
    long_item = "x" * 200
    assert accrual_key(prog.activity("volunteer"), MONDAY, long_item) == ("2026-11-23", "x" * 120)


def test_default_limits_match_table_1():
    limits = {code: (a.points, a.limit) for code, a in PROG.activities.items()}
    assert limits == {
        "signup": (250, "once"),
        "entry": (5, "per_day"),
        "borrow": (5, "per_day"),
        "late_stay": (10, "per_day"),
        "pulinet_event": (20, "per_item_per_day"),
        "db_training": (10, "per_item_per_day"),
        "learning_activity": (10, "per_item_per_day"),
        "volunteer": (10, "per_item_per_day"),
        "partner_purchase": (5, "per_item_per_day"),
    }
    for a in PROG.activities.values():
        assert a.th and a.en and a.label == {"th": a.th, "en": a.en}


def test_messages_in_thai_and_english():
    m = rules.message("credited", points=5, balance=255)
    assert m == {"th": "ได้รับ 5 คะแนน ยอดคงเหลือ 255 คะแนน", "en": "+5 points, balance 255"}
    m = rules.message("limit_reached", activity=PROG.activity("entry"))
    assert "การเข้าใช้บริการพื้นที่ต่างๆ" in m["th"] and "Using the library's areas" in m["en"]
    assert (
        rules.message("invalid", reason="tap is older than 30 days")["en"] == "Invalid tap: tap is older than 30 days"
    )
    for outcome in rules.MESSAGES:
        assert rules.message(outcome)["th"]
