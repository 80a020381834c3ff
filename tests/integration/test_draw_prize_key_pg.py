"""A draw's prize is awarded whatever the draw's id, on PostgreSQL.

A prize's accrual key is ``("draw:<id>", "")`` in ``accrual.day``, a VARCHAR(10) made for
``YYYY-MM-DD`` and ``once``: from draw 100,000 on (``draw:100000``, 11 characters)
PostgreSQL refused the award (``value too long for type character varying(10)``; SQLite
does not check lengths). The migration namespace ``accrual_key`` widens the column to 40
characters; here a draw numbered past it is created, run and awarded, and a database
whose column is still VARCHAR(10) is migrated to 40.
"""

from __future__ import annotations

from server import store
from server.store import Accrual, LedgerEntry
from tests.helpers import close_store, fresh_pg_database, new_uid, open_service


def _day_width() -> int:
    row = store.db.execute_sql(
        "SELECT character_maximum_length FROM information_schema.columns "
        "WHERE table_name = 'accrual' AND column_name = 'day'"
    ).fetchone()
    return row[0]


def test_a_draw_numbered_past_99999_awards_its_prize_on_postgresql(pg_url, pg_template):
    with fresh_pg_database(pg_url, template=pg_template) as url:
        svc = open_service(url)
        try:
            store.db.execute_sql("SELECT setval(pg_get_serial_sequence('prize_draw', 'id'), 1234566)")
            m = svc.members.add("Winner", new_uid())
            d = svc.draws.create("New year draw", winners=1, prize_points=50, actor="t")
            assert d["id"] == 1234567
            svc.draws.run(d["id"], actor="t")
            svc.draws.award(d["id"], actor="t")
            prize = LedgerEntry.get((LedgerEntry.member == m.id) & (LedgerEntry.source == "prize"))
            assert (prize.points, prize.item) == (50, "draw:1234567")
            assert Accrual.get(Accrual.entry == prize.id).day == "draw:1234567"
            assert svc.ledger.balance(m.id) == 300
        finally:
            close_store()


def test_the_migration_widens_an_old_databases_key_column(pg_url, pg_template):
    with fresh_pg_database(pg_url, template=pg_template) as url:
        open_service(url)
        try:
            # as a database made before: the column at its old width, the namespace not applied
            store.db.execute_sql("ALTER TABLE accrual ALTER COLUMN day TYPE VARCHAR(10)")
            store.db.execute_sql("DELETE FROM meta WHERE key = 'schema:accrual_key'")
            assert _day_width() == 10
            store.upgrade()
            assert _day_width() == 40
            store.upgrade()  # a second run changes nothing
            assert _day_width() == 40
        finally:
            close_store()
