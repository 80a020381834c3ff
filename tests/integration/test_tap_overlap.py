"""A PostgreSQL server overlaps its batches (issue 16): batch N+1 is read and decided while
batch N's write and COMMIT are in flight, and is never answered on that read if N changed
what it read.

The real ``privcard server`` on a real PostgreSQL database and a real Mosquitto. To hold
batch N's write in flight for as long as the test needs, another connection holds a row
lock on the member N credits (``SELECT … FOR UPDATE``): N's write waits on it, the server's
worker meanwhile takes the next tap, reads and decides it; the test then lets N commit.
The server's own ``--timings`` file says how often a batch had to be decided again.
"""

from __future__ import annotations

import json
import time

import pytest

from server import store
from server.store import LedgerEntry, TapInbox
from tests.helpers import (
    RACE_LIBRARY_TOML,
    Device,
    ServerProcess,
    close_store,
    fresh_pg_database,
    ledger_problems,
    open_service,
)

pytestmark = pytest.mark.postgres

#: how long the test lets the server's worker take the next tap before it goes on
SETTLE_S = 0.5
DECIDED_AGAIN = "decided again after its write"


class _Held:
    """Another connection's open transaction holding a member's row (the server's write waits on it)."""

    def __init__(self, url: str, member_id: int):
        import psycopg2

        self.conn = psycopg2.connect(url)
        with self.conn.cursor() as cur:
            cur.execute("SELECT id FROM member WHERE id = %s FOR UPDATE", (member_id,))
        self.pid = self.conn.get_backend_pid()
        # another session looks (a transaction would see pg_stat_activity as it was at its first look)
        self.watch = psycopg2.connect(url)
        self.watch.autocommit = True

    def waiting(self, timeout: float = 10.0) -> int:
        """Wait until a backend is blocked by this one; how many are."""
        deadline = time.monotonic() + timeout
        while True:
            with self.watch.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", (self.pid,))
                n = cur.fetchone()[0]
            if n or time.monotonic() > deadline:
                return n
            time.sleep(0.02)

    def release(self) -> None:
        self.conn.commit()
        self.conn.close()
        self.watch.close()


def _setup(url: str, tmp_path):
    """The programme (with an unlimited ``visit``), a gate (entry, once a day) and a door (visit); three members."""
    from server.domain.config import load

    config = tmp_path / "library.toml"
    config.write_text(RACE_LIBRARY_TOML)
    prog = load(config)
    svc = open_service(url, prog=prog)
    svc.devices.add("gate", "gate", direction="in")
    svc.devices.add("door", "gate", direction="in", activity="visit")
    uids = ["04A1A2A3A4A5A1", "04A1A2A3A4A5A2", "04A1A2A3A4A5A3"]
    ids = [svc.members.add(f"Member {i}", uid).id for i, uid in enumerate(uids)]
    balances = [store.Member.get_by_id(i).balance for i in ids]
    points = {"entry": prog.activities["entry"].points, "visit": prog.activities["visit"].points}
    close_store()
    return config, prog, uids, ids, balances, points


def _server(url: str, mqtt_url: str, config, tmp_path) -> ServerProcess:
    timings = ("--timings", str(tmp_path / "timings.json"))
    return ServerProcess(url, mqtt_url, config=config, log_dir=tmp_path, extra_args=timings).start(timeout=30)


def _fallbacks(srv: ServerProcess, tmp_path) -> dict:
    """Stop the server (SIGTERM: it writes its timings) and return the batches it decided again, by reason."""
    assert srv.stop() == 0, srv.log_tail()
    return json.loads((tmp_path / "timings.json").read_text())["fallbacks"]


def _result(dev: Device, device_id: str, tap, timeout: float = 20.0):
    result = dev.wait_result(device_id, tap.tap_id, timeout)
    assert result is not None, f"no result for {tap.tap_id}"
    return result


@pytest.mark.parametrize("second", ["door", "gate"])
def test_a_member_in_two_consecutive_batches_is_credited_once_each_on_what_the_first_committed(
    pg_url, mosquitto, tmp_path, second
):
    """Batch N credits a member at the gate; batch N+1, read before N committed, taps the same member.

    ``door`` (an unlimited activity): both credited, the second's balance counting the first's
    credit. ``gate`` (once a day): N claimed the day's key, N+1 did not see it — ``limit_reached``.
    Either way N+1's write fails its guard (the balance, the key moved since its read) and
    it is decided again after N: exactly one batch decided again.
    """
    with fresh_pg_database(pg_url, prefix="h19ov") as url:
        config, _, uids, ids, balances, points = _setup(url, tmp_path)
        srv = _server(url, mosquitto.url, config, tmp_path)
        dev = Device(mosquitto.url).start()
        try:
            dev.wait_server()
            warm = dev.make_tap(uids[2], device_id="gate")
            dev.publish_tap("gate", warm)
            assert _result(dev, "gate", warm).outcome == "credited"
            held = _Held(url, ids[0])
            first = dev.make_tap(uids[0], device_id="gate")
            dev.publish_tap("gate", first)
            assert held.waiting() == 1  # batch N's write waits on the member's row
            then = dev.make_tap(uids[0], device_id=second)
            dev.publish_tap(second, then)
            time.sleep(SETTLE_S)  # batch N+1 read and decided, N still in flight
            assert dev.results_for("gate", first.tap_id) == [] and dev.results_for(second, then.tap_id) == []
            held.release()
            one, two = _result(dev, "gate", first), _result(dev, second, then)
            entry = points["entry"]
            assert (one.outcome, one.points, one.balance) == ("credited", entry, balances[0] + entry)
            if second == "door":
                visit = points["visit"]
                assert (two.outcome, two.points, two.balance) == ("credited", visit, balances[0] + entry + visit)
            else:
                assert (two.outcome, two.points, two.balance) == ("limit_reached", 0, balances[0] + entry)
            assert _fallbacks(srv, tmp_path) == {DECIDED_AGAIN: 1}
            open_service(url)
            entries = LedgerEntry.select().where(LedgerEntry.member == ids[0], LedgerEntry.source == "tap")
            expected = [("entry", entry)] + ([("visit", points["visit"])] if second == "door" else [])
            assert sorted((e.activity, e.points) for e in entries) == sorted(expected)
            assert store.Member.get_by_id(ids[0]).balance == balances[0] + sum(p for _, p in expected)
            assert TapInbox.select().count() == 3
            assert len(dev.results_for("gate", first.tap_id)) == len(dev.results_for(second, then.tap_id)) == 1
            assert ledger_problems() == []
        finally:
            dev.close()
            srv.kill()
            close_store()


def test_different_members_in_consecutive_batches_are_not_decided_again(pg_url, mosquitto, tmp_path):
    """Batch N+1 shares nothing with N: its write, sent once N committed, passes its guard."""
    with fresh_pg_database(pg_url, prefix="h19ov") as url:
        config, _, uids, ids, balances, points = _setup(url, tmp_path)
        srv = _server(url, mosquitto.url, config, tmp_path)
        dev = Device(mosquitto.url).start()
        try:
            dev.wait_server()
            held = _Held(url, ids[0])
            first = dev.make_tap(uids[0], device_id="gate")
            dev.publish_tap("gate", first)
            assert held.waiting() == 1
            then = dev.make_tap(uids[1], device_id="gate")
            dev.publish_tap("gate", then)
            time.sleep(SETTLE_S)
            assert dev.results_for("gate", then.tap_id) == []  # not answered before N's COMMIT
            held.release()
            entry = points["entry"]
            assert _result(dev, "gate", first).balance == balances[0] + entry
            assert _result(dev, "gate", then).balance == balances[1] + entry
            assert _fallbacks(srv, tmp_path) == {}
            open_service(url)
            assert ledger_problems() == []
        finally:
            dev.close()
            srv.kill()
            close_store()


def test_a_database_outage_with_two_batches_in_flight_loses_and_doubles_nothing(pg_url, mosquitto, tmp_path):
    """Every connection of the server is killed while N's write waits and N+1 is decided.

    N's write never committed; N is decided again once the database answers (it waits on
    the held row again, then commits), and N+1 is read again after it: every tap answered
    once, credited once, the balances right.
    """
    with fresh_pg_database(pg_url, prefix="h19ov") as url:
        config, _, uids, ids, balances, points = _setup(url, tmp_path)
        srv = _server(url, mosquitto.url, config, tmp_path)
        dev = Device(mosquitto.url).start()
        try:
            dev.wait_server()
            held = _Held(url, ids[0])
            taps = [("gate", dev.make_tap(uids[0], device_id="gate"))]
            dev.publish_tap(*taps[0])
            assert held.waiting() == 1
            taps += [
                ("gate", dev.make_tap(uids[1], device_id="gate")),
                ("door", dev.make_tap(uids[0], device_id="door")),
            ]
            for device_id, tap in taps[1:]:
                dev.publish_tap(device_id, tap)
            time.sleep(SETTLE_S)
            with held.watch.cursor() as cur:
                # the worker's connection (it read N+1) and the writer's (its write waits on the row)
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND query LIKE %s AND pid <> pg_backend_pid()",
                    ("%EXECUTE privcard_tap_%",),
                )
                assert len(cur.fetchall()) == 2
            assert held.waiting() == 1  # N decided again, its write waiting on the row again
            held.release()
            results = [_result(dev, d, t) for d, t in taps]
            entry, visit = points["entry"], points["visit"]
            assert [(r.outcome, r.points) for r in results] == [
                ("credited", entry),
                ("credited", entry),
                ("credited", visit),
            ]
            assert results[2].balance == balances[0] + entry + visit
            assert "database unavailable" in srv.log()
            assert "Traceback" not in srv.log(), srv.log_tail()
            time.sleep(0.5)  # a second answer to any of them would have come by now
            assert [len(dev.results_for(d, t.tap_id)) for d, t in taps] == [1, 1, 1]
            srv.stop()
            open_service(url)
            assert store.Member.get_by_id(ids[0]).balance == balances[0] + entry + visit
            assert store.Member.get_by_id(ids[1]).balance == balances[1] + entry
            assert LedgerEntry.select().where(LedgerEntry.source == "tap").count() == 3
            assert TapInbox.select().count() == 3
            assert ledger_problems() == []
        finally:
            dev.close()
            srv.kill()
            close_store()


def test_a_card_not_genuine_is_decided_in_the_batch_s_transaction_not_read_ahead(pg_url):
    """Reading ahead writes nothing: a secured card's refusal (an audit line) sends the batch the usual way.

    Its audit line belongs in the batch's transaction, or a batch decided again after its
    write would write it twice.
    """
    from datetime import UTC, datetime

    from broker.contract import Tap
    from server.store import Audit

    with fresh_pg_database(pg_url, prefix="h19ov") as url:
        svc = open_service(url)
        try:
            svc.devices.add("gate", "gate", direction="in")
            member = store.Member.create(name="Secured", balance=0)
            store.Card.create(uid="04B1B2B3B4B5B6", member=member, sun=True)
            now = datetime.now(UTC)
            batch = [("gate", Tap("g:1", "04B1B2B3B4B5B6", now, True), now)]  # a bare UID: no SUN URL
            assert svc.taps.read_ahead(batch) is None
            assert svc.taps.fallbacks == {"a card not genuine": 1}
            assert Audit.select().where(Audit.action == "card.not_genuine").count() == 0
            [result] = svc.taps.decide_batch(batch)
            assert result.outcome == "card_not_genuine"
            assert Audit.select().where(Audit.action == "card.not_genuine").count() == 1
            assert TapInbox.select().count() == 1
        finally:
            close_store()
