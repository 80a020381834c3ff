"""The gate's outbox: durable, ordered, ids never reused."""

import threading
from datetime import datetime, timedelta, timezone

import pytest

from broker.contract import Tap
from gate.outbox import Outbox, OutboxError, make_tap_id

BKK = timezone(timedelta(hours=7))
T0 = datetime(2025, 1, 6, 8, 30, 0, 123000, tzinfo=BKK)


def test_sequence_persists_across_reopen_and_is_never_reused(tmp_path):
    path = tmp_path / "outbox.db"
    box = Outbox(path)
    ids = [box.create("gate-1", "04A1B2C3", T0, True).tap_id for _ in range(3)]
    assert ids == ["gate-1:1", "gate-1:2", "gate-1:3"]
    box.remove(ids)  # removing taps must not free their numbers
    box.close()
    box = Outbox(path)
    assert box.next_tap_id("gate-1") == "gate-1:4"
    assert box.create("gate-1", "04A1B2C3", T0, True).tap_id == "gate-1:5"
    assert box.next_tap_id("counter-2") == "counter-2:1"


def test_taps_survive_reopen_with_original_at_oldest_first(tmp_path):
    path = tmp_path / "outbox.db"
    box = Outbox(path)
    for i in range(5):
        box.create("g", f"0400000{i}", T0 + timedelta(minutes=i), clock_ok=i % 2 == 0)
    box.close()
    box = Outbox(path)
    items = box.pending(10)
    assert [i.tap.uid for i in items] == [f"0400000{i}" for i in range(5)]
    assert items[0].tap.at == T0 and items[0].tap.at.utcoffset() == timedelta(hours=7)
    assert [i.tap.clock_ok for i in items] == [True, False, True, False, True]
    assert box.depth() == 5
    assert box.oldest().tap_id == "g:1"


def test_remove_mark_sent_and_limits(tmp_path):
    box = Outbox(tmp_path / "o.db")
    taps = [box.create("g", "04A1B2C3", T0, True) for _ in range(30)]
    assert len(box.pending(20)) == 20
    box.mark_sent([t.tap_id for t in taps[:3]], when=1000.0)
    box.mark_sent(taps[0].tap_id, when=2000.0)
    first = box.get(taps[0].tap_id)
    assert (first.sent_at, first.attempts) == (2000.0, 2)
    assert box.remove(taps[0].tap_id) is True
    assert box.remove(taps[0].tap_id) is False  # a duplicate result is harmless
    assert box.depth() == 29 and taps[0].tap_id not in box
    assert box.pending(1)[0].tap_id == taps[1].tap_id


def test_add_stores_a_given_tap_and_refuses_duplicates(tmp_path):
    box = Outbox(tmp_path / "o.db")
    tap = Tap(tap_id=box.next_tap_id("g"), uid="04A1B2C3D4E5F6", at=T0, clock_ok=False)
    box.add(tap)
    assert box.get(tap.tap_id).tap == tap
    with pytest.raises(OutboxError, match="already in the outbox"):
        box.add(tap)


def test_empty_outbox():
    box = Outbox(":memory:")
    assert box.depth() == 0 and box.oldest() is None and box.pending(5) == []


def test_long_device_id_still_gives_a_valid_tap_id():
    long_id = "x" * 64
    tap_id = make_tap_id(long_id, 123456)
    assert len(tap_id) <= 64 and tap_id.endswith(":123456")
    assert make_tap_id("y" * 64, 1) != make_tap_id("z" * 64, 1)


def test_threads_adding_concurrently_get_distinct_ids(tmp_path):
    box = Outbox(tmp_path / "o.db")
    got: list[str] = []
    lock = threading.Lock()

    def work():
        for _ in range(25):
            t = box.create("g", "04A1B2C3", T0, True)
            with lock:
                got.append(t.tap_id)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 100 and box.depth() == 100
    assert box.last_seq("g") == 100


def test_outbox_uses_wal_and_full_sync(tmp_path):
    box = Outbox(tmp_path / "o.db")
    assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
