"""Build a single-library database from before sites (issue 16) and migrate it in place.

Used by ``tests/integration/test_sites_migration.py`` (a smaller database, ``make test``) and
``tests/chaos/test_sites_migration_full.py`` (50,000 members and 2,000,000 ledger entries,
``make chaos``), both through :func:`check_migrates_in_place`. The database is made by the current code, then the ``sites`` columns are
dropped and its migration counter removed — exactly the schema a database had before the
``sites`` namespace existed — and filled with set-based SQL (one ``INSERT … SELECT`` over a
recursive CTE per table).
"""

from __future__ import annotations

import sqlite3
import time
from datetime import date
from pathlib import Path

#: activities the made-up history uses, with their points (redeem entries are negative)
ACTIVITIES = (("entry", 5), ("borrow", 5), ("late_stay", 10), ("pulinet_event", 20), ("redeem", -25))
#: a day after every made-up entry (the history spans 300 days from 2026-01-01)
DAY_AFTER = date(2026, 11, 23)


def make_pre_sites_database(path: Path, members: int, entries: int) -> dict:
    """A database as it was before sites, holding ``members`` members and ``entries`` ledger entries.

    Returns the seconds each step took.
    """
    from server import store
    from tests.helpers import close_store

    timings = {}
    t0 = time.perf_counter()
    close_store()
    store.connect(f"sqlite:///{path}")  # today's schema (every namespace), then taken back to before sites
    close_store()
    con = sqlite3.connect(path)
    con.execute("DROP INDEX IF EXISTS member_home_site")
    for table, column in (
        ("device", "site"),
        ("member", "home_site"),
        ("ledger_entry", "site"),
        ("web_staff", "sites"),
    ):
        if column in {r[1] for r in con.execute(f"PRAGMA table_info({table})")}:
            con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    con.execute("DELETE FROM meta WHERE key = 'schema:sites'")
    con.commit()
    timings["schema"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stamp = "2026-01-01 00:00:00.000000"
    con.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        'INSERT INTO member (name, "group", tier, status, staff, balance, created_at, updated_at, '
        "language, consent_marketing, consent_notices, consent_statement, consent_ranking) "
        "SELECT 'Member ' || i, 'U' || (1 + i % 5), CASE WHEN i % 10 = 0 THEN 'gold' ELSE 'silver' END, "
        "'active', 0, 0, ?, ?, 'th', 0, 1, 0, 1 FROM n",
        (members, stamp, stamp),
    )
    con.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        "INSERT INTO card (uid, member_id, status, issued_at, sun) "
        "SELECT printf('04%012X', i), i, 'active', ?, 0 FROM n",
        (members, stamp),
    )
    for i, (code, _points) in enumerate(ACTIVITIES):
        con.execute(
            "INSERT INTO device (id, kind, direction, activity, settings, revision, published_revision, "
            "state, created_at, updated_at) VALUES (?, 'gate', 'in', ?, '{}', 1, 0, 'unknown', ?, ?)",
            (f"gate-{i}", code, stamp, stamp),
        )
    timings["members"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    cases = " ".join(f"WHEN {i} THEN '{code}'" for i, (code, _p) in enumerate(ACTIVITIES))
    points = " ".join(f"WHEN {i} THEN {p}" for i, (_c, p) in enumerate(ACTIVITIES))
    con.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :n - 1) "
        "INSERT INTO ledger_entry (member_id, activity, points, day, item, at, source, device, ref, created_at) "
        f"SELECT 1 + i % :m, CASE i % 5 {cases} END, CASE i % 5 {points} END, "
        "date('2026-01-01', '+' || ((i / :m) % 300) || ' days'), '', :stamp, "
        "CASE i % 5 WHEN 4 THEN 'redeem' ELSE 'tap' END, 'gate-' || (i % 5), 't' || i, :stamp FROM n",
        {"n": entries, "m": members, "stamp": stamp},
    )
    con.execute(
        "UPDATE member SET balance = (SELECT COALESCE(SUM(points), 0) FROM ledger_entry e WHERE e.member_id = member.id)"
    )
    con.commit()
    con.close()
    timings["entries"] = time.perf_counter() - t0
    return timings


def per_member(path: Path) -> tuple[dict, dict, int, int]:
    """(member id -> (entries, sum of points), member id -> balance, entries, sum) read straight from the file."""
    con = sqlite3.connect(path)
    try:
        sums = {
            m: (n, s)
            for m, n, s in con.execute("SELECT member_id, COUNT(*), SUM(points) FROM ledger_entry GROUP BY member_id")
        }
        balances = dict(con.execute("SELECT id, balance FROM member"))
        count, total = con.execute("SELECT COUNT(*), SUM(points) FROM ledger_entry").fetchone()
        return sums, balances, count, total
    finally:
        con.close()


def migrate(path: Path) -> float:
    """Run the schema upgrade on the file (what ``privcard server`` does at start-up); its seconds."""
    from server import store
    from tests.helpers import close_store

    close_store()
    store.connect(f"sqlite:///{path}", upgrade_schema=False)
    t0 = time.perf_counter()
    store.upgrade()
    return time.perf_counter() - t0


def check_migrates_in_place(tmp_path: Path, members: int, entries: int, record_property, capsys) -> None:
    """The test of ``tests/integration/test_sites_migration.py`` (and its full size in
    ``tests/chaos/test_sites_migration_full.py``): build, migrate, compare every member's
    entries, sum and balance before and after, then tap on the migrated database."""
    from datetime import UTC

    from broker.contract import Tap
    from server import store
    from server.domain.config import load
    from tests.helpers import close_store, local_time, open_service

    path = tmp_path / "library.db"
    built = make_pre_sites_database(path, members, entries)
    con = sqlite3.connect(path)
    assert "site" not in {r[1] for r in con.execute("PRAGMA table_info(device)")}  # really before sites
    con.close()
    sums, balances, count, total = per_member(path)
    assert (count, len(balances)) == (entries, members)
    assert all(balances[m] == s for m, (_n, s) in sums.items())  # the made-up ledger is consistent

    seconds = migrate(path)
    try:
        record_property("migration_seconds", round(seconds, 3))
        with capsys.disabled():
            print(
                f"\nsites migration of {members:,} members / {entries:,} entries: {seconds * 1000:.1f} ms "
                f"(building the database took {sum(built.values()):.1f} s)"
            )
        assert store.counter("schema:sites") == len(store.EXTRA_MIGRATIONS["sites"])
        for table, column in (("device", "site"), ("member", "home_site"), ("ledger_entry", "site")):
            assert column in {c.name for c in store.db.get_columns(table)}
        # no row was rewritten: every site column is NULL, which means the default site
        assert store.Member.select().where(store.Member.home_site.is_null(False)).count() == 0
        assert store.Device.select().where(store.Device.site.is_null(False)).count() == 0
        close_store()
        assert per_member(path) == (sums, balances, count, total)
        con = sqlite3.connect(path)
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        con.close()

        # the migrated database works on: a tap at an old device counts at the default site
        day = local_time(DAY_AFTER, 10)
        svc = open_service(f"sqlite:///{path}", prog=load(), clock=lambda: day.astimezone(UTC))
        assert [s.code for s in svc.sites.list()] == ["MAIN"]
        assert svc.sites.device_sites()["gate-0"] == "MAIN"
        r = svc.taps.decide("gate-1", Tap(tap_id="after-migration", uid="04000000000001", at=day, clock_ok=True))
        assert (r.outcome, r.points, r.balance) == ("credited", 5, balances[1] + 5)
    finally:
        close_store()
