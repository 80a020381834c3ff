"""Fakes for the gate controller's ports, used by the gate's unit tests.

- :class:`FakeBus` — an in-memory bus: records publishes, delivers to subscribers,
  can be "disconnected", and can run a responder (a tiny fake server).
- :class:`RecordingIndicator` — remembers every signal and door pulse, with times.
- :class:`FakeClock` — a wall clock and monotonic clock the test moves by hand.

The product's own ``--no-gpio`` indicator is ``hardware.outputs.PrintIndicator``.

    >>> bus = FakeBus(connected=True)
    >>> got = []
    >>> bus.subscribe("a/#", lambda t, p, m: got.append(p))
    >>> _ = bus.publish("a/b", b"x")
    >>> got
    [b'x']
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import paho.mqtt.client as mqtt


class _Info:
    """Stands in for paho's MQTTMessageInfo."""

    rc = 0

    def wait_for_publish(self, timeout: float | None = None) -> None:
        return None

    def is_published(self) -> bool:
        return True


class FakeBus:
    """In-memory stand-in for :class:`broker.client.BusClient`."""

    def __init__(self, connected: bool = True):
        self.connected = threading.Event()
        self.published: list[tuple[str, bytes, bool]] = []
        self.retained: dict[str, bytes] = {}
        self._subs: dict[str, Callable] = {}
        self._hooks: list[Callable[[bool], None]] = []
        self._lock = threading.Lock()
        #: responder(topic, payload) -> list of (topic, payload) to deliver back, or None
        self.responder: Callable[[str, bytes], list | None] | None = None
        self.respond_delay_s = 0.0
        if connected:
            self.connected.set()

    def subscribe(self, topic_filter: str, handler, qos: int = 1) -> None:
        """Remember a handler; deliver matching retained messages at once, like a broker."""
        self._subs[topic_filter] = handler
        if self.connected.is_set():
            for topic, payload in list(self.retained.items()):
                if mqtt.topic_matches_sub(topic_filter, topic):
                    handler(topic, payload, None)

    def on_connect(self, hook: Callable[[bool], None]) -> None:
        """Called on connect()."""
        self._hooks.append(hook)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> _Info:
        """Record (only while connected, like a real broker would receive it) and loop back."""
        if not self.connected.is_set():
            return _Info()
        with self._lock:
            self.published.append((topic, bytes(payload), retain))
        if retain:
            self.retained[topic] = bytes(payload)
        self.deliver(topic, payload)
        if self.responder is not None:
            replies = self.responder(topic, bytes(payload)) or []
            if replies:
                if self.respond_delay_s:
                    threading.Timer(self.respond_delay_s, self._deliver_all, args=(replies,)).start()
                else:
                    self._deliver_all(replies)
        return _Info()

    def _deliver_all(self, replies) -> None:
        for topic, payload in replies:
            self.deliver(topic, payload)

    def deliver(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Hand a message to every matching subscriber (as paho's thread would)."""
        if retain:
            self.retained[topic] = bytes(payload)
        for f, handler in list(self._subs.items()):
            if mqtt.topic_matches_sub(f, topic):
                handler(topic, bytes(payload), None)

    def connect(self) -> None:
        """Come online: retained messages to subscribers, then the on_connect hooks."""
        self.connected.set()
        for topic, payload in list(self.retained.items()):
            self.deliver(topic, payload)
        for hook in self._hooks:
            hook(False)

    def disconnect(self) -> None:
        """Go offline."""
        self.connected.clear()

    def sent(self, suffix: str) -> list[bytes]:
        """Payloads published on topics ending with ``suffix``."""
        with self._lock:
            return [p for t, p, _ in self.published if t.endswith(suffix)]


class RecordingIndicator:
    """Remembers what the patron would have seen and heard."""

    def __init__(self, pins: dict | None = None, probe: Callable[[], object] | None = None):
        self.pins = dict(pins or {})
        self.signals: list[str] = []
        self.doors: list[int] = []
        self.events: list[tuple[str, object, float]] = []
        self.closed = False
        self.probe = probe
        self.exit_callbacks: list[Callable[[], None]] = []

    def signal(self, outcome: str, offline: bool = False) -> None:
        """Record an outcome (and what ``probe`` said at that moment)."""
        self.signals.append(outcome)
        self.events.append(("signal", (outcome, self.probe() if self.probe else None), time.monotonic()))

    def open_door(self, open_ms: int) -> None:
        """Record a relay pulse."""
        self.doors.append(open_ms)
        self.events.append(("door", open_ms, time.monotonic()))

    def on_exit_button(self, callback: Callable[[], None]) -> None:
        """Remember the exit-button callback (there is no button to press)."""
        self.exit_callbacks.append(callback)

    def close(self) -> None:
        """Release."""
        self.closed = True


class FakeClock:
    """A wall clock and a monotonic clock that only move when told."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2025, 1, 6, 9, 0, tzinfo=timezone(timedelta(hours=7)))
        self.mono = 1000.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        """The fake monotonic time."""
        return self.mono

    def advance(self, seconds: float) -> None:
        """Move both clocks."""
        self.now += timedelta(seconds=seconds)
        self.mono += seconds
