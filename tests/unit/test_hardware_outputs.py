"""Relay, LEDs, buzzer and buttons on gpiozero's MockFactory: what the person at the gate sees and hears."""

from __future__ import annotations

import time
import warnings

import pytest

pytest.importorskip("gpiozero")

from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from broker.settings import SettingError
from hardware import (
    HardwareError,
    outputs,
)
from hardware.outputs import GpioIndicator, Pins, PrintIndicator, make_indicator

RELAY, GREEN, RED, AMBER, BUZZER, DOOR, EXIT = 17, 27, 22, 23, 24, 5, 6


@pytest.fixture
def factory():
    """A fresh mock pin factory per test (no global pin state)."""
    return MockFactory()


@pytest.fixture
def indicator(factory):
    """A fully fitted gate on mock pins; closed afterwards."""
    indicator = GpioIndicator(Pins(door_sensor=DOOR, exit_button=EXIT), pin_factory=factory, exit_open_ms=200)
    yield indicator
    indicator.close()


def on_periods(pin, active=True) -> list[float]:
    """Durations of the completed periods the pin spent in its *active* state, from MockPin.states."""
    periods, started, clock = [], None, 0.0
    for change in pin.states:
        clock += change.timestamp
        if change.state == active and started is None:
            started = clock
        elif change.state != active and started is not None:
            periods.append(clock - started)
            started = None
    return periods


def test_door_relay_pulses_for_open_ms_without_blocking(indicator, factory):
    relay = factory.pin(RELAY)
    started = time.monotonic()
    indicator.signal("granted")
    indicator.open_door(300)
    assert time.monotonic() - started < 0.1  # the caller is not held up
    assert relay.state is True  # door unlocked at once
    time.sleep(0.45)
    assert relay.state is False  # and locked again
    assert on_periods(relay) == [pytest.approx(0.3, abs=0.08)]


def test_refused_never_touches_the_relay(indicator, factory):
    indicator.signal("refused")
    time.sleep(0.4)
    assert on_periods(factory.pin(RELAY)) == []
    assert factory.pin(RELAY).state is False


def test_granted_is_green_for_a_second_and_one_short_beep(indicator, factory):
    indicator.signal("granted")
    time.sleep(0.1)
    assert factory.pin(GREEN).state is True
    assert factory.pin(RED).state is False and factory.pin(AMBER).state is False
    time.sleep(1.1)
    assert factory.pin(GREEN).state is False
    assert on_periods(factory.pin(GREEN)) == [pytest.approx(1.0, abs=0.1)]
    assert on_periods(factory.pin(BUZZER)) == [pytest.approx(0.1, abs=0.05)]


def test_refused_is_red_and_two_short_beeps(indicator, factory):
    indicator.signal("refused")
    time.sleep(0.5)
    assert factory.pin(RED).state is True
    assert factory.pin(GREEN).state is False
    beeps = on_periods(factory.pin(BUZZER))
    assert beeps == [pytest.approx(0.1, abs=0.05)] * 2


@pytest.mark.parametrize("outcome, offline, lit", [("granted", True, GREEN), ("offline_refused", False, RED)])
def test_offline_decisions_are_amber_with_one_long_beep(indicator, factory, outcome, offline, lit):
    indicator.signal(outcome, offline=offline)
    time.sleep(0.5)
    assert factory.pin(AMBER).state is True
    assert factory.pin(lit).state is True
    assert on_periods(factory.pin(BUZZER)) == [pytest.approx(0.4, abs=0.06)]


def test_error_blinks_red(indicator, factory):
    indicator.signal("error")
    time.sleep(0.7)  # five 0.15 s blinks, 0.15 s apart: two done, the third under way
    blinks = on_periods(factory.pin(RED))
    assert blinks[:2] == [pytest.approx(0.15, abs=0.05)] * 2
    assert len(factory.pin(RED).states) >= 5  # still blinking, not a steady light
    assert len(on_periods(factory.pin(BUZZER))) == 3
    assert factory.pin(GREEN).state is False


def test_a_new_signal_replaces_the_running_pattern(indicator, factory):
    indicator.signal("refused")
    time.sleep(0.05)
    indicator.signal("granted")
    time.sleep(0.05)
    assert factory.pin(RED).state is False
    assert factory.pin(GREEN).state is True


def test_active_low_relay_module_is_high_when_idle_and_low_while_open(factory):
    indicator = GpioIndicator(Pins(relay_active_high=False), pin_factory=factory)
    try:
        relay = factory.pin(RELAY)
        assert relay.state is True  # idle: input of an active-low module held high
        relay.clear_states()  # forget the mock pin's floating-low state before setup
        indicator.open_door(200)
        assert relay.state is False
        time.sleep(0.35)
        assert relay.state is True
        assert on_periods(relay, active=False) == [pytest.approx(0.2, abs=0.08)]
    finally:
        indicator.close()
    assert factory.pin(RELAY).state is True  # closing leaves the door locked


def test_exit_button_press_opens_the_door_and_tells_the_gate(indicator, factory):
    presses = []
    indicator.on_exit_button(lambda: presses.append(time.monotonic()))
    factory.pin(EXIT).drive_low()  # button to ground, internal pull-up
    assert factory.pin(RELAY).state is True
    assert len(presses) == 1
    factory.pin(EXIT).drive_high()
    time.sleep(0.35)
    assert factory.pin(RELAY).state is False
    assert on_periods(factory.pin(RELAY)) == [pytest.approx(0.2, abs=0.08)]


def test_door_sensor_reports_the_reed_switch(indicator, factory):
    assert indicator.door_closed is False  # pulled up: switch open, door open
    factory.pin(DOOR).drive_low()  # magnet closes the reed switch
    assert indicator.door_closed is True


def test_one_rgb_led_shows_the_colours(factory):
    indicator = make_indicator({"rgb": [5, 6, 13]}, pin_factory=factory)
    try:
        red, green, blue = (factory.pin(n) for n in (5, 6, 13))
        indicator.signal("granted")
        time.sleep(0.1)
        assert (red.state, green.state, blue.state) == (False, True, False)
        indicator.signal("offline_granted")
        time.sleep(0.1)
        assert (red.state, green.state, blue.state) == (True, True, False)  # amber
    finally:
        indicator.close()


def test_closing_switches_everything_off(factory):
    indicator = GpioIndicator(Pins(), pin_factory=factory)
    indicator.signal("granted")
    indicator.open_door(5000)
    indicator.close()
    assert factory.pin(RELAY).state is False
    assert factory.pin(GREEN).state is False
    assert factory.pin(BUZZER).state is False


def test_env_mock_pin_factory_works_for_the_default_factory(monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    monkeypatch.setattr(Device, "pin_factory", None)
    indicator = make_indicator(Pins(relay=17))
    try:
        indicator.open_door(100)
        assert indicator.relay.is_active
    finally:
        indicator.close()


def test_bad_outcome_and_door_pulse_are_refused(indicator):
    with pytest.raises(HardwareError, match="unknown outcome 'maybe'"):
        indicator.signal("maybe")
    with pytest.raises(HardwareError, match="open_ms must be an integer"):
        indicator.open_door(0)
    with pytest.raises(HardwareError, match="open_ms must be an integer"):
        indicator.open_door(120_000)


def test_print_indicator_for_no_gpio(capsys):
    indicator = make_indicator(Pins(), no_gpio=True)
    assert isinstance(indicator, PrintIndicator)
    presses = []
    indicator.on_exit_button(lambda: presses.append(1))
    indicator.signal("granted")
    indicator.signal("refused", offline=True)
    indicator.open_door(3000)
    indicator.press_exit_button()
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "[gate] GRANTED (green, beep)",
        "[gate] OFFLINE REFUSED (amber, long beep)",
        "[gate] DOOR OPEN 3000 ms",
        "[gate] EXIT BUTTON",
        "[gate] DOOR OPEN 3000 ms",
    ]
    assert presses == [1]


# -- pin configuration -----------------------------------------------------------------
def test_pins_from_dict_accepts_defaults_nulls_and_rgb():
    assert Pins.from_dict({}) == Pins()
    pins = Pins.from_dict({"relay": 26, "relay_active_high": False, "amber": None, "exit_button": 6})
    assert (pins.relay, pins.relay_active_high, pins.amber, pins.exit_button) == (26, False, None, 6)
    rgb = Pins.from_dict({"rgb": [5, 6, 13]})
    assert rgb.rgb == (5, 6, 13) and rgb.green is None and rgb.red is None


@pytest.mark.parametrize(
    "data, message",
    [
        ({"relay": 28}, "relay pin must be a BCM number 0-27, got 28"),
        ({"green": -1}, "green pin must be a BCM number 0-27, got -1"),
        ({"relay": "17"}, "relay pin must be a BCM number 0-27 or null, got '17'"),
        ({"buzzer": True}, "buzzer pin must be a BCM number"),
        ({"relay": 27}, "GPIO27 is used for both relay and green"),
        ({"exit_button": 5, "door_sensor": 5}, "GPIO5 is used for both door_sensor and exit_button"),
        ({"colour": 4}, "unknown pin setting 'colour'"),
        ({"rgb": [5, 6]}, "rgb must be three pins"),
        ({"rgb": [5, 6, 13], "green": 27}, "rgb replaces the green/red/amber LEDs"),
        ({"relay_active_high": "yes"}, "relay_active_high must be true or false"),
    ],
)
def test_pins_from_dict_rejects_bad_pins_precisely(data, message):
    with pytest.raises(HardwareError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Pins.from_dict(data)


def test_without_a_pin_factory_off_a_pi_the_error_says_what_to_do(monkeypatch):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    monkeypatch.setattr(Device, "pin_factory", None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PinFactoryFallback for each library tried
            indicator = make_indicator(Pins())
    except HardwareError as error:
        assert "--no-gpio or GPIOZERO_PIN_FACTORY=mock" in str(error)
    else:  # on a real Raspberry Pi the default factory loads
        indicator.close()


# ---------------------------------------------------------------- limits agree with broker.settings


def _accepted(check, value) -> bool:
    try:
        check(value)
    except (HardwareError, SettingError):
        return False
    return True


def test_pin_and_door_pulse_limits_agree_with_broker_settings(indicator):
    """hardware imports none of ours, so its limits are written twice; this keeps them equal."""
    from broker import settings as S

    assert (outputs.MIN_PIN, outputs.MAX_PIN) == (S.MIN_PIN, S.MAX_PIN)
    assert set(outputs._PIN_FIELDS) == set(S.PIN_NAMES)
    for pin in (-1, 0, 17, 27, 28, 40, True, 3.0, None):
        assert _accepted(
            lambda p: Pins(relay=None, green=None, red=None, amber=None, buzzer=None, exit_button=p), pin
        ) == _accepted(
            lambda p: S.check(
                "gate",
                {"pins": {"relay": None, "green": None, "red": None, "amber": None, "buzzer": None, "exit_button": p}},
            ),
            pin,
        ), pin
    for open_ms in (0, 99, 100, 3000, 60_000, 60_001, True, 100.0):
        assert _accepted(indicator.open_door, open_ms) == _accepted(
            lambda v: S.check("gate", {"open_ms": v}), open_ms
        ), open_ms
    # the reference wiring of docs/hardware.md, as both sides default to it
    assert {k: v for k, v in Pins().assigned().items()} == {
        k: v for k, v in S.defaults("gate")["pins"].items() if v is not None
    }
