"""The gate's outbox keeps a tap's SUN URL (``ndef``) across a restart; an older outbox file gains the column."""

from __future__ import annotations

import sqlite3

from broker.contract import now_utc
from gate.outbox import Outbox

URL = "https://lib.example/c?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086"


def test_the_ndef_is_stored_with_the_tap_and_read_back_after_a_restart(tmp_path):
    path = tmp_path / "outbox.db"
    with Outbox(path) as box:
        box.create("gate-1", "04DE5F1EACC040", now_utc(), True, URL)
        box.create("gate-1", "04A1B2C3", now_utc(), True)
    with Outbox(path) as box:
        taps = [item.tap for item in box.pending(10)]
    assert [(t.uid, t.ndef) for t in taps] == [("04DE5F1EACC040", URL), ("04A1B2C3", None)]
    assert '"ndef"' in taps[0].encode().decode() and '"ndef"' not in taps[1].encode().decode()


def test_an_outbox_from_before_sun_gets_the_column_and_keeps_its_taps(tmp_path):
    path = tmp_path / "outbox.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE sequence (device_id TEXT PRIMARY KEY, last INTEGER NOT NULL);"
        "CREATE TABLE taps (n INTEGER PRIMARY KEY AUTOINCREMENT, tap_id TEXT NOT NULL UNIQUE, uid TEXT NOT NULL,"
        " at TEXT NOT NULL, clock_ok INTEGER NOT NULL, added REAL NOT NULL, sent_at REAL,"
        " attempts INTEGER NOT NULL DEFAULT 0);"
        "INSERT INTO sequence VALUES ('gate-1', 1);"
        "INSERT INTO taps (tap_id, uid, at, clock_ok, added) VALUES ('gate-1:1', '04A1B2C3', '2026-11-22T10:00:00Z', 1, 0);"
    )
    db.commit()
    db.close()
    with Outbox(path) as box:
        old = box.get("gate-1:1").tap
        new = box.create("gate-1", "04DE5F1EACC040", now_utc(), True, URL)
        assert box.get(new.tap_id).tap.ndef == URL
    assert old.uid == "04A1B2C3" and old.ndef is None
