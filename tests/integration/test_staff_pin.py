"""The staff PIN is checked by the server: nothing about it reaches a device, wrong ones lock out.

- On the wire (real Mosquitto, a real ``privcard server`` process, real SQLite): every
  answer's bytes, for a staff card's plain query and its PIN queries, hold no PIN hash.
- The lock-out (``[rules] staff_pin_lockout_minutes``): 5 wrong PINs lock that card on
  that kiosk for the configured time, even for the right PIN; another kiosk and another
  card are unaffected; the time over, the right PIN unlocks again; each step is audited.
- Parallel guesses (threads, each on its own database connection) are checked at most 5 times.

The service-level tests run on SQLite and on PostgreSQL (a fresh database of their own).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from broker import contract
from broker.client import BusClient
from broker.contract import Query
from server.domain.config import build, default_raw
from server.store import Audit, Member, StaffPinGuard
from tests.helpers import Device, ServerProcess, close_store, open_service

STAFF, STAFF2, PATRON = "04AA000001", "04AA000002", "04BB000001"
PIN, OTHER_PIN = "48261937", "135790"
LOCK_MIN = 7


class Clock:
    """A settable clock for the service layer."""

    def __init__(self):
        self.now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

    def __call__(self):
        return self.now


def programme(minutes=LOCK_MIN):
    raw = default_raw()
    raw["rules"]["staff_pin_lockout_minutes"] = minutes
    return build(raw)


@pytest.fixture
def db_url(any_db_url):
    """Each test once on SQLite, once on PostgreSQL (tests/integration/conftest.py)."""
    return any_db_url


@pytest.fixture
def svc(db_url):
    clock = Clock()
    service = open_service(db_url, prog=programme(), clock=clock)
    service.clock_ = clock
    for dev in ("kiosk-a", "kiosk-b"):
        service.devices.add(dev, "kiosk")
    for name, uid, pin in (("Staff One", STAFF, PIN), ("Staff Two", STAFF2, OTHER_PIN)):
        m = service.members.add(name, uid)
        service.members.set(m.id, actor="test", staff=True, pin=pin)
    service.members.add("Patron", PATRON)
    yield service
    close_store()


_seq = iter(range(10**6))


def unlock(svc, device, uid, pin):
    return svc.staff.unlock(device, Query(f"u{next(_seq)}", uid, pin=pin))


def test_five_wrong_pins_lock_that_card_on_that_kiosk_for_the_configured_time(svc):
    lefts = [unlock(svc, "kiosk-a", STAFF, "0000") for _ in range(4)]
    assert [(a.outcome, a.attempts_left) for a in lefts] == [("pin_wrong", n) for n in (4, 3, 2, 1)]
    assert lefts[0].message["en"] == "Wrong PIN: 4 tries left" and "4" in lefts[0].message["th"]
    fifth = unlock(svc, "kiosk-a", STAFF, "0000")
    assert fifth.outcome == "pin_locked" and fifth.retry_after_s == LOCK_MIN * 60
    assert fifth.locked_until == contract.format_time(svc.clock_.now + timedelta(minutes=LOCK_MIN))
    assert f"{LOCK_MIN} min" in fifth.message["en"] and f"{LOCK_MIN} นาที" in fifth.message["th"]
    # locked: even the right PIN is refused, and not checked
    assert unlock(svc, "kiosk-a", STAFF, PIN).outcome == "pin_locked"
    # another kiosk, another card: unaffected
    assert unlock(svc, "kiosk-b", STAFF, PIN).outcome == "staff_unlocked"
    assert unlock(svc, "kiosk-a", STAFF2, OTHER_PIN).outcome == "staff_unlocked"
    # one second before the end: still locked, with the time left
    svc.clock_.now += timedelta(minutes=LOCK_MIN, seconds=-1)
    late = unlock(svc, "kiosk-a", STAFF, PIN)
    assert late.outcome == "pin_locked" and late.retry_after_s == 1
    svc.clock_.now += timedelta(seconds=1)
    assert unlock(svc, "kiosk-a", STAFF, PIN).outcome == "staff_unlocked"
    # the right PIN starts the count again
    assert unlock(svc, "kiosk-a", STAFF, "1111").attempts_left == 4
    actions = [a.action for a in Audit.select().where(Audit.action.startswith("staff.")).order_by(Audit.id)]
    assert actions.count("staff.pin_wrong") == 6 and actions.count("staff.pin_locked") == 2
    assert actions.count("staff.unlock") == 3
    # the audit never holds the PIN
    details = " ".join(str(a.detail) for a in Audit.select().where(Audit.action.startswith("staff.")))
    assert PIN not in details and "0000" not in details and "scrypt" not in details


def test_a_card_that_is_not_staff_or_blocked_never_unlocks(svc):
    assert unlock(svc, "kiosk-a", PATRON, "0000").outcome == "pin_wrong"  # no PIN: a wrong one, counted
    assert unlock(svc, "kiosk-a", "04CC000009", PIN).outcome == "unknown_card"
    svc.members.set(Member.get(Member.name == "Staff Two").id, status="blocked")
    assert unlock(svc, "kiosk-a", STAFF2, OTHER_PIN).outcome == "card_blocked"
    assert unlock(svc, "gate-x", STAFF, PIN).outcome == "invalid"  # unregistered device


def test_lockout_minutes_is_validated_with_its_path():
    from server.domain.config import ConfigError

    for bad in (0, 1441, "15", 2.5):
        with pytest.raises(ConfigError, match=r"rules\.staff_pin_lockout_minutes"):
            programme(bad)
    assert build(default_raw()).staff_pin_lockout_minutes == 15


def test_parallel_guesses_cannot_exceed_five(svc):
    """20 wrong guesses at once: exactly 5 are checked (and audited), 15 are refused as locked."""
    answers, errors = [], []
    start = threading.Barrier(20)

    def guess(i):
        try:
            start.wait()
            answers.append(unlock(svc, "kiosk-a", STAFF, f"9{i:03d}"))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    outcomes = [a.outcome for a in answers]
    checked = Audit.select().where(Audit.action == "staff.pin_wrong").count()
    assert checked == 5, outcomes
    assert outcomes.count("pin_wrong") == 4 and outcomes.count("pin_locked") == 16
    assert StaffPinGuard.get().failures == 5


# --------------------------------------------------------------------------- on the wire


def test_no_answer_on_the_wire_holds_a_pin_hash_and_a_bad_pin_is_invalid(tmp_db_url, mosquitto, tmp_path):
    svc = open_service(tmp_db_url)
    svc.devices.add("kiosk-w", "kiosk")
    staff = svc.members.add("Staff Wire", STAFF)
    svc.members.set(staff.id, actor="test", staff=True, pin=PIN)
    stored = Member.get_by_id(staff.id).pin_hash
    close_store()

    raw: list[bytes] = []
    sniffer = BusClient(mosquitto.url, "test-sniffer")
    sniffer.subscribe("privcard/dev/+/answer", lambda topic, payload, msg: raw.append(bytes(payload)))
    sniffer.start()
    assert sniffer.wait_connected(10)
    with ServerProcess(tmp_db_url, mosquitto.url, log_dir=tmp_path) as server, Device(mosquitto.url) as kiosk:
        kiosk.wait_server()
        plain = kiosk.query("kiosk-w", STAFF)
        assert plain.outcome == "member" and plain.member["staff"] is True
        assert "pin_hash" not in plain.member
        assert kiosk.query("kiosk-w", STAFF, pin="0000").outcome == "pin_wrong"
        assert kiosk.query("kiosk-w", STAFF, pin=PIN).outcome == "staff_unlocked"
        # a malformed pin: invalid, one log line without the value, nothing counted
        kiosk.send_raw("kiosk-w", b'{"v":1,"query_id":"bad-1","uid":"' + STAFF.encode() + b'","pin":"12a4x"}', "query")
        deadline = time.monotonic() + 10
        while not kiosk.answers.get(("kiosk-w", "bad-1")) and time.monotonic() < deadline:
            time.sleep(0.05)
        bad = kiosk.answers[("kiosk-w", "bad-1")][0]
        assert bad.outcome == "invalid" and "pin must be 4-8 digits" in bad.message["en"]
        log = server.log()
    sniffer.stop()
    assert len(raw) >= 4
    wire = b"\n".join(raw)
    assert b"pin_hash" not in wire and b"scrypt" not in wire and stored.encode() not in wire
    assert stored.split("$")[-1].encode() not in wire  # not even the digest alone
    assert b'"pin"' not in wire and PIN.encode() not in wire  # the PIN is never echoed
    assert [line for line in log.splitlines() if "bad-1" in line and "pin must be 4-8 digits" in line]
    assert "12a4x" not in log and PIN not in log
    open_service(tmp_db_url)
    try:
        assert StaffPinGuard.get().failures == 0  # the right PIN reset it; the bad one was never counted
    finally:
        close_store()
