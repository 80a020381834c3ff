"""The tap hot path (svc.taps) on an in-memory SQLite store with a controlled clock: the programme's tap scenarios."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from broker.contract import Status, Tap
from server.domain.config import load
from server.store import LedgerEntry, TapInbox
from tests.helpers import close_store, ledger_problems, open_service

BKK = ZoneInfo("Asia/Bangkok")
MONDAY = date(2026, 11, 23)
UID = "04A1B2C3D4E5F6"


class Clock:
    """A settable clock for the service (aware UTC)."""

    def __init__(self, when: datetime):
        self.now = when

    def __call__(self) -> datetime:
        return self.now

    def set(self, day: date, hh: int, mm: int = 0) -> datetime:
        self.now = datetime(day.year, day.month, day.day, hh, mm, tzinfo=BKK).astimezone(UTC)
        return self.now


@pytest.fixture
def clock():
    c = Clock(datetime.now(UTC))
    c.set(MONDAY, 10)
    return c


@pytest.fixture
def svc(clock):
    service = open_service("sqlite:///:memory:", clock=clock)
    service.devices.add("gate-in", "gate", direction="in")
    service.devices.add("gate-out", "gate", direction="out")
    service.devices.add("counter-1", "counter")
    service.devices.add("kiosk-1", "kiosk")
    service.devices.add("event-door", "gate", direction="in", activity="pulinet_event")
    yield service
    assert ledger_problems() == []
    close_store()


_n = iter(range(1, 10**9))


def tap(svc, device, uid=UID, *, at=None, clock_ok=True, tap_id=None):
    t = Tap(tap_id=tap_id or f"{device}:{next(_n)}", uid=uid, at=at or svc.clock(), clock_ok=clock_ok)
    return svc.taps.decide(device, t)


def test_sign_up_gives_250_and_records_the_joining_fee(svc):
    m = svc.members.add("Somchai", UID, tier="silver", group="U1")
    assert m.balance == 250
    [e] = LedgerEntry.select().where(LedgerEntry.member == m.id)
    assert (e.activity, e.points, e.source) == ("signup", 250, "signup")
    from server.store import Fee

    assert [(f.kind, f.baht) for f in Fee.select().where(Fee.member == m.id)] == [("joining", 50)]
    with pytest.raises(Exception, match="already belongs"):
        svc.members.add("Someone else", UID)


def test_entry_plus_5_then_limit_reached_then_next_day(svc, clock):
    svc.members.add("Somchai", UID)
    r = tap(svc, "gate-in")
    assert (r.outcome, r.points, r.balance, r.open, r.activity, r.name, r.tier) == (
        "credited",
        5,
        255,
        True,
        "entry",
        "Somchai",
        "silver",
    )
    assert r.message["en"] == "+5 points, balance 255"
    clock.set(MONDAY, 18)
    r = tap(svc, "gate-in")
    assert (r.outcome, r.points, r.balance, r.open) == ("limit_reached", 0, 255, True)
    clock.set(MONDAY + timedelta(days=1), 8, 5)
    r = tap(svc, "gate-in")
    assert (r.outcome, r.points, r.balance) == ("credited", 5, 260)


def went_offline_and_back(svc, clock, device: str, since: tuple, back: tuple) -> None:
    """The server sees ``device`` go offline at ``since`` and come back at ``back`` ((day, hh, mm) each)."""
    clock.set(*since)
    svc.devices.record_status(device, Status("offline"))
    clock.set(*back)
    svc.devices.record_status(device, Status("online"))


def test_days_follow_the_taps_own_time_when_its_clock_is_ok(svc, clock):
    svc.members.add("Somchai", UID)
    went_offline_and_back(svc, clock, "gate-in", (MONDAY - timedelta(days=1), 19, 30), (MONDAY, 9, 59))
    clock.set(MONDAY, 10)
    yesterday_evening = datetime(2026, 11, 22, 20, 0, tzinfo=BKK)
    assert tap(svc, "gate-in", at=yesterday_evening).outcome == "credited"  # a buffered tap from yesterday
    assert tap(svc, "gate-in").outcome == "credited"  # today is another day
    assert tap(svc, "gate-in", at=yesterday_evening + timedelta(hours=1)).outcome == "limit_reached"
    # an unsynchronised clock's time is ignored: it counts for today
    assert tap(svc, "gate-in", at=yesterday_evening - timedelta(days=3), clock_ok=False).outcome == "limit_reached"


def test_too_old_tap_is_invalid_and_stored(svc, clock):
    svc.members.add("Somchai", UID)
    went_offline_and_back(svc, clock, "gate-in", (MONDAY - timedelta(days=40), 10), (MONDAY, 9, 59))
    clock.set(MONDAY, 10)
    r = tap(svc, "gate-in", at=clock() - timedelta(days=31), tap_id="old-1")
    assert (r.outcome, r.open, r.points) == ("invalid", False, 0)
    assert "older than 30 days" in r.message["en"]
    assert TapInbox.get(TapInbox.tap_id == "old-1").outcome == "invalid"
    assert svc.ledger.balance(1) == 250


def test_late_stay_in_the_last_30_minutes_once_a_day(svc, clock):
    m = svc.members.add("Somchai", UID)
    clock.set(MONDAY, 21, 0)
    r = tap(svc, "gate-out")
    assert (r.outcome, r.points, r.open, r.activity) == ("no_activity", 0, True, "late_stay")
    clock.set(MONDAY, 21, 40)
    r = tap(svc, "gate-out")
    assert (r.outcome, r.points, r.balance) == ("credited", 10, 260)
    clock.set(MONDAY, 21, 55)
    assert tap(svc, "gate-out").outcome == "limit_reached"
    assert svc.ledger.balance(m.id) == 260


def test_two_different_activities_the_same_day_both_earn(svc, clock):
    m = svc.members.add("Somchai", UID)
    clock.set(MONDAY, 9)
    assert tap(svc, "gate-in").points == 5
    clock.set(MONDAY, 14)
    assert tap(svc, "counter-1").activity == "borrow"
    clock.set(MONDAY, 21, 45)
    r = tap(svc, "gate-out")
    assert (r.activity, r.points, r.balance) == ("late_stay", 10, 270)
    assert tap(svc, "counter-1").outcome == "limit_reached"
    assert svc.ledger.balance(m.id) == 270


def test_per_item_activity_device_credits_once_per_item_and_day(svc):
    svc.members.add("Somchai", UID)
    r = tap(svc, "event-door")
    assert (r.outcome, r.activity, r.points) == ("credited", "pulinet_event", 20)
    assert tap(svc, "event-door").outcome == "limit_reached"


def test_unknown_card(svc):
    r = tap(svc, "gate-in", uid="04FFFFFFFF")
    assert (r.outcome, r.open, r.points, r.balance, r.name, r.tier) == ("unknown_card", False, 0, None, None, None)
    assert "Card not registered" in r.message["en"]


def test_blocked_card_and_blocked_member_are_refused(svc):
    svc.members.add("Somchai", UID)
    svc.members.add("Malee", "04B0B0B0")
    svc.members.block_card(UID, reason="lost")
    r = tap(svc, "gate-in")
    assert (r.outcome, r.open, r.points, r.balance, r.name) == ("card_blocked", False, 0, None, None)
    svc.members.set("04B0B0B0", status="blocked")
    assert tap(svc, "gate-in", uid="04B0B0B0").outcome == "card_blocked"
    assert svc.ledger.balance(1) == 250 and svc.ledger.balance(2) == 250


def test_expired_membership_is_refused(svc):
    svc.members.add("Somchai", UID, valid_until=MONDAY - timedelta(days=1))
    r = tap(svc, "gate-in")
    assert (r.outcome, r.open, r.points, r.balance, r.name) == ("expired", False, 0, 250, "Somchai")
    svc.members.set(UID, valid_until=MONDAY.isoformat())
    assert tap(svc, "gate-in").outcome == "credited"  # valid through its last day


def test_unknown_device_taps_are_invalid_and_kiosk_taps_earn_nothing_by_default(svc):
    svc.members.add("Somchai", UID)
    r = tap(svc, "nowhere")
    assert r.outcome == "invalid" and "unknown device nowhere" in r.message["en"]
    # kiosks may tap (broker.contract.CAPABILITIES); with no activity configured they earn nothing
    r = tap(svc, "kiosk-1")
    assert (r.outcome, r.points) == ("no_activity", 0)
    assert svc.ledger.balance(1) == 250


def test_redelivered_tap_id_gets_the_identical_result_and_no_second_credit(svc, clock):
    svc.members.add("Somchai", UID)
    first = tap(svc, "gate-in", tap_id="gate-in:77")
    assert first.outcome == "credited"
    clock.set(MONDAY, 21, 45)
    assert tap(svc, "gate-out").points == 10  # the balance moves on
    again = tap(svc, "gate-in", tap_id="gate-in:77", at=clock())  # even with another time in the payload
    assert again == first  # same outcome, points and the balance as it was then
    assert svc.ledger.balance(1) == 265
    assert LedgerEntry.select().where(LedgerEntry.ref == "gate-in:77").count() == 1
    # the same tap_id from another device is another tap
    assert tap(svc, "counter-1", tap_id="gate-in:77").outcome == "credited"


def test_redelivery_inside_one_batch(svc, clock):
    svc.members.add("Somchai", UID)
    t = Tap(tap_id="b:1", uid=UID, at=clock(), clock_ok=True)
    t2 = Tap(tap_id="b:2", uid=UID, at=clock(), clock_ok=True)
    results = svc.taps.decide_batch([("gate-in", t, clock()), ("gate-in", t, clock()), ("gate-in", t2, clock())])
    assert results[0] == results[1] and results[0].outcome == "credited"
    assert results[2].outcome == "limit_reached"
    assert svc.ledger.balance(1) == 255


def test_one_bad_tap_does_not_spoil_its_batch(svc, clock):
    svc.members.add("Somchai", UID)
    svc.members.add("Malee", "04B0B0B0")
    batch = [
        ("gate-in", Tap(tap_id=f"x:{i}", uid=uid, at=clock(), clock_ok=True), clock())
        for i, uid in enumerate([UID, "04DEADBEEF", "04B0B0B0"])
    ]
    outcomes = [r.outcome for r in svc.taps.decide_batch(batch)]
    assert outcomes == ["credited", "unknown_card", "credited"]


def test_void_restores_the_balance_and_the_days_credit(svc, clock):
    svc.members.add("Somchai", UID)
    r = tap(svc, "gate-in", tap_id="v:1")
    assert r.balance == 255
    entry = LedgerEntry.get(LedgerEntry.ref == "v:1")
    [rev] = svc.points.void(entry.id, "tapped by mistake", actor="staff:1")
    assert (rev.points, rev.void_of_id, rev.source) == (-5, entry.id, "void")
    assert svc.ledger.balance(1) == 250
    assert LedgerEntry.get_by_id(entry.id).points == 5  # append-only: the original stays
    assert tap(svc, "gate-in").outcome == "credited"  # the day's entry can be earned again
    from server.services import NotFound, ServiceError

    with pytest.raises(ServiceError, match="already voided"):
        svc.points.void(entry.id, "again")
    with pytest.raises(ServiceError, match="is itself a void"):
        svc.points.void(rev.id, "undo the undo")
    with pytest.raises(ServiceError, match="reason is required"):
        svc.points.void(entry.id, "  ")
    with pytest.raises(NotFound):
        svc.points.void(99999, "nothing")
    h = svc.ledger.history(1)
    assert [x["voided"] for x in h if x["id"] == entry.id] == [True]


def test_query_answer_for_kiosks(svc, clock):
    from broker.contract import Query

    svc.members.add("Somchai", UID, tier="gold", group="U2")
    tap(svc, "gate-in")
    a = svc.reads.answer_query("kiosk-1", Query(query_id="q:1", uid=UID))
    assert (a.outcome, a.balance, a.member["name"], a.member["tier"]) == ("member", 255, "Somchai", "gold")
    assert a.privileges["borrow"]["books"] == 15 and a.privileges["locker_days"] == 3
    assert [h["activity"] for h in a.history] == ["entry", "signup"]
    assert a.stats == {"earned_today": 255, "earned_semester": 255, "semester": "2/2569"}
    assert svc.reads.answer_query("kiosk-1", Query(query_id="q:2", uid="04FFFFFFFF")).outcome == "unknown_card"


def test_configured_unlimited_activity_credits_every_tap():
    prog = load(overrides={"activities": {"visit": {"points": 1, "limit": "unlimited"}}})
    svc = open_service("sqlite:///:memory:", prog=prog)
    try:
        svc.devices.add("door", "gate", activity="visit")
        svc.members.add("Somchai", UID)
        assert [tap(svc, "door").points for _ in range(3)] == [1, 1, 1]
        assert svc.ledger.balance(1) == 253
        assert ledger_problems() == []
    finally:
        close_store()


# --------------------------------------------------------------------------- back-dating (issue 11)


def test_thirty_one_back_dated_taps_from_a_gate_never_seen_offline_earn_once(svc, clock):
    """A gate that says its clock is fine dates 31 taps 1-31 days back: one credit, not thirty."""
    m = svc.members.add("Somchai", UID)
    results = [tap(svc, "gate-in", at=clock() - timedelta(days=n), tap_id=f"back-{n}") for n in range(1, 32)]
    assert [r.outcome for r in results].count("credited") == 1  # today's entry, at the receive time
    assert svc.ledger.balance(m.id) == 255
    assert {e.day for e in LedgerEntry.select().where(LedgerEntry.source == "tap")} == {MONDAY}
    timings = {t.timing for t in TapInbox.select().where(TapInbox.tap_id.startswith("back-"))}
    assert timings == {"backdated"}


def test_a_gate_really_offline_gets_its_buffered_taps_on_their_own_days(svc, clock):
    m = svc.members.add("Somchai", UID)
    went_offline_and_back(svc, clock, "gate-in", (MONDAY - timedelta(days=3), 9, 0), (MONDAY, 9, 55))
    clock.set(MONDAY, 10)
    for n in (3, 2, 1):  # buffered at noon on each offline day, forwarded now
        day = MONDAY - timedelta(days=n)
        assert tap(svc, "gate-in", at=datetime(day.year, day.month, day.day, 12, tzinfo=BKK)).outcome == "credited"
    assert tap(svc, "gate-in").outcome == "credited"  # and today's own tap
    assert svc.ledger.balance(m.id) == 250 + 4 * 5
    # a tap dated before the offline period began is not one it buffered: the receive day
    assert tap(svc, "gate-in", at=clock() - timedelta(days=5)).outcome == "limit_reached"


def test_a_library_may_refuse_back_dated_taps(clock):
    prog = load(overrides={"rules": {"backdating": {"otherwise": "refuse"}}})
    service = open_service("sqlite:///:memory:", prog=prog, clock=clock)
    try:
        service.devices.add("gate-in", "gate", direction="in")
        m = service.members.add("Somchai", UID)
        r = tap(service, "gate-in", at=clock() - timedelta(days=2), tap_id="refused-1")
        assert (r.outcome, r.open, r.points) == ("invalid", False, 0)
        assert "dated earlier than this device may date it" in r.message["en"]
        assert service.ledger.balance(m.id) == 250
        assert TapInbox.get(TapInbox.tap_id == "refused-1").timing == "backdated"
    finally:
        close_store()


def test_a_repeated_status_does_not_move_the_offline_period(svc, clock):
    clock.set(MONDAY, 8)
    svc.devices.record_status("gate-in", Status("offline"))
    clock.set(MONDAY, 9)
    svc.devices.record_status("gate-in", Status("offline"))  # the retained last will, again
    clock.set(MONDAY, 10)
    svc.devices.record_status("gate-in", Status("online"))
    svc.devices.record_status("gate-in", Status("online"))
    from server.store import Device

    d = Device.get_by_id("gate-in")
    assert d.offline_since == datetime(2026, 11, 23, 8, tzinfo=BKK)
    assert d.online_since == datetime(2026, 11, 23, 10, tzinfo=BKK)
