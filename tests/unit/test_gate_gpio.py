"""The controller driving real gpiozero devices on MockFactory pins."""

from __future__ import annotations

import logging
import time

import pytest

from broker import contract
from broker.contract import DeviceConfig, Tap, TapResult
from gate.controller import Controller, GateSettings
from gate.outbox import Outbox
from tests.gate_fakes import FakeBus, FakeClock

pytest.importorskip("gpiozero")
from gpiozero.pins.mock import MockFactory

from hardware.outputs import make_indicator

DEV = "gate-gpio"
PINS = {"relay": 17, "green": 27, "red": 22, "amber": 23, "buzzer": 24}


def answer(open_: bool):
    def respond(topic, payload):
        if topic.endswith("/tap"):
            tap = Tap.parse(payload)
            outcome = "credited" if open_ else "unknown_card"
            return [(contract.result_topic(DEV), TapResult(tap.tap_id, outcome, open_, 5 if open_ else 0).encode())]

    return respond


@pytest.fixture
def gpio_gate(tmp_path):
    factory = MockFactory()
    clock = FakeClock()
    bus = FakeBus()
    ctl = Controller(
        GateSettings(DEV, open_ms=300, pins=PINS),
        outbox=Outbox(tmp_path / "o.db"),
        bus=bus,
        indicator=make_indicator(PINS, pin_factory=factory),
        make_indicator=lambda pins: make_indicator(pins, pin_factory=factory),
        clock=clock,
        clock_ok=lambda: True,
        monotonic=clock.monotonic,
    )
    ctl.start()
    yield ctl, bus, factory
    ctl.stop(timeout=2)
    ctl.indicator.close()


def wait_for(cond, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not cond():
        time.sleep(0.01)
    return cond()


def test_granted_tap_pulses_the_relay_for_open_ms(gpio_gate):
    ctl, bus, factory = gpio_gate
    bus.responder = answer(True)
    relay = factory.pin(17)
    assert relay.state is False  # locked at start
    t0 = time.monotonic()
    ctl.handle_read("04A1B2C3")
    assert relay.state is True  # open at once
    assert factory.pin(27).state is True  # green
    assert wait_for(lambda: relay.state is False, 2)
    assert 0.25 <= time.monotonic() - t0 <= 1.0  # for open_ms (300 ms), then locked again


def test_refused_tap_keeps_the_relay_closed(gpio_gate):
    ctl, bus, factory = gpio_gate
    bus.responder = answer(False)
    ctl.handle_read("04A1B2C3")
    assert factory.pin(22).state is True  # red
    time.sleep(0.1)
    assert factory.pin(17).state is False


def test_new_pins_from_config_take_over_and_bad_pins_are_rejected(gpio_gate, caplog):
    ctl, bus, factory = gpio_gate
    moved = dict(PINS, relay=5)
    bus.deliver(
        contract.config_topic(DEV),
        DeviceConfig(DEV, "gate", settings={"pins": moved, "open_ms": 300}, revision=2).encode(),
    )
    assert ctl.settings.revision == 2
    bus.responder = answer(True)
    ctl.handle_read("04A1B2C3")
    assert factory.pin(5).state is True and factory.pin(17).state is False
    with caplog.at_level(logging.ERROR, "privcard.gate"):
        bus.deliver(
            contract.config_topic(DEV),
            DeviceConfig(DEV, "gate", settings={"pins": dict(PINS, relay=99)}, revision=3).encode(),
        )
        bus.deliver(
            contract.config_topic(DEV),
            DeviceConfig(DEV, "gate", settings={"pins": dict(PINS, green=17)}, revision=4).encode(),
        )
    assert ctl.settings.revision == 2 and caplog.text.count("REJECTED") == 2
    assert wait_for(lambda: factory.pin(5).state is False, 2)
    ctl.handle_read("04D5E6F7")  # the previous pins still work
    assert factory.pin(5).state is True
