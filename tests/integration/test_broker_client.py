"""BusClient against real brokers: Mosquitto (a process of our own) and embedded amqtt."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import pytest

from broker.client import BusClient
from tests.brokers import PYTHON, python_env


class Inbox:
    """Collects (topic, payload, retain) from a subscription handler."""

    def __init__(self):
        self.items: list[tuple[str, bytes, bool]] = []
        self.cond = threading.Condition()

    def __call__(self, topic, payload, msg):
        with self.cond:
            self.items.append((topic, payload, bool(msg.retain)))
            self.cond.notify_all()

    def wait(self, n: int, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.items) < n and time.monotonic() < deadline:
                self.cond.wait(0.05)
            return list(self.items)

    @property
    def payloads(self) -> list[bytes]:
        return [p for _, p, _ in self.items]


def client(url, cid, **kw) -> BusClient:
    c = BusClient(url, cid, **kw).start()
    assert c.wait_connected(10), f"{cid} did not connect to {url}"
    return c


def test_qos1_publish_subscribe_in_order_with_nodelay(bus):
    inbox = Inbox()
    sub = client(bus.url, "sub")
    sub.subscribe("t/#", inbox)
    time.sleep(0.2)
    pub = client(bus.url, "pub")
    for i in range(300):
        pub.publish("t/x", str(i).encode())
    got = inbox.wait(300)
    assert [p for _, p, _ in got] == [str(i).encode() for i in range(300)]
    # TCP_NODELAY is what makes QoS 1 fast on loopback (docs/architecture.md, "Performance")
    sock = pub._mqtt.socket()
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    pub.stop()
    sub.stop()


def test_a_subscription_made_or_dropped_later_changes_where_a_known_topic_goes(bus):
    """The client remembers each topic's handlers; a new or dropped subscription must change them."""
    everything, taps = Inbox(), Inbox()
    sub = client(bus.url, "routes")
    sub.subscribe("privcard/dev/+/tap", taps)
    time.sleep(0.2)
    pub = client(bus.url, "pub-routes")
    pub.publish("privcard/dev/g1/tap", b"1")
    assert taps.wait(1) == [("privcard/dev/g1/tap", b"1", False)]
    sub.subscribe("privcard/#", everything)  # the topic g1/tap is known already
    time.sleep(0.2)
    pub.publish("privcard/dev/g1/tap", b"2")
    # (a broker may deliver a message once per matching subscription: amqtt does, Mosquitto does not)
    assert b"2" in [p for _, p, _ in everything.wait(1)]
    assert b"2" in [p for _, p, _ in taps.wait(2)]
    sub.unsubscribe("privcard/dev/+/tap")
    time.sleep(0.2)
    pub.publish("privcard/dev/g1/tap", b"3")
    deadline = time.monotonic() + 10
    while b"3" not in everything.payloads and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b"3" in everything.payloads
    time.sleep(0.3)
    assert set(taps.payloads) == {b"1", b"2"}  # no longer routed there
    pub.stop()
    sub.stop()


def test_retained_message_reaches_a_late_subscriber(bus):
    pub = client(bus.url, "server")
    pub.publish("privcard/dev/g1/config", b'{"v":1}', retain=True).wait_for_publish(5)
    time.sleep(0.2)
    inbox = Inbox()
    late = client(bus.url, "gate")
    late.subscribe("privcard/dev/g1/config", inbox)
    got = inbox.wait(1)
    assert got == [("privcard/dev/g1/config", b'{"v":1}', True)]
    late.stop()
    pub.stop()


WILL_CHILD = """
import sys, time
from broker.client import BusClient
c = BusClient(sys.argv[1], "dying-gate", will=("privcard/dev/dying-gate/status", b'{"v":1,"state":"offline"}', True)).start()
assert c.wait_connected(10)
c.publish("privcard/dev/dying-gate/status", b'{"v":1,"state":"online"}', retain=True).wait_for_publish(5)
print("up", flush=True)
time.sleep(60)
"""


def test_last_will_is_published_when_the_process_is_killed(bus):
    inbox = Inbox()
    watcher = client(bus.url, "watcher")
    watcher.subscribe("privcard/dev/+/status", inbox)
    child = subprocess.Popen([PYTHON, "-c", WILL_CHILD, bus.url], env=python_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "up"
        assert inbox.wait(1)[0][1] == b'{"v":1,"state":"online"}'
        child.kill()  # SIGKILL: no DISCONNECT packet, the broker sees the socket drop
        child.wait()
        got = inbox.wait(2)
        assert got[-1][1] == b'{"v":1,"state":"offline"}'
    finally:
        if child.poll() is None:
            child.kill()
    # the will was retained: a newcomer sees the gate offline
    late = Inbox()
    other = client(bus.url, "late")
    other.subscribe("privcard/dev/dying-gate/status", late)
    assert late.wait(1)[0][1:] == (b'{"v":1,"state":"offline"}', True)
    other.stop()
    watcher.stop()


def test_graceful_stop_does_not_send_the_last_will(bus):
    inbox = Inbox()
    watcher = client(bus.url, "watcher")
    watcher.subscribe("status/#", inbox)
    time.sleep(0.2)
    gate = client(bus.url, "polite", will=("status/polite", b"offline", False))
    gate.publish("status/polite", b"online").wait_for_publish(5)
    inbox.wait(1)
    gate.stop()
    time.sleep(1.0)
    assert inbox.payloads == [b"online"]
    watcher.stop()


def test_reconnects_and_resubscribes_after_broker_restart(bus):
    inbox = Inbox()
    reconnects = []
    sub = BusClient(bus.url, "resub")
    sub.on_connect(lambda session_present: reconnects.append(session_present))
    sub.subscribe("after/restart", inbox)
    sub.start()
    assert sub.wait_connected(10)
    bus.kill()
    deadline = time.monotonic() + 5
    while sub.connected.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not sub.connected.is_set()
    bus.start()  # same port, empty broker: the subscription must be sent again
    assert sub.wait_connected(15), "client did not reconnect after the broker came back"
    _publish_until_received(bus.url, inbox, "after/restart")
    assert len(reconnects) >= 2
    sub.stop()


def _publish_until_received(url: str, inbox: Inbox, topic: str) -> None:
    """Publish b"hello" until the resubscribed client has it (its SUBSCRIBE may still be in flight)."""
    pub = client(url, "hello-pub")
    deadline = time.monotonic() + 10
    while not inbox.items and time.monotonic() < deadline:
        pub.publish(topic, b"hello")
        inbox.wait(1, timeout=0.5)
    pub.stop()
    assert inbox.items and inbox.items[0][1] == b"hello"


def test_client_started_while_broker_is_down_connects_later(bus):
    bus.stop()
    c = BusClient(bus.url, "early").start()
    assert not c.wait_connected(0.5)
    bus.start()
    assert c.wait_connected(15)
    c.stop()


def test_persistent_session_gets_messages_sent_while_away(bus):
    inbox = Inbox()
    server = client(bus.url, "server-1", persistent=True)
    server.subscribe("privcard/dev/+/tap", inbox)
    time.sleep(0.3)
    server.stop()
    pub = client(bus.url, "gate-9")
    for i in range(5):
        pub.publish("privcard/dev/gate-9/tap", f"tap{i}".encode()).wait_for_publish(5)
    time.sleep(0.3)
    server = BusClient(bus.url, "server-1", persistent=True)
    server.subscribe("privcard/dev/+/tap", inbox)
    server.start()
    got = inbox.wait(5)
    assert sorted(p for _, p, _ in got) == [f"tap{i}".encode() for i in range(5)]
    server.stop()
    pub.stop()


def test_manual_ack_unacked_message_is_redelivered_after_reconnect(mosquitto):
    """An unacked QoS 1 message comes back after a crash; an acked one does not."""
    url = mosquitto.url
    first = Inbox()
    held = []
    srv = BusClient(url, "acker", persistent=True, manual_ack=True)
    srv.subscribe("jobs", lambda t, p, m: (held.append(m), first(t, p, m)))
    srv.start()
    assert srv.wait_connected(10)
    pub = client(url, "jobpub")
    pub.publish("jobs", b"one").wait_for_publish(5)
    pub.publish("jobs", b"two").wait_for_publish(5)
    first.wait(2)
    srv.ack(held[0])  # "one" committed; "two" not
    time.sleep(0.3)
    # crash: drop the socket without DISCONNECT, like kill -9 of the server
    srv._mqtt.socket().shutdown(socket.SHUT_RDWR)
    srv._mqtt.loop_stop()
    srv._mqtt.socket() and srv._mqtt.socket().close()
    again = Inbox()
    srv2 = BusClient(url, "acker", persistent=True, manual_ack=True)
    srv2.subscribe("jobs", lambda t, p, m: (again(t, p, m), srv2.ack(m)))
    srv2.start()
    assert again.wait(1)[0][1] == b"two"
    time.sleep(0.5)
    assert again.payloads == [b"two"]
    srv2.stop()
    pub.stop()


def test_shared_subscription_v5_splits_messages_between_servers(mosquitto):
    a, b = Inbox(), Inbox()
    s1 = client(mosquitto.url + "?v=5", "srv-a")
    s2 = client(mosquitto.url + "?v=5", "srv-b")
    s1.subscribe("$share/servers/privcard/dev/+/tap", a)
    s2.subscribe("$share/servers/privcard/dev/+/tap", b)
    time.sleep(0.3)
    pub = client(mosquitto.url, "taps")
    for i in range(100):
        pub.publish("privcard/dev/g/tap", str(i).encode())
    deadline = time.monotonic() + 10
    while len(a.items) + len(b.items) < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    got = sorted(int(p) for p in a.payloads + b.payloads)
    assert got == list(range(100))
    assert a.items and b.items  # both servers took a share
    for c in (pub, s1, s2):
        c.stop()


def test_v5_persistent_session_with_expiry(mosquitto):
    inbox = Inbox()
    url = mosquitto.url + "?v=5"
    s = client(url, "v5srv", persistent=True)
    s.subscribe("v5/q", inbox)
    time.sleep(0.2)
    s.stop()
    pub = client(mosquitto.url, "v5pub")
    pub.publish("v5/q", b"queued").wait_for_publish(5)
    s = BusClient(url, "v5srv", persistent=True)
    s.subscribe("v5/q", inbox)
    s.start()
    assert inbox.wait(1)[0][1] == b"queued"
    s.stop()
    pub.stop()


# --------------------------------------------------------------------------- own-loop mode (the server's)


class Owner:
    """The owning thread of an ``own_loop=True`` client: loop, run ``work`` after each round."""

    def __init__(self, bus_client: BusClient, work=None):
        self.bus, self.work = bus_client, work
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.ident = None

    def run(self):
        self.ident = threading.get_ident()
        while not self.stop_flag.is_set():
            self.bus.loop(0.05)
            if self.work:
                self.work()
            self.bus.flush()

    def __enter__(self):
        self.bus.start()
        self.thread.start()
        assert self.bus.wait_connected(10), "own-loop client did not connect"
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join(5)
        self.bus.stop()


def test_own_loop_handlers_run_on_the_owning_thread_and_answers_go_out(bus):
    seen_threads, pending = set(), []
    srv = BusClient(bus.url, "own-srv", manual_ack=True, own_loop=True, will=("status/own-srv", b"offline", False))

    def on_job(topic, payload, msg):
        seen_threads.add(threading.get_ident())
        pending.append((payload, msg))

    def answer():  # the server's shape: after the round, answer what arrived, then ack
        while pending:
            payload, msg = pending.pop(0)
            srv.publish("answers", b"re:" + payload)
            srv.ack(msg)

    srv.subscribe("jobs", on_job)
    answers, status = Inbox(), Inbox()
    with Owner(srv, answer) as owner:
        watcher = client(bus.url, "own-watch")
        watcher.subscribe("answers", answers)
        watcher.subscribe("status/#", status)
        time.sleep(0.3)
        for i in range(200):
            watcher.publish("jobs", str(i).encode())
        got = answers.wait(200)
        assert [p for _, p, _ in got] == [f"re:{i}".encode() for i in range(200)]
        assert seen_threads == {owner.ident}
        # another thread may publish too: the owner writes it on its next round
        info = srv.publish("answers", b"from-another-thread")
        info.wait_for_publish(5)
        assert answers.wait(201)[-1][1] == b"from-another-thread"
    assert srv._mqtt.socket() is None  # the DISCONNECT was written and the socket closed
    time.sleep(0.5)
    assert status.payloads == []  # graceful stop: no last will
    watcher.stop()


def test_own_loop_reconnects_and_resubscribes_after_broker_restart(bus):
    inbox = Inbox()
    srv = BusClient(bus.url, "own-resub", own_loop=True)
    srv.subscribe("after/restart", inbox)
    with Owner(srv):
        first = srv.connect_count
        bus.kill()
        deadline = time.monotonic() + 5
        while srv.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not srv.connected.is_set()
        time.sleep(1.0)  # a few failed attempts with backoff
        bus.start()
        assert srv.wait_connected(15), "own-loop client did not reconnect after the broker came back"
        assert srv.connect_count > first
        _publish_until_received(bus.url, inbox, "after/restart")


def test_own_loop_started_while_broker_is_down_connects_later(bus):
    bus.stop()
    srv = BusClient(bus.url, "own-early", own_loop=True).start()
    for _ in range(10):
        assert srv.loop(0.05) is False
    assert srv.last_error and "cannot reach" in srv.last_error
    bus.start()
    deadline = time.monotonic() + 15
    while not srv.loop(0.1) and time.monotonic() < deadline:
        pass
    assert srv.connected.is_set()
    srv.stop()


def test_loop_is_refused_on_a_threaded_client(bus):
    from broker.client import BrokerError

    c = BusClient(bus.url, "threaded")
    with pytest.raises(BrokerError, match="own_loop=True"):
        c.loop(0)
