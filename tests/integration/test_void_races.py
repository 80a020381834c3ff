"""Two staff voiding the same entry at once, on PostgreSQL (two console workers, or a replica each).

On SQLite a void's ``BEGIN IMMEDIATE`` keeps the second one out until the first commits, and
it then finds the void. On PostgreSQL (READ COMMITTED) both looked for a void before either
committed, and the second one's reversal broke the UNIQUE ``void_of``: an IntegrityError — a
500 in the console, a traceback from the CLI — instead of "entry N is already voided".
"""

from __future__ import annotations

import threading

from server.services import ServiceError
from server.services.points import Points
from server.store import LedgerEntry
from tests.helpers import close_store, fresh_pg_database, ledger_problems, new_uid, open_service


def _void_together(svc, monkeypatch, entries: list[int]) -> list[tuple[str, str]]:
    """Void each of ``entries`` on a thread of its own, both having looked for a void before either writes."""
    both = threading.Barrier(len(entries))
    waited = threading.local()
    real = Points._check_not_paid_in_ils

    def after_the_check(entry):
        if not getattr(waited, "done", False):
            waited.done = True
            try:
                both.wait(3)  # each void has found no void of its entry yet
            except threading.BrokenBarrierError:
                pass  # the other one waits for this one's lock (PostgreSQL): it finds the void once let in
        return real(entry)

    monkeypatch.setattr(Points, "_check_not_paid_in_ils", staticmethod(after_the_check))
    outcomes: list[tuple[str, str]] = []

    def void(entry_id: int, who: str) -> None:
        try:
            svc.points.void(entry_id, "typed twice", actor=who)
            outcomes.append(("voided", who))
        except ServiceError as exc:
            outcomes.append(("refused", str(exc)))
        except Exception as exc:  # the bug: the database's error, not a refusal
            outcomes.append(("error", f"{type(exc).__name__}: {exc}"))
        finally:
            close_store()

    threads = [threading.Thread(target=void, args=(e, f"web:{n}")) for n, e in enumerate(entries)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    monkeypatch.undo()
    return outcomes


def test_two_voids_of_one_entry_at_once_void_it_once_and_refuse_the_other(pg_url, pg_template, monkeypatch):
    with fresh_pg_database(pg_url, template=pg_template) as url:
        svc = open_service(url)
        try:
            m = svc.members.add("Somchai", new_uid())
            _, entry = svc.points.award(m.id, "borrow", actor="desk")  # 255
            outcomes = _void_together(svc, monkeypatch, [entry.id, entry.id])
            assert sorted(kind for kind, _ in outcomes) == ["refused", "voided"], outcomes
            assert next(text for kind, text in outcomes if kind == "refused") == f"entry {entry.id} is already voided"
            assert LedgerEntry.select().where(LedgerEntry.void_of == entry.id).count() == 1
            assert svc.ledger.balance(m.id) == 250
            assert ledger_problems() == []
        finally:
            close_store()


def test_voids_of_a_transfers_two_legs_at_once_void_it_once(pg_url, pg_template, monkeypatch):
    """A transfer's legs are voided together; staff voiding the out leg on one member's page and the in leg
    on the other's at the same moment lock different entries, so the second one meets the first one's void
    at its INSERT: refused as already voided, and nothing of it is kept."""
    with fresh_pg_database(pg_url, template=pg_template) as url:
        svc = open_service(url)
        try:
            a, b = svc.members.add("Somchai", new_uid()), svc.members.add("Somsri", new_uid())
            out_leg, in_leg = svc.points.transfer(a.id, b.id, 100, actor="desk")
            outcomes = _void_together(svc, monkeypatch, [out_leg.id, in_leg.id])
            assert sorted(kind for kind, _ in outcomes) == ["refused", "voided"], outcomes
            assert "is already voided" in next(text for kind, text in outcomes if kind == "refused")
            voids = LedgerEntry.select().where(LedgerEntry.void_of.in_([out_leg.id, in_leg.id]))
            assert sorted(e.void_of_id for e in voids) == [out_leg.id, in_leg.id]  # each leg once
            assert (svc.ledger.balance(a.id), svc.ledger.balance(b.id)) == (250, 250)
            assert ledger_problems() == []
        finally:
            close_store()


def test_a_pledge_voided_while_its_request_is_declined_comes_back_once(pg_url, pg_template, monkeypatch):
    """Staff void a book request's pledge on the member page while the library declines the request: each
    found no void of the pledge; whichever inserts second meets the other's — the points come back once,
    and the decline is recorded with that refund (or, the void coming second, the void is refused)."""
    from server.services.ledger import Ledger

    with fresh_pg_database(pg_url, template=pg_template) as url:
        svc = open_service(url)
        try:
            m = svc.members.add("Somchai", new_uid())
            f = svc.feedback.submit(channel="counter", category="book_request", text="Dune", member=m.id, pledge=True)
            both = threading.Barrier(2)

            def wait():
                try:
                    both.wait(3)
                except threading.BrokenBarrierError:
                    pass

            real_check, real_give_back = Points._check_not_paid_in_ils, Ledger.give_back
            monkeypatch.setattr(Points, "_check_not_paid_in_ils", staticmethod(lambda e: (wait(), real_check(e))[1]))
            monkeypatch.setattr(Ledger, "give_back", lambda self, *a: (wait(), real_give_back(self, *a))[1])
            outcomes: list = []

            def run(name, operation):
                try:
                    operation()
                    outcomes.append((name, "done"))
                except ServiceError as exc:
                    outcomes.append((name, str(exc)))
                except Exception as exc:
                    outcomes.append((name, f"error {type(exc).__name__}: {exc}"))
                finally:
                    close_store()

            threads = [
                threading.Thread(target=run, args=("void", lambda: svc.points.void(f["pledge_entry"], "x"))),
                threading.Thread(target=run, args=("decline", lambda: svc.feedback.decide(f["id"], "declined"))),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            monkeypatch.undo()
            said = dict(outcomes)
            assert said["decline"] == "done", outcomes  # declined either way
            assert said["void"] in ("done", f"entry {f['pledge_entry']} is already voided"), outcomes
            [void] = LedgerEntry.select().where(LedgerEntry.void_of == f["pledge_entry"])
            assert svc.feedback.get(f["id"])["refund_entry"] == void.id
            assert svc.ledger.balance(m.id) == 250
            assert ledger_problems() == []
        finally:
            close_store()
