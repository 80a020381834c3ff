"""The kiosk's MQTT link: publish queries/feedback/status, receive answers and config.

A thin paho-mqtt wrapper owned by the kiosk. Callbacks run on paho's network
thread; the app hands them to Kivy's main thread itself (``Clock.schedule_once``),
so nothing here touches the UI.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from broker.client import BrokerError, BusClient, parse_mqtt_url
from broker.contract import (
    ContractError,
    DeviceConfig,
    Feedback,
    Query,
    Status,
    answer_topic,
    config_topic,
    feedback_topic,
    query_topic,
    status_topic,
)

log = logging.getLogger("privcard.kiosk.bus")

#: a kiosk that was offline must not flood the server with stale queries
MAX_QUEUED = 50


class BusError(RuntimeError):
    """The broker URL is unusable."""


def parse_url(url: str) -> tuple[str, int, str | None, str | None]:
    """``mqtt[s]://[user:pass@]host[:port]`` → (host, port, user, password); the shared URL rules."""
    try:
        settings = parse_mqtt_url(url if "://" in url else f"mqtt://{url}")
    except (BrokerError, ValueError) as exc:
        raise BusError(str(exc)) from None
    return settings.host, settings.port, settings.username, settings.password


class KioskBus:
    """One device's MQTT session: answers and config in, queries, feedback and status out.

    Built on :class:`broker.client.BusClient` (reconnect with backoff, TCP_NODELAY,
    TLS via ``mqtts://``, last will) like every other privcard process.
    """

    def __init__(
        self,
        url: str,
        device_id: str,
        *,
        on_answer: Callable[[bytes], None],
        on_config: Callable[[DeviceConfig], None] = lambda cfg: None,
        on_connection: Callable[[bool], None] = lambda up: None,
        prefix: str = "privcard",
        version: str = "",
    ):
        self.url = url
        self.device_id = device_id
        self.prefix = prefix
        self.version = version
        self.host, self.port, _, _ = parse_url(url)
        self._on_answer = on_answer
        self._on_config = on_config
        self._on_connection = on_connection
        self.started_at = time.monotonic()
        self._topics = {
            "answer": answer_topic(device_id, prefix),
            "config": config_topic(device_id, prefix),
            "query": query_topic(device_id, prefix),
            "feedback": feedback_topic(device_id, prefix),
            "status": status_topic(device_id, prefix),
        }
        self.client = BusClient(
            url if "://" in url else f"mqtt://{url}",
            f"privcard-kiosk-{device_id}",
            will=(self._topics["status"], Status("offline", {"kind": "kiosk"}).encode(), True),
            keepalive=15,
            max_queued=MAX_QUEUED,
        )
        self.client.subscribe(self._topics["answer"], self._message)
        self.client.subscribe(self._topics["config"], self._message)
        self.client.on_connect(self._connected)
        self.client.on_disconnect(self._disconnected)

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up."""
        return self.client.connected.is_set()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Connect in the background (retrying forever) and start paho's thread."""
        self.client.start()

    def stop(self) -> None:
        """Say offline (retained), disconnect, stop the thread."""
        try:
            if self.connected:
                self.client.publish(self._topics["status"], self._status("offline"), retain=True).wait_for_publish(1.0)
        except (BrokerError, RuntimeError, ValueError, OSError):
            pass
        self.client.stop()

    def _status(self, state: str, reader: str | None = None, error: str | None = None) -> bytes:
        extra = {
            "kind": "kiosk",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "uptime_s": round(time.monotonic() - self.started_at, 1),
        }
        if self.version:
            extra["version"] = self.version
        if reader:
            extra["reader"] = reader
        if error:
            extra["error"] = error[:200]
        return Status(state, extra).encode()

    def publish_status(self, reader: str | None = None, error: str | None = None) -> None:
        """Retained online status (heartbeat) with the reader's state, and ``error`` (a reader that could not be opened)."""
        if self.connected:
            self.client.publish(self._topics["status"], self._status("online", reader, error), retain=True)

    # ------------------------------------------------------------------ bus callbacks (paho's thread)

    def _connected(self, session_present: bool) -> None:
        self.client.publish(self._topics["status"], self._status("online"), retain=True)
        log.info("connected to %s:%s", self.host, self.port)
        self._on_connection(True)

    def _disconnected(self) -> None:
        log.warning("lost the broker at %s:%s", self.host, self.port)
        self._on_connection(False)

    def _message(self, topic: str, payload: bytes, msg) -> None:
        try:
            if topic == self._topics["answer"]:
                self._on_answer(payload)
            elif topic == self._topics["config"] and payload:
                self._on_config(DeviceConfig.parse(payload))
        except ContractError as exc:
            log.warning("ignored a bad %s message: %s", topic, exc)

    # ------------------------------------------------------------------ outgoing

    def query(self, query_id: str, uid: str, ndef: str | None = None, pin: str | None = None) -> None:
        """Ask the server about a card (*ndef*: its SUN URL as read; *pin*: ask it to check a staff PIN)."""
        self.client.publish(self._topics["query"], Query(query_id, uid, ndef=ndef, pin=pin).encode())

    def feedback(
        self,
        feedback_id: str,
        rating: int | None,
        uid: str | None,
        category: str | None = None,
        text: str | None = None,
    ) -> None:
        """Publish a visit rating (1–5), or a written message (category and text)."""
        fb = Feedback(feedback_id, rating, datetime.now(UTC), uid, category=category, text=text)
        self.client.publish(self._topics["feedback"], fb.encode())
