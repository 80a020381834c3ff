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
