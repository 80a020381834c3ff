"""A broker that comes and goes adds one "cannot reach" WARNING a minute per client, not one per flap.

Before, each outage logged its own WARNING (a reconnect cleared it): a broker in a restart loop,
or a flaky link, filled every gate's, kiosk's and the server's log. Now the first outage is
logged at once; another that starts within a minute of that warning is logged at DEBUG and
counted; the count is in the next warning, once the minute is over. Each reconnection is
still logged (INFO ``connected to``).

Real Mosquitto, stopped and started several times within a minute, under each kind of client:
paho's own network thread (gates, kiosks) and ``own_loop`` driven by a thread of ours (the server).
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from broker import client as bus_client
from broker.client import BusClient
from tests.helpers import until

pytestmark = pytest.mark.timeout(120)


class _Driven:
    """An own-loop client with a thread calling its loop(), as the server's worker does."""

    def __init__(self, bus: BusClient):
        self.bus, self.stopping = bus, threading.Event()
        self.thread = threading.Thread(target=self._run, name="own-loop", daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.bus.loop(0.05)

    def start(self) -> None:
        self.bus.start()
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.bus.stop()


@pytest.mark.parametrize("own_loop", [False, True], ids=["paho-thread", "own-loop"])
def test_a_flapping_broker_is_logged_once_a_minute_with_how_often_it_went(mosquitto, monkeypatch, caplog, own_loop):
    caplog.set_level(logging.DEBUG, logger="broker.client")
    bus = BusClient(mosquitto.url, f"flapper-{int(own_loop)}", own_loop=own_loop)
    driven = _Driven(bus) if own_loop else None
    (driven or bus).start()

    def said(text: str, level: int = logging.INFO) -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.name == "broker.client" and r.levelno >= level and text in r.getMessage()
        ]

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "broker.client" and r.levelno >= logging.WARNING]

    def flap() -> None:
        """The broker goes away until the client has failed to reach it, and comes back."""
        connects = bus.connect_count
        mosquitto.stop()
        until(lambda: bus.last_error and "cannot reach" in bus.last_error, what="a failed attempt")
        mosquitto.start()
        until(lambda: bus.connect_count > connects, what="the reconnection")

    try:
        assert bus.wait_connected(10)
        started = time.monotonic()
        for _ in range(4):
            flap()
        assert time.monotonic() - started < 50  # all within the minute
        assert len(said("connected to")) == 5  # the first connection and each reconnection, logged (INFO)
        assert len(warnings()) == 1, warnings()  # the first outage at once; the next three within its minute
        assert warnings()[0] == f"cannot reach {bus.url}; retrying with backoff (0.5 s to 10 s)", warnings()
        assert len(said("an outage within a minute of the last warning", logging.DEBUG)) >= 3

        # the minute is over (here: its length is made 0.3 s): the next outage is said, with the three before it
        monkeypatch.setattr(bus_client, "UNREACHABLE_LOG_EVERY_S", 0.3)
        time.sleep(0.4)
        flap()
        assert len(warnings()) == 2, warnings()
        assert "(3 more outage(s) in the " in warnings()[1], warnings()
        assert "since the last warning, each logged at DEBUG)" in warnings()[1]

        # an outage that starts within the minute and lasts past it is said once the minute is over
        monkeypatch.setattr(bus_client, "UNREACHABLE_LOG_EVERY_S", 6.0)
        flap()  # within 6 s of the last warning: DEBUG
        assert len(warnings()) == 2, warnings()
        last = max(r.created for r in caplog.records if r.levelno >= logging.WARNING)
        assert time.time() - last < 4  # the next outage starts well within the window
        mosquitto.stop()
        until(lambda: len(warnings()) == 3, timeout=30, what="the long outage said")
        assert warnings()[2].startswith(f"cannot reach {bus.url} for "), warnings()
        assert "(1 more outage(s) in the " in warnings()[2], warnings()
        mosquitto.start()
        assert bus.wait_connected(20)
        assert len(warnings()) == 3, warnings()
    finally:
        (driven or bus).stop()
