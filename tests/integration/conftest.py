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
