"""Entries from before sign-ups and pledges recorded their site get it (migration namespace ``site_entries``).

Until December 2026 a sign-up, a book-request pledge and the points given back for a pledge or a
redemption recorded no site, so a branch's reports and dashboard did not count its own members'
sign-ups and requests (the default site did). The migration gives them the site a new entry gets:
here a database where two sites' staff enrolled members, took a pledge, gave it back and gave
back a refused redemption is taken back to what the old code wrote (those sites NULL), then
migrated — on a real SQLite file and a real PostgreSQL database.
"""

from __future__ import annotations

import pytest

from server import store
from server.domain import config
from server.services.sites import Scope
from server.store import LedgerEntry, Member
from server.web import queries, reports
from tests.helpers import close_store, open_service
from tests.site_support import TWO_SITES

B_ONLY = Scope(frozenset({"B"}))


def _by_site(svc, site: str) -> dict:
    """What B's (or A's) points report and dashboard show for today: activity -> (entries, earned, redeemed, voided)."""
    today = svc.sites.day_of(site)
    rows = reports.build("points", svc, today, today, [site]).rows
    shown = {r["activity"]: (r["entries"], r["earned"], r["redeemed"], r["voided"]) for r in rows}
    return {"report": shown, "dashboard": queries.dashboard(svc, Scope(frozenset({site})))["points_today"]}


def _totals() -> tuple:
    """Every member's balance, the entries' count and sum: what a migration must not change."""
    balances = {m.id: m.balance for m in Member.select(Member.id, Member.balance)}
    count = LedgerEntry.select().count()
    return balances, count, sum(e.points for e in LedgerEntry.select(LedgerEntry.points))


@pytest.fixture
def old_entries(any_db_url):
    """Two sites; entries written by today's code, then their sites taken back to what the old code wrote."""
    svc = open_service(any_db_url, prog=config.load(overrides=TWO_SITES))
    at_b = svc.members.add("Member B", "04BBBB0000000002", scope=B_ONLY)  # enrolled by B's staff: home B
    at_a = svc.members.add("Member A", "04AAAA0000000001", home_site="A")
    unplaced = svc.members.add("Member of no site", "04CCCC0000000004")  # the CLI: no home site
    moved = svc.members.add("Member moved", "04DDDD0000000005", home_site="A")
    Member.update(home_site="B").where(Member.id == moved.id).execute()  # moved to B after signing up at A
    request = svc.feedback.submit(
        channel="counter", category="book_request", text="Dune", member=at_b.id, pledge=True, scope=B_ONLY
    )
    svc.feedback.answer(request["id"], "Sorry, out of print.", decision="declined", scope=B_ONLY)
    svc.feedback.submit(  # a request still open: its pledge held
        channel="counter", category="book_request", text="Emma", member=at_b.id, pledge=True, scope=B_ONLY
    )
    svc.points.redeem(at_b.id, "locker_day", units=1, scope=B_ONLY)
    redeemed = LedgerEntry.get((LedgerEntry.member == at_b.id) & (LedgerEntry.source == "redeem"))
    assert redeemed.site == "B"  # redemptions recorded their site before the change too
    with store.db.atomic():
        svc.ledger.give_back(redeemed, "the library system refused the payment", "system")
    award = svc.points.award(at_a.id, "borrow", actor="admin")[1]  # a staff award made at A: its site stays
    svc.members.set(at_b.id, tier="gold", reason="card upgrade", scope=B_ONLY)  # a tier change: B's

    made_now = {(e.member_id, e.source, e.activity, e.points): e.site for e in LedgerEntry.select()}
    # what the old code wrote: no site for sign-ups, pledges and what was given back (the moved member's
    # sign-up was made after the change: it keeps A)
    old = (LedgerEntry.source.in_(["signup", "feedback", "void", "tier"])) & ~(
        (LedgerEntry.member == moved.id) & (LedgerEntry.source == "signup")
    )
    LedgerEntry.update(site=None).where(old).execute()
    store.Counter.delete().where(store.Counter.key == "schema:site_entries").execute()
    assert made_now[(at_a.id, "admin", "borrow", award.points)] == "A"
    ids = {"B": at_b.id, "A": at_a.id, "none": unplaced.id, "moved": moved.id}
    yield svc, ids, made_now
    close_store()


def test_old_sign_ups_pledges_and_give_backs_count_at_their_site_after_the_migration(old_entries):
    svc, ids, made_now = old_entries
    before, totals = {s: _by_site(svc, s) for s in ("A", "B")}, _totals()
    # the old entries count at the default site A: B's report shows only its redemption
    assert "signup" not in before["B"]["report"] and "book_request" not in before["B"]["report"], before
    assert before["A"]["report"]["signup"][0] == 4, before

    store.upgrade()  # what privcard server does at start-up
    assert store.counter("schema:site_entries") == len(store.EXTRA_MIGRATIONS["site_entries"])
    sites = {(e.member_id, e.source, e.activity, e.points): e.site for e in LedgerEntry.select()}
    # placed as today's code places them, the moved member's sign-up left at A, the no-site member's at none
    assert sites == made_now, {k: (v, made_now[k]) for k, v in sites.items() if made_now[k] != v}
    signup = svc.prog.activities["signup"].points
    assert {m: s for (m, src, _a, _p), s in sites.items() if src == "signup"} == {
        ids["B"]: "B",
        ids["A"]: "A",
        ids["none"]: None,
        ids["moved"]: "A",
    }
    after = {s: _by_site(svc, s) for s in ("A", "B")}
    price = svc.prog.book_request_points
    cost = -LedgerEntry.get(LedgerEntry.source == "redeem").points
    # B counts its member's sign-up, both pledges and the one given back, and the redemption given back
    assert after["B"]["report"]["signup"] == (1, signup, 0, 0), after
    assert after["B"]["report"]["book_request"] == (2, 0, 2 * price, -price), after
    assert after["B"]["report"]["redeem:locker_day"] == (1, 0, cost, -cost), after
    assert after["A"]["report"]["signup"][0] == 3 and "book_request" not in after["A"]["report"], after
    assert after["B"]["dashboard"] - before["B"]["dashboard"] == signup
    assert before["A"]["dashboard"] - after["A"]["dashboard"] == signup
    assert _totals() == totals  # no balance, entry or point moved

    # a second run changes nothing
    store._site_entries_m1(None)
    assert {(e.member_id, e.source, e.activity, e.points): e.site for e in LedgerEntry.select()} == sites
    assert _totals() == totals


def test_an_old_void_of_a_tap_is_placed_at_its_gates_site(any_db_url):
    """A tap's entry names only its gate; its void named nothing, so a branch's report showed the credit
    and the default site the reversal. The migration places such a void at the gate's site."""
    from datetime import UTC, datetime

    from broker.contract import Tap

    svc = open_service(any_db_url, prog=config.load(overrides=TWO_SITES))
    try:
        m = svc.members.add("Member B", "04BBBB0000000002", home_site="B")
        svc.devices.add("in-B", "gate", site="B", direction="in")
        now = datetime.now(UTC)
        svc.taps.decide("in-B", Tap(tap_id="t1", uid="04BBBB0000000002", at=now, clock_ok=True), now)
        [credit] = LedgerEntry.select().where((LedgerEntry.member == m.id) & (LedgerEntry.activity == "entry"))
        [rev] = svc.points.void(credit.id, "tapped by mistake")
        assert (credit.site, credit.device, LedgerEntry.get_by_id(rev.id).site) == (None, "in-B", "B")
        LedgerEntry.update(site=None).where(LedgerEntry.id == rev.id).execute()  # what the old code wrote
        store.Counter.delete().where(store.Counter.key == "schema:site_entries").execute()
        totals = _totals()
        store.upgrade()
        assert LedgerEntry.get_by_id(rev.id).site == "B"
        assert _totals() == totals
    finally:
        close_store()
