"""Schema migrations: an existing database upgrades in place and keeps its data."""

from __future__ import annotations

import peewee as pw
import pytest
from playhouse.migrate import migrate

from server import store
from server.domain.config import load
from server.service import Service


def _columns(table: str) -> set[str]:
    return {c.name for c in store.db.get_columns(table)}


def test_existing_database_upgrades_in_place(tmp_db_url, monkeypatch):
    store.connect(tmp_db_url)
    svc = Service(load())
    m = svc.add_member("ก่อนอัปเกรด", "04A1B2C3")
    assert store.counter("schema") == len(store.MIGRATIONS)
    store.db.close()

    # a newer privcard ships one more migration: a column on member
    def add_nickname(migrator):
        migrate(migrator.add_column("member", "nickname", pw.CharField(null=True)))

    monkeypatch.setattr(store, "MIGRATIONS", store.MIGRATIONS + [add_nickname])
    store.connect(tmp_db_url)
    assert store.counter("schema") == len(store.MIGRATIONS)
    assert "nickname" in _columns("member")
    # data survived, and a second start is a no-op
    assert Service(load()).find_member(m.id).balance == 250
    assert store.upgrade() == len(store.MIGRATIONS)
    store.db.close()


def test_database_newer_than_the_code_is_refused(tmp_db_url):
    store.connect(tmp_db_url)
    store.Meta.update(value=99).where(store.Meta.key == "schema").execute()
    store.db.close()
    with pytest.raises(store.StoreError, match="newer than this privcard"):
        store.connect(tmp_db_url)
    store.db.close()


def test_bad_database_url_is_a_clear_error():
    with pytest.raises(store.StoreError, match="unsupported database URL"):
        store.make_database("mysql://x/y")
