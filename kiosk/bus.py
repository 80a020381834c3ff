"""The kiosk's MQTT link: publish queries/feedback/status, receive answers and config.

A thin paho-mqtt wrapper owned by the kiosk. Callbacks run on paho's network
thread; the app hands them to Kivy's main thread itself (``Clock.schedule_once``),
so nothing here touches the UI.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

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


class BusError(RuntimeError):
    """The broker URL is unusable."""


def parse_url(url: str) -> tuple[str, int, str | None, str | None]:
    """``mqtt://[user:pass@]host[:port]`` → (host, port, user, password)."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "tcp"):
        raise BusError(f"unsupported broker URL scheme {parts.scheme!r} (use mqtt://host:port)")
    if not parts.hostname:
        raise BusError(f"broker URL has no host: {url!r}")
    try:
        port = parts.port or 1883
    except ValueError:
        raise BusError(f"broker URL has a bad port: {url!r}") from None
    return parts.hostname, port, parts.username, parts.password


class KioskBus:
    """One device's MQTT session: answers and config in, queries, feedback and status out."""

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
        self.host, self.port, user, password = parse_url(url)
        self._on_answer = on_answer
        self._on_config = on_config
        self._on_connection = on_connection
        self.connected = False
        self.started_at = time.monotonic()
        self._topics = {
            "answer": answer_topic(device_id, prefix),
            "config": config_topic(device_id, prefix),
            "query": query_topic(device_id, prefix),
            "feedback": feedback_topic(device_id, prefix),
            "status": status_topic(device_id, prefix),
        }
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"privcard-kiosk-{device_id}",
            clean_session=True,
        )
        if user:
            self.client.username_pw_set(user, password)
        # a kiosk that was offline must not flood the server with stale queries
        self.client.max_queued_messages_set(50)
        self.client.reconnect_delay_set(min_delay=1, max_delay=5)
        self.client.will_set(self._topics["status"], Status("offline", {"kind": "kiosk"}).encode(), qos=1, retain=True)
        self.client.on_connect = self._connected
        self.client.on_disconnect = self._disconnected
        self.client.on_message = self._message
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Connect in the background (retrying forever) and start paho's thread."""
        self.client.connect_async(self.host, self.port, keepalive=15)
        self.client.loop_start()

    def stop(self) -> None:
        """Say offline (retained), disconnect, stop the thread."""
        try:
            if self.connected:
                info = self.client.publish(self._topics["status"], self._status("offline"), qos=1, retain=True)
                info.wait_for_publish(timeout=1.0)
            self.client.disconnect()
        except (RuntimeError, ValueError, OSError):
            pass
        self.client.loop_stop()

    def _status(self, state: str, reader: str | None = None) -> bytes:
        extra = {"kind": "kiosk", "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "uptime_s": round(time.monotonic() - self.started_at, 1)}
        if self.version:
            extra["version"] = self.version
        if reader:
            extra["reader"] = reader
        return Status(state, extra).encode()

    def publish_status(self, reader: str | None = None) -> None:
        """Retained online status (heartbeat) with the reader's state."""
        if self.connected:
            self.client.publish(self._topics["status"], self._status("online", reader), qos=1, retain=True)

    # ------------------------------------------------------------------ paho callbacks

    def _connected(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            log.warning("broker refused the connection: %s", reason_code)
            return
        try:  # see DESIGN.md, performance practices: QoS 1 on loopback needs NODELAY
            client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass
        client.subscribe([(self._topics["answer"], 1), (self._topics["config"], 1)])
        client.publish(self._topics["status"], self._status("online"), qos=1, retain=True)
        self.connected = True
        log.info("connected to %s:%s", self.host, self.port)
        self._on_connection(True)

    def _disconnected(self, client, userdata, flags, reason_code, properties=None):
        was = self.connected
        self.connected = False
        if was:
            log.warning("lost the broker: %s", reason_code)
            self._on_connection(False)

    def _message(self, client, userdata, msg):
        try:
            if msg.topic == self._topics["answer"]:
                self._on_answer(msg.payload)
            elif msg.topic == self._topics["config"]:
                if msg.payload:
                    self._on_config(DeviceConfig.parse(msg.payload))
        except ContractError as exc:
            log.warning("ignored a bad %s message: %s", msg.topic, exc)
        except Exception:  # never let a handler kill paho's thread
            log.exception("handler failed for %s", msg.topic)

    # ------------------------------------------------------------------ outgoing

    def query(self, query_id: str, uid: str) -> None:
        """Ask the server about a card."""
        self.client.publish(self._topics["query"], Query(query_id, uid).encode(), qos=1)

    def feedback(self, feedback_id: str, rating: int, uid: str | None) -> None:
        """Publish a visit rating (1–5)."""
        fb = Feedback(feedback_id, rating, datetime.now(timezone.utc), uid)
        self.client.publish(self._topics["feedback"], fb.encode(), qos=1)
