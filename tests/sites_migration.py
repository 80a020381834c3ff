"""Build a single-library database from before sites (issue 16) and migrate it in place.

Used by ``tests/integration/test_sites_migration.py`` (a smaller database, ``make test``) and
``tests/chaos/test_sites_migration_full.py`` (50,000 members and 2,000,000 ledger entries,
``make chaos``). The database is made by the current code, then the ``sites`` columns are
dropped and its migration counter removed — exactly the schema a database had before the
``sites`` namespace existed — and filled with set-based SQL (one ``INSERT … SELECT`` over a
recursive CTE per table).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

#: activities the made-up history uses, with their points (redeem entries are negative)
ACTIVITIES = (("entry", 5), ("borrow", 5), ("late_stay", 10), ("pulinet_event", 20), ("redeem", -25))


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
        'INSERT INTO member (name, "group", tier, status, staff, balance, created_at, updated_at) '
        "SELECT 'Member ' || i, 'U' || (1 + i % 5), CASE WHEN i % 10 = 0 THEN 'gold' ELSE 'silver' END, "
        "'active', 0, 0, ?, ? FROM n",
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
