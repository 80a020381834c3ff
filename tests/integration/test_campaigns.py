"""Campaigns (issue 13, item 5): dated to the minute in the library's time zone, shown on
the ledger entry and in the report, combined by the documented overlap rule, and never
letting one tap earn twice (a property-based test against the real tap path on SQLite).
"""

from __future__ import annotations

import itertools
import tempfile
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.contract import Tap
from server.services import ServiceError
from server.store import LedgerEntry
from tests.helpers import close_store, new_uid, open_service, trusting_programme

BKK = ZoneInfo("Asia/Bangkok")
_ids = itertools.count(1)


def next_monday() -> date:
    """A Monday a week or two ahead (campaign dates relative to today, so they are never stale)."""
    today = datetime.now(BKK).date() + timedelta(days=7)
    return today + timedelta(days=(7 - today.weekday()) % 7)


def book_fair(monday: date, limit: str) -> dict:
    """A one-off activity campaign, 15 points, on ``monday`` from 10:00 to 16:59 (Bangkok)."""
    return {
        "code": "book_fair",
        "kind": "activity",
        "points": 15,
        "limit": limit,
        "th": "งานหนังสือ",
        "en": "Book fair",
        "starts": f"{monday} 10:00",
        "ends": f"{monday} 16:59",
    }


def _tap(svc, device: str, uid: str, at: datetime, tap_id: str | None = None):
    tap = Tap(tap_id=tap_id or f"t{next(_ids)}", uid=uid, at=at, clock_ok=True)
    return svc.taps.decide(device, tap, received=at)


def test_a_campaign_doubles_entry_from_monday_0000_to_friday_2359_and_not_a_minute_outside(tmp_db_url):
    monday = next_monday()
    friday = monday + timedelta(days=4)
    svc = open_service(tmp_db_url, prog=trusting_programme())
    try:
        svc.devices.add("door", "gate", direction="in")
        svc.campaigns.add(
            {
                "code": "exam_week",
                "th": "สัปดาห์สอบ",
                "en": "Exam week",
                "kind": "multiplier",
                "multiplier": "2",
                "activities": ["entry"],
                "starts": f"{monday} 00:00",
                "ends": f"{friday} 23:59",
            },
            actor="t",
        )
        cases = [
            (datetime.combine(monday, datetime.min.time(), BKK) - timedelta(minutes=1), 5),  # Sunday 23:59
            (datetime.combine(monday, datetime.min.time(), BKK) - timedelta(seconds=1), 5),  # Sunday 23:59:59
            (datetime.combine(monday, datetime.min.time(), BKK), 10),  # Monday 00:00
            (datetime.combine(monday, datetime.min.time(), BKK) + timedelta(days=2, hours=12), 10),
            (datetime.combine(friday, datetime.min.time(), BKK) + timedelta(hours=23, minutes=59), 10),
            (datetime.combine(friday, datetime.min.time(), BKK) + timedelta(hours=23, minutes=59, seconds=59), 10),
            (datetime.combine(friday + timedelta(days=1), datetime.min.time(), BKK), 5),  # Saturday 00:00
        ]
        for at, points in cases:
            uid = new_uid()
            m = svc.members.add("P", uid)
            r = _tap(svc, "door", uid, at)
            assert (r.outcome, r.points) == ("credited", points), at
            e = LedgerEntry.select().where(LedgerEntry.member == m.id, LedgerEntry.source == "tap").get()
            assert e.points == points
            assert e.campaign == ("exam_week:+5" if points == 10 else None)
            # the member's history shows the campaign
            assert svc.ledger.history(m.id)[0]["campaign"] == e.campaign
        # the report: what the campaign gave
        listed = {c["code"]: c for c in svc.campaigns.list()}
        assert listed["exam_week"]["given"] == {"points": 20, "entries": 4}
        from server.web import reports

        rows = reports.build("campaigns", svc, monday - timedelta(days=1), friday + timedelta(days=1)).rows
        assert [(r["campaign"], r["points"], r["entries"], r["label"]["en"]) for r in rows] == [
            ("exam_week", 20, 4, "Exam week")
        ]
        # a voided credit no longer counts as given
        e = LedgerEntry.select().where(LedgerEntry.campaign == "exam_week:+5").first()
        svc.points.void(e.id, reason="test", actor="t")
        assert {c["code"]: c for c in svc.campaigns.list()}["exam_week"]["given"]["points"] == 15
        # the member's history in the console shows the campaign on the entry
        from tests.browser.web_support import make_app, sign_in

        doubled = (
            LedgerEntry.select().where(LedgerEntry.campaign == "exam_week:+5").order_by(LedgerEntry.id.desc()).first()
        )
        client = make_app(tmp_db_url).test_client()
        sign_in(client)
        page = client.get(f"/members/{doubled.member_id}").text
        assert 'class="badge campaign"' in page and "Exam week +5" in page  # the campaign by its name
        # borrow is not in the campaign
        svc.devices.add("desk", "counter")
        uid = new_uid()
        svc.members.add("Q", uid)
        r = _tap(svc, "desk", uid, datetime.combine(monday, datetime.min.time(), BKK) + timedelta(hours=10))
        assert r.points == 5
    finally:
        close_store()


def test_overlap_rule_best_multiplier_and_bonuses_add_and_group_tier_filters(tmp_db_url):
    monday = next_monday()
    svc = open_service(tmp_db_url, prog=trusting_programme())
    try:
        svc.devices.add("door", "gate", direction="in")
        week = {"starts": f"{monday} 00:00", "ends": f"{monday + timedelta(days=6)} 23:59"}
        svc.campaigns.add({"code": "x2", "kind": "multiplier", "multiplier": "2", **week}, actor="t")
        svc.campaigns.add({"code": "x3", "kind": "multiplier", "multiplier": "3", "groups": ["U1"], **week}, actor="t")
        svc.campaigns.add({"code": "b1", "kind": "bonus", "bonus": 1, "activities": ["entry"], **week}, actor="t")
        svc.campaigns.add({"code": "b4", "kind": "bonus", "bonus": 4, "tiers": ["gold"], **week}, actor="t")
        at = datetime.combine(monday, datetime.min.time(), BKK) + timedelta(hours=9)
        expect = [  # (group, tier, points, tag)
            (None, "silver", 5 * 2 + 1, "x2:+5;b1:+1"),
            ("U1", "silver", 5 * 3 + 1, "x3:+10;b1:+1"),
            ("U1", "gold", 5 * 3 + 1 + 4, "x3:+10;b1:+1;b4:+4"),
        ]
        for group, tier, points, tag in expect:
            uid = new_uid()
            m = svc.members.add("P", uid, group=group, tier=tier)
            r = _tap(svc, "door", uid, at)
            assert r.points == points
            assert LedgerEntry.get(LedgerEntry.member == m.id, LedgerEntry.source == "tap").campaign == tag
        # ending a campaign: taps after it earn without it; what it gave stays in the report
        svc.campaigns.end("x3", actor="t", at=at + timedelta(hours=1))
        uid = new_uid()
        svc.members.add("P", uid, group="U1")
        assert _tap(svc, "door", uid, at + timedelta(hours=2)).points == 5 * 2 + 1
        given = {c["code"]: c["given"]["points"] for c in svc.campaigns.list()}
        assert given == {"x2": 5 + 5, "x3": 20, "b1": 4, "b4": 4}
    finally:
        close_store()


def test_a_one_off_activity_earns_only_between_its_minutes(tmp_db_url):
    monday = next_monday()
    svc = open_service(tmp_db_url, prog=trusting_programme())
    try:
        svc.campaigns.add(book_fair(monday, "once"), actor="t")
        svc.devices.add("fair", "counter", activity="book_fair")
        uid = new_uid()
        svc.members.add("P", uid)
        day = datetime.combine(monday, datetime.min.time(), BKK)
        assert _tap(svc, "fair", uid, day + timedelta(hours=9, minutes=59)).outcome == "no_activity"
        assert _tap(svc, "fair", uid, day + timedelta(hours=10)).points == 15
        assert _tap(svc, "fair", uid, day + timedelta(hours=11)).outcome == "limit_reached"  # limit once
        uid2 = new_uid()
        svc.members.add("Q", uid2)
        assert _tap(svc, "fair", uid2, day + timedelta(hours=17)).outcome == "no_activity"
        assert {c["code"]: c["given"] for c in svc.campaigns.list()}["book_fair"] == {"points": 15, "entries": 1}
    finally:
        close_store()


def test_staff_credit_a_one_off_activity_only_for_a_time_between_its_minutes(tmp_db_url):
    """The counter's credit form and ``points award`` follow the same minutes as a counter's tap.

    Before: staff could credit the one-off activity at any time — before the campaign
    started, and after it ended for as long as it stayed compiled (400 days).
    """
    monday = next_monday()
    day = datetime.combine(monday, datetime.min.time(), BKK)
    now = [day + timedelta(hours=9)]
    svc = open_service(tmp_db_url, prog=trusting_programme(), clock=lambda: now[0])
    try:
        svc.campaigns.add(book_fair(monday, "per_day"), actor="t")
        m = svc.members.add("P", new_uid())
        with pytest.raises(ServiceError, match="only while its campaign runs"):
            svc.points.award(m.id, "book_fair", actor="t")  # 09:00: not started
        now[0] = day + timedelta(days=1, hours=9)
        with pytest.raises(ServiceError, match="only while its campaign runs"):
            svc.points.award(m.id, "book_fair", actor="t")  # the next day: ended
        with pytest.raises(ServiceError, match="only while its campaign runs"):
            svc.points.award(m.id, "book_fair", at=(day + timedelta(hours=17)).isoformat(), actor="t")
        assert svc.ledger.balance(m.id) == 250
        # a credit dated within its minutes (a stamp brought the next day, or typed at the fair) is given
        outcome, entry = svc.points.award(m.id, "book_fair", at=(day + timedelta(hours=16, minutes=59)).isoformat())
        assert outcome == "credited" and entry.points == 15 and entry.day == monday
        now[0] = day + timedelta(hours=12)
        m2 = svc.members.add("Q", new_uid())
        assert svc.points.award(m2.id, "book_fair", actor="t")[0] == "credited"
        assert svc.ledger.balance(m.id) == svc.ledger.balance(m2.id) == 265
    finally:
        close_store()


# --------------------------------------------------------------------------- property: a tap earns at most once

campaign_st = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["multiplier", "bonus"]),
        "k": st.sampled_from(["1.5", "2", "3"]),
        "bonus": st.integers(1, 5),
        "activities": st.sampled_from([[], ["entry"], ["late_stay"], ["entry", "late_stay"]]),
        "start_h": st.integers(0, 47),
        "hours": st.integers(1, 48),
    }
)
tap_st = st.tuples(st.integers(0, 2), st.integers(0, 2 * 24 * 60 - 1), st.booleans(), st.integers(0, 3))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(campaigns=st.lists(campaign_st, max_size=6), taps=st.lists(tap_st, min_size=1, max_size=25))
def test_property_campaigns_never_let_one_tap_earn_twice(campaigns, taps):
    monday = next_monday()
    start = datetime.combine(monday, datetime.min.time(), BKK)
    with tempfile.TemporaryDirectory() as tmp:
        svc = open_service(f"sqlite:///{tmp}/p.db", prog=trusting_programme())
        try:
            svc.devices.add("in", "gate", direction="in")
            svc.devices.add("out", "gate", direction="out")
            for i, c in enumerate(campaigns):
                svc.campaigns.add(
                    {
                        "code": f"c{i}",
                        "kind": c["kind"],
                        "multiplier": c["k"],
                        "bonus": c["bonus"],
                        "activities": c["activities"],
                        "starts": (start + timedelta(hours=c["start_h"])).strftime("%Y-%m-%d %H:%M"),
                        "ends": (start + timedelta(hours=c["start_h"] + c["hours"])).strftime("%Y-%m-%d %H:%M"),
                    },
                    actor="t",
                )
            uids = [new_uid() for _ in range(3)]
            for u in uids:
                svc.members.add("P", u)
            sent = []
            for who, minute, out, repeat in taps:
                at = start + timedelta(minutes=minute)
                tap_id = f"p{next(_ids)}"
                for _ in range(1 + repeat):  # the same tap resent: one answer, one credit at most
                    r = _tap(svc, "out" if out else "in", uids[who], at, tap_id=tap_id)
                sent.append((tap_id, r))
            entries = list(LedgerEntry.select().where(LedgerEntry.source == "tap"))
            refs = [e.ref for e in entries]
            assert len(refs) == len(set(refs)), "a tap earned twice"
            keys = [(e.member_id, e.activity, e.day) for e in entries]
            assert len(keys) == len(set(keys)), "an activity earned twice in a day"
            credited = {t for t, r in sent if r.outcome == "credited"}
            assert credited == set(refs)
            for e in entries:  # the overlap rule, recomputed independently
                base = 5 if e.activity == "entry" else 10
                live = [
                    c
                    for c in campaigns
                    if (not c["activities"] or e.activity in c["activities"])
                    and start + timedelta(hours=c["start_h"])
                    <= e.at
                    < start + timedelta(hours=c["start_h"] + c["hours"], minutes=1)
                ]
                ks = [round(float(c["k"]) * 100) for c in live if c["kind"] == "multiplier"]
                want = base * max(ks, default=100) // 100 + sum(c["bonus"] for c in live if c["kind"] == "bonus")
                assert e.points == want, (e.activity, e.at, live)
        finally:
            close_store()


def test_a_one_off_activity_credited_by_staff_counts_in_its_campaigns_points_given(tmp_db_url):
    """A counter award and an attendance list of a one-off activity are what its campaign gave.

    Before: staff credits of it carried no campaign tag, so the campaigns page, ``campaign
    list`` and the campaigns report said the campaign gave only what counters' taps earned;
    and an attendance list could credit it outside the campaign's minutes.
    """
    monday = next_monday()
    day = datetime.combine(monday, datetime.min.time(), BKK)
    now = [day + timedelta(hours=12)]
    svc = open_service(tmp_db_url, prog=trusting_programme(), clock=lambda: now[0])
    try:
        svc.campaigns.add(book_fair(monday, "per_day"), actor="t")
        svc.devices.add("fair", "counter", activity="book_fair")
        uid = new_uid()
        svc.members.add("Tapped", uid)
        assert _tap(svc, "fair", uid, now[0]).points == 15  # a counter's tap: 15
        m = svc.members.add("Counter", new_uid())
        outcome, entry = svc.points.award(m.id, "book_fair", actor="t")  # the credit form: 15
        assert outcome == "credited" and entry.campaign == "book_fair:+15"
        listed = svc.members.add("Listed", new_uid())
        report = svc.attendance.import_csv(f"{listed.id}\n", "book_fair", "Book fair desk", day=now[0].isoformat())
        assert len(report.credited) == 1
        imported = LedgerEntry.get_by_id(report.credited[0][2])
        assert (imported.points, imported.campaign) == (15, "book_fair:+15")
        assert {c["code"]: c["given"] for c in svc.campaigns.list()}["book_fair"] == {"points": 45, "entries": 3}
        from server.web import reports

        rows = reports.build("campaigns", svc, monday, monday).rows
        assert [(r["campaign"], r["points"], r["entries"]) for r in rows] == [("book_fair", 45, 3)]
        # a voided staff credit is not given, as a voided tap's is not
        svc.points.void(entry.id, reason="typed for the wrong member", actor="t")
        assert {c["code"]: c["given"] for c in svc.campaigns.list()}["book_fair"] == {"points": 30, "entries": 2}
        rows = reports.build("campaigns", svc, monday, monday).rows
        assert [(r["campaign"], r["points"], r["entries"]) for r in rows] == [("book_fair", 30, 2)]
        # a list dated outside its minutes credits nobody (as a staff award is refused)
        late = svc.members.add("Late", new_uid())
        report = svc.attendance.import_csv(
            f"{late.id}\n", "book_fair", "Book fair desk", day=(day + timedelta(hours=9)).isoformat()
        )
        assert report.credited == [] and [str(e) for _line, e in report.errors] == [
            "book_fair is earned only while its campaign runs"
        ]
        assert svc.ledger.balance(late.id) == 250
    finally:
        close_store()


def test_ending_a_campaign_now_ends_it_at_that_moment_not_at_the_start_of_its_minute(tmp_db_url):
    """``campaign end`` and the console's *End now* (both ``Campaigns.end`` without ``at``) at 10:30:45.

    Before: the end was cut to the start of its minute (10:30:00), so a tap made at 10:30:20
    — before anyone asked — and delivered after the command (a gate's buffered tap, a busy
    worker) lost its bonus, while the ledger already held bonuses from 10:30:xx taps that the
    campaign's own window no longer covered; and staff could no longer credit a one-off
    activity for 10:30:20.
    """
    monday = next_monday()
    day = datetime.combine(monday, datetime.min.time(), BKK)
    now = [day + timedelta(hours=10, minutes=30, seconds=10)]
    svc = open_service(tmp_db_url, prog=trusting_programme(), clock=lambda: now[0])
    try:
        svc.devices.add("door", "gate", direction="in")
        week = {"starts": f"{monday} 00:00", "ends": f"{monday + timedelta(days=6)} 23:59"}
        svc.campaigns.add({"code": "b3", "kind": "bonus", "bonus": 3, "activities": ["entry"], **week}, actor="t")
        fair = {"code": "fair", "kind": "activity", "points": 15, "th": "งานหนังสือ", "en": "Book fair", **week}
        svc.campaigns.add(fair, actor="t")
        first = new_uid()
        svc.members.add("Before", first)
        assert _tap(svc, "door", first, now[0]).points == 8  # 10:30:10: 5 + 3, credited at once
        now[0] = day + timedelta(hours=10, minutes=30, seconds=45)
        svc.campaigns.end("b3", actor="t")  # "now": 10:30:45
        ended = svc.campaigns.end("fair", actor="t")
        assert ended["state"] == "ended" and datetime.fromisoformat(ended["ended_at"]) == now[0]
        now[0] += timedelta(seconds=5)  # 10:30:50: the taps made before the end arrive
        buffered = new_uid()
        late = svc.members.add("Buffered", buffered)
        made = day + timedelta(hours=10, minutes=30, seconds=20)
        r = _tap(svc, "door", buffered, made)
        assert (r.outcome, r.points) == ("credited", 8)  # made before the end: its bonus
        assert LedgerEntry.get(LedgerEntry.member == late.id, LedgerEntry.source == "tap").campaign == "b3:+3"
        after = new_uid()
        svc.members.add("After", after)
        assert _tap(svc, "door", after, now[0]).points == 5  # made after the end: none
        # staff: the one-off for a time before its end, not after
        m = svc.members.add("Counter", new_uid())
        assert svc.points.award(m.id, "fair", at=made.isoformat(), actor="t")[0] == "credited"
        with pytest.raises(ServiceError, match="only while its campaign runs"):
            svc.points.award(m.id, "fair", actor="t")  # 10:30:50
        # the report agrees with the ledger: every bonus given is the campaign's
        given = {c["code"]: c["given"] for c in svc.campaigns.list()}
        assert given["b3"] == {"points": 6, "entries": 2} and given["fair"] == {"points": 15, "entries": 1}
        tagged = LedgerEntry.select().where(LedgerEntry.campaign.is_null(False))
        assert all(e.at < day + timedelta(hours=10, minutes=30, seconds=45) for e in tagged)
    finally:
        close_store()
