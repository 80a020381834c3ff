"""The tap worker reads MQTT while it waits for PostgreSQL (``server.store.work_while_waiting``).

Real components: a Mosquitto of the test's own, the PostgreSQL the suite uses, psycopg2's
wait callback. An own-loop bus client (the worker's kind) is looped only by the callback
while a statement runs, so the messages it holds when the statement returns were read
during the wait.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from broker.client import BusClient
from server import store


def _psycopg2():
    """The driver, imported once ``pg_url`` has checked it (its skip is the suite's loud one)."""
    import psycopg2.extensions

    return psycopg2


@pytest.fixture
def waiter(mosquitto):
    """An own-loop client subscribed to every device's taps, and what it has read (monotonic times)."""
    got: list[float] = []
    bus = BusClient(mosquitto.url, "pg-wait-waiter", own_loop=True)
    bus.subscribe("privcard/dev/+/tap", lambda topic, payload, msg: got.append(time.monotonic()))
    bus.start()
    end = time.monotonic() + 10
    while time.monotonic() < end and not bus.connected.is_set():
        bus.loop(0.05)
    settle = time.monotonic() + 0.3  # the SUBACK
    while time.monotonic() < settle:
        bus.loop(0.05)
    assert bus.connected.is_set()
    pub = BusClient(mosquitto.url, "pg-wait-publisher").start()
    assert pub.wait_connected(10)
    try:
        yield bus, pub, got
    finally:
        store.stop_working_while_waiting()
        _psycopg2().extensions.set_wait_callback(None)
        pub.stop()
        bus.stop()


def _slow_query(pg_url: str, seconds: float) -> tuple[float, float, tuple]:
    conn = _psycopg2().connect(pg_url)
    try:
        with conn.cursor() as cur:
            started = time.monotonic()
            cur.execute("SELECT 42 FROM pg_sleep(%s)", (seconds,))
            row = cur.fetchone()
            return started, time.monotonic(), row
    finally:
        conn.close()


def _publish_soon(pub: BusClient, n: int, after: float = 0.15) -> threading.Timer:
    timer = threading.Timer(after, lambda: [pub.publish(f"privcard/dev/g{i}/tap", b"{}") for i in range(n)])
    timer.start()
    return timer


def test_messages_arriving_during_a_statement_are_read_before_it_returns(pg_url, waiter):
    bus, pub, got = waiter
    store.work_while_waiting(bus.socket, lambda: True, lambda: bus.loop(0.0))
    _publish_soon(pub, 5)
    started, ended, row = _slow_query(pg_url, 0.8)
    assert row == (42,)  # the statement's own result, untouched
    assert len(got) == 5, got
    assert all(started < t < ended for t in got)
    assert ended - started < 2.0  # the wait did not outlast the statement by much


def test_no_reading_while_the_worker_wants_no_more(pg_url, waiter):
    """``wanted()`` false (the inbox holds a full batch): a plain wait, the messages stay in the socket."""
    bus, pub, got = waiter
    store.work_while_waiting(bus.socket, lambda: False, lambda: bus.loop(0.0))
    _publish_soon(pub, 5)
    *_, row = _slow_query(pg_url, 0.6)
    assert row == (42,) and got == []
    end = time.monotonic() + 5
    while len(got) < 5 and time.monotonic() < end:  # read afterwards, by the worker's own loop
        bus.loop(0.05)
    assert len(got) == 5


def test_a_thread_that_registered_nothing_waits_as_before(pg_url, waiter):
    """The callback is process-wide: another thread's statement is a plain wait, and does not read the bus."""
    bus, pub, got = waiter
    store.work_while_waiting(bus.socket, lambda: True, lambda: bus.loop(0.0))
    out = {}
    t = threading.Thread(target=lambda: out.update(r=_slow_query(pg_url, 0.6)))
    _publish_soon(pub, 3)
    t.start()
    t.join(10)
    assert out["r"][2] == (42,)
    assert got == []  # only the registered thread reads, and it ran no statement


def test_a_failure_of_the_extra_work_never_fails_the_statement(pg_url, waiter, caplog):
    bus, pub, _ = waiter

    def broken() -> None:
        raise RuntimeError("reading went wrong")

    store.work_while_waiting(bus.socket, lambda: True, broken)
    _publish_soon(pub, 2)
    with caplog.at_level(logging.ERROR, logger="server.store"):
        *_, row = _slow_query(pg_url, 0.6)
    assert row == (42,)
    assert "work while waiting for PostgreSQL failed; waiting plainly" in caplog.text
    assert caplog.text.count("waiting plainly") == 1  # once per wait, not once per poll


def test_a_stopped_worker_leaves_no_reading_behind(pg_url, pg_template, mosquitto):
    """A PostgreSQL server's worker registers its reading; once it has stopped, its thread id holds nothing."""
    from server.app import PointsServer
    from server.domain.config import load
    from tests.helpers import close_store, fresh_pg_database

    with fresh_pg_database(pg_url, template=pg_template) as db_url:
        srv = PointsServer(db_url, mosquitto.url, load(None), client_id="wait-stop").start()
        try:
            worker = next(t for t in srv._threads if t.name == "privcard-worker")
            end = time.monotonic() + 10
            while worker.ident not in store._wait_work and time.monotonic() < end:
                time.sleep(0.02)
            assert worker.ident in store._wait_work
        finally:
            srv.stop()
            close_store()
            _psycopg2().extensions.set_wait_callback(None)
        assert not worker.is_alive()
        assert worker.ident not in store._wait_work
