"""Fixtures shared by the integration tests of the web console."""

from __future__ import annotations

import pytest

from server import store
from tests.browser.web_support import make_app


@pytest.fixture
def app(tmp_db_url):
    """The staff console on a fresh SQLite database, with the test accounts of web_support."""
    app = make_app(tmp_db_url)
    yield app
    store.db.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request, tmp_db_url):
    """A fresh database URL, once on SQLite and once on PostgreSQL (``pg_url`` says loudly when none is reachable).

    The PostgreSQL one is a copy of the session's migrated template (the SQLite file is
    empty and migrates on first open); both end up with the same schema.
    """
    if request.param == "sqlite":
        yield tmp_db_url
        return
    from tests.helpers import fresh_pg_database

    pg_url = request.getfixturevalue("pg_url")
    with fresh_pg_database(pg_url, template=request.getfixturevalue("pg_template")) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_empty_db_url(request, tmp_db_url):
    """As ``any_db_url`` but the PostgreSQL database is empty too: for tests that build an old schema first."""
    if request.param == "sqlite":
        yield tmp_db_url
        return
    from tests.helpers import fresh_pg_database

    with fresh_pg_database(request.getfixturevalue("pg_url")) as url:
        yield url
