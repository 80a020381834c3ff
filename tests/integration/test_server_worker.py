"""The server's worker: a bug in one message never stalls the others; outages are waited out."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import peewee as pw

from broker import contract
from server import store
from server.app import Incoming, PointsServer
from server.domain.config import load
from server.services import bootstrap


class RecordingBus:
    """Stands in for BusClient: records what the worker publishes and acks."""

    def __init__(self):
        self.published, self.acked = [], []

    def publish(self, topic, payload, qos=1, retain=False):
        self.published.append((topic, contract.TapResult.parse(payload)))

    def ack(self, msg):
        self.acked.append(msg)


def _server(db_url) -> PointsServer:
    srv = PointsServer(db_url, "mqtt://127.0.0.1:1", load())
    store.connect(db_url)
    svc = bootstrap(srv.prog)
    svc.devices.add("g1", "gate", direction="in")
    for i in range(3):
        svc.members.add(f"m{i}", f"04A1B2C{i}")
    srv.bus = RecordingBus()
    return srv


def _tap(n: int) -> Incoming:
    tap = contract.Tap(f"g1:{n}", f"04A1B2C{n}", datetime.now(UTC), True)
    return Incoming("tap", "g1", tap.encode(), f"msg{n}", datetime.now(UTC))


def test_a_tap_that_always_fails_is_isolated_and_the_rest_are_answered(tmp_db_url, monkeypatch):
    srv = _server(tmp_db_url)
    real = srv.service.taps._decide
    calls = []

    def buggy(pending, row, batch):  # the Python decision of one tap of a batch
        calls.append(pending.tap.tap_id)
        if pending.tap.tap_id == "g1:1":
            raise ValueError("a bug this tap triggers")
        return real(pending, row, batch)

    monkeypatch.setattr(srv.service.taps, "_decide", buggy)
    monkeypatch.setattr(srv, "_pause", lambda delay: False)  # no back-off sleeps in the test
    assert srv._decide([_tap(0), _tap(1), _tap(2)]) is True
    answered = {r.tap_id: r.outcome for _, r in srv.bus.published}
    assert answered == {"g1:0": "credited", "g1:2": "credited"}  # no result for the poison tap
    assert sorted(srv.bus.acked) == ["msg0", "msg1", "msg2"]  # acked once each, so the broker moves on
    assert srv.stats["poison"] == 1
    assert calls.count("g1:1") == 1  # a bug is not retried: it costs that message only


def test_database_outage_is_retried_until_it_ends_and_nothing_is_acked_meanwhile(tmp_db_url, monkeypatch):
    srv = _server(tmp_db_url)
    real = srv.service.taps.decide_batch
    failures = {"left": 4}
    seen_acks = []

    def flaky(batch):
        if failures["left"]:
            failures["left"] -= 1
            seen_acks.append(len(srv.bus.acked))
            raise pw.OperationalError("database is locked")
        return real(batch)

    monkeypatch.setattr(srv.service.taps, "decide_batch", flaky)
    monkeypatch.setattr(srv, "_pause", lambda delay: False)
    assert srv._decide([_tap(0), _tap(2)]) is True
    assert seen_acks == [0, 0, 0, 0]  # nothing acked while the database was down
    assert [r.outcome for _, r in srv.bus.published] == ["credited", "credited"]
    assert "poison" not in srv.stats  # an outage is not a bug: never given up on


def test_stopping_during_an_outage_leaves_the_batch_unacked(tmp_db_url, monkeypatch):
    srv = _server(tmp_db_url)
    monkeypatch.setattr(
        srv.service.taps, "decide_batch", lambda batch: (_ for _ in ()).throw(pw.OperationalError("down"))
    )
    stop = threading.Event()
    stop.set()
    monkeypatch.setattr(srv, "stopping", stop)
    assert srv._decide([_tap(0)]) is False
    assert srv.bus.acked == [] and srv.bus.published == []


def test_a_back_off_keeps_the_connection_alive_and_keeps_reading(tmp_db_url, mosquitto):
    """During a database outage the worker waits with bus.loop(): pings go out, new taps queue up."""
    from broker.client import BusClient

    srv = PointsServer(tmp_db_url, mosquitto.url + "?keepalive=5", load(), client_id="pause-srv")
    store.connect(tmp_db_url)
    srv.bus.subscribe(contract.device_wildcard("tap"), srv._enqueue("tap"), qos=1)
    srv.bus.start()
    deadline = time.monotonic() + 10
    while not srv.bus.loop(0.1) and time.monotonic() < deadline:
        pass
    assert srv.bus.connected.is_set()
    gate = BusClient(mosquitto.url, "pause-gate").start()
    assert gate.wait_connected(10)
    for n in range(3):
        gate.publish(contract.tap_topic("g1"), _tap(n).payload).wait_for_publish(5)
    assert srv._pause(8.0) is False  # longer than 1.5 x the 5 s keepalive: only pings keep it
    assert srv.bus.connected.is_set() and srv.bus.connect_count == 1
    assert [item.device_id for item in srv.inbox] == ["g1", "g1", "g1"]
    gate.stop()
    srv.bus.stop()


def test_a_long_write_lock_elsewhere_never_drops_the_servers_mqtt_connection(tmp_db_url, mosquitto):
    """Another connection holds SQLite's write lock for longer than 1.5 x the keep-alive.

    The worker's short busy timeout hands the wait to the retry policy, whose back-off
    keeps calling bus.loop(): the broker never drops the server, and the tap sent during
    the lock is answered soon after the lock goes.
    """
    import sqlite3

    from tests.helpers import Device, close_store, open_service

    svc = open_service(tmp_db_url)
    svc.devices.add("g1", "gate", direction="in")
    svc.members.add("m0", "04A1B2C0")
    close_store()
    srv = PointsServer(tmp_db_url, mosquitto.url + "?keepalive=5", load(), client_id="locked-srv").start()
    path = tmp_db_url[len("sqlite:///") :]
    try:
        with Device(mosquitto.url) as dev:
            dev.wait_server()
            assert srv.bus.connect_count == 1
            holder = sqlite3.connect(path, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            holder.execute("CREATE TABLE lock_holder (x)")  # a write: the lock is held
            tap = dev.make_tap("04A1B2C0", device_id="g1")
            dev.publish_tap("g1", tap)
            held_until = time.monotonic() + 15.0  # 3 x the 5 s keep-alive (Mosquitto drops at 1.5 x, checked coarsely)
            dropped = False
            while time.monotonic() < held_until:
                dropped = dropped or not srv.bus.connected.is_set()
                assert not dev.results_for("g1", tap.tap_id), "answered while the database was locked"
                time.sleep(0.1)
            holder.execute("COMMIT")
            released = time.monotonic()
            result = dev.wait_result("g1", tap.tap_id, timeout=5.0)
            answered_after = time.monotonic() - released
            holder.close()
        assert result is not None and result.outcome == "credited"
        assert answered_after < 2.5, f"answered {answered_after:.1f} s after the lock went"
        print(f"\nanswered {answered_after:.2f} s after the lock went; connect_count={srv.bus.connect_count}")
        assert not dropped and srv.bus.connect_count == 1, "the server's MQTT connection dropped"
        assert "exceeded timeout" not in mosquitto.log(), mosquitto.log()
    finally:
        srv.stop()


def test_the_worker_times_its_own_batches(tmp_db_url, mosquitto):
    """``PointsServer.timings()``: every batch it answered, its time and the worker's CPU per message."""
    from tests.helpers import Device, close_store, open_service

    svc = open_service(tmp_db_url)
    svc.devices.add("g1", "gate", direction="in")
    for i in range(3):
        svc.members.add(f"m{i}", f"04A1B2C{i}")
    close_store()
    prefix = "timed"  # its own topics: another test's server on the shared broker must not answer these
    srv = PointsServer(tmp_db_url, mosquitto.url, load(), client_id="timed-srv", prefix=prefix)
    assert srv.timings() == {"batches": 0, "messages": 0}
    srv.start()
    try:
        with Device(mosquitto.url, prefix=prefix) as dev:
            dev.wait_server()
            for i in range(3):
                assert dev.tap("g1", f"04A1B2C{i}").outcome == "credited"
        # a batch's timing is kept after its answers are flushed: the last may reach the device first
        deadline = time.monotonic() + 5
        while (t := srv.timings())["batches"] < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        srv.stop()
    # the probes and the three taps, each waited for (a resend would add to both counts alike)
    assert t["batches"] >= 4 and t["messages"] >= t["batches"] and t["batch_size_max"] >= 1
    assert 0 < t["batch_ms_p50"] <= t["batch_ms_p99"] <= t["batch_ms_max"]
    assert t["cpu_ms_per_message"] > 0
