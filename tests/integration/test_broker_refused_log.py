"""A broker that refuses a client's connection (a wrong password, an account it no longer knows) is said once a minute.

The client retries with back-off (every 10 s at the longest), and each refusal logged a WARNING:
six a minute from every such device, for as long as nobody fixed it. Now the first refusal is a
WARNING at once; the same refusal again within a minute is logged at DEBUG and counted, and the
count is in the next WARNING. A successful connection starts afresh.

Real Mosquitto with anonymous clients refused (``allow_anonymous false``), both kinds of client:
paho's own network thread (gates, kiosks) and ``own_loop`` driven by a thread (the server).
"""

from __future__ import annotations

import logging
import threading

import pytest

from broker import client as bus_client
from broker.client import BusClient
from tests.brokers import MosquittoBroker
from tests.helpers import until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def refusing_mosquitto():
    broker = MosquittoBroker()
    broker.conf.write_text(broker.conf.read_text().replace("allow_anonymous true", "allow_anonymous false"))
    broker.start()
    yield broker
    broker.close()


@pytest.mark.parametrize("own_loop", [False, True], ids=["paho-thread", "own-loop"])
def test_a_refused_connection_is_warned_once_a_minute_with_how_often(refusing_mosquitto, caplog, monkeypatch, own_loop):
    caplog.set_level(logging.DEBUG, logger="broker.client")
    bus = BusClient(refusing_mosquitto.url, f"refused-{int(own_loop)}", own_loop=own_loop)
    stopping = threading.Event()

    def drive() -> None:
        while not stopping.is_set():
            bus.loop(0.05)

    driver = threading.Thread(target=drive, daemon=True) if own_loop else None

    def refusals(level: int) -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.name == "broker.client" and r.levelno == level and "refused the connection" in r.getMessage()
        ]

    bus.start()
    if driver:
        driver.start()
    try:
        until(lambda: len(refusals(logging.DEBUG)) >= 3, "three more refusals", timeout=40)
        assert len(refusals(logging.WARNING)) == 1, refusals(logging.WARNING)  # before: one per attempt
        assert "refused the connection" in (bus.last_error or "") and not bus.connected.is_set()
        # once the minute is over (shortened here), the next refusal is said again, with the count
        monkeypatch.setattr(bus_client, "UNREACHABLE_LOG_EVERY_S", 0.0)
        until(lambda: len(refusals(logging.WARNING)) == 2, "the next warning", timeout=30)
        assert "more time(s) in the" in refusals(logging.WARNING)[1], refusals(logging.WARNING)
    finally:
        stopping.set()
        if driver:
            driver.join(5)
        bus.stop()
