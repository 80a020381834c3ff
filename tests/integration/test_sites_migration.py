"""A single-library database migrates in place to one default site (issue 16, namespace ``sites``).

The database is made by the test (``tests/sites_migration.py``): a 2,000-member copy with
80,000 entries runs here (``make test``); the full size — 50,000 members, 2,000,000 ledger
entries, about 25 s, most of it building the database — is
``tests/chaos/test_sites_migration_full.py`` (``make chaos``), the same check. Every
member's entry count, sum of points and balance, and the totals, are compared before and
after; the migration's own time is printed (``-s``) and kept as a test property.
"""

from __future__ import annotations

from tests import sites_migration as sm


def test_a_single_library_database_migrates_to_one_default_site_keeping_every_entry(tmp_path, record_property, capsys):
    sm.check_migrates_in_place(tmp_path, 2_000, 80_000, record_property, capsys)


def test_old_sign_ups_and_pledges_get_their_sites_keeping_every_entry(tmp_path, record_property, capsys):
    sm.check_old_entries_get_their_sites(tmp_path, 2_000, 80_000, record_property, capsys)
