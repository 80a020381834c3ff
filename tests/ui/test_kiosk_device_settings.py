"""The kiosk applies its device settings from the retained config, live: ``heartbeat_s``, ``repeat_s``, ``reader``.

The real kiosk (under Xvfb, ``--reader stdin``) with the fake points server
(tests/ui/fake_server.py) on a Mosquitto of the module's own; the test publishes the
retained config as the server would (``broker.contract.DeviceConfig``) and watches the
kiosk's status and queries on the bus. The new reader is nfcpy's ``udp`` simulated
reader, tapped with a card emulated by ``hardware.readers.nfc_emulator``.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from broker import contract
from broker.contract import DeviceConfig
from tests.ui.fake_server import FakeServer, member_record
from tests.ui.harness import running_kiosk

pytestmark = pytest.mark.ui

DEVICE = "kiosk-settings"
CARD, OTHER, THIRD = "04A1B2C3D4E5F6", "04D5E6F7A8B9C0", "04112233"


class Watcher:
    """The kiosk's statuses (with their arrival times) on the bus; publishes its retained config."""

    def __init__(self, broker):
        self.statuses: list[tuple[float, dict]] = []
        self._lock = threading.Lock()
        ready = threading.Event()
        c = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="settings-watcher")
        c.on_connect = lambda cl, *_: (cl.subscribe(contract.status_topic(DEVICE), 1), ready.set())
        c.on_message = self._message
        c.connect(broker.host, broker.port)
        c.loop_start()
        assert ready.wait(5), "the watcher could not connect"
        self.client = c

    def _message(self, client, userdata, msg):
        with self._lock:
            self.statuses.append((time.monotonic(), json.loads(msg.payload)))

    def since(self, t: float) -> list[dict]:
        with self._lock:
            return [s for at, s in self.statuses if at >= t]

    def configure(self, revision: int, **settings) -> None:
        cfg = DeviceConfig(device_id=DEVICE, kind="kiosk", settings=settings, revision=revision)
        self.client.publish(contract.config_topic(DEVICE), cfg.encode(), qos=1, retain=True).wait_for_publish(5)

    def stop(self) -> None:
        self.client.publish(contract.config_topic(DEVICE), b"", qos=1, retain=True).wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


@pytest.fixture(scope="module")
def fake(broker):
    cards = {uid: member_record(uid, "สมชาย ใจดี", 120) for uid in (CARD, OTHER, THIRD)}
    srv = FakeServer(broker.host, broker.port, cards).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def watcher(broker):
    w = Watcher(broker)
    yield w
    w.stop()


@pytest.fixture(scope="module")
def kiosk(xvfb, broker, fake, watcher):
    with running_kiosk(xvfb.display, broker.url, device_id=DEVICE, lang="en") as k:
        k.wait_for("idle")
        yield k


def queries(fake, uid: str) -> int:
    return sum(1 for q in fake.queries if q.uid == uid)


def test_heartbeat_s_sets_how_often_the_kiosk_sends_its_status(kiosk, watcher):
    watcher.configure(1, heartbeat_s=1)
    assert wait_until(lambda: len(watcher.since(time.monotonic() - 1.2)) >= 1, 5), "no status at 1 s"
    start = time.monotonic()
    time.sleep(3.6)
    beats = [s for s in watcher.since(start) if s.get("reader")]
    assert len(beats) >= 3, f"heartbeat_s=1 gave {len(beats)} statuses in 3.6 s:\n{kiosk.stderr()}"
    assert beats[-1]["state"] == "online" and beats[-1]["reader"] == "ok" and "error" not in beats[-1]


def test_repeat_s_makes_the_same_card_one_tap_and_changes_live(kiosk, watcher, fake):
    watcher.configure(2, heartbeat_s=1)  # repeat_s not sent: the kiosk's default, 3 s
    kiosk.tap_reader(CARD)
    assert wait_until(lambda: queries(fake, CARD) == 1, 5)
    kiosk.wait_for("member")
    time.sleep(1.0)
    kiosk.tap_reader(CARD)  # 1 s later: the same tap
    time.sleep(1.0)
    assert queries(fake, CARD) == 1, "a card read again within repeat_s asked the server again"
    assert kiosk.texts()["screen"] == "member"

    watcher.configure(3, heartbeat_s=1, repeat_s=0)  # every read is a tap
    time.sleep(0.5)
    kiosk.tap_reader(CARD)
    assert wait_until(lambda: queries(fake, CARD) == 2, 5), "repeat_s=0 was not applied"


def test_reader_setting_switches_the_reader_live_and_a_bad_one_is_reported(kiosk, watcher, fake):
    pytest.importorskip("nfc")
    from hardware.readers.nfc_emulator import EmulatedCard

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = f"nfc:udp:localhost:{port}"
    watcher.configure(4, heartbeat_s=1, reader=spec)
    with EmulatedCard(OTHER, port=port):  # tapped on the new reader: the kiosk asks about it
        assert wait_until(lambda: queries(fake, OTHER) == 1, 10), f"the new reader read nothing:\n{kiosk.stderr()}"
    kiosk.wait_for("member")

    t = time.monotonic()
    watcher.configure(5, heartbeat_s=1, reader="bogus:x")  # cannot be opened: reported, nfc:udp kept
    assert wait_until(lambda: any("bogus:x" in (s.get("error") or "") for s in watcher.since(t)), 5), kiosk.stderr()
    error = next(s["error"] for s in watcher.since(t) if s.get("error"))
    assert f"still using {spec[:31]}" in error and "เปิดเครื่องอ่านบัตร" in error
    with EmulatedCard(THIRD, port=port):
        assert wait_until(lambda: queries(fake, THIRD) == 1, 10), "the old reader stopped reading"

    t = time.monotonic()
    watcher.configure(6, heartbeat_s=1)  # no reader setting: the kiosk's own --reader (stdin) again
    assert wait_until(lambda: any(s.get("reader") and not s.get("error") for s in watcher.since(t)), 5)
    time.sleep(1.0)
    kiosk.tap_reader(CARD)
    assert wait_until(lambda: queries(fake, CARD) == 3, 5), f"stdin is not read again:\n{kiosk.stderr()}"
