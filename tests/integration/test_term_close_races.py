"""The term close against what staff do meanwhile, on PostgreSQL (issue 13's ``on_expiry = "forfeit"``).

The close reads a chunk of members whose term ended, then claims each lapse with one
conditional UPDATE. On SQLite the chunk's ``BEGIN IMMEDIATE`` keeps every other writer out
until it commits; on PostgreSQL (READ COMMITTED) a renewal can commit between the chunk's
read and a member's claim, so the claim itself must still find the term ended.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from server.domain.config import load
from server.services.terms import Terms
from server.store import LedgerEntry, Member
from tests.helpers import close_store, fresh_pg_database, ledger_problems, new_uid, open_service

BKK = ZoneInfo("Asia/Bangkok")


def test_a_renewal_committed_while_the_close_reads_its_chunk_forfeits_nothing(pg_url, pg_template, monkeypatch):
    """Before: the claim checked only ``lapsed_on IS NULL``, so the member who had just renewed
    (and paid the renewal fee) lost every point to a forfeit, and was marked lapsed in their
    new term."""
    now = datetime(2026, 11, 1, 10, tzinfo=BKK).astimezone(UTC)  # semester 1 ended on 10-31
    with fresh_pg_database(pg_url, template=pg_template) as url:
        svc = open_service(url, prog=load(overrides={"terms": {"on_expiry": "forfeit"}}), clock=lambda: now)
        try:
            svc.members.add("Malee", new_uid(), group="U1", valid_until="2026-10-31")
            late = svc.members.add("Somchai", new_uid(), group="U1", valid_until="2026-10-31")
            real = Terms._lapse
            renewed = []

            def lapse_after_a_renewal(self, m, day, forfeit, dry_run, actor):
                if m.id == late.id and not renewed:
                    # the counter renews this member now, on its own connection, and commits
                    worker = threading.Thread(target=lambda: renewed.append(svc.terms.renew(late.id, actor="desk")))
                    worker.start()
                    worker.join(30)
                    assert renewed, "the renewal did not finish"
                return real(self, m, day, forfeit, dry_run, actor)

            monkeypatch.setattr(Terms, "_lapse", lapse_after_a_renewal)
            report = svc.terms.close(date(2026, 11, 1), actor="server:daily")
            monkeypatch.undo()
            assert renewed[0]["valid_until"] == "2027-03-31"
            forfeited = {r["member"]: r["forfeited"] for r in report["lapsed"]}
            assert forfeited[late.id] == 0
            assert report["forfeited_points"] == 250  # Malee's only
            m = Member.get_by_id(late.id)
            assert (m.balance, m.lapsed_on, m.valid_until) == (250, None, date(2027, 3, 31))
            assert not LedgerEntry.select().where(LedgerEntry.member == late.id, LedgerEntry.activity == "forfeit")
            assert ledger_problems() == []
        finally:
            close_store()


def test_two_closes_at_once_put_a_tier_won_in_the_last_term_back_once(pg_url, pg_template, monkeypatch):
    """The new term's tier reset (a member who renewed early, gold won by points in the term before)
    on PostgreSQL, by two replicas' daily rounds at once: one tier change, one history entry."""
    clock = [datetime(2026, 7, 1, 10, tzinfo=BKK)]
    prog = load(overrides={"tiers": {"gold": {"earned_at": 260}}})
    with fresh_pg_database(pg_url, template=pg_template) as url:
        svc = open_service(url, prog=prog, clock=lambda: clock[0])
        try:
            m = svc.members.add("Student", new_uid(), group="U1")
            svc.points.award(m.id, "borrow", actor="desk")
            svc.points.award(m.id, "volunteer", item="s1", actor="desk")  # 265: gold
            assert Member.get_by_id(m.id).tier == "gold"
            clock[0] = datetime(2026, 10, 20, 10, tzinfo=BKK)
            svc.terms.renew(m.id, actor="desk")
            assert Member.get_by_id(m.id).tier == "gold"
            clock[0] = datetime(2026, 11, 1, 0, 5, tzinfo=BKK)
            both = threading.Barrier(2)
            real = Terms._new_term_tiers

            def together(self, day, dry_run, actor):
                try:
                    both.wait(5)
                except threading.BrokenBarrierError:
                    pass
                return real(self, day, dry_run, actor)

            monkeypatch.setattr(Terms, "_new_term_tiers", together)
            reports: list = []

            def close(who):
                try:
                    reports.append(svc.terms.close(actor=who))
                finally:
                    close_store()

            threads = [threading.Thread(target=close, args=(f"server:{n}",)) for n in "ab"]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            monkeypatch.undo()
            assert sorted(len(r["tiers"]) for r in reports) == [0, 1]
            assert Member.get_by_id(m.id).tier == "silver"
            changes = LedgerEntry.select().where(LedgerEntry.member == m.id, LedgerEntry.source == "tier")
            assert [e.item for e in changes.order_by(LedgerEntry.id)] == ["silver→gold", "gold→silver"]
            assert ledger_problems() == []
        finally:
            close_store()
