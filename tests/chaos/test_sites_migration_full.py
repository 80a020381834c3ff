"""The sites migration (issue 16) on a full-size single-library database: 50,000 members and
2,000,000 ledger entries (``make chaos``; about 25 s, most of it building the database).

The same check as ``tests/integration/test_sites_migration.py`` (2,000 members, ``make test``):
``tests/sites_migration.check_migrates_in_place``. docs/sites.md quotes its migration time.
"""

from __future__ import annotations

import os

import pytest

from tests import sites_migration as sm

FULL = os.environ.get("PRIVCARD_CHAOS", "").lower() in ("full", "1", "yes")


@pytest.mark.chaos
@pytest.mark.slow
@pytest.mark.skipif(not FULL, reason="the 2,000,000-entry database needs PRIVCARD_CHAOS=full (make chaos)")
def test_a_50k_member_2m_entry_database_migrates_to_one_default_site_keeping_every_entry(
    tmp_path, record_property, capsys
):
    sm.check_migrates_in_place(tmp_path, 50_000, 2_000_000, record_property, capsys)


@pytest.mark.chaos
@pytest.mark.slow
@pytest.mark.skipif(not FULL, reason="the 2,000,000-entry database needs PRIVCARD_CHAOS=full (make chaos)")
def test_a_50k_member_2m_entry_database_places_its_old_sign_ups_and_pledges_keeping_every_entry(
    tmp_path, record_property, capsys
):
    sm.check_old_entries_get_their_sites(tmp_path, 50_000, 2_000_000, record_property, capsys)
