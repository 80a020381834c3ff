"""A single-library database migrates in place to one default site (issue 16, namespace ``sites``).

The database is made by the test (``tests/sites_migration.py``): the full size — 50,000
members, 2,000,000 ledger entries — is marked ``slow`` (about 25 s here, most of it
building the database); a 2,000-member copy runs with the fast tests. Every member's entry
count, sum of points and balance, and the totals, are compared before and after; the
migration's own time is printed (``-s``) and kept as a test property.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC

import pytest

from broker.contract import Tap
from server import store
from tests import sites_migration as sm
from tests.helpers import close_store, local_time

SIZES = [
    pytest.param(2_000, 80_000, id="2k-members-80k-entries"),
    pytest.param(50_000, 2_000_000, id="50k-members-2M-entries", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("members", "entries"), SIZES)
def test_a_single_library_database_migrates_to_one_default_site_keeping_every_entry(
    tmp_path, members, entries, record_property, capsys
):
    path = tmp_path / "library.db"
    built = sm.make_pre_sites_database(path, members, entries)
    con = sqlite3.connect(path)
    assert "site" not in {r[1] for r in con.execute("PRAGMA table_info(device)")}  # really before sites
    con.close()
    sums, balances, count, total = sm.per_member(path)
    assert (count, len(balances)) == (entries, members)
    assert all(balances[m] == s for m, (_n, s) in sums.items())  # the made-up ledger is consistent

    seconds = sm.migrate(path)
    try:
        record_property("migration_seconds", round(seconds, 3))
        with capsys.disabled():
            print(
                f"\nsites migration of {members:,} members / {entries:,} entries: {seconds * 1000:.1f} ms "
                f"(building the database took {sum(built.values()):.1f} s)"
            )
        assert store.counter("schema:sites") == 1
        for table, column in (("device", "site"), ("member", "home_site"), ("ledger_entry", "site")):
            assert column in {c.name for c in store.db.get_columns(table)}
        # no row was rewritten: every site column is NULL, which means the default site
        assert store.Member.select().where(store.Member.home_site.is_null(False)).count() == 0
        assert store.Device.select().where(store.Device.site.is_null(False)).count() == 0
        close_store()
        assert sm.per_member(path) == (sums, balances, count, total)
        con = sqlite3.connect(path)
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        con.close()

        # the migrated database works on: a tap at an old device counts at the default site
        from server.domain.config import load
        from tests.helpers import open_service

        day = local_time(sm_day(), 10)
        svc = open_service(f"sqlite:///{path}", prog=load(), clock=lambda: day.astimezone(UTC))
        assert [s.code for s in svc.sites.list()] == ["MAIN"]
        assert svc.sites.device_sites()["gate-0"] == "MAIN"
        r = svc.taps.decide("gate-1", Tap(tap_id="after-migration", uid="04000000000001", at=day, clock_ok=True))
        assert (r.outcome, r.points, r.balance) == ("credited", 5, balances[1] + 5)
    finally:
        close_store()


def sm_day():
    """A day after every made-up entry (the history spans 300 days from 2026-01-01)."""
    from datetime import date

    return date(2026, 11, 23)
