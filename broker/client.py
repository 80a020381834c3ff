"""The MQTT client every privcard process uses: a thin wrapper over paho-mqtt 2.x.

It owns what each process would otherwise get subtly wrong:

- a URL picks the broker: ``mqtt://user:pass@host:1883?client_id=x&v=5`` or
  ``mqtts://host:8883?ca=/etc/privcard/ca.pem&cert=...&key=...``;
- ``start()`` connects in the background and keeps reconnecting with backoff
  (0.5 s → 10 s), even when the broker is down at start;
- TCP_NODELAY on every socket (docs/architecture.md: QoS 1 on loopback went from ~46 msg/s to
  ~4,300 msg/s);
- subscriptions are remembered and re-sent on every (re)connect;
- persistent sessions for the server (clean_session=False, or v5 clean_start=False
  with a session expiry), last will, manual ack after a database commit.

    >>> bus = BusClient("mqtt://127.0.0.1:1883", "gate-1", will=("privcard/dev/gate-1/status", b'{"v":1,"state":"offline"}', True))
    >>> bus.subscribe("privcard/dev/gate-1/result", lambda topic, payload, msg: print(topic, payload))
    >>> bus.start(); bus.wait_connected(5)                           # doctest: +SKIP
    >>> bus.publish("privcard/dev/gate-1/tap", b"{...}").wait_for_publish(1)  # doctest: +SKIP
    >>> bus.stop()   # graceful: the broker does NOT send the last will   # doctest: +SKIP

Handlers run on paho's network thread: keep them short (hand work to a queue) or
the whole connection stalls. With ``manual_ack=True`` a handler (or whoever it
hands the message to) must call :meth:`BusClient.ack` — after its commit.

``own_loop=True`` is for a process whose work *is* the messages (the points
server): there is no paho thread; one thread of the caller drives the network with
:meth:`BusClient.loop` (handlers run inside it), does its work, and writes what it
published with :meth:`BusClient.flush`. Nothing crosses a thread between a
message arriving and its answer leaving. Other threads may still ``publish()``:
their packets are queued and written by the owning thread's next ``loop()``.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

#: a subscription handler: (topic, payload, paho MQTTMessage)
Handler = Callable[[str, bytes, "mqtt.MQTTMessage"], None]

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
#: how long the broker keeps a persistent v5 session of a disconnected client
DEFAULT_SESSION_EXPIRY_S = 7 * 24 * 3600


#: a client says "cannot reach" at once for its first outage, then at most this often (a flapping broker)
UNREACHABLE_LOG_EVERY_S = 60.0

#: topics whose matching handlers a client remembers (a device has a handful; a server, that times its devices)
ROUTES_KEPT = 20_000


class BrokerError(Exception):
    """Base of every error the broker package raises."""


class BrokerUrlError(BrokerError, ValueError):
    """An MQTT URL that cannot be used."""


class NotConnected(BrokerError):
    """The client is not connected to the broker (yet, or any more)."""


class _QuietReconnects(logging.Filter):
    """paho 2.2 logs every failed reconnect attempt as an ERROR; we report the outage once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Client is not connected")


_paho_log = logging.getLogger(f"{__name__}.paho")
_paho_log.addFilter(_QuietReconnects())


# --------------------------------------------------------------------------- URLs


@dataclass(frozen=True)
class MqttSettings:
    """Where and how to connect, parsed from an ``mqtt://`` or ``mqtts://`` URL."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    client_id: str | None = None
    protocol: int = 4  # 4 = MQTT 3.1.1, 5 = MQTT 5
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    keepalive: int = 30

    @property
    def url(self) -> str:
        """The URL again, without the password (safe to log)."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}"


_QUERY_KEYS = ("client_id", "v", "ca", "cert", "key", "keepalive")
_PROTOCOLS = {"3": 4, "3.1.1": 4, "311": 4, "4": 4, "5": 5}


def parse_mqtt_url(url: str) -> MqttSettings:
    """Parse ``mqtt[s]://[user[:pass]@]host[:port][?client_id=..&v=5&ca=..&cert=..&key=..&keepalive=N]``.

    Raises :class:`BrokerUrlError` naming exactly what is wrong.
    """
    if not isinstance(url, str) or not url.strip():
        raise BrokerUrlError("MQTT URL is empty; expected e.g. mqtt://127.0.0.1:1883")
    url = url.strip()
    if "://" not in url:
        raise BrokerUrlError(f"MQTT URL {url!r} has no scheme; expected mqtt://host:port or mqtts://host:port")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise BrokerUrlError(f"MQTT URL {url!r} is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise BrokerUrlError(f"MQTT URL scheme must be mqtt or mqtts, got {parts.scheme!r} in {url!r}")
    if parts.path not in ("", "/"):
        raise BrokerUrlError(f"MQTT URL must not have a path, got {parts.path!r} in {url!r}")
    if parts.fragment:
        raise BrokerUrlError(f"MQTT URL must not have a fragment (#...): {url!r}")
    host = parts.hostname
    if not host:
        raise BrokerUrlError(f"MQTT URL {url!r} has no host")
    try:
        port = parts.port
    except ValueError:
        raise BrokerUrlError(f"MQTT URL {url!r} has an invalid port (must be 1-65535)") from None
    if port is None:
        port = DEFAULT_PORTS[scheme]
    if port == 0:
        raise BrokerUrlError(f"MQTT URL {url!r} has port 0; give the broker's real port")
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
    unknown = sorted(set(query) - set(_QUERY_KEYS))
    if unknown:
        raise BrokerUrlError(f"MQTT URL has unknown parameter(s) {', '.join(unknown)}; known: {', '.join(_QUERY_KEYS)}")
    one = {}
    for key, values in query.items():
        if len(values) != 1:
            raise BrokerUrlError(f"MQTT URL parameter {key!r} is given {len(values)} times")
        one[key] = values[0]
    protocol = 4
    if "v" in one:
        if one["v"] not in _PROTOCOLS:
            raise BrokerUrlError(f"MQTT URL parameter v must be 3.1.1 (or 3, 311, 4) or 5, got {one['v']!r}")
        protocol = _PROTOCOLS[one["v"]]
    keepalive = 30
    if "keepalive" in one:
        try:
            keepalive = int(one["keepalive"])
        except ValueError:
            raise BrokerUrlError(
                f"MQTT URL parameter keepalive must be whole seconds, got {one['keepalive']!r}"
            ) from None
        if not 5 <= keepalive <= 65535:
            raise BrokerUrlError(f"MQTT URL parameter keepalive must be 5-65535 seconds, got {keepalive}")
    tls = scheme == "mqtts"
    for name in ("ca", "cert", "key"):
        if name in one:
            if not tls:
                raise BrokerUrlError(f"MQTT URL parameter {name!r} needs the mqtts:// scheme")
            if not one[name]:
                raise BrokerUrlError(f"MQTT URL parameter {name!r} is empty")
    if ("cert" in one) != ("key" in one):
        raise BrokerUrlError("MQTT URL needs both cert= and key= for a client certificate, or neither")
    client_id = one.get("client_id") or None
    if client_id is not None and len(client_id.encode()) > 65535:
        raise BrokerUrlError("MQTT URL client_id is too long")
    return MqttSettings(
        host=host,
        port=port,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        client_id=client_id,
        protocol=protocol,
        ca=one.get("ca"),
        cert=one.get("cert"),
        key=one.get("key"),
        keepalive=keepalive,
    )


def _took(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _strip_share(topic_filter: str) -> str:
    """``$share/group/a/b`` matches the same topics as ``a/b``."""
    if topic_filter.startswith("$share/"):
        parts = topic_filter.split("/", 2)
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise BrokerError(f"bad shared subscription {topic_filter!r}; expected $share/GROUP/FILTER")
        return parts[2]
    return topic_filter


# --------------------------------------------------------------------------- client


class BusClient:
    """One MQTT connection with reconnect, re-subscription, last will and manual ack."""

    def __init__(
        self,
        url: str,
        client_id: str | None = None,
        *,
        persistent: bool = False,
        clean_start: bool | None = None,
        will: tuple[str, bytes | str, bool] | None = None,
        protocol: int | None = None,
        manual_ack: bool = False,
        session_expiry_s: int = DEFAULT_SESSION_EXPIRY_S,
        max_inflight: int = 1000,
        keepalive: int | None = None,
        max_queued: int = 0,
        own_loop: bool = False,
    ):
        self.settings = parse_mqtt_url(url)
        self.client_id = client_id or self.settings.client_id or f"privcard-{os.getpid()}-{id(self):x}"
        if clean_start is not None:
            persistent = not clean_start
        self.persistent = persistent
        self.protocol = protocol or self.settings.protocol
        if self.protocol not in (4, 5):
            raise BrokerError(f"protocol must be 4 (MQTT 3.1.1) or 5, got {self.protocol!r}")
        self.manual_ack = manual_ack
        self.session_expiry_s = session_expiry_s
        self.connected = threading.Event()
        self.last_error: str | None = None
        #: times this client has (re)connected; tests and status use it
        self.connect_count = 0
        self._subs: dict[str, tuple[int, Handler]] = {}
        #: topic → the handlers whose filters match it (matching five filters cost 24 µs a message)
        self._routes: dict[str, tuple[Handler, ...]] = {}
        self._lock = threading.RLock()
        self._connect_hooks: list[Callable[[bool], None]] = []
        self._disconnect_hooks: list[Callable[[], None]] = []
        self._started = False
        self.own_loop = own_loop
        self._next_attempt = 0.0  # own-loop mode: when to try connecting again
        self._backoff = 0.5
        #: "cannot reach" throttle (see :meth:`_on_connect_fail`): when it was last logged (monotonic),
        #: when the outage now going on started, whether it was logged, outages not logged since
        self._unreachable_said_at: float | None = None
        self._outage_since: float | None = None
        self._outage_said = False
        self._outages_unsaid = 0
        #: refused-connection throttle (see :meth:`_refused`): the refusal last logged and when, refusals not logged since
        self._refusal_said: tuple[str, float] | None = None
        self._refusals_unsaid = 0

        if self.protocol == 5:
            self._mqtt = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2,
                client_id=self.client_id,
                protocol=mqtt.MQTTv5,
                manual_ack=manual_ack,
            )
        else:
            self._mqtt = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2,
                client_id=self.client_id,
                clean_session=not persistent,
                protocol=mqtt.MQTTv311,
                manual_ack=manual_ack,
            )
        c = self._mqtt
        c.enable_logger(_paho_log)
        c.reconnect_delay_set(min_delay=0.5, max_delay=10)
        c.max_inflight_messages_set(max_inflight)
        c.max_queued_messages_set(max_queued)  # 0 = unlimited (the server, gates); kiosks cap it
        if self.settings.username:
            c.username_pw_set(self.settings.username, self.settings.password)
        if self.settings.tls:
            try:
                c.tls_set(
                    ca_certs=self.settings.ca,
                    certfile=self.settings.cert,
                    keyfile=self.settings.key,
                    cert_reqs=ssl.CERT_REQUIRED,
                )
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise BrokerError(f"cannot set up TLS for {self.settings.url}: {exc}") from exc
        if will is not None:
            topic, payload, retain = will
            c.will_set(topic, payload, qos=1, retain=bool(retain))
        self._keepalive = keepalive or self.settings.keepalive
        c.on_socket_open = self._on_socket_open
        c.on_connect = self._on_connect
        c.on_connect_fail = self._on_connect_fail
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        if own_loop:
            # publish() never writes to the socket itself (paho would do that from whatever
            # thread calls it); packets are queued and the owning thread writes them in
            # loop()/flush(). paho still wakes loop()'s select when another thread publishes.
            c.on_socket_register_write = lambda client, userdata, sock: None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """The broker URL without credentials."""
        return self.settings.url

    def start(self) -> BusClient:
        """Connect in the background and keep reconnecting; returns at once."""
        if self._started:
            return self
        kwargs = {}
        if self.protocol == 5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.session_expiry_s if self.persistent else 0
            kwargs = {"clean_start": not self.persistent, "properties": props}
        try:
            self._mqtt.connect_async(self.settings.host, self.settings.port, keepalive=self._keepalive, **kwargs)
        except (OSError, ValueError) as exc:
            raise BrokerError(f"cannot connect to {self.url}: {exc}") from exc
        if not self.own_loop:
            self._mqtt.loop_start()
        self._next_attempt = 0.0
        self._started = True
        return self

    def loop(self, timeout: float = 0.2, max_reads: int = 256) -> bool:
        """Own-loop mode: one round of network I/O on the owning thread; True if connected.

        Waits up to ``timeout`` s for traffic, then reads everything that has arrived
        (up to ``max_reads`` read rounds; the handlers run here), writes what is queued
        and sends keep-alives. After a lost connection it reconnects with backoff
        (0.5 s → 10 s), re-subscribing as the threaded mode does. Only one thread may
        call it (and :meth:`flush`).
        """
        if not self.own_loop:
            raise BrokerError("loop() is only for own_loop=True clients; the others run paho's thread")
        if not self._started:
            raise NotConnected(f"{self.url}: start() the client before loop()")
        c = self._mqtt
        if c.socket() is None:
            wait = self._next_attempt - time.monotonic()
            if wait > 0:
                time.sleep(min(timeout, wait))
                return False
            try:
                c.reconnect()  # sends CONNECT; the CONNACK arrives in a following round
            except (OSError, ValueError) as exc:
                log.debug("connect to %s failed: %s", self.url, exc)
                self._on_connect_fail(c, None)
                self._retry_later()
                return False
            timeout = 0.0
        rc = c.loop(timeout)
        reads = 0
        while rc == mqtt.MQTT_ERR_SUCCESS and reads < max_reads and self._readable():
            rc = c.loop_read()
            reads += 1
        if rc == mqtt.MQTT_ERR_SUCCESS and c.want_write():
            rc = c.loop_write()
        if rc != mqtt.MQTT_ERR_SUCCESS:
            self._retry_later()
        return self.connected.is_set()

    def socket(self):
        """Own-loop mode: the connection's socket, to wait on beside others (None while disconnected).

        A process that drives many own-loop clients from one thread (``privcard bench``'s
        simulated devices) selects on all their sockets and calls :meth:`loop` with no
        timeout on the ones that are readable.
        """
        return self._mqtt.socket()

    def flush(self) -> None:
        """Own-loop mode: write every queued packet now (results, acks) on the owning thread."""
        c = self._mqtt
        if c.socket() is not None and c.want_write():
            if c.loop_write() != mqtt.MQTT_ERR_SUCCESS:
                self._retry_later()

    def _readable(self) -> bool:
        sock = self._mqtt.socket()
        if sock is None:
            return False
        if hasattr(sock, "pending") and sock.pending():  # bytes already decrypted by TLS
            return True
        try:
            return bool(select.select([sock], [], [], 0)[0])
        except (OSError, ValueError, TypeError):
            return False

    def _retry_later(self) -> None:
        self._next_attempt = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, 10.0)

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Block until connected (True) or the timeout passes (False)."""
        return self.connected.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect gracefully (the broker does NOT publish the last will) and stop the thread."""
        if not self._started:
            return
        self._started = False
        try:
            if self.connected.is_set():
                info = self._mqtt.disconnect()
                del info
                if self.own_loop:  # write the DISCONNECT ourselves (the owning thread has finished)
                    deadline = time.monotonic() + timeout
                    while self._mqtt.socket() is not None and time.monotonic() < deadline:
                        if self._mqtt.loop(0.05) != mqtt.MQTT_ERR_SUCCESS:
                            break
        finally:
            # loop_stop joins paho's thread, which exits once the DISCONNECT is written.
            if not self.own_loop:
                self._mqtt.loop_stop()
            self.connected.clear()

    def __enter__(self) -> BusClient:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def on_connect(self, hook: Callable[[bool], None]) -> None:
        """Call ``hook(session_present)`` after every (re)connect, once subscriptions are re-sent."""
        self._connect_hooks.append(hook)

    def on_disconnect(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` whenever the connection drops."""
        self._disconnect_hooks.append(hook)

    # ------------------------------------------------------------------ messaging

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None:
        """Subscribe now if connected, and again on every reconnect."""
        if topic_filter.startswith("$share/") and self.protocol != 5:
            raise BrokerError(f"shared subscription {topic_filter!r} needs MQTT v5 (add ?v=5 to the URL)")
        _strip_share(topic_filter)
        with self._lock:
            self._subs[topic_filter] = (qos, handler)
            self._routes.clear()
        if self.connected.is_set():
            self._mqtt.subscribe(topic_filter, qos)

    def unsubscribe(self, topic_filter: str) -> None:
        """Forget a subscription."""
        with self._lock:
            self._subs.pop(topic_filter, None)
            self._routes.clear()
        if self.connected.is_set():
            self._mqtt.unsubscribe(topic_filter)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> mqtt.MQTTMessageInfo:
        """Publish; while disconnected paho queues QoS>0 messages and sends them on reconnect."""
        info = self._mqtt.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise BrokerError(f"publish to {topic!r} failed: {mqtt.error_string(info.rc)}")
        return info

    def ack(self, msg: mqtt.MQTTMessage) -> None:
        """Acknowledge a message received with ``manual_ack=True`` (call after the commit)."""
        if not self.manual_ack or msg.qos == 0:
            return
        self._mqtt.ack(msg.mid, msg.qos)

    # ------------------------------------------------------------------ paho callbacks

    def _on_socket_open(self, client, userdata, sock) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError) as exc:  # e.g. a websocket or unix socket
            log.debug("TCP_NODELAY not set: %s", exc)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused(f"broker refused the connection: {reason_code}")
            return
        self._refusal_said, self._refusals_unsaid = None, 0
        with self._lock:
            subs = [(f, qos) for f, (qos, _) in self._subs.items()]
        if subs:
            client.subscribe(subs)
        self.connect_count += 1
        self.last_error = None
        self._backoff = 0.5
        if self._outage_since is not None:  # an outage ended; one not said is counted for the next warning
            self._outages_unsaid += 0 if self._outage_said else 1
            self._outage_since = None
        self.connected.set()
        session_present = bool(getattr(flags, "session_present", False))
        log.info("connected to %s as %s (session present: %s)", self.url, self.client_id, session_present)
        for hook in list(self._connect_hooks):
            try:
                hook(session_present)
            except Exception:
                log.exception("on_connect hook failed")

    def _refused(self, error: str) -> None:
        """The broker answered CONNECT with a refusal: WARNING at once, then the same refusal at most once a minute.

        A device with a wrong password (or an account a broker no longer knows) is refused at
        every attempt, every 10 s once the back-off is at its longest: one WARNING a minute
        says it, with how many refusals went unsaid; a different refusal is said at once.
        """
        self.last_error = error
        now = time.monotonic()
        said = self._refusal_said
        if said is not None and said[0] == error and now - said[1] < UNREACHABLE_LOG_EVERY_S:
            self._refusals_unsaid += 1
            log.debug("%s: %s (again, within a minute: not repeated)", self.url, error)
            return
        more = self._refusals_unsaid
        log.warning(
            "%s: %s%s",
            self.url,
            error,
            f" ({more} more time(s) in the {_took(now - said[1])} since the last warning)" if more and said else "",
        )
        self._refusal_said, self._refusals_unsaid = (error, now), 0

    def _on_connect_fail(self, client, userdata) -> None:
        """A connection attempt failed: WARNING for the first outage at once, then at most once a minute.

        An outage is from the first failed attempt to the next connection. A broker that comes
        and goes (a restart loop, a flaky link) would otherwise add a WARNING at each flap: an
        outage that starts within :data:`UNREACHABLE_LOG_EVERY_S` of the last warning is logged
        at DEBUG and counted, and said (with that count) once the minute is over — at its next
        failed attempt if it lasts, or at the next outage's start. The reconnection is logged
        (INFO) each time, as ever.
        """
        now = time.monotonic()
        if self._outage_since is None:
            self._outage_since, self._outage_said = now, False
        self.last_error = f"cannot reach {self.url}"
        if self._outage_said:
            return
        said_at = self._unreachable_said_at
        if said_at is not None and now - said_at < UNREACHABLE_LOG_EVERY_S:
            log.debug("cannot reach %s (an outage within a minute of the last warning: not repeated)", self.url)
            return
        others = self._outages_unsaid
        again = (
            f" ({others} more outage(s) in the {_took(now - said_at)} since the last warning, each logged at DEBUG)"
            if others and said_at is not None
            else ""
        )
        log.warning(
            "cannot reach %s%s; retrying with backoff (0.5 s to 10 s)%s",
            self.url,
            f" for {_took(now - self._outage_since)}" if now - self._outage_since >= 1 else "",
            again,
        )
        self._unreachable_said_at, self._outage_said, self._outages_unsaid = now, True, 0

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was:
            log.info("disconnected from %s: %s", self.url, reason_code)
            for hook in list(self._disconnect_hooks):
                try:
                    hook()
                except Exception:
                    log.exception("on_disconnect hook failed")

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        topic = msg.topic
        with self._lock:
            handlers = self._routes.get(topic)
            if handlers is None:
                handlers = tuple(
                    h for f, (_, h) in self._subs.items() if mqtt.topic_matches_sub(_strip_share(f), topic)
                )
                if len(self._routes) >= ROUTES_KEPT:  # topics come from devices: keep the table bounded
                    self._routes.clear()
                self._routes[topic] = handlers
        if not handlers:
            self.ack(msg)  # nobody wants it; don't let it block the in-flight window
            return
        for handler in handlers:
            try:
                handler(topic, msg.payload, msg)
            except Exception:
                log.exception("handler for %s failed", topic)


__all__ = ["BrokerError", "BrokerUrlError", "BusClient", "Handler", "MqttSettings", "NotConnected", "parse_mqtt_url"]
