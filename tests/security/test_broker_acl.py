"""Security tests against a real Mosquitto running the production config and ACL.

Each device authenticates with its own account (username = device id, entries made by
``broker.mosquitto.credentials``); the ACL confines it to its own topics. These tests
try the attacks a stolen or misconfigured gate could make and check they fail.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
import time
import uuid
import warnings

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.brokers import PYTHON, find_mosquitto, python_env
from tests.security.prodbroker import ProductionMosquitto


@pytest.fixture(scope="module")
def prod_broker():
    """One production-config broker for the module, with gate-a, gate-b and kiosk-1 accounts."""
    if not find_mosquitto():
        pytest.fail("Mosquitto is not installed (apt-get install mosquitto)", pytrace=False)
    broker = ProductionMosquitto()
    for user in ("gate-a", "gate-b", "kiosk-1"):
        broker.add_user(user, reload=False)
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


class Probe:
    """A raw paho client (MQTT v5, so refusals come back with reason codes)."""

    def __init__(
        self,
        broker: ProductionMosquitto,
        username: str | None,
        password: str | None = None,
        *,
        tls: bool = False,
        port: int | None = None,
        ca: str | None = None,
        client_id: str | None = None,
    ):
        self.c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or f"probe-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
        )
        if username is not None:
            self.c.username_pw_set(username, password if password is not None else broker.passwords[username])
        if tls:
            self.c.tls_set(ca_certs=ca or str(broker.pki.ca_cert), cert_reqs=ssl.CERT_REQUIRED)
        self.host = "localhost" if tls else broker.host
        self.port = port or (broker.tls_port if tls else broker.port)
        self.connack: mqtt.ReasonCode | None = None
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.answered = threading.Event()
        self.subacks: dict[int, list] = {}
        self.pubacks: dict[int, object] = {}
        self.messages: list[tuple[str, bytes, bool]] = []
        self.cond = threading.Condition()
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = self._on_subscribe
        self.c.on_publish = self._on_publish
        self.c.on_message = self._on_message
        self.c.on_disconnect = lambda *a: self.disconnected.set()

    def _on_connect(self, client, userdata, flags, rc, props):
        self.connack = rc
        if not rc.is_failure:
            self.connected.set()
        self.answered.set()

    def _on_subscribe(self, client, userdata, mid, rcs, props):
        with self.cond:
            self.subacks[mid] = rcs
            self.cond.notify_all()

    def _on_publish(self, client, userdata, mid, rc, props):
        with self.cond:
            self.pubacks[mid] = rc
            self.cond.notify_all()

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))
            self.cond.notify_all()

    def connect(self, timeout: float = 5.0) -> Probe:
        self.c.connect(self.host, self.port, keepalive=30)
        self.c.loop_start()
        self.answered.wait(timeout)
        return self

    def close(self) -> None:
        try:
            self.c.disconnect()
        finally:
            self.c.loop_stop()

    def subscribe(self, topic: str, timeout: float = 5.0):
        """Subscribe and return the reason code the broker granted."""
        _rc, mid = self.c.subscribe(topic, qos=1)
        with self.cond:
            self.cond.wait_for(lambda: mid in self.subacks, timeout)
        return self.subacks[mid][0]

    def publish(self, topic: str, payload: bytes, retain: bool = False, timeout: float = 5.0):
        """Publish QoS 1 and return the PUBACK reason code."""
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        with self.cond:
            self.cond.wait_for(lambda: info.mid in self.pubacks, timeout)
        return self.pubacks.get(info.mid)

    def got(self, topic: str | None = None, payload: bytes | None = None) -> list:
        with self.cond:
            return [
                m for m in self.messages if (topic is None or m[0] == topic) and (payload is None or m[1] == payload)
            ]

    def wait_for(self, topic: str, payload: bytes | None = None, timeout: float = 3.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: bool(self.got(topic, payload)), timeout)


@pytest.fixture
def probes(prod_broker):
    made = []

    def make(username, password=None, **kw):
        p = Probe(prod_broker, username, password, **kw).connect()
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


NOT_AUTHORIZED = 0x87
NOT_AUTHORIZED_CONNACK = (0x86, 0x87)  # bad user name or password / not authorized


def _refused(rc) -> bool:
    return rc is not None and rc.is_failure


# --------------------------------------------------------------------------- authentication


def test_anonymous_clients_are_refused(prod_broker, probes):
    for tls in (False, True):
        p = probes(None, tls=tls)
        assert not p.connected.is_set(), f"anonymous client connected (tls={tls})"
        assert p.connack is None or p.connack.value in NOT_AUTHORIZED_CONNACK


def test_wrong_password_and_unknown_user_are_refused(prod_broker, probes):
    bad = probes("gate-a", "not-the-password")
    assert not bad.connected.is_set()
    assert bad.connack is not None and bad.connack.value in NOT_AUTHORIZED_CONNACK
    ghost = probes("gate-zz", "whatever")
    assert not ghost.connected.is_set()


def test_device_accounts_connect(prod_broker, probes):
    assert probes("gate-a").connected.is_set()
    assert probes("gate-a", tls=True).connected.is_set()


# --------------------------------------------------------------------------- publish confinement


def test_gate_cannot_publish_to_another_gates_topics(prod_broker, probes):
    server = probes("privcard-server")
    for kind in ("tap", "query", "status", "feedback"):
        assert not _refused(server.subscribe(f"privcard/dev/+/{kind}"))
    a = probes("gate-a")
    marker = uuid.uuid4().hex.encode()
    for kind in ("tap", "query", "status", "feedback"):
        rc = a.publish(f"privcard/dev/gate-b/{kind}", b"forged-" + marker)
        assert rc is not None and rc.value == NOT_AUTHORIZED, f"forged {kind}: PUBACK {rc}"
        rc = a.publish(f"privcard/dev/gate-a/{kind}", b"own-" + marker)
        if kind in ("tap", "status"):
            assert not _refused(rc), f"own {kind} refused: {rc}"
        else:  # a gate may not query or send feedback, even on its own topics (contract.CAPABILITIES)
            assert rc is not None and rc.value == NOT_AUTHORIZED, f"gate's own {kind}: PUBACK {rc}"
    for kind in ("tap", "status"):
        assert server.wait_for(f"privcard/dev/gate-a/{kind}", b"own-" + marker)
    time.sleep(0.3)
    assert not [m for m in server.got() if m[0].startswith("privcard/dev/gate-b/")]
    assert not server.got("privcard/dev/gate-a/query") and not server.got("privcard/dev/gate-a/feedback")


def test_gate_cannot_read_another_gates_results(prod_broker, probes):
    a = probes("gate-a")
    b = probes("gate-b")
    assert not _refused(b.subscribe("privcard/dev/gate-b/result"))
    # Mosquitto 2.0 may grant the subscription itself; what matters is that it never
    # delivers a message the client may not read. Exact topics, wildcards and shared
    # subscriptions all try.
    for kind in ("result", "answer", "config"):
        a.subscribe(f"privcard/dev/gate-b/{kind}")
    for filt in (
        "privcard/dev/+/result",
        "privcard/#",
        "#",
        "$share/x/privcard/dev/+/result",
        "$share/x/privcard/dev/+/tap",
    ):
        a.subscribe(filt)
    assert not _refused(a.subscribe("privcard/dev/gate-a/result"))
    server = probes("privcard-server")
    marker = uuid.uuid4().hex.encode()
    server.publish("privcard/dev/gate-b/result", b"for-b-" + marker)
    server.publish("privcard/dev/gate-b/answer", b"ans-b-" + marker)
    server.publish("privcard/dev/gate-b/config", b"cfg-b-" + marker)
    server.publish("privcard/dev/gate-a/result", b"for-a-" + marker)
    b.publish("privcard/dev/gate-b/tap", b"tap-b-" + marker)
    assert b.wait_for("privcard/dev/gate-b/result", b"for-b-" + marker)
    assert a.wait_for("privcard/dev/gate-a/result", b"for-a-" + marker)
    time.sleep(0.3)
    leaked = [m for m in a.got() if not m[0].startswith("privcard/dev/gate-a/") and m[0] != "privcard/allowlist"]
    assert not leaked, f"gate-a received other devices' messages: {leaked}"


def test_device_cannot_write_config_or_allowlist(prod_broker, probes):
    server = probes("privcard-server")
    marker = uuid.uuid4().hex
    good_cfg = json.dumps({"v": 1, "device_id": "gate-a", "kind": "gate", "revision": 1, "m": marker}).encode()
    good_allow = json.dumps({"v": 1, "version": 1, "m": marker}).encode()
    assert not _refused(server.publish("privcard/dev/gate-a/config", good_cfg, retain=True))
    assert not _refused(server.publish("privcard/allowlist", good_allow, retain=True))
    a = probes("gate-a")
    for topic in (
        "privcard/dev/gate-a/config",
        "privcard/dev/gate-b/config",
        "privcard/allowlist",
        "privcard/dev/gate-a/result",
        "privcard/dev/gate-a/answer",
    ):
        rc = a.publish(topic, b'{"forged":true}', retain=True)
        assert rc is not None and rc.value == NOT_AUTHORIZED, f"gate-a wrote {topic}: {rc}"
    # A fresh subscriber still sees the server's retained copies.
    fresh = probes("gate-a")
    fresh.subscribe("privcard/dev/gate-a/config")
    fresh.subscribe("privcard/allowlist")
    assert fresh.wait_for("privcard/dev/gate-a/config", good_cfg)
    assert fresh.wait_for("privcard/allowlist", good_allow)
    assert not fresh.got(payload=b'{"forged":true}')


def test_kiosk_may_query_and_read_only_its_answers(prod_broker, probes):
    k = probes("kiosk-1")
    assert not _refused(k.subscribe("privcard/dev/kiosk-1/answer"))
    k.subscribe("privcard/dev/gate-a/answer")
    assert not _refused(k.publish("privcard/dev/kiosk-1/query", b"{}"))
    assert _refused(k.publish("privcard/dev/gate-a/query", b"{}"))
    server = probes("privcard-server")
    server.publish("privcard/dev/gate-a/answer", b"a-answer")
    server.publish("privcard/dev/kiosk-1/answer", b"k-answer")
    assert k.wait_for("privcard/dev/kiosk-1/answer", b"k-answer")
    time.sleep(0.3)
    assert not k.got("privcard/dev/gate-a/answer")


def test_device_cannot_read_server_inputs(prod_broker, probes):
    """A device may not watch other devices' taps (card UIDs are personal data)."""
    a = probes("gate-a")
    for topic in ("privcard/dev/gate-b/tap", "privcard/dev/+/tap", "privcard/dev/gate-b/status", "privcard/#"):
        a.subscribe(topic)
    b = probes("gate-b")
    b.publish("privcard/dev/gate-b/tap", b"secret-uid")
    b.publish("privcard/dev/gate-b/status", b"status-b")
    time.sleep(0.5)
    assert not a.got("privcard/dev/gate-b/tap") and not a.got("privcard/dev/gate-b/status")


def test_server_account_may_use_shared_subscriptions(prod_broker, probes):
    server = probes("privcard-server")
    for kind in ("tap", "query", "feedback"):
        assert not _refused(server.subscribe(f"$share/replicas/privcard/dev/+/{kind}"))
    a = probes("gate-a")
    a.publish("privcard/dev/gate-a/tap", b"shared")
    assert server.wait_for("privcard/dev/gate-a/tap", b"shared")


# --------------------------------------------------------------------------- TLS


def test_tls_listener_works_with_generated_certificates(prod_broker, probes):
    p = probes("gate-a", tls=True)
    assert p.connected.is_set(), p.connack
    assert not _refused(p.subscribe("privcard/dev/gate-a/result"))
    # TLS 1.2 or newer is negotiated
    sock = p.c.socket()
    assert isinstance(sock, ssl.SSLSocket) and sock.version() in ("TLSv1.2", "TLSv1.3")


def test_plain_mqtt_is_refused_on_the_tls_listener(prod_broker):
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="plain-on-tls", protocol=mqtt.MQTTv5)
    c.username_pw_set("gate-a", prod_broker.passwords["gate-a"])
    got = threading.Event()
    c.on_connect = lambda *a: got.set()
    try:
        c.connect(prod_broker.host, prod_broker.tls_port, keepalive=10)
        c.loop_start()
        assert not got.wait(2.0), "plain MQTT CONNECT was accepted on the TLS listener"
    except OSError:
        pass  # connection reset: refused, as wanted
    finally:
        c.loop_stop()
    # and the raw bytes of a CONNECT get no CONNACK back
    with socket.create_connection((prod_broker.host, prod_broker.tls_port), timeout=3) as s:
        s.sendall(bytes.fromhex("101000044d5154540402003c0004746573740000"))
        s.settimeout(2)
        try:
            data = s.recv(16)
        except (TimeoutError, ConnectionResetError):
            data = b""
        assert not data.startswith(b"\x20"), f"got a CONNACK on the TLS port: {data!r}"


def test_tls_with_a_foreign_ca_is_refused(prod_broker, tmp_path, probes):
    from broker.mosquitto.certs import make_pki

    other = make_pki(tmp_path / "other", ["localhost"])
    p = Probe(prod_broker, "gate-a", tls=True, ca=str(other.ca_cert))
    with pytest.raises(ssl.SSLError):
        p.connect()
    p.c.loop_stop()


def test_tls_below_1_2_is_refused(prod_broker):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(prod_broker.pki.ca_cert))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pytest.skip("this OpenSSL cannot even offer TLS 1.1")
    with socket.create_connection(("localhost", prod_broker.tls_port), timeout=3) as raw:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            with ctx.wrap_socket(raw, server_hostname="localhost"):
                pass


# --------------------------------------------------------------------------- end to end


def test_server_account_end_to_end_with_cli_made_credentials(prod_broker, tmp_path):
    """`privcard admin device credentials` → Mosquitto accepts it → a tap over TLS is credited."""
    from broker.client import BusClient
    from broker.contract import Answer, Query, Tap, TapResult, now_utc
    from tests.helpers import ServerProcess, close_store, open_service

    db_url = f"sqlite:///{tmp_path / 'privcard.db'}"
    svc = open_service(db_url)
    svc.devices.add("gate-e2e", "gate", direction="in")
    svc.devices.add("kiosk-e2e", "kiosk")
    svc.members.add("Somsri", "04E2E2E2E2E2E2")
    close_store()

    def creds(*args):
        out = subprocess.run(
            [
                PYTHON,
                "-m",
                "broker.dispatcher",
                "admin",
                "--db",
                db_url,
                "--json",
                "device",
                "credentials",
                *args,
                "--password-file",
                str(prod_broker.passwd),
                "--acl-file",
                str(prod_broker.acl),
                "--broker-url",
                f"mqtts://localhost:{prod_broker.tls_port}?ca={prod_broker.pki.ca_cert}",
            ],
            capture_output=True,
            text=True,
            env=python_env(),
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    gate = creds("gate-e2e")
    kiosk = creds("kiosk-e2e")
    server = creds("x", "--server-account")
    assert gate["username"] == "gate-e2e" and gate["mqtt_url"].startswith("mqtts://gate-e2e:")
    assert "PRIVCARD_MQTT=" in gate["env_file"]
    # an unregistered device is refused, the server's name cannot be taken by a device
    bad = subprocess.run(
        [
            PYTHON,
            "-m",
            "broker.dispatcher",
            "admin",
            "--db",
            db_url,
            "device",
            "credentials",
            "ghost",
            "--password-file",
            str(prod_broker.passwd),
        ],
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=60,
    )
    assert bad.returncode == 1 and "no device ghost" in bad.stderr
    prod_broker._own()
    prod_broker.reload()

    results, answers, configs = [], [], []
    with ServerProcess(db_url, server["mqtt_url"], log_dir=tmp_path) as srv:
        g = BusClient(gate["mqtt_url"], "gate-e2e-client")
        g.subscribe("privcard/dev/gate-e2e/result", lambda t, p, m: results.append(TapResult.parse(p)))
        g.subscribe("privcard/dev/gate-e2e/config", lambda t, p, m: configs.append(p))
        k = BusClient(kiosk["mqtt_url"], "kiosk-e2e-client")
        k.subscribe("privcard/dev/kiosk-e2e/answer", lambda t, p, m: answers.append(Answer.parse(p)))
        g.start(), k.start()
        try:
            assert g.wait_connected(10) and k.wait_connected(10), (g.last_error, k.last_error)
            tap = Tap("gate-e2e:1", "04E2E2E2E2E2E2", now_utc(), True)
            deadline = time.monotonic() + 20
            while not results and time.monotonic() < deadline:
                g.publish("privcard/dev/gate-e2e/tap", tap.encode())
                time.sleep(1.0)
            assert results, srv.log_tail()
            assert results[0].outcome == "credited" and results[0].balance == 255
            deadline = time.monotonic() + 20
            while not answers and time.monotonic() < deadline:
                k.publish("privcard/dev/kiosk-e2e/query", Query("q1", "04E2E2E2E2E2E2").encode())
                time.sleep(1.0)
            assert answers and answers[0].outcome == "member" and answers[0].balance == 255
            deadline = time.monotonic() + 10
            while not configs and time.monotonic() < deadline:
                time.sleep(0.1)
            assert configs, "the server's retained config did not reach the gate"
            assert "denied" not in srv.log().lower()
        finally:
            g.stop(), k.stop()
