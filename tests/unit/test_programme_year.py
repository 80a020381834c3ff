"""Membership terms, silver and gold, the privilege basis, partner shops (issue 13).

The real service layer on an in-memory SQLite store with a settable clock; taps go
through the tap hot path (``svc.taps``) as a gate's would.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from broker.contract import Query, Tap
from server import admin, catalogue
from server.domain import rules
from server.domain.config import ConfigError, load
from server.services import ServiceError
from server.store import Audit, Device, Fee, LedgerEntry, Member
from tests.helpers import close_store, ledger_problems, open_service

BKK = ZoneInfo("Asia/Bangkok")
UID, UID2 = "04A1B2C3D4E5F6", "04A1B2C3D4E5F7"
SEM1_JOIN = date(2026, 7, 1)  # semester 1 runs 06-01 to 10-31


class Clock:
    def __init__(self):
        self.now = datetime(2026, 7, 1, 3, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, day: date, hh: int = 10) -> None:
        self.now = datetime(day.year, day.month, day.day, hh, tzinfo=BKK).astimezone(UTC)


@pytest.fixture
def clock():
    c = Clock()
    c.set(SEM1_JOIN)
    return c


def service(clock, **overrides):
    svc = open_service("sqlite:///:memory:", clock=clock, prog=load(overrides=overrides) if overrides else None)
    svc.devices.add("gate-in", "gate", direction="in")
    svc.devices.add("kiosk-1", "kiosk")
    return svc


@pytest.fixture
def svc(clock):
    s = service(clock)
    yield s
    assert ledger_problems() == []
    close_store()


_n = iter(range(1, 10**9))


def tap(svc, device="gate-in", uid=UID):
    return svc.taps.decide(device, Tap(tap_id=f"{device}:{next(_n)}", uid=uid, at=svc.clock(), clock_ok=True))


# --------------------------------------------------------------------------- terms


def test_a_semester_1_student_is_expired_the_day_after_it_ends_and_valid_after_renew(svc, clock):
    m = svc.members.add("Malee", UID, group="U1")
    assert m.valid_until == date(2026, 10, 31) and m.term_start == SEM1_JOIN
    clock.set(date(2026, 10, 31))
    assert tap(svc).outcome == "credited"
    clock.set(date(2026, 11, 1))
    r = tap(svc)
    assert (r.outcome, r.open, r.points) == ("expired", False, 0)
    a = svc.reads.answer_query("kiosk-1", Query(query_id="q1", uid=UID))
    assert a.outcome == "expired" and "renew" in a.message["en"]
    assert UID not in svc.devices.allowlist().uids
    d = svc.terms.renew(m.id, actor="test")
    assert d == {"member": m.id, "valid_until": "2027-03-31", "term_start": "2026-11-01", "fee_baht": 50}
    assert [(f.kind, f.baht) for f in Fee.select().where(Fee.member == m.id).order_by(Fee.id)] == [
        ("joining", 50),
        ("renewal", 50),
    ]
    r = tap(svc)
    assert (r.outcome, r.open) == ("credited", True)
    assert UID in svc.devices.allowlist().uids


def test_renewing_while_still_valid_gives_the_next_term(svc, clock):
    m = svc.members.add("Malee", UID, group="U1")
    clock.set(date(2026, 10, 20))
    assert svc.terms.renew(m.id)["valid_until"] == "2027-03-31"


def test_terms_by_group_rule(svc):
    ext = svc.members.add("External", UID, group="U5")  # academic year: to the day before next 06-01
    staff = svc.members.add("Lecturer", UID2, group="U3")  # date: typed by staff
    assert ext.valid_until == date(2027, 5, 31) and staff.valid_until is None
    with pytest.raises(ServiceError, match="give --until"):
        svc.terms.renew(staff.id)
    assert svc.terms.renew(staff.id, until="2028-09-30")["valid_until"] == "2028-09-30"
    nobody = svc.members.add("No group", "04AABBCCDD")
    assert nobody.valid_until is None
    with pytest.raises(ServiceError, match="does not end"):
        svc.terms.renew(nobody.id)
    assert svc.members.add("Typed", "04AABBCCEE", group="U1", valid_until="2026-08-15").valid_until == date(2026, 8, 15)


def _snapshot():
    return (
        [(e.id, e.points) for e in LedgerEntry.select().order_by(LedgerEntry.id)],
        [(m.id, m.balance, m.lapsed_on) for m in Member.select().order_by(Member.id)],
        Audit.select().count(),
    )


def test_term_close_keep_dry_run_and_forfeit(clock):
    svc = service(clock, terms={"on_expiry": "forfeit"})
    try:
        a = svc.members.add("Malee", UID, group="U1")
        svc.members.add("Staff", UID2, group="U3")  # no end: never lapses
        tap(svc)
        clock.set(date(2026, 11, 1))
        before = _snapshot()
        report = svc.terms.close(date(2026, 11, 1), dry_run=True)
        assert [(r["member"], r["balance"], r["forfeited"]) for r in report["lapsed"]] == [(a.id, 255, 255)]
        assert _snapshot() == before  # the dry run changed nothing
        report = svc.terms.close(date(2026, 11, 1), actor="test")
        assert [(r["member"], r["forfeited"]) for r in report["lapsed"]] == [(a.id, 255)]
        [entry] = LedgerEntry.select().where(LedgerEntry.activity == "forfeit")
        assert (entry.points, entry.source, svc.ledger.balance(a.id)) == (-255, "term", 0)
        clock.set(date(2026, 11, 2))
        assert svc.terms.close(date(2026, 11, 2))["lapsed"] == []  # once only
        assert svc.ledger.history(a.id)[0]["activity"] == "forfeit"
        svc.points.void(entry.id, "renewed late, points restored", actor="test")
        assert svc.ledger.balance(a.id) == 255
        assert ledger_problems() == []
    finally:
        close_store()


def test_validity_set_past_today_on_a_lapsed_member_clears_the_lapse_so_the_next_end_is_closed(clock):
    """``member set REF valid_until=…`` (the console's member edit, ``PATCH /api/members``) on a lapsed member.

    Before: the lapse mark of the closed term stayed, so when the extended membership ended the term
    close skipped the member — never reported, never forfeited (on_expiry = "forfeit") — while gates
    answered ``expired``. A date set still in the past keeps the mark: that term has ended and was closed,
    and a second close would forfeit points given back since.
    """
    svc = service(clock, terms={"on_expiry": "forfeit"})
    try:
        m = svc.members.add("Malee", UID, group="U1")  # valid until 2026-10-31
        clock.set(date(2026, 11, 1))
        [closed] = svc.terms.close(actor="test")["lapsed"]
        assert (closed["member"], closed["forfeited"]) == (m.id, 250)
        [forfeit] = LedgerEntry.select().where(LedgerEntry.activity == "forfeit")
        svc.points.void(forfeit.id, "given back by the librarian", actor="test")  # 250 again
        # a date still past (a correction): the lapse stands, the close does not forfeit again
        svc.members.set(m.id, valid_until="2026-10-30", actor="test")
        assert Member.get_by_id(m.id).lapsed_on == date(2026, 11, 1)
        clock.set(date(2026, 11, 2))
        assert svc.terms.close(actor="test")["lapsed"] == []
        assert svc.ledger.balance(m.id) == 250
        # extended past today: valid again, and its new end is closed
        svc.members.set(m.id, valid_until="2027-03-31", actor="test")
        assert Member.get_by_id(m.id).lapsed_on is None
        audit = Audit.select().where(Audit.action == "member.set").order_by(Audit.id.desc()).first()
        assert audit.detail["lapse_cleared"] == "2026-11-01"
        assert tap(svc).outcome == "credited"  # 255
        clock.set(date(2027, 4, 1))
        [closed] = svc.terms.close(actor="test")["lapsed"]
        assert (closed["member"], closed["valid_until"], closed["forfeited"]) == (m.id, "2027-03-31", 255)
        assert svc.ledger.balance(m.id) == 0
        # an end removed (none): valid again too
        svc.members.set(m.id, valid_until="none", actor="test")
        assert Member.get_by_id(m.id).lapsed_on is None
        assert ledger_problems() == []
    finally:
        close_store()


def test_an_expired_members_points_wait_for_the_renewal_no_redemption_transfer_or_pledge(svc, clock):
    """Card rights end with the term; with ``on_expiry = "keep"`` the balance waits for the renewal.

    Before: the day after ``valid_until`` (gates answering ``expired``) staff could still redeem the
    member's points for a fine discount or a locker, transfer them to another member (only an expired
    *recipient* was refused), and the member could pledge them on a book-purchase request.
    """
    m = svc.members.add("Malee", UID, group="U1")  # valid until 2026-10-31
    other = svc.members.add("Somchai", UID2, group="U5")  # valid until 2027-05-31
    clock.set(date(2026, 11, 1))
    before = _snapshot()
    expired = "membership expired on 2026-10-31: the points wait for the renewal"
    with pytest.raises(ServiceError, match=expired) as refused:
        svc.points.redeem(m.id, "fine_discount", points=25, actor="test")
    assert catalogue.thai_of(refused.value) == (
        f"สมาชิกภาพของสมาชิก {m.id} หมดอายุแล้วเมื่อ 31/10/2569 คะแนนจะใช้ได้อีกเมื่อต่ออายุสมาชิก"
    )
    with pytest.raises(ServiceError, match=expired):
        svc.points.redeem(m.id, "locker_day", units=1, actor="test")
    with pytest.raises(ServiceError, match=expired):
        svc.points.transfer(m.id, other.id, 100, actor="test")
    with pytest.raises(ServiceError, match=expired):
        svc.feedback.submit(channel="counter", category="book_request", text="A book", member=m.id, pledge=True)
    assert _snapshot() == before and svc.ledger.balance(m.id) == 250
    with pytest.raises(ServiceError, match=r"membership expired on 2026-10-31$"):  # as a recipient: refused already
        svc.points.transfer(other.id, m.id, 10, actor="test")
    # renewed: the points are theirs to spend again
    svc.terms.renew(m.id, actor="test")
    assert svc.points.redeem(m.id, "fine_discount", points=25, actor="test")["baht"] == 5
    svc.points.transfer(m.id, other.id, 100, actor="test")
    assert (svc.ledger.balance(m.id), svc.ledger.balance(other.id)) == (125, 350)


def test_a_term_close_dated_after_today_is_only_a_preview(clock):
    """A date typed a year or a term ahead (2027 for 2026) closed terms that had not ended.

    Before: ``term close --date 2026-11-01`` run on 1 July forfeited every student's
    balance while their membership still ran to 31 October, and marked them lapsed, so
    the close at the real end skipped them.
    """
    svc = service(clock, terms={"on_expiry": "forfeit"})
    try:
        m = svc.members.add("Malee", UID, group="U1")  # valid until 2026-10-31
        before = _snapshot()
        with pytest.raises(ServiceError, match="after today"):
            svc.terms.close(date(2026, 11, 1), actor="test")
        assert _snapshot() == before and svc.ledger.balance(m.id) == 250
        preview = svc.terms.close(date(2026, 11, 1), dry_run=True)  # who will lapse: still shown
        assert [(r["member"], r["forfeited"]) for r in preview["lapsed"]] == [(m.id, 250)]
        assert svc.terms.close(actor="test")["lapsed"] == []  # today's close: nobody yet
        clock.set(date(2026, 11, 1))
        assert [r["forfeited"] for r in svc.terms.close(date(2026, 11, 1), actor="test")["lapsed"]] == [250]
        assert ledger_problems() == []
    finally:
        close_store()


def test_term_close_keep_keeps_the_balance(svc, clock):
    m = svc.members.add("Malee", UID, group="U1")
    clock.set(date(2026, 11, 1))
    report = svc.terms.close()
    assert report["on_expiry"] == "keep" and [r["forfeited"] for r in report["lapsed"]] == [0]
    assert svc.ledger.balance(m.id) == 250
    assert LedgerEntry.select().where(LedgerEntry.member == m.id).count() == 1


def test_admin_term_close_and_renew_commands(tmp_path, clock, capsys):
    db = f"sqlite:///{tmp_path}/p.db"
    assert admin.main(["--db", db, "member", "add", "--name", "Malee", "--card", UID, "--group", "U1"]) == 0
    capsys.readouterr()
    assert admin.main(["--db", db, "term", "close", "--date", "2099-01-01", "--dry-run", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dry_run"] is True and [r["name"] for r in out["lapsed"]] == ["Malee"]
    assert admin.main(["--db", db, "member", "renew", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fee_baht"] == 50 and out["valid_until"]
    assert admin.main(["--db", db, "member", "tier", "1", "gold", "--reason", "sponsor"]) == 0
    assert admin.main(["--db", db, "member", "show", "1"]) == 0
    shown = capsys.readouterr().out
    assert "Card type changed" in shown and "silver→gold: sponsor" in shown
    assert admin.main(["--db", db, "term", "close", "--date", "not-a-date"]) == 1


# --------------------------------------------------------------------------- privilege basis


def test_joining_bonus_redeemed_keeps_the_250_level_with_earned_in_term(svc):
    m = svc.members.add("Malee", UID, group="U1")
    svc.points.redeem(m.id, "fine_discount", points=250)
    assert svc.ledger.balance(m.id) == 0
    level = svc.members.privilege_level(m.id)
    assert (level["basis"], level["points"], level["term"]["label"]) == ("earned_in_term", 250, "1/2569")
    assert level["privileges"]["borrow"]["books"] == 15 and level["privileges"]["locker_days"] == 3
    assert level["privileges"]["fine_discount_baht"] == 0  # the discount is what the balance can pay
    a = svc.reads.answer_query("kiosk-1", Query(query_id="q1", uid=UID))
    assert a.privileges["borrow"]["books"] == 15 and a.privileges["basis"] == "earned_in_term"
    assert a.privileges["level_points"] == 250


def test_joining_bonus_redeemed_drops_the_level_with_balance_basis(clock):
    svc = service(clock, privileges={"basis": "balance"})
    try:
        m = svc.members.add("Malee", UID, group="U1")
        svc.points.redeem(m.id, "fine_discount", points=250)
        level = svc.members.privilege_level(m.id)
        assert (level["basis"], level["points"], level["privileges"]["borrow"]["books"]) == ("balance", 0, 10)
        a = svc.reads.answer_query("kiosk-1", Query(query_id="q1", uid=UID))
        assert a.privileges["borrow"]["books"] == 10
    finally:
        close_store()


def test_earned_in_term_is_net_of_voids_and_not_lowered_by_transfers(svc, clock):
    m = svc.members.add("Malee", UID, group="U1")
    other = svc.members.add("Somchai", UID2, group="U1")
    r = tap(svc)
    svc.points.transfer(m.id, other.id, 200)
    assert svc.members.privilege_level(m.id)["points"] == 255
    assert svc.members.privilege_level(other.id)["points"] == 250  # received points are not earned
    entry = LedgerEntry.get((LedgerEntry.member == m.id) & (LedgerEntry.ref == r.tap_id))
    svc.points.void(entry.id, "mistake")
    assert svc.members.privilege_level(m.id)["points"] == 250
    clock.set(date(2026, 11, 2))  # a new term: nothing earned in it yet
    assert svc.members.privilege_level(m.id)["points"] == 0


# --------------------------------------------------------------------------- silver and gold

GOLD_RULES = {"tiers": {"gold": {"groups": ["U3"], "earned_at": 270, "points": {"entry": 10}}}}


def test_gold_by_group_and_a_gold_tap_earns_by_the_gold_table(clock):
    svc = service(clock, **GOLD_RULES)
    try:
        m = svc.members.add("Lecturer", UID, group="U3")
        assert (m.tier, m.tier_basis) == ("gold", "group")
        [change] = [h for h in svc.ledger.history(m.id) if h["source"] == "tier"]
        assert (change["item"], change["note"], change["points"]) == ("silver→gold", "group U3", 0)
        r = tap(svc)
        assert (r.outcome, r.points, r.balance, r.tier) == ("credited", 10, 260, "gold")
        s = svc.members.add("Student", UID2, group="U1")
        assert s.tier == "silver" and tap(svc, uid=UID2).points == 5
    finally:
        close_store()


def test_a_gold_tap_and_award_earn_the_multiplier_rounded_half_up(clock):
    """A tier multiplier of 2.5: a gold tap of entry (5 points) earns 13 — 12.5 rounded half up, as the
    console's Terms page and docs/rules.md say — and an award of borrow likewise. Before: 12 (Python's
    round() of a float rounds half to even)."""
    svc = service(clock, tiers={"gold": {"multiplier": 2.5}})
    try:
        m = svc.members.add("Lecturer", UID, tier="gold")
        assert tap(svc).points == 13
        assert svc.points.award(m.id, "borrow", actor="test")[1].points == 13
        assert svc.ledger.balance(m.id) == 250 + 26
        assert ledger_problems() == []
    finally:
        close_store()


def test_gold_by_points_earned_no_demotion_within_the_term(clock):
    svc = service(clock, **GOLD_RULES)
    try:
        m = svc.members.add("Student", UID, group="U1")
        first = tap(svc)  # 255
        clock.set(SEM1_JOIN + timedelta(days=1))
        svc.points.award(m.id, "borrow", actor="test")  # 260
        clock.set(SEM1_JOIN + timedelta(days=2))
        assert tap(svc).tier == "silver"  # 265
        clock.set(SEM1_JOIN + timedelta(days=3))
        r = tap(svc)  # 270: promoted by this tap, which earned by the silver table
        assert (r.points, r.tier) == (5, "gold")
        m = Member.get_by_id(m.id)
        assert (m.tier, m.tier_basis) == ("gold", "points")
        a = svc.reads.answer_query("kiosk-1", Query(query_id="q1", uid=UID))
        [change] = [h for h in a.history if h["activity"] == "tier"]  # the kiosk's history shows it
        assert change["item"] == "silver→gold" and "270 points earned in 1/2569" in change["note"]
        clock.set(SEM1_JOIN + timedelta(days=4))
        assert tap(svc).points == 10  # now the gold table
        svc.points.void(LedgerEntry.get(LedgerEntry.ref == first.tap_id).id, "mistake")
        assert Member.get_by_id(m.id).tier == "gold"  # no demotion within the term
        clock.set(date(2026, 11, 1))
        svc.terms.renew(m.id)  # a new term: the tier won by points is earned again
        assert Member.get_by_id(m.id).tier == "silver"
        assert [h["item"] for h in svc.ledger.history(m.id) if h["source"] == "tier"] == [
            "gold→silver",
            "silver→gold",
        ]
        assert ledger_problems() == []
    finally:
        close_store()


def test_a_tier_won_by_points_lasts_its_term_when_the_member_renews_early(clock):
    """Renewing before the term ends (20 Oct for a term to 31 Oct) is renewing for the next term.

    Before: the renewal took gold away at once — 11 days of the term it was won in — and the
    next tap in that term promoted the member again (its points earned still reached 270),
    so the gold then ran through the whole next term without a point earned in it.
    """
    svc = service(clock, **GOLD_RULES)
    try:
        m = svc.members.add("Student", UID, group="U1")
        for d in range(1, 5):  # 255 ... 270: promoted on 4 July
            clock.set(date(2026, 7, d))
            tap(svc)
        assert Member.get_by_id(m.id).tier == "gold"
        clock.set(date(2026, 10, 20))
        assert svc.terms.renew(m.id)["term_start"] == "2026-11-01"
        assert Member.get_by_id(m.id).tier == "gold"  # no demotion within the term
        clock.set(date(2026, 10, 21))
        assert (tap(svc).points, Member.get_by_id(m.id).tier) == (10, "gold")
        clock.set(date(2026, 11, 1))
        preview = svc.terms.close(dry_run=True)
        assert [(r["member"], r["from"], r["to"]) for r in preview["tiers"]] == [(m.id, "gold", "silver")]
        assert Member.get_by_id(m.id).tier == "gold"  # a preview changes nothing
        report = svc.terms.close(actor="server:daily")  # the server's daily round on the new term's first day
        assert [(r["member"], r["to"]) for r in report["tiers"]] == [(m.id, "silver")]
        assert (Member.get_by_id(m.id).tier, Member.get_by_id(m.id).tier_basis) == ("silver", "default")
        assert svc.terms.close(actor="server:daily")["tiers"] == []  # once
        assert (tap(svc).points, Member.get_by_id(m.id).tier) == (5, "silver")  # earned again in 2/2569
        assert next((h["item"], h["note"]) for h in svc.ledger.history(m.id) if h["source"] == "tier") == (
            "gold→silver",
            "new term",
        )
        assert ledger_problems() == []
    finally:
        close_store()


def _gold_renewed_early(svc, clock, uid, name):
    """A U1 member gold by points in 1/2569 (4 July) who renewed early (20 Oct) for 2/2569, from 1 November."""
    clock.set(SEM1_JOIN)
    if not Device.select().where(Device.id == "gate-in").exists():
        svc.devices.add("gate-in", "gate", direction="in")
    m = svc.members.add(name, uid, group="U1")
    for d in range(1, 5):
        clock.set(date(2026, 7, d))
        assert tap(svc, uid=uid).outcome == "credited"
    clock.set(date(2026, 10, 20))
    svc.terms.renew(m.id, actor="test")
    assert Member.get_by_id(m.id).tier == "gold"
    return m


def test_the_term_closes_text_and_the_servers_log_say_which_tiers_it_put_back(clock, tmp_path, capsys, caplog):
    """``privcard admin term close`` without ``--json`` and the server's daily log line show the tiers the
    close puts back (the result's ``tiers``): how many, and who, from what to what — in English and Thai.

    Before: both spoke only of lapses ("lapsed 0 member(s) whose term ended before 2026-11-01"), so staff
    running the close on a new term's first day were not told that members' gold cards went back to silver.
    """
    db = f"sqlite:///{tmp_path}/p.db"
    svc = open_service(db, prog=load(overrides=GOLD_RULES), clock=clock)
    a = _gold_renewed_early(svc, clock, UID, "Malee Gold")
    b = _gold_renewed_early(svc, clock, UID2, "Somchai Gold")
    close_store()
    assert admin.main(["--db", db, "term", "close", "--date", "2026-11-01", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "would put back 2 tier(s) won by points in an earlier term: the new term has begun" in out
    assert (
        "ประเภทบัตรที่ได้จากคะแนนในภาค/ปีการศึกษาก่อนจะกลับเป็นประเภทเดิม 2 คน เพราะเริ่มภาค/ปีการศึกษาใหม่แล้ว ยังไม่ได้เปลี่ยนแปลงข้อมูล"
    ) in out
    rows = [line.split() for line in out if line.startswith("  #")]
    assert [r[0] for r in rows] == [f"#{a.id}", f"#{b.id}"]
    assert all(r[-3:] == ["gold→silver", "/", "บัตรทอง→บัตรเงิน"] for r in rows), out
    assert admin.main(["--db", db, "term", "close", "--date", "2026-11-01"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "lapsed 0 member(s) whose term ended before 2026-11-01 (points: keep)"
    assert "put back 2 tier(s) won by points in an earlier term: the new term has begun" in out
    assert "ประเภทบัตรที่ได้จากคะแนนในภาค/ปีการศึกษาก่อนกลับเป็นประเภทเดิมแล้ว 2 คน เพราะเริ่มภาค/ปีการศึกษาใหม่แล้ว" in out
    assert [line.split()[0] for line in out if line.startswith("  #")] == [f"#{a.id}", f"#{b.id}"]
    assert admin.main(["--db", db, "term", "close", "--date", "2026-11-01"]) == 0  # once: nothing more to say
    assert not any("tier" in line for line in capsys.readouterr().out.splitlines())

    # the server's daily round logs them too
    from types import SimpleNamespace

    from server.app import PointsServer

    svc = open_service(f"sqlite:///{tmp_path}/q.db", prog=load(overrides=GOLD_RULES), clock=clock)
    try:
        c = _gold_renewed_early(svc, clock, UID, "Malee Gold")
        clock.set(date(2026, 11, 1))
        server = SimpleNamespace(service=svc, _terms_done=None, poll_s=1.0)
        with caplog.at_level("INFO", logger="server.app"):
            PointsServer._terms_round(server)
        assert (
            "term close 2026-11-01: 0 member(s) lapsed, 0 points forfeited; 1 tier(s) won by points put back "
            f"for the new term: #{c.id} gold→silver"
        ) in caplog.messages, caplog.messages
    finally:
        close_store()


def test_a_tier_won_after_an_early_renewal_goes_back_when_the_next_term_starts(clock):
    svc = service(clock, **GOLD_RULES)
    try:
        m = svc.members.add("Student", UID, group="U1")
        clock.set(date(2026, 10, 20))
        svc.terms.renew(m.id)  # for 2/2569, from 1 November
        for d in (21, 22, 23, 24):  # 270 earned in 1/2569: gold for the rest of it
            clock.set(date(2026, 10, d))
            tap(svc)
        assert Member.get_by_id(m.id).tier == "gold"
        clock.set(date(2026, 11, 3))  # the server was down on 1-2 November: its first round then
        assert [r["member"] for r in svc.terms.close(actor="server:daily")["tiers"]] == [m.id]
        assert Member.get_by_id(m.id).tier == "silver"
        # a member who won gold in the term they renewed into keeps it
        s = svc.members.add("Keeps", UID2, group="U1")  # joined 3 Nov: 250 earned in 2/2569
        for d in (3, 4, 5, 6):
            clock.set(date(2026, 11, d))
            tap(svc, uid=UID2)
        assert Member.get_by_id(s.id).tier == "gold"
        assert svc.terms.close(actor="server:daily")["tiers"] == []
        assert Member.get_by_id(s.id).tier == "gold"
        assert ledger_problems() == []
    finally:
        close_store()


def test_an_event_list_earns_by_the_members_tier_and_its_credit_promotes(clock):
    """An attendance list's credit is an earning activity like a tap or an award.

    Before: a gold member (multiplier 2) got the silver 10 points for an e-database
    training on the imported list (an award of borrow gave 5 × 2), and the list's credit
    that took a member's points earned in the term to ``earned_at`` did not promote them
    (only their next tap or award did).
    """
    svc = service(clock, tiers={"gold": {"multiplier": 2, "earned_at": 280}})
    try:
        gold = svc.members.add("Lecturer", UID, tier="gold", group="U3")
        silver = svc.members.add("Student", UID2, group="U1")
        svc.points.award(silver.id, "borrow", actor="test")  # 255
        svc.attendance.import_csv(f"member_id\n{silver.id}\n", "pulinet_event", "PULINET day", actor="test")  # 275
        assert Member.get_by_id(silver.id).tier == "silver"
        report = svc.attendance.import_csv(
            f"member_id\n{gold.id}\n{silver.id}\n", "db_training", "Scopus", actor="test"
        )
        assert len(report.credited) == 2
        earned = {e.member_id: e.points for e in LedgerEntry.select().where(LedgerEntry.activity == "db_training")}
        assert earned == {gold.id: 20, silver.id: 10}  # the list credited by each member's tier at the time
        m = Member.get_by_id(silver.id)
        assert (m.tier, m.tier_basis, m.balance) == ("gold", "points", 285)  # promoted by the list's credit
        [change] = [h for h in svc.ledger.history(silver.id) if h["source"] == "tier"]
        assert "285 points earned in 1/2569 (promotion at 280)" in change["note"]
        assert ledger_problems() == []
    finally:
        close_store()


def test_manual_tier_needs_a_reason_is_recorded_and_not_voidable(svc):
    m = svc.members.add("Malee", UID)
    with pytest.raises(ServiceError, match="reason is required"):
        svc.terms.set_tier(m.id, "gold", reason="  ")
    with pytest.raises(ServiceError, match="tier must be one of"):
        svc.terms.set_tier(m.id, "platinum", reason="x")
    svc.terms.set_tier(m.id, "gold", reason="library sponsor", actor="test")
    [change] = LedgerEntry.select().where(LedgerEntry.source == "tier")
    with pytest.raises(ServiceError, match="tier change"):
        svc.points.void(change.id, "oops")
    # the tier's own tables: a gold card with 0 points borrows 15 books (the shipped gold floor)
    svc.points.redeem(m.id, "fine_discount", points=250)
    assert rules.privileges(0, svc.prog, "gold")["borrow"]["books"] == 15
    assert rules.privileges(0, svc.prog, "silver")["borrow"]["books"] == 10


# --------------------------------------------------------------------------- partner shops


def test_partner_shops_by_the_programmes_names_and_aliases(svc, clock):
    m = svc.members.add("Malee", UID)
    for typed, shop in (
        ("Oasis สาขา 1", "Oasis สาขา 1"),
        ("พีผึ้ง", "พีผึ้ง"),
        ("ศูนย์หนังสือฯ", "ศูนย์หนังสือฯ"),
    ):
        outcome, e = svc.points.award(m.id, "partner_purchase", item=typed)
        assert (outcome, e.item) == ("credited", shop)
    # normalised spacing and the old names land on the same shop, the same day: once only
    assert svc.points.award(m.id, "partner_purchase", item="  Oasis   สาขา 1 ")[0] == "limit_reached"
    assert svc.points.award(m.id, "partner_purchase", item="Oasis branch 1")[0] == "limit_reached"
    assert svc.points.award(m.id, "partner_purchase", item="พี่ผึ้ง")[0] == "limit_reached"
    assert svc.points.award(m.id, "partner_purchase", item="WU Book Center")[0] == "limit_reached"
    with pytest.raises(ServiceError, match="unknown partner shop"):
        svc.points.award(m.id, "partner_purchase", item="Oasis สาขา 9")


def test_a_stamp_card_is_credited_for_the_stamps_date_within_the_maximum_tap_age(svc, clock):
    m = svc.members.add("Malee", UID)
    clock.set(date(2026, 7, 20))
    outcome, e = svc.points.award(m.id, "partner_purchase", item="More Coffee", at="2026-07-10")
    assert (outcome, e.day) == ("credited", date(2026, 7, 10))
    with pytest.raises(ServiceError, match="older than 30 days"):
        svc.points.award(m.id, "partner_purchase", item="More Coffee", at="2026-06-15")


def test_a_reader_at_a_shop_credits_that_shop(svc):
    svc.members.add("Malee", UID)
    with pytest.raises(ServiceError, match="unknown partner shop"):
        svc.devices.add("shop-x", "counter", activity="partner_purchase", settings={"shop": "Nowhere"})
    with pytest.raises(ServiceError, match="partner_purchase"):
        svc.devices.add("shop-y", "counter", activity="borrow", settings={"shop": "พีผึ้ง"})
    d = svc.devices.add("shop-1", "counter", activity="partner_purchase", settings={"shop": "พี่ผึ้ง"})
    assert d.settings["shop"] == "พีผึ้ง"
    r = tap(svc, "shop-1")
    assert (r.outcome, r.points) == ("credited", 5)
    assert LedgerEntry.get(LedgerEntry.ref == r.tap_id).item == "พีผึ้ง"


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"terms": {"groups": {"U1": {"term": "weekly"}}}}, "terms.groups.U1.term"),
        ({"terms": {"on_expiry": "burn"}}, "terms.on_expiry"),
        ({"terms": {"renewal_fee_baht": -5}}, "terms.renewal_fee_baht"),
        ({"terms": {"colour": 1}}, "terms: unknown key"),
        ({"tiers": {"gold": {"multiplier": 0}}}, "tiers.gold.multiplier"),
        ({"tiers": {"gold": {"points": {"swim": 5}}}}, "tiers.gold.points.swim"),
        ({"tiers": {"gold": {"groups": ["U9"]}}}, "tiers.gold.groups"),
        ({"tiers": {"gold": {"privileges": {"locker": {"normal_days": -1}}}}}, "tiers.gold.privileges.locker"),
        ({"tiers": {"gold": {"earned_at": "many"}}}, "tiers.gold.earned_at"),
        ({"privileges": {"basis": "mood"}}, "privileges.basis"),
        ({"partners": {"aliases": {"Old": "Missing"}}}, "partners.aliases.Old"),
    ],
)
def test_bad_terms_and_tiers_are_refused_naming_the_field(overrides, names):
    with pytest.raises(ConfigError, match=names.replace(".", r"\.")):
        load(overrides=overrides)


def test_a_library_with_its_own_shops_drops_the_shipped_aliases():
    prog = load(overrides={"partners": {"shops": ["Shop A"]}})
    assert prog.partners == ("Shop A",) and rules.partner_shop("shop  a", prog) == "Shop A"
    assert rules.partner_shop("Oasis branch 1", prog) is None


def test_the_kiosk_member_screen_says_which_points_count(svc):
    from kiosk.present import member_view

    m = svc.members.add("Malee", UID, group="U1")
    svc.points.redeem(m.id, "fine_discount", points=250)
    a = svc.reads.answer_query("kiosk-1", Query(query_id="q1", uid=UID))
    assert member_view(a, "en")["privileges_title"] == "Your privileges now (from 250 points earned in term 1/2569)"
    assert "250 คะแนนที่ได้รับในภาค 1/2569" in member_view(a, "th")["privileges_title"]
    assert member_view(a, "en")["balance"] == "0"
