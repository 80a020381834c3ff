"""A PostgreSQL server reads its next batch in the message that commits the batch before (issue 16).

Batch N's write goes out as ``EXECUTE privcard_tap_write(N…); COMMIT; BEGIN; EXECUTE
privcard_tap_read(N+1…)`` when N+1's taps have come meanwhile: one round trip a batch. N+1's
read runs after N's COMMIT, so it sees N's rows; N's results are published only once that
reply is in.

The real ``privcard server`` on a real PostgreSQL database and a real Mosquitto. To make the
server take N+1 while N is decided, another connection holds ``meta`` (which the read reads)
``ACCESS EXCLUSIVE``: N's read waits, N+1's tap reaches the server's socket, the lock goes,
and the worker — about to write N — finds N+1 there. To hold the chained message in flight,
another connection holds a row N's write updates (the member, ``FOR UPDATE``), or a lock N+1's
read waits on once N committed. The server's ``--timings`` file says how many batches were read
in the message before (``chained``) and how many were decided the usual way (``fallbacks``).
"""

from __future__ import annotations

import json
import threading
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

PREFIX = "h19ch"
#: the text of a write that carries the next batch's read
CHAINED = "%privcard_tap_write%COMMIT; BEGIN; EXECUTE privcard_tap_read%"
READ = "%EXECUTE privcard_tap_read%"
#: time for a published tap to reach the server's socket
ARRIVE_S = 0.3


class _Session:
    """Another PostgreSQL session (autocommit unless told), and a watcher asking who waits on whom."""

    def __init__(self, url: str, autocommit: bool = False):
        import psycopg2

        self.conn = psycopg2.connect(url)
        self.conn.autocommit = autocommit
        self.pid = self.conn.get_backend_pid()
        self.watch = psycopg2.connect(url)
        self.watch.autocommit = True

    def run(self, sql: str, params=()) -> list:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def blocked(self, like: str, timeout: float = 10.0) -> list[int]:
        """Wait until a backend whose query is ``LIKE like`` waits on this session; their pids."""
        deadline = time.monotonic() + timeout
        while True:
            with self.watch.cursor() as cur:
                cur.execute(
                    "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid)) AND query LIKE %s",
                    (self.pid, like),
                )
                pids = [r[0] for r in cur.fetchall()]
            if pids or time.monotonic() > deadline:
                return pids
            time.sleep(0.02)

    def release(self) -> None:
        self.conn.commit()
        self.conn.close()
        self.watch.close()


def _lock_meta(url: str) -> _Session:
    """A session holding ``meta`` ACCESS EXCLUSIVE (the tap read reads the programme counter there)."""
    held = _Session(url)
    held.run("LOCK TABLE meta IN ACCESS EXCLUSIVE MODE")
    return held


def _hold_member(url: str, member_id: int) -> _Session:
    """A session holding a member's row: a write that credits the member waits on it."""
    held = _Session(url)
    held.run("SELECT id FROM member WHERE id = %s FOR UPDATE", (member_id,))
    return held


def _setup(url: str, tmp_path):
    """The programme (with an unlimited ``visit``), a gate (entry, once a day) and a door (visit); three members."""
    from server.domain.config import load

    config = tmp_path / "library.toml"
    config.write_text(RACE_LIBRARY_TOML)
    prog = load(config)
    svc = open_service(url, prog=prog)
    svc.devices.add("gate", "gate", direction="in")
    svc.devices.add("door", "gate", direction="in", activity="visit")
    uids = ["04C1A2A3A4A5A1", "04C1A2A3A4A5A2", "04C1A2A3A4A5A3"]
    ids = [svc.members.add(f"Member {i}", uid).id for i, uid in enumerate(uids)]
    balances = [store.Member.get_by_id(i).balance for i in ids]
    points = {"entry": prog.activities["entry"].points, "visit": prog.activities["visit"].points}
    day = svc.today().isoformat()
    close_store()
    return config, uids, ids, balances, points, day


def _server(url: str, mqtt_url: str, config, tmp_path) -> ServerProcess:
    return ServerProcess(
        url, mqtt_url, config=config, log_dir=tmp_path, extra_args=("--timings", str(tmp_path / "timings.json"))
    ).start(timeout=30)


def _timings(srv: ServerProcess, tmp_path) -> dict:
    """Stop the server (SIGTERM: it writes its timings) and return them."""
    assert srv.stop() == 0, srv.log_tail()
    return json.loads((tmp_path / "timings.json").read_text())


def _result(dev: Device, device_id: str, tap, timeout: float = 20.0):
    result = dev.wait_result(device_id, tap.tap_id, timeout)
    assert result is not None, f"no result for {tap.tap_id}"
    return result


def _warm(dev: Device, uid: str) -> None:
    """One tap at each device: the server's device cache and prepared statements are ready."""
    dev.wait_server()
    for device_id in ("gate", "door"):
        tap = dev.make_tap(uid, device_id=device_id)
        dev.publish_tap(device_id, tap)
        assert _result(dev, device_id, tap).outcome == "credited"


def _two_batches(url: str, dev: Device, first: tuple, then: tuple) -> None:
    """Publish N (its read held until N+1 has reached the server), then N+1; N's read then goes on."""
    meta = _lock_meta(url)
    dev.publish_tap(*first)
    assert meta.blocked(READ), "batch N's read did not wait on meta"
    dev.publish_tap(*then)
    time.sleep(ARRIVE_S)
    meta.release()


@pytest.mark.parametrize("second", ["door", "gate"])
def test_the_next_batch_is_read_with_the_commit_and_sees_what_it_committed(pg_url, mosquitto, tmp_path, second):
    """N credits a member at the gate; N+1, read in the message with N's COMMIT, taps the same member.

    ``door`` (unlimited): both credited, N+1's balance counting N's credit. ``gate`` (once a
    day): N+1 finds the day's key N claimed — ``limit_reached``. No batch decided the usual way,
    and neither result published while that message was in flight.
    """
    with fresh_pg_database(pg_url, prefix=PREFIX) as url:
        config, uids, ids, balances, points, _ = _setup(url, tmp_path)
        srv = _server(url, mosquitto.url, config, tmp_path)
        dev = Device(mosquitto.url).start()
        try:
            _warm(dev, uids[2])
            held = _hold_member(url, ids[0])
            first = ("gate", dev.make_tap(uids[0], device_id="gate"))
            then = (second, dev.make_tap(uids[0], device_id=second))
            _two_batches(url, dev, first, then)
            assert len(held.blocked(CHAINED)) == 1, "N's write did not carry N+1's read"
            time.sleep(0.2)
            assert dev.results_for("gate", first[1].tap_id) == [] and dev.results_for(then[0], then[1].tap_id) == []
            held.release()
            one, two = _result(dev, *first), _result(dev, *then)
            entry = points["entry"]
            assert (one.outcome, one.points, one.balance) == ("credited", entry, balances[0] + entry)
            if second == "door":
                visit = points["visit"]
                assert (two.outcome, two.points, two.balance) == ("credited", visit, balances[0] + entry + visit)
            else:
                assert (two.outcome, two.points, two.balance) == ("limit_reached", 0, balances[0] + entry)
            timings = _timings(srv, tmp_path)
            assert (timings["chained"], timings["fallbacks"]) == (1, {})
            open_service(url)
            entries = LedgerEntry.select().where(LedgerEntry.member == ids[0], LedgerEntry.source == "tap")
            expected = [("entry", entry)] + ([("visit", points["visit"])] if second == "door" else [])
            assert sorted((e.activity, e.points) for e in entries) == sorted(expected)
            assert store.Member.get_by_id(ids[0]).balance == balances[0] + sum(p for _, p in expected)
            assert TapInbox.select().count() == 4
            assert len(dev.results_for(first[0], first[1].tap_id)) == len(dev.results_for(then[0], then[1].tap_id)) == 1
            assert ledger_problems() == []
        finally:
            dev.close()
            srv.kill()
            close_store()


def test_a_write_that_fails_its_guard_is_decided_again_and_the_next_batch_read_again(pg_url, mosquitto, tmp_path):
    """Another replica claims N's member's daily key while N's chained write waits on it, then commits.

    N's guard fails: nothing after it in the message runs (N+1 is not read), N is rolled back
    and decided the usual way (``limit_reached``), and N+1 — the same member at the door — is
    read and decided afresh: credited, its balance counting the other replica's credit.
    """
    with fresh_pg_database(pg_url, prefix=PREFIX) as url:
        config, uids, ids, balances, points, day = _setup(url, tmp_path)
        srv = _server(url, mosquitto.url, config, tmp_path)
        dev = Device(mosquitto.url).start()
        try:
            _warm(dev, uids[2])
            entry, visit = points["entry"], points["visit"]
            other = _Session(url)  # another replica's transaction: the member's entry today, not committed yet
            [(entry_id,)] = other.run(
                "INSERT INTO ledger_entry (member_id, activity, points, day, item, at, source, device, ref, "
                "created_at) VALUES (%s, 'entry', %s, %s, '', now(), 'tap', 'gate', 'elsewhere', now()) RETURNING id",
                (ids[0], entry, day),
            )
            other.run(
                "INSERT INTO accrual (member_id, activity, day, item, entry_id) VALUES (%s, 'entry', %s, '', %s)",
                (ids[0], day, entry_id),
            )
            other.run("UPDATE member SET balance = balance + %s WHERE id = %s", (entry, ids[0]))
            first = ("gate", dev.make_tap(uids[0], device_id="gate"))
            then = ("door", dev.make_tap(uids[0], device_id="door"))
            _two_batches(url, dev, first, then)
            assert len(other.blocked(CHAINED)) == 1, "N's write did not carry N+1's read"
            assert dev.results_for("gate", first[1].tap_id) == []
            other.release()
            one, two = _result(dev, *first), _result(dev, *then)
            assert (one.outcome, one.points, one.balance) == ("limit_reached", 0, balances[0] + entry)
            assert (two.outcome, two.points, two.balance) == ("credited", visit, balances[0] + entry + visit)
            timings = _timings(srv, tmp_path)
            assert timings["fallbacks"] == {"another writer got in the way of its write": 1}
            assert timings["chained"] == 0  # N+1 was read again, on its own
            open_service(url)
            assert store.Member.get_by_id(ids[0]).balance == balances[0] + entry + visit
            assert TapInbox.select().where(TapInbox.tap_id.in_([first[1].tap_id, then[1].tap_id])).count() == 2
            assert ledger_problems() == []
        finally:
            dev.close()
            srv.kill()
            close_store()


def _terminate(session: _Session, pids: list[int]) -> None:
    with session.watch.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS p(pid)", (pids,))


def test_the_connection_lost_with_the_write_in_flight_loses_and_doubles_nothing(pg_url, mosquitto, tmp_path):
    """The server's connection is terminated while N's chained write waits: N did not commit.

    N is decided again once the database answers (and again carries N+1's read), nothing was
    published meanwhile: every tap answered once, credited once, the balances right.
    """
    with fresh_pg_database(pg_url, prefix=PREFIX) as url:
        config, uids, ids, balances, points, _ = _setup(url, tmp_path)
        srv = _server(url, mosquitto.url, config, tmp_path)
        dev = Device(mosquitto.url).start()
        try:
            _warm(dev, uids[2])
            held = _hold_member(url, ids[0])
            first = ("gate", dev.make_tap(uids[0], device_id="gate"))
            then = ("door", dev.make_tap(uids[0], device_id="door"))
            _two_batches(url, dev, first, then)
            pids = held.blocked(CHAINED)
            assert len(pids) == 1
            _terminate(held, pids)
            assert len(held.blocked(CHAINED)) == 1  # decided again, the write waiting on the row again
            assert dev.results_for("gate", first[1].tap_id) == [] and dev.results_for("door", then[1].tap_id) == []
            held.release()
            entry, visit = points["entry"], points["visit"]
            one, two = _result(dev, *first), _result(dev, *then)
            assert (one.outcome, one.balance) == ("credited", balances[0] + entry)
            assert (two.outcome, two.balance) == ("credited", balances[0] + entry + visit)
            time.sleep(0.5)  # a second answer would have come by now
            assert [len(dev.results_for(d, t.tap_id)) for d, t in (first, then)] == [1, 1]
            assert "database unavailable" in srv.log()
            assert "Traceback" not in srv.log(), srv.log_tail()
            timings = _timings(srv, tmp_path)
            assert (timings["chained"], timings["fallbacks"]) == (1, {})
            open_service(url)
            assert store.Member.get_by_id(ids[0]).balance == balances[0] + entry + visit
            tapped = LedgerEntry.select().where(LedgerEntry.member == ids[0], LedgerEntry.source == "tap")
            assert sorted((e.activity, e.points) for e in tapped) == [("entry", entry), ("visit", visit)]
            assert ledger_problems() == []
        finally:
            dev.close()
            srv.kill()
            close_store()


def test_the_connection_lost_after_the_commit_before_the_reply_publishes_nothing_early(pg_url, mosquitto, tmp_path):
    """N committed, N+1's read (same message) waits on a lock, the connection is terminated.

    N's COMMIT did not come back to the server: nothing of N is published until the retry
    reads N's stored results from the inbox (answered once, credited once); N+1 is read again.
    """
    with fresh_pg_database(pg_url, prefix=PREFIX) as url:
        config, uids, ids, balances, points, _ = _setup(url, tmp_path)
        srv = _server(url, mosquitto.url, config, tmp_path)
        dev = Device(mosquitto.url).start()
        try:
            _warm(dev, uids[2])
            first = ("gate", dev.make_tap(uids[0], device_id="gate"))
            then = ("gate", dev.make_tap(uids[1], device_id="gate"))
            meta = _lock_meta(url)
            dev.publish_tap(*first)
            assert meta.blocked(READ)
            dev.publish_tap(*then)
            time.sleep(ARRIVE_S)
            # queued behind N's read: granted once N's transaction ends, so N+1's read waits on it
            after = _Session(url)
            locking = threading.Thread(target=after.run, args=("LOCK TABLE meta IN ACCESS EXCLUSIVE MODE",))
            locking.start()
            assert meta.blocked("LOCK TABLE meta%")
            meta.release()
            locking.join(10)
            assert not locking.is_alive()
            pids = after.blocked(CHAINED)
            assert len(pids) == 1, "N+1's read did not wait after N's COMMIT"
            with after.watch.cursor() as cur:
                cur.execute("SELECT outcome FROM tap_inbox WHERE tap_id = %s", (first[1].tap_id,))
                assert cur.fetchall() == [("credited",)]  # N committed …
            time.sleep(0.2)
            assert dev.results_for("gate", first[1].tap_id) == []  # … and is not answered before the reply
            _terminate(after, pids)
            after.release()
            entry = points["entry"]
            one, two = _result(dev, *first), _result(dev, *then)
            assert (one.outcome, one.balance) == ("credited", balances[0] + entry)
            assert (two.outcome, two.balance) == ("credited", balances[1] + entry)
            time.sleep(0.5)
            assert [len(dev.results_for(d, t.tap_id)) for d, t in (first, then)] == [1, 1]
            assert "database unavailable" in srv.log()
            assert "Traceback" not in srv.log(), srv.log_tail()
            timings = _timings(srv, tmp_path)
            assert timings["fallbacks"] == {}
            open_service(url)
            assert [store.Member.get_by_id(i).balance for i in ids[:2]] == [balances[0] + entry, balances[1] + entry]
            assert LedgerEntry.select().where(LedgerEntry.member.in_(ids[:2]), LedgerEntry.source == "tap").count() == 2
            assert ledger_problems() == []
        finally:
            dev.close()
            srv.kill()
            close_store()
