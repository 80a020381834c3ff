"""Build a single-library database from before sites (issue 16) and migrate it in place.

Used by ``tests/integration/test_sites_migration.py`` (a smaller database, ``make test``) and
``tests/chaos/test_sites_migration_full.py`` (50,000 members and 2,000,000 ledger entries,
``make chaos``), both through :func:`check_migrates_in_place` and
:func:`check_old_entries_get_their_sites`. The database is made by the current code, then the ``sites`` columns are
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
    # and before the entries of sites were placed (namespace ``site_entries``, after ``sites``)
    con.execute("DELETE FROM meta WHERE key IN ('schema:sites', 'schema:site_entries')")
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
        assert store.counter("schema:site_entries") == len(store.EXTRA_MIGRATIONS["site_entries"])
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


#: the programme of the library once its second building arrived
TWO_BUILDINGS = {
    "library": {"default_site": "MAIN"},
    "sites": {
        "MAIN": {"name_th": "หอสมุดกลาง", "name_en": "Central Library"},
        "BRANCH2": {"name_th": "ห้องสมุดคณะแพทยศาสตร์", "name_en": "Medical Library"},
    },
}
#: the day the made-up sign-ups and pledges are dated (before the rest of the history)
SIGNUP_DAY = date(2025, 12, 31)


def add_old_site_history(path: Path) -> dict:
    """What the code before December 2026 wrote once a library had two buildings, set-based as above.

    Members get home sites (a third MAIN, a third BRANCH2, a third none); every member a sign-up,
    every tenth a book-request pledge (given at BRANCH2, or at no recorded site for every thirtieth),
    every twentieth's pledge given back (a void) — each of those entries with no site, as that code
    wrote them — and balances follow. The ``site_entries`` migration is taken back.
    Returns how many of each it wrote.
    """
    stamp = "2025-12-31 05:00:00.000000"
    con = sqlite3.connect(path)
    try:
        con.execute("UPDATE member SET home_site = CASE id % 3 WHEN 0 THEN NULL WHEN 1 THEN 'MAIN' ELSE 'BRANCH2' END")
        (base,) = con.execute("SELECT MAX(id) FROM ledger_entry").fetchone()
        con.execute(
            "INSERT INTO ledger_entry (member_id, activity, points, day, item, at, source, created_at) "
            "SELECT id, 'signup', 250, ?, '', ?, 'signup', ? FROM member ORDER BY id",
            (SIGNUP_DAY, stamp, stamp),
        )
        (pledged_from,) = con.execute("SELECT MAX(id) FROM ledger_entry").fetchone()
        con.execute(
            "INSERT INTO ledger_entry (member_id, activity, points, day, item, at, source, note, created_at) "
            "SELECT id, 'book_request', -100, ?, 'feedback:member-' || id, ?, 'feedback', 'A book', ? "
            "FROM member WHERE id % 10 = 0 ORDER BY id",
            (SIGNUP_DAY, stamp, stamp),
        )
        # each request points at its pledge (the item names the member: nothing reads it here)
        con.execute(
            "INSERT INTO feedback (device, feedback_id, at, received_at, member, channel, category, text, status, "
            "pledge_points, pledge_entry, site) "
            "SELECT '', 'request-' || e.id, ?, ?, e.member_id, 'counter', 'book_request', 'A book', 'new', 100, e.id, "
            "CASE WHEN e.member_id % 30 = 0 THEN NULL ELSE 'BRANCH2' END "
            "FROM ledger_entry e WHERE e.id > ? AND e.source = 'feedback'",
            (stamp, stamp, pledged_from),
        )
        con.execute(
            "INSERT INTO ledger_entry (member_id, activity, points, day, item, at, source, void_of_id, note, created_at) "
            "SELECT member_id, activity, 100, ?, item, ?, 'void', id, 'declined', ? "
            "FROM ledger_entry WHERE id > ? AND source = 'feedback' AND member_id % 20 = 0",
            (SIGNUP_DAY, stamp, stamp, pledged_from),
        )
        con.execute(
            "UPDATE member SET balance = balance + (SELECT COALESCE(SUM(points), 0) FROM ledger_entry e "
            "WHERE e.member_id = member.id AND e.id > ?)",
            (base,),
        )
        con.execute("DELETE FROM meta WHERE key = 'schema:site_entries'")
        con.commit()
        written = dict(con.execute("SELECT source, COUNT(*) FROM ledger_entry WHERE id > ? GROUP BY source", (base,)))
        assert con.execute("SELECT COUNT(*) FROM ledger_entry WHERE site IS NOT NULL").fetchone() == (0,)
        return written
    finally:
        con.close()


def misplaced(path: Path) -> dict:
    """Entries whose site is not the one today's code gives: by kind, straight from the file."""
    con = sqlite3.connect(path)
    try:
        return {
            "signup": con.execute(
                "SELECT COUNT(*) FROM ledger_entry e JOIN member m ON m.id = e.member_id "
                "WHERE e.source = 'signup' AND e.site IS NOT m.home_site"
            ).fetchone()[0],
            "pledge": con.execute(
                "SELECT COUNT(*) FROM ledger_entry e JOIN feedback f ON f.pledge_entry = e.id "
                "WHERE e.site IS NOT f.site"
            ).fetchone()[0],
            "void": con.execute(
                "SELECT COUNT(*) FROM ledger_entry v JOIN ledger_entry o ON o.id = v.void_of_id "
                "WHERE v.site IS NOT o.site"
            ).fetchone()[0],
            "other": con.execute(
                "SELECT COUNT(*) FROM ledger_entry WHERE source NOT IN ('signup', 'feedback', 'void') "
                "AND site IS NOT NULL"
            ).fetchone()[0],
        }
    finally:
        con.close()


def check_old_entries_get_their_sites(tmp_path: Path, members: int, entries: int, record_property, capsys) -> None:
    """The ``site_entries`` migration on a large database (``tests/integration/test_sites_migration.py``, and
    full size in ``tests/chaos/test_sites_migration_full.py``): a library migrated to sites whose sign-ups,
    pledges and give-backs recorded none gets them placed as new ones are, in a few set-based statements;
    every member's entries, sum and balance unchanged; BRANCH2's report then counts its members' sign-ups."""
    from server import store
    from server.domain.config import load
    from server.web import reports
    from tests.helpers import close_store, open_service

    path = tmp_path / "library.db"
    make_pre_sites_database(path, members, entries)
    migrate(path)
    close_store()
    written = add_old_site_history(path)
    assert misplaced(path)["signup"] > 0 and misplaced(path)["pledge"] > 0
    sums, balances, count, total = per_member(path)
    assert all(balances[m] == s for m, (_n, s) in sums.items())

    seconds = migrate(path)
    try:
        record_property("site_entries_seconds", round(seconds, 3))
        with capsys.disabled():
            print(
                f"\nsite_entries migration of {members:,} members / {count:,} entries "
                f"({written['signup']:,} sign-ups, {written['feedback']:,} pledges, {written['void']:,} given back): "
                f"{seconds * 1000:.1f} ms"
            )
        assert store.counter("schema:site_entries") == len(store.EXTRA_MIGRATIONS["site_entries"])
        close_store()
        assert misplaced(path) == {"signup": 0, "pledge": 0, "void": 0, "other": 0}
        assert per_member(path) == (sums, balances, count, total)
        con = sqlite3.connect(path)
        try:
            assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            # a second run finds nothing to change
            assert [con.execute(sql).rowcount for sql in store.SITE_ENTRIES_SQL] == [0] * len(store.SITE_ENTRIES_SQL)
            con.rollback()
            at_branch = con.execute("SELECT COUNT(*) FROM member WHERE home_site = 'BRANCH2'").fetchone()[0]
            pledged_there = con.execute("SELECT COUNT(*) FROM feedback WHERE site = 'BRANCH2'").fetchone()[0]
        finally:
            con.close()

        svc = open_service(f"sqlite:///{path}", prog=load(overrides=TWO_BUILDINGS))
        rows = {r["activity"]: r for r in reports.build("points", svc, SIGNUP_DAY, SIGNUP_DAY, ["BRANCH2"]).rows}
        assert rows["signup"]["entries"] == at_branch and rows["book_request"]["entries"] == pledged_there, rows
    finally:
        close_store()
