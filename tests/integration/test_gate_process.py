"""A real `privcard gate` process (stdin reader, --no-gpio) on each broker, with a tiny fake server."""

from __future__ import annotations

import json
import threading
import time

import pytest

from broker import contract
from broker.client import BusClient
from broker.contract import Allowlist, DeviceConfig, Tap, TapResult
from tests.brokers import GateProcess

DEV = "gate-it"
MEMBER = "04A1B2C3"
STRANGER = "04FFFFFF"


class FakeServer:
    """Answers taps like the points server: members credited, others unknown_card."""

    def __init__(self, url: str, members=(MEMBER,)):
        self.members = set(members)
        self.taps: list[Tap] = []
        self.answering = threading.Event()
        self.answering.set()
        self.lock = threading.Lock()
        self.bus = BusClient(url, "fake-server")
        self.bus.subscribe(contract.device_wildcard("tap"), self._on_tap)
        self.statuses: list[dict] = []
        self.bus.subscribe(
            contract.device_wildcard("status"), lambda t, p, m: self.statuses.append(json.loads(p)) if p else None
        )
        self.bus.start()
        assert self.bus.wait_connected(10)

    def _on_tap(self, topic, payload, msg):
        if not self.answering.is_set():
            return
        tap = Tap.parse(payload)
        device = contract.parse_topic(topic).device_id
        with self.lock:
            first = all(t.tap_id != tap.tap_id for t in self.taps)
            self.taps.append(tap)
        if tap.uid in self.members:
            result = TapResult(
                tap.tap_id,
                "credited" if first else "limit_reached",
                True,
                5 if first else 0,
                260,
                "entry",
                "Somchai",
                "silver",
                {"th": "", "en": "welcome"},
            )
        else:
            result = TapResult(tap.tap_id, "unknown_card", False, message={"th": "", "en": "unknown card"})
        self.bus.publish(contract.result_topic(device), result.encode())

    def retain(self, topic, payload):
        self.bus.publish(topic, payload, retain=True).wait_for_publish(5)

    def stop(self):
        self.bus.stop()


@pytest.fixture
def server(bus):
    s = FakeServer(bus.url)
    yield s
    s.stop()


@pytest.fixture
def gate(bus, tmp_path):
    procs = []

    def start(*extra):
        g = GateProcess(DEV, bus.url, tmp_path / "state", "--clock-check", "always-ok", "--heartbeat-s", "1", *extra)
        procs.append(g)
        g.wait_line(r" gate-it ready: ")
        return g

    yield start
    for g in procs:
        g.kill()


def test_online_taps_open_the_door_for_members_only(server, gate):
    server.retain(
        contract.config_topic(DEV),
        DeviceConfig(DEV, "gate", "in", "entry", settings={"open_ms": 1500}, revision=4).encode(),
    )
    g = gate()
    g.wait_line(r"config revision 4 applied")
    g.wait_line(r"connected to|cannot reach", 10)
    time.sleep(0.3)
    g.tap(MEMBER)
    line = g.wait_line(r"TAP gate-it:1 ")[0]
    assert "granted door=open credited +5 entry balance=260" in line
    g.wait_line(r"\[gate-it\] DOOR OPEN 1500 ms")
    g.tap(STRANGER)
    line = g.wait_line(r"TAP gate-it:2 ")[0]
    assert " refused unknown_card" in line and "door=open" not in line
    assert [t.tap_id for t in server.taps] == ["gate-it:1", "gate-it:2"]
    assert all(t.clock_ok and t.at.utcoffset() is not None for t in server.taps)
    deadline = time.monotonic() + 5
    while g.outbox_depth() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert g.outbox_depth() == 0


def test_server_silent_then_back_offline_decision_and_backlog_drains(server, gate):
    server.retain(contract.allowlist_topic(), Allowlist(version=2, uids=frozenset({MEMBER})).encode())
    g = gate("--decision-timeout-ms", "300", "--resend-s", "1")  # resent after 1 s, not the default 5 s
    g.wait_line(r"allow-list v2 from bus")
    server.answering.clear()
    g.tap(MEMBER, STRANGER)
    lines = g.wait_line(r"TAP gate-it:\d ", count=2)
    assert "offline_granted door=open no answer in 300 ms, in allow-list v2" in lines[0]
    assert "offline_refused no answer in 300 ms, not in allow-list v2" in lines[1]
    assert g.outbox_depth() == 2
    server.answering.set()
    # the sender resends after its timeout; then the outbox empties
    deadline = time.monotonic() + 15
    while g.outbox_depth() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert g.outbox_depth() == 0
    # the server saw each tap with its original read time
    assert {t.tap_id for t in server.taps} >= {"gate-it:1", "gate-it:2"}


def test_status_online_heartbeat_and_last_will_on_sigkill(server, gate):
    g = gate()
    deadline = time.monotonic() + 5
    while len([s for s in server.statuses if s["state"] == "online"]) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    online = [s for s in server.statuses if s["state"] == "online"]
    assert len(online) >= 3, server.statuses  # connect + heartbeats every 0.5 s
    assert online[-1]["outbox"] == 0 and online[-1]["reader"] == "ok" and online[-1]["clock_ok"] is True
    assert online[-1]["kind"] == "gate" and online[-1]["version"]
    g.kill()
    deadline = time.monotonic() + 5
    while server.statuses[-1]["state"] != "offline" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.statuses[-1]["state"] == "offline"


def test_sigterm_says_offline_and_exits_cleanly(server, gate):
    g = gate()
    g.wait_line(r"connected to")
    time.sleep(0.3)
    assert g.terminate() == 0
    deadline = time.monotonic() + 5
    while (not server.statuses or server.statuses[-1]["state"] != "offline") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.statuses[-1]["state"] == "offline"


def test_counter_kind_has_no_relay(server, gate):
    g = gate("--kind", "counter")
    g.wait_line(r"connected to")
    time.sleep(0.3)
    g.tap(MEMBER)
    line = g.wait_line(r"TAP gate-it:1 ")[0]
    assert " granted credited" in line and "door=open" not in line
    assert g.count(r"DOOR OPEN") == 0


def test_bad_reader_spec_is_a_one_line_error(tmp_path, mosquitto):
    import subprocess

    from tests.brokers import PYTHON, python_env

    out = subprocess.run(
        [
            PYTHON,
            "-m",
            "broker.dispatcher",
            "gate",
            "--device-id",
            DEV,
            "--mqtt",
            mosquitto.url,
            "--reader",
            "floppy:a",
            "--no-gpio",
            "--state-dir",
            str(tmp_path),
        ],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith("privcard gate: reader spec 'floppy:a'")
