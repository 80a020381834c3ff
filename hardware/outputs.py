"""Gate outputs: door relay, status LEDs, buzzer, door sensor and exit button.

This module owns the :class:`Indicator` port and its two adapters:
:class:`GpioIndicator` (gpiozero) and :class:`PrintIndicator` (``--no-gpio``),
plus the :class:`Pins` configuration (BCM numbers). Pick one with
:func:`make_indicator`::

    >>> from gpiozero.pins.mock import MockFactory
    >>> indicator = make_indicator({"relay": 17, "exit_button": 6}, pin_factory=MockFactory())
    >>> indicator.signal("granted")     # green ~1 s + one short beep, returns at once
    >>> indicator.open_door(3000)       # relay on now, off after 3 s, returns at once
    >>> indicator.close()

Off a Raspberry Pi set ``GPIOZERO_PIN_FACTORY=mock`` (or pass
``pin_factory=MockFactory()``). Only plain on/off devices are used (``LED``,
``Buzzer``, ``DigitalOutputDevice``, ``RGBLED(pwm=False)``), so gpiozero's mock
pins, which do not do PWM, are enough.

Feedback patterns (all in the background; nothing blocks the caller):

=================  ======================  =============================
outcome            light                   sound (active buzzer)
=================  ======================  =============================
granted            green ~1 s              one short beep (100 ms)
refused            red ~1.5 s              two short beeps
offline_granted    amber + green ~1.5 s    one long beep (400 ms)
offline_refused    amber + red ~1.5 s      one long beep (400 ms)
error              red blinking (5x)       three very short beeps
=================  ======================  =============================

With one RGB LED (``rgb=(r, g, b)``) the colours are green, red, amber
(red+green, since the LED is switched, not dimmed) and blinking red.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Protocol, TextIO

from hardware.errors import HardwareError

log = logging.getLogger(__name__)

OUTCOMES = ("granted", "refused", "offline_granted", "offline_refused", "error")
# BCM numbers of the 40-pin header's GPIOs (GPIO0/1 are the HAT ID EEPROM bus,
# allowed but best avoided).
MIN_PIN, MAX_PIN = 0, 27
_PIN_FIELDS = ("relay", "green", "red", "amber", "buzzer", "door_sensor", "exit_button")
# The door pulse we accept: shorter than 100 ms a strike may not release; energised for
# minutes it overheats. The same limits as broker.settings (this package imports none of
# ours, so tests/unit/test_hardware_outputs.py checks that they agree).
MIN_OPEN_MS, MAX_OPEN_MS = 100, 60_000


@dataclass
class Pins:
    """BCM pin numbers of the gate's outputs and inputs; None means "not fitted"."""

    relay: int | None = 17
    relay_active_high: bool = True
    green: int | None = 27
    red: int | None = 22
    amber: int | None = 23
    buzzer: int | None = 24
    door_sensor: int | None = None
    exit_button: int | None = None
    rgb: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        """Validate pins; with ``rgb`` the separate green/red/amber LEDs are not used."""
        for name in _PIN_FIELDS:
            _check_pin(name, getattr(self, name))
        if not isinstance(self.relay_active_high, bool):
            raise HardwareError(f"relay_active_high must be true or false, got {self.relay_active_high!r}")
        if self.rgb is not None:
            if not isinstance(self.rgb, (tuple, list)) or len(self.rgb) != 3:
                raise HardwareError(f"rgb must be three pins [red, green, blue], got {self.rgb!r}")
            for colour, pin in zip(("rgb red", "rgb green", "rgb blue"), self.rgb, strict=False):
                _check_pin(colour, pin)
                if pin is None:
                    raise HardwareError(f"{colour} pin is missing in rgb {self.rgb!r}")
            self.rgb = tuple(self.rgb)
            self.green = self.red = self.amber = None
        used: dict[int, str] = {}
        for name, pin in self.assigned().items():
            if pin in used:
                raise HardwareError(f"GPIO{pin} is used for both {used[pin]} and {name}")
            used[pin] = name

    def assigned(self) -> dict[str, int]:
        """Every fitted device and its pin, e.g. ``{"relay": 17, "rgb red": 5}``."""
        pins = {name: getattr(self, name) for name in _PIN_FIELDS if getattr(self, name) is not None}
        if self.rgb is not None:
            pins.update(zip(("rgb red", "rgb green", "rgb blue"), self.rgb, strict=False))
        return pins

    @classmethod
    def from_dict(cls, data: dict) -> Pins:
        """Pins from configuration (e.g. the device's retained config); HardwareError if invalid."""
        if not isinstance(data, dict):
            raise HardwareError(f"pins must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise HardwareError(f"unknown pin setting {unknown[0]!r} (expected one of {', '.join(sorted(known))})")
        values = dict(data)
        if values.get("rgb") is not None:
            clash = [name for name in ("green", "red", "amber") if values.get(name) is not None]
            if clash:
                raise HardwareError(f"rgb replaces the green/red/amber LEDs; do not also set {clash[0]}")
            if isinstance(values["rgb"], list):
                values["rgb"] = tuple(values["rgb"])
        return cls(**values)


def _check_pin(name: str, pin) -> None:
    """Refuse anything but None or an int 0-27 (bools are not pins)."""
    if pin is None:
        return
    if isinstance(pin, bool) or not isinstance(pin, int):
        raise HardwareError(f"{name} pin must be a BCM number {MIN_PIN}-{MAX_PIN} or null, got {pin!r}")
    if not MIN_PIN <= pin <= MAX_PIN:
        raise HardwareError(f"{name} pin must be a BCM number {MIN_PIN}-{MAX_PIN}, got {pin}")


def _normalize_outcome(outcome: str, offline: bool) -> str:
    """Map ("granted", offline=True) to "offline_granted"; refuse unknown outcomes."""
    if outcome not in OUTCOMES:
        raise HardwareError(f"unknown outcome {outcome!r} (expected one of {', '.join(OUTCOMES)})")
    if offline and outcome in ("granted", "refused"):
        return "offline_" + outcome
    return outcome


def _check_open_ms(open_ms) -> int:
    """Refuse a door pulse that is not 100-60000 ms."""
    if isinstance(open_ms, bool) or not isinstance(open_ms, int) or not MIN_OPEN_MS <= open_ms <= MAX_OPEN_MS:
        raise HardwareError(f"open_ms must be an integer {MIN_OPEN_MS}-{MAX_OPEN_MS}, got {open_ms!r}")
    return open_ms


class Indicator(Protocol):
    """The output port a gate drives: feedback, door pulse, exit button."""

    def signal(self, outcome: str, *, offline: bool = False) -> None:
        """Show the outcome of a tap (granted, refused, offline_*, error); non-blocking."""

    def open_door(self, open_ms: int) -> None:
        """Energise the door relay for *open_ms* milliseconds; non-blocking."""

    def on_exit_button(self, callback: Callable[[], None]) -> None:
        """Call *callback* (after the door opens) whenever the exit button is pressed."""

    def close(self) -> None:
        """Switch everything off and release the pins."""


@dataclass(frozen=True)
class Pattern:
    """How one outcome looks and sounds."""

    leds: tuple[str, ...]  # which of green/red/amber light up
    rgb: tuple[int, int, int]  # the colour on a single RGB LED
    on: float  # seconds lit (per blink)
    off: float  # seconds dark between blinks
    blinks: int
    beeps: int
    beep_on: float
    beep_off: float
    words: str  # for PrintIndicator and logs


PATTERNS: dict[str, Pattern] = {
    "granted": Pattern(("green",), (0, 1, 0), 1.0, 0.0, 1, 1, 0.1, 0.1, "GRANTED (green, beep)"),
    "refused": Pattern(("red",), (1, 0, 0), 1.5, 0.0, 1, 2, 0.1, 0.1, "REFUSED (red, beep beep)"),
    "offline_granted": Pattern(
        ("amber", "green"), (1, 1, 0), 1.5, 0.0, 1, 1, 0.4, 0.1, "OFFLINE GRANTED (amber, long beep)"
    ),
    "offline_refused": Pattern(
        ("amber", "red"), (1, 1, 0), 1.5, 0.0, 1, 1, 0.4, 0.1, "OFFLINE REFUSED (amber, long beep)"
    ),
    "error": Pattern(("red",), (1, 0, 0), 0.15, 0.15, 5, 3, 0.05, 0.05, "ERROR (red blinking, beep beep beep)"),
}


class _ExitButton:
    """The exit button both indicators share: open the door, then tell the gate."""

    exit_open_ms: int
    _exit_callbacks: list

    def open_door(self, open_ms: int) -> None:  # pragma: no cover - each indicator defines it
        raise NotImplementedError

    def on_exit_button(self, callback: Callable[[], None]) -> None:
        """Call *callback* after the door opens for each exit button press."""
        self._exit_callbacks.append(callback)

    def _open_for_exit(self) -> None:
        """Door pulse for ``exit_open_ms``, then the callbacks (which never raise out)."""
        self.open_door(self.exit_open_ms)
        for callback in list(self._exit_callbacks):
            try:
                callback()
            except Exception:
                log.exception("exit button callback failed")


class GpioIndicator(_ExitButton):
    """Relay, LEDs, buzzer, door sensor and exit button on gpiozero devices.

    Every device gets *pin_factory* (None: gpiozero's default, which honours
    ``GPIOZERO_PIN_FACTORY``). The exit button, wired to ground with the internal
    pull-up, opens the door for *exit_open_ms* and then calls the callbacks
    registered with :meth:`on_exit_button`.
    """

    def __init__(self, pins: Pins, *, pin_factory=None, exit_open_ms: int = 3000) -> None:
        """Claim the pins; HardwareError (with a hint) if GPIO is not available."""
        try:
            from gpiozero import LED, RGBLED, Button, Buzzer, DigitalInputDevice, DigitalOutputDevice
            from gpiozero.exc import GPIOZeroError
        except ImportError as error:
            raise HardwareError(f"gpiozero is not installed (pip install 'privcard[gate]'): {error}") from None
        self.pins = pins
        self.exit_open_ms = _check_open_ms(exit_open_ms)
        self._lock = threading.RLock()
        self._exit_callbacks: list[Callable[[], None]] = []
        self._devices: list = []
        self.relay = self.buzzer = self.rgb = self.door_sensor = self.exit_button = None
        self.leds: dict[str, object] = {}
        try:
            if pins.relay is not None:
                # initial_value=False: the door stays locked while the gate starts.
                self.relay = self._add(
                    DigitalOutputDevice(
                        pins.relay, active_high=pins.relay_active_high, initial_value=False, pin_factory=pin_factory
                    )
                )
            for colour in ("green", "red", "amber"):
                pin = getattr(pins, colour)
                if pin is not None:
                    self.leds[colour] = self._add(LED(pin, pin_factory=pin_factory))
            if pins.rgb is not None:
                # pwm=False: switched colours only, so mock pins (no PWM) work.
                self.rgb = self._add(RGBLED(*pins.rgb, pwm=False, pin_factory=pin_factory))
            if pins.buzzer is not None:
                self.buzzer = self._add(Buzzer(pins.buzzer, pin_factory=pin_factory))
            if pins.door_sensor is not None:
                # Reed switch to ground: closed (magnet near, door shut) reads active.
                # Not a Button: its hold thread, waiting out hold_time while the
                # door stays shut, delays every shutdown by a second.
                self.door_sensor = self._add(
                    DigitalInputDevice(pins.door_sensor, pull_up=True, pin_factory=pin_factory)
                )
            if pins.exit_button is not None:
                # 50 ms debounce: a mechanical push button chatters for a few ms.
                self.exit_button = self._add(
                    Button(pins.exit_button, pull_up=True, bounce_time=0.05, pin_factory=pin_factory)
                )
                self.exit_button.when_pressed = self._exit_pressed
        except GPIOZeroError as error:
            self.close()
            raise HardwareError(
                f"cannot set up GPIO ({type(error).__name__}: {error}); off a Raspberry Pi "
                "use --no-gpio or GPIOZERO_PIN_FACTORY=mock"
            ) from None

    def _add(self, device):
        """Remember a device so close() releases it."""
        self._devices.append(device)
        return device

    def signal(self, outcome: str, *, offline: bool = False) -> None:
        """Start the light and sound pattern for *outcome*, replacing any running one."""
        outcome = _normalize_outcome(outcome, offline)
        pattern = PATTERNS[outcome]
        log.debug("signal %s", outcome)
        with self._lock:
            for led in self.leds.values():
                led.off()
            for colour in pattern.leds:
                led = self.leds.get(colour)
                if led is not None:
                    led.blink(on_time=pattern.on, off_time=pattern.off, n=pattern.blinks, background=True)
            if self.rgb is not None:
                self.rgb.blink(
                    on_time=pattern.on, off_time=pattern.off, on_color=pattern.rgb, n=pattern.blinks, background=True
                )
            if self.buzzer is not None:
                self.buzzer.beep(on_time=pattern.beep_on, off_time=pattern.beep_off, n=pattern.beeps, background=True)

    def open_door(self, open_ms: int) -> None:
        """Energise the relay now and release it after *open_ms*; a new call restarts the pulse."""
        open_ms = _check_open_ms(open_ms)
        with self._lock:
            if self.relay is None:
                log.warning("open_door(%d): no relay pin configured", open_ms)
                return
            log.info("door open for %d ms", open_ms)
            # One blink of open_ms: gpiozero's blink thread switches the relay off
            # at the end, and off()/close() stop it early.
            self.relay.blink(on_time=open_ms / 1000, off_time=0, n=1, background=True)

    @property
    def door_closed(self) -> bool | None:
        """Whether the door sensor reports the door shut (None without a sensor)."""
        return None if self.door_sensor is None else bool(self.door_sensor.is_active)

    def _exit_pressed(self) -> None:
        """Exit button: open the door, then tell the gate."""
        log.info("exit button pressed")
        self._open_for_exit()

    def close(self) -> None:
        """Relay off (door locked), LEDs and buzzer off, pins released."""
        with self._lock:
            for device in reversed(self._devices):
                try:
                    if hasattr(device, "off"):
                        device.off()
                    device.close()
                except Exception as error:  # closing must not hide the original error
                    log.debug("closing %r: %s", device, error)
            self._devices.clear()


class PrintIndicator(_ExitButton):
    """Feedback as text lines, for ``--no-gpio`` development and end-to-end tests.

    Lines look like ``[gate] GRANTED (green, beep)`` and ``[gate] DOOR OPEN 3000 ms``
    and are flushed at once, so a test reading a gate's stdout sees them.
    """

    def __init__(self, *, name: str = "gate", stream: TextIO | None = None, exit_open_ms: int = 3000) -> None:
        """Write to *stream* (default ``sys.stdout`` at the time of writing)."""
        self.name = name
        self.exit_open_ms = _check_open_ms(exit_open_ms)
        self._stream = stream
        self._exit_callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self.lines: list[str] = []  # what was printed, for tests
        self.door_closed: bool | None = None

    def _say(self, text: str) -> None:
        """Print one line, flushed."""
        line = f"[{self.name}] {text}"
        with self._lock:
            self.lines.append(line)
            stream = self._stream if self._stream is not None else sys.stdout
            print(line, file=stream, flush=True)
        log.debug("%s", line)

    def signal(self, outcome: str, *, offline: bool = False) -> None:
        """Print the outcome, e.g. ``[gate] REFUSED (red, beep beep)``."""
        self._say(PATTERNS[_normalize_outcome(outcome, offline)].words)

    def open_door(self, open_ms: int) -> None:
        """Print the door pulse, e.g. ``[gate] DOOR OPEN 3000 ms``."""
        self._say(f"DOOR OPEN {_check_open_ms(open_ms)} ms")

    def press_exit_button(self) -> None:
        """Simulate the exit button: door pulse, then the callbacks."""
        self._say("EXIT BUTTON")
        self._open_for_exit()

    def close(self) -> None:
        """Nothing to release."""


def make_indicator(
    pins: Pins | dict | None = None,
    *,
    no_gpio: bool = False,
    pin_factory=None,
    exit_open_ms: int = 3000,
    name: str = "gate",
) -> GpioIndicator | PrintIndicator:
    """The gate's indicator: gpiozero devices on *pins*, or text lines with *no_gpio*."""
    if no_gpio:
        return PrintIndicator(name=name, exit_open_ms=exit_open_ms)
    if pins is None:
        pins = Pins()
    elif isinstance(pins, dict):
        pins = Pins.from_dict(pins)
    elif not isinstance(pins, Pins):
        raise HardwareError(f"pins must be a Pins or a dict, got {type(pins).__name__}")
    return GpioIndicator(pins, pin_factory=pin_factory, exit_open_ms=exit_open_ms)
