"""Device authority against a real Mosquitto running the production config and ACL, with
the real server: a gate's credentials cannot read members, send feedback, or take
another client id; a retired device is refused; refused publishes are in the broker's log.

Accounts are made by the production code paths (password entries by
``broker.mosquitto.credentials``, ACL blocks by ``broker.mosquitto.access``, retirement
by ``privcard admin device retire``).
"""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest

from broker.contract import Answer, Feedback, Query, now_utc
from tests.brokers import PYTHON, find_mosquitto, python_env
from tests.helpers import ServerProcess, close_store, open_service
from tests.security.prodbroker import ProductionMosquitto
from tests.security.test_broker_acl import NOT_AUTHORIZED, Probe

UID = "04C0FFEE00AA11"
NAME = "Somsri Jaidee"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A production broker, a database with devices and a member, and the server running."""
    if not find_mosquitto():
        pytest.fail("Mosquitto is not installed (apt-get install mosquitto)", pytrace=False)
    tmp = tmp_path_factory.mktemp("authority")
    db_url = f"sqlite:///{tmp / 'privcard.db'}"
    svc = open_service(db_url)
    svc.devices.add("gate-a", "gate", direction="in")
    svc.devices.add("gate-b", "gate", direction="in")
    svc.devices.add("kiosk-1", "kiosk")
    svc.devices.add("kiosk-old", "kiosk")
    # registered as a gate, but its ACL block is a kiosk's (e.g. its kind was changed and
    # `device acl` not run): what gets past the broker must still be refused by the server
    svc.devices.add("gate-stale", "gate", direction="in")
    svc.members.add(NAME, UID)
    close_store()
    broker = ProductionMosquitto()
    for user, kind in (
        ("gate-a", "gate"),
        ("gate-b", "gate"),
        ("kiosk-1", "kiosk"),
        ("kiosk-old", "kiosk"),
        ("gate-stale", "kiosk"),
    ):
        broker.add_user(user, kind=kind, reload=False)
    broker.start()
    server = ServerProcess(db_url, broker.server_url, log_dir=tmp)
    try:
        server.start()
        yield {"broker": broker, "server": server, "db_url": db_url, "tmp": tmp}
    finally:
        server.stop()
        broker.close()


@pytest.fixture
def probes(world):
    made = []

    def make(username, **kw):
        p = Probe(world["broker"], username, **kw).connect()
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def ask(probe: Probe, device: str, timeout: float = 5.0) -> Answer | None:
    """Publish a query on ``device``'s topic and wait for its answer (None if none came)."""
    qid = uuid.uuid4().hex[:12]
    probe.subscribe(f"privcard/dev/{device}/answer")
    probe.publish(f"privcard/dev/{device}/query", Query(qid, UID).encode())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for _, payload, _ in probe.got(f"privcard/dev/{device}/answer"):
            answer = Answer.parse(payload)
            if answer.query_id == qid:
                return answer
        time.sleep(0.05)
    return None


def audit_rows(db_url: str, action: str, target: str) -> list:
    from server.store import Audit

    open_service(db_url)
    try:
        return [(a.actor, a.detail) for a in Audit.select().where((Audit.action == action) & (Audit.target == target))]
    finally:
        close_store()


def test_a_kiosk_is_answered(world, probes):
    answer = ask(probes("kiosk-1", tls=True), "kiosk-1")
    assert answer is not None and answer.outcome == "member" and answer.member["name"] == NAME


def test_a_gate_cannot_query_a_member_the_broker_refuses_and_logs_it(world, probes):
    gate = probes("gate-a", tls=True)
    rc = gate.publish("privcard/dev/gate-a/query", Query("q-gate", UID).encode())
    assert rc is not None and rc.value == NOT_AUTHORIZED, rc
    rc = gate.publish("privcard/dev/gate-a/feedback", Feedback("fb-gate", 1, now_utc(), UID).encode())
    assert rc is not None and rc.value == NOT_AUTHORIZED, rc
    time.sleep(0.3)
    log = world["broker"].log()
    # the production config logs refused publishes (log_type debug, Mosquitto 2.0)
    assert "Denied PUBLISH from gate-a" in log and "'privcard/dev/gate-a/query'" in log, log[-2000:]
    assert "'privcard/dev/gate-a/feedback'" in log
    assert "q-gate" not in world["server"].log()


def test_what_gets_past_the_broker_is_refused_by_the_server_and_audited(world, probes):
    stale = probes("gate-stale", tls=True)
    answer = ask(stale, "gate-stale")
    assert answer is not None, world["server"].log_tail()
    assert answer.outcome == "invalid" and "may not send query" in answer.message["en"]
    assert answer.member is None and answer.balance is None and not answer.history
    assert NAME not in str(stale.got())
    stale.publish("privcard/dev/gate-stale/feedback", Feedback("fb-stale", 1, now_utc(), UID).encode())
    time.sleep(1.0)
    rows = audit_rows(world["db_url"], "device.refused", "gate-stale")
    assert rows and rows[0][1]["topic"] == "query", rows
    from server.store import Feedback as FeedbackRow

    open_service(world["db_url"])
    try:
        assert not FeedbackRow.select().where(FeedbackRow.device == "gate-stale").exists()
    finally:
        close_store()
    assert "refused feedback from gate-stale" in world["server"].log()


def test_a_device_cannot_take_the_servers_or_another_devices_client_id(world, probes):
    broker, server = world["broker"], world["server"]
    kiosk = probes("kiosk-1", tls=True, client_id="kiosk-1")
    assert kiosk.connected.is_set()
    for stolen in ("privcard-server", "kiosk-1"):
        thief = probes("gate-a", tls=True, client_id=stolen)
        assert thief.connected.is_set()
    time.sleep(1.0)
    assert not kiosk.disconnected.is_set(), "a gate's login knocked kiosk-1 off"
    log = broker.log()
    assert "Client privcard-server already connected" not in log
    assert "Client kiosk-1 already connected" not in log
    assert server.log().count("connected to") == 1, server.log_tail()
    # the server still answers (it was never disconnected), and the thief's client id was its username
    assert ask(kiosk, "kiosk-1").outcome == "member"
    assert "as gate-a (" in log and "as privcard-server (" in log


def test_a_retired_device_is_refused_by_the_server_then_by_the_broker(world, probes):
    broker = world["broker"]
    kiosk = probes("kiosk-old", tls=True)
    assert ask(kiosk, "kiosk-old").outcome == "member"
    out = subprocess.run(
        [
            PYTHON,
            "-m",
            "broker.dispatcher",
            "admin",
            "--db",
            world["db_url"],
            "device",
            "retire",
            "kiosk-old",
            "--password-file",
            str(broker.passwd),
            "--acl-file",
            str(broker.acl),
        ],
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "retired kiosk-old" in out.stdout
    assert "kiosk-old" not in broker.passwd.read_text()
    assert "privcard/dev/kiosk-old/query" not in broker.acl.read_text()
    # before Mosquitto reloads: the message reaches the server, which refuses it (its cache: 2 s)
    time.sleep(2.5)
    answer = ask(kiosk, "kiosk-old")
    assert answer is not None and answer.outcome == "invalid" and "retired" in answer.message["en"]
    assert answer.member is None
    assert audit_rows(world["db_url"], "device.refused", "kiosk-old")
    # after the reload: no new login, and no publish from a connection still open
    broker._own()
    broker.reload()
    again = Probe(broker, "kiosk-old", tls=True)
    again.connect()
    try:
        assert not again.connected.is_set() and again.connack is not None and again.connack.is_failure
    finally:
        again.c.loop_stop()
    if kiosk.connected.is_set() and not kiosk.disconnected.is_set():
        rc = kiosk.publish("privcard/dev/kiosk-old/query", Query("q-after", UID).encode())
        assert rc is None or rc.value == NOT_AUTHORIZED, rc


def test_what_a_device_is_told_carries_no_personal_data(world, probes):
    """The retained allow-list carries card UIDs only (no names, balances or PIN hashes);
    the retained config carries the device's own settings and the library's hours."""
    from broker.contract import Allowlist

    gate = probes("gate-a", tls=True)
    gate.subscribe("privcard/allowlist")
    gate.subscribe("privcard/dev/gate-a/config")
    assert gate.wait_for("privcard/allowlist", timeout=10) and gate.wait_for("privcard/dev/gate-a/config", timeout=10)
    (_, raw, _), *_ = gate.got("privcard/allowlist")
    import json

    data = json.loads(raw)
    assert set(data) == {"v", "version", "generated_at", "count", "encoding", "uids"}, data.keys()
    assert Allowlist.parse(raw).uids == {UID}
    (_, cfg, _), *_ = gate.got("privcard/dev/gate-a/config")
    assert set(json.loads(cfg)) == {
        "v",
        "device_id",
        "kind",
        "direction",
        "activity",
        "location",
        "settings",
        "revision",
    }
    for payload in (raw, cfg):
        text = payload.decode()
        assert NAME not in text and "Somsri" not in text and "pin_hash" not in text and "balance" not in text


def test_shared_subscription_replicas_keep_their_own_client_ids(tmp_path):
    """With the binding on the device listener, replicas on the loopback listener
    (`--shared`, one --client-id each) stay connected and share a TLS gate's taps."""
    from broker.contract import Tap, TapResult

    db_url = f"sqlite:///{tmp_path / 'privcard.db'}"
    svc = open_service(db_url)
    svc.devices.add("gate-r", "gate", direction="in")
    svc.members.add(NAME, UID)
    close_store()
    broker = ProductionMosquitto()
    broker.add_user("gate-r", kind="gate", reload=False)
    broker.start()
    replicas = [
        ServerProcess(
            db_url,
            broker.server_url + "?v=5",
            client_id=f"privcard-server-{i}",
            extra_args=("--shared", "privcard"),
            log_dir=tmp_path,
            name=f"replica{i}",
        )
        for i in range(2)
    ]
    try:
        for r in replicas:
            r.start(timeout=30)
        gate = Probe(broker, "gate-r", tls=True).connect()
        try:
            gate.subscribe("privcard/dev/gate-r/result")
            for n in range(6):
                gate.publish("privcard/dev/gate-r/tap", Tap(f"gate-r:{n}", UID, now_utc(), True).encode())
            deadline = time.monotonic() + 15
            while len(gate.got("privcard/dev/gate-r/result")) < 6 and time.monotonic() < deadline:
                time.sleep(0.1)
            results = [TapResult.parse(p) for _, p, _ in gate.got("privcard/dev/gate-r/result")]
            assert {r.tap_id for r in results} == {f"gate-r:{n}" for n in range(6)}, [r.log_tail() for r in replicas]
            assert sum(r.outcome == "credited" for r in results) == 1
        finally:
            gate.close()
        log = broker.log()
        for i, r in enumerate(replicas):
            assert r.log().count("connected to") == 1, r.log_tail()
            assert f"as privcard-server-{i} (" in log
        assert "already connected" not in log
    finally:
        for r in replicas:
            r.stop()
        broker.close()
