"""Schema migrations: an existing database upgrades in place and keeps its data."""

from __future__ import annotations

import peewee as pw
import pytest
from playhouse.migrate import migrate

from server import store
from server.domain.config import load
from server.services import bootstrap


def _columns(table: str) -> set[str]:
    return {c.name for c in store.db.get_columns(table)}


def test_existing_database_upgrades_in_place(tmp_db_url, monkeypatch):
    store.connect(tmp_db_url)
    svc = bootstrap(load())
    m = svc.members.add("ก่อนอัปเกรด", "04A1B2C3")
    assert store.counter("schema") == len(store.MIGRATIONS)
    store.db.close()

    # a newer privcard ships one more migration: a column on member
    def add_nickname(migrator):
        migrate(migrator.add_column("member", "nickname", pw.CharField(null=True)))

    monkeypatch.setattr(store, "MIGRATIONS", [*store.MIGRATIONS, add_nickname])
    store.connect(tmp_db_url)
    assert store.counter("schema") == len(store.MIGRATIONS)
    assert "nickname" in _columns("member")
    # data survived, and a second start is a no-op
    assert bootstrap(load()).members.find(m.id).balance == 250
    assert store.upgrade() == len(store.MIGRATIONS)
    store.db.close()


def test_database_newer_than_the_code_is_refused(tmp_db_url):
    store.connect(tmp_db_url)
    store.Counter.update(value=99).where(store.Counter.key == "schema").execute()
    store.db.close()
    with pytest.raises(store.StoreError, match="newer than this privcard"):
        store.connect(tmp_db_url)
    store.db.close()


def test_bad_database_url_is_a_clear_error():
    with pytest.raises(store.StoreError, match="unsupported database URL"):
        store.make_database("mysql://x/y")


def test_postgresql_url_gets_timeouts_unless_it_sets_its_own():
    d = store.make_database("postgresql://privcard@db.example:5433/points?keepalives_idle=30")
    assert d.connect_params["connect_timeout"] == "10" and d.connect_params["keepalives"] == "1"
    assert d.connect_params["keepalives_idle"] == "30"  # the URL wins
    assert (d.database, d.connect_params["host"], d.connect_params["port"]) == ("points", "db.example", 5433)


def test_postgresql_url_may_name_a_unix_socket_as_libpq_does():
    """``postgresql://user@/db?host=/var/run/postgresql`` (libpq's form for a socket) once raised a TypeError."""
    d = store.make_database("postgresql://privcard@/points?host=/var/run/postgresql&port=5433")
    assert (d.database, d.connect_params["host"], d.connect_params["port"]) == ("points", "/var/run/postgresql", "5433")
    d = store.make_database("postgresql://privcard@/points?host=/var/run/postgresql")
    assert d.connect_params["host"] == "/var/run/postgresql"


def test_a_postgresql_host_that_never_answers_is_an_error_within_the_timeout():
    """A silent host (accepts TCP, never speaks) must not hang the server's worker."""
    import socket
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    port = silent.getsockname()[1]
    try:
        started = time.monotonic()
        with pytest.raises(store.StoreError, match="cannot open database"):
            store.connect(f"postgresql://privcard@127.0.0.1:{port}/points?connect_timeout=2")
        assert time.monotonic() - started < 8
    finally:
        silent.close()


# --------------------------------------------------------------------------- tap_inbox (device, at): the device page


def _device_page_plan() -> str:
    """How the database runs the device page's query (``queries.device_taps``): its plan as text."""
    from server.web import queries

    sql, params = queries.device_taps("gate-3", 20).sql()
    if store.is_sqlite():
        return " / ".join(row[3] for row in store.db.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params).fetchall())
    return " / ".join(row[0] for row in store.db.execute_sql(f"EXPLAIN {sql}", params).fetchall())


def test_the_device_pages_taps_are_read_along_a_device_at_index_added_in_place(any_db_url):
    """``tap_inbox (device, at)`` (namespace ``device_taps``): a database made before gets it, and the
    device page's newest-first list of a device's taps is read along it, not sorted apart."""
    import datetime as dt

    from tests.helpers import close_store, open_service

    open_service(any_db_url)
    try:

        def indexes() -> dict[str, list[str]]:
            return {i.name: i.columns for i in store.db.get_indexes("tap_inbox")}

        assert indexes()["tap_inbox_device_at"] == ["device", "at"]  # a fresh database has it
        assert store.counter("schema:device_taps") == 1
        # a database from before: no such index, the namespace not yet applied
        store.db.execute_sql("DROP INDEX tap_inbox_device_at")
        store.Counter.delete().where(store.Counter.key == "schema:device_taps").execute()
        store.upgrade()
        assert indexes()["tap_inbox_device_at"] == ["device", "at"]
        assert store.counter("schema:device_taps") == 1
        assert store.upgrade() == len(store.MIGRATIONS)  # a second start changes nothing
        # 30 gates' taps over 100 days, so the planner weighs the index as it would in a library
        start = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
        rows = [
            {
                "device": f"gate-{n % 30}",
                "tap_id": f"t{n}",
                "uid": f"{n:014X}",
                "at": start + dt.timedelta(minutes=5 * n),
                "received_at": start + dt.timedelta(minutes=5 * n),
                "outcome": "credited",
                "result": {},
            }
            for n in range(30_000)
        ]
        with store.db.atomic():
            for i in range(0, len(rows), 1000):
                store.TapInbox.insert_many(rows[i : i + 1000]).execute()
        store.db.execute_sql("ANALYZE")
        plan = _device_page_plan()
        assert "tap_inbox_device_at" in plan, plan
        if store.is_sqlite():  # the index's order is the page's (the rowid breaks ties): nothing sorted apart
            assert "TEMP B-TREE" not in plan, plan
        else:  # read backwards along it; only taps of the very same instant are put in id order
            assert "Index Scan Backward using tap_inbox_device_at" in plan, plan
        # and the page's order: newest first by the tap's own time
        from server.web import queries

        newest = [t.tap_id for t in queries.device_taps("gate-3", 3)]
        assert newest == ["t29973", "t29943", "t29913"]
    finally:
        close_store()
