"""The gate's reader loop: the ``reader`` setting applied live, and the watchdog tied to the loop's progress.

The controller runs on the fakes of tests/gate_fakes.py; the readers are real
(``hardware.readers``: the ``fake`` reader, and nfcpy's ``udp`` simulated reader with a
card emulated by ``hardware.readers.nfc_emulator``).
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from broker import contract
from broker.contract import DeviceConfig, Tap
from gate.controller import Controller, GateSettings
from gate.outbox import Outbox
from gate.reading import ReaderLoop
from hardware.readers import open_reader
from tests.gate_fakes import FakeBus, RecordingIndicator

DEV = "gate-1"
CARD = "04A1B2C3"
OTHER = "04D5E6F7"
THIRD = "04112233"


def config(revision: int, **settings) -> bytes:
    return DeviceConfig(device_id=DEV, kind="gate", activity="entry", settings=settings, revision=revision).encode()


def wait_until(cond, timeout=5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


@pytest.fixture
def gate(tmp_path):
    """(controller, bus, loop, notified, indicator) built like gate.main wires them; stopped afterwards."""
    made = []

    def build(*, probe=None, stall_s=20.0, heartbeat_s=30):
        bus = FakeBus(connected=True)
        notified: list[str] = []
        box = Outbox(tmp_path / f"outbox{len(made)}.db")
        ind = RecordingIndicator(probe=probe)
        loop = None
        ctl = Controller(
            GateSettings(device_id=DEV, heartbeat_s=heartbeat_s, decision_timeout_ms=100),
            outbox=box,
            bus=bus,
            indicator=ind,
            clock_ok=lambda: True,
            reader_state=lambda: loop.state(),
            reader_error=lambda: loop.error(),
            reader_alive=lambda: loop.alive(),
            notify=notified.append,
        )
        loop = ReaderLoop(ctl, open_reader("fake"), own_spec="fake", stall_s=stall_s)
        ctl.start()
        made.append((ctl, loop, box))
        return ctl, bus, loop, notified, ind

    yield build
    for ctl, loop, box in made:
        loop.close()
        ctl.stop(timeout=2)
        box.close()


def taps(bus) -> list[str]:
    return [Tap.parse(p).uid for p in bus.sent("/tap")]


def status(bus) -> dict:
    return json.loads(bus.retained[contract.status_topic(DEV)])


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- the reader setting


def test_reader_setting_switches_the_reader_live_and_back_to_the_devices_own(gate):
    pytest.importorskip("nfc")
    from hardware.readers.nfc_emulator import EmulatedCard

    ctl, bus, loop, _notified, _ind = gate()
    done = threading.Event()
    first = loop.reader
    first.present(CARD)
    loop.step(done)
    assert taps(bus) == [CARD]

    port = free_udp_port()
    spec = f"nfc:udp:localhost:{port}"
    bus.deliver(contract.config_topic(DEV), config(2, reader=spec))
    assert ctl.settings.reader == spec
    loop.step(done)
    assert loop.switch.spec == spec and loop.reader is not first and first.state == "closed"
    assert status(bus)["reader"] == "ok" and "error" not in status(bus)
    with EmulatedCard(OTHER, port=port):  # a card on the new reader reaches the controller
        assert wait_until(lambda: loop.step(done) or OTHER in taps(bus), 10), taps(bus)

    # a config without the setting: the device's own reader (--reader) again
    bus.deliver(contract.config_topic(DEV), config(3))
    loop.step(done)
    assert ctl.settings.reader is None and loop.switch.spec == "fake" and loop.reader.state == "ok"
    loop.reader.present(THIRD)
    loop.step(done)
    assert taps(bus) == [CARD, OTHER, THIRD]


@pytest.mark.parametrize("bad", ["bogus:x", "serial:/dev/ttyS9?format=nonsense"])
def test_a_reader_that_cannot_be_opened_is_reported_and_the_old_one_keeps_reading(gate, bad, caplog):
    _ctl, bus, loop, _notified, _ind = gate()
    done = threading.Event()
    first = loop.reader
    bus.deliver(contract.config_topic(DEV), config(2, reader=bad))
    loop.step(done)  # never raises
    assert loop.reader is first and first.state == "ok"
    error = status(bus)["error"]  # published at once, for the console's dashboard
    assert bad[:20] in error and "still using fake" in error and "เปิดเครื่องอ่านบัตร" in error
    assert contract.Status.parse(bus.retained[contract.status_topic(DEV)]).extra["error"] == error
    assert "could not be opened" in caplog.text
    first.present(CARD)
    loop.step(done)
    assert taps(bus) == [CARD]

    caplog.clear()
    bus.deliver(contract.config_topic(DEV), config(2, reader=bad))  # the same config again: not retried
    loop.step(done)
    assert "could not be opened" not in caplog.text
    bus.deliver(contract.config_topic(DEV), config(3, reader=bad))  # saved again: tried again
    loop.step(done)
    assert "could not be opened" in caplog.text

    bus.deliver(contract.config_topic(DEV), config(4))  # staff removed it: the error goes
    loop.step(done)
    assert "error" not in status(bus) and loop.reader is first


# ---------------------------------------------------------------- the watchdog


def test_the_watchdog_is_pinged_only_while_the_reader_loop_comes_round(gate, caplog):
    release = threading.Event()
    wedge = threading.Event()

    def probe():  # the indicator: wedges (as a hung GPIO call would) once `wedge` is set
        if wedge.is_set():
            release.wait(30)

    _ctl, _bus, loop, notified, _ind = gate(probe=probe, stall_s=1.5, heartbeat_s=1)
    done = threading.Event()
    runner = threading.Thread(target=loop.run, args=(done,), daemon=True)
    runner.start()
    try:
        # an idle loop (no card) comes round every half second: pinged
        assert wait_until(lambda: notified.count("WATCHDOG=1") >= 2, 4)
        wedge.set()
        loop.reader.present(CARD)
        assert wait_until(lambda: "no progress" in caplog.text, 5), "the wedged loop was not noticed"
        pings = notified.count("WATCHDOG=1")
        time.sleep(2.2)  # two heartbeats more
        assert notified.count("WATCHDOG=1") == pings, "the watchdog was pinged while the reader loop was stuck"
        assert not loop.alive()
        release.set()
        assert wait_until(lambda: notified.count("WATCHDOG=1") > pings, 4)
    finally:
        release.set()
        done.set()
        runner.join(5)


def test_without_a_reader_loop_the_controller_pings_as_before(tmp_path):
    notified: list[str] = []
    box = Outbox(tmp_path / "outbox.db")
    ctl = Controller(
        GateSettings(device_id=DEV),
        outbox=box,
        bus=FakeBus(),
        indicator=RecordingIndicator(),
        clock_ok=lambda: True,
        notify=notified.append,
    )
    assert ctl.watchdog() is True and notified == ["WATCHDOG=1"]
    box.close()
