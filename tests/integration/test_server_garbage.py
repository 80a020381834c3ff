"""Garbage on the bus: the server logs it, answers ``invalid`` when it can read a tap_id,
and keeps serving the next valid tap (each broker in turn)."""

from __future__ import annotations

import json

import pytest

from broker import contract
from server.store import LedgerEntry, TapInbox
from tests.helpers import Device, ServerProcess, close_store, ledger_problems, new_uid, open_service

NOW = contract.format_time(contract.now_utc())


def payload(**fields) -> bytes:
    data = {"v": 1, "tap_id": "x", "uid": "04A1B2C3", "at": NOW, "clock_ok": True}
    data.update(fields)
    return json.dumps({k: v for k, v in data.items() if v is not ...}).encode()


#: (name, device, raw payload, tap_id the server can read or None, words expected in the log)
GARBAGE = [
    ("not json", "gate-in", b"this is not json {", None, "payload is not JSON"),
    ("empty", "gate-in", b"", None, "payload is not JSON"),
    ("not utf-8", "gate-in", b"\xff\xfe\x00garbage", None, "payload is not UTF-8"),
    ("json array", "gate-in", b"[1, 2, 3]", None, "payload must be a JSON object"),
    ("uid wrong type", "gate-in", payload(tap_id="g-uid-type", uid=123), "g-uid-type", "uid must be str, got int"),
    ("clock_ok wrong type", "gate-in", payload(tap_id="g-clock", clock_ok="yes"), "g-clock", "clock_ok must be bool"),
    ("at wrong type", "gate-in", payload(tap_id="g-at-type", at=1700000000), "g-at-type", "at must be str"),
    (
        "at without offset",
        "gate-in",
        payload(tap_id="g-at-naive", at="2026-11-22T10:00:00"),
        "g-at-naive",
        "at must carry a UTC offset",
    ),
    ("bad uid", "gate-in", payload(tap_id="g-bad-uid", uid="ZZ00ZZ00"), "g-bad-uid", "uid must be upper-case hex"),
    (
        "lower-case uid",
        "gate-in",
        payload(tap_id="g-lower-uid", uid="04a1b2c3"),
        "g-lower-uid",
        "uid must be upper-case hex",
    ),
    ("missing field", "gate-in", payload(tap_id="g-missing", clock_ok=...), "g-missing", "missing field 'clock_ok'"),
    ("wrong version", "gate-in", payload(tap_id="g-v2", v=2), "g-v2", "unsupported contract version 2"),
    ("extra field", "gate-in", payload(tap_id="g-extra", device="gate-9"), "g-extra", "unexpected field(s): device"),
    ("bad tap_id", "gate-in", payload(tap_id="has spaces/and slashes"), None, "tap_id must be 1-64 characters"),
    ("1 MiB", "gate-in", b'{"v":1,"tap_id":"g-huge","pad":"' + b"A" * (1 << 20) + b'"}', None, "the limit is 4096"),
    ("unknown device", "ghost-gate", payload(tap_id="g-ghost"), "g-ghost", "unknown device ghost-gate"),
]


@pytest.fixture
def garbage_stack(bus, tmp_path, tmp_db_url):
    svc = open_service(tmp_db_url)
    svc.devices.add("gate-in", "gate", direction="in")
    svc.devices.add("kiosk-1", "kiosk")
    uid = new_uid()
    svc.members.add("Somchai", uid)
    srv = ServerProcess(tmp_db_url, bus.url, log_dir=tmp_path).start()
    dev = Device(bus.url).start()
    try:
        dev.wait_server()
        yield svc, dev, srv, uid
    finally:
        dev.close()
        srv.kill()
        close_store()


def test_garbage_taps_are_refused_and_the_next_valid_tap_is_served(garbage_stack):
    _svc, dev, srv, uid = garbage_stack
    credited = 0
    for name, device_id, raw, ref, words in GARBAGE:
        dev.send_raw(device_id, raw)
        valid = dev.tap("gate-in", uid)  # the server still serves, right after the garbage
        assert valid.outcome in ("credited", "limit_reached"), (name, valid)
        credited += valid.points
        # the server works through its queue in order: a reply to the garbage came before `valid`'s
        if ref is not None:
            got = dev.wait_result(device_id, ref, timeout=5)
            assert got is not None, f"{name}: no `invalid` result for readable tap_id {ref}"
            assert (got.outcome, got.open, got.points, got.balance, got.name) == ("invalid", False, 0, None, None)
            assert got.message["en"].startswith("Invalid tap: "), (name, got.message)
            if device_id == "gate-in":
                assert words in got.message["en"], (name, got.message)  # the reason, for the gate's log
        assert words in srv.log(), f"{name}: nothing logged about it\n{srv.log_tail()}"
        assert srv.running, f"server died on {name}:\n{srv.log_tail()}"
    assert credited == 5  # one entry a day, however many taps
    assert dev.results_for("gate-in", "g-huge") == []
    # nothing was credited or stored for the garbage, and the books still balance
    assert LedgerEntry.select().where(LedgerEntry.ref.startswith("g-")).count() == 0
    assert TapInbox.select().where(TapInbox.tap_id.startswith("g-")).count() == 0
    assert ledger_problems() == []
    assert "Traceback" not in srv.log(), srv.log_tail()
    assert dev.garbled == []


def test_garbage_on_other_topics_is_logged_and_ignored(garbage_stack):
    _svc, dev, srv, uid = garbage_stack
    dev.send_raw("kiosk-1", b'{"v":1,"query_id":"q-bad","uid":"nothex"}', kind="query")
    dev.send_raw("kiosk-1", b"\x00\x01", kind="query")
    dev.send_raw("kiosk-1", b'{"v":1,"feedback_id":"f1","rating":9,"at":"' + NOW.encode() + b'"}', kind="feedback")
    dev.send_raw("kiosk-1", b'{"v":1,"state":"dancing"}', kind="status")
    dev.send_raw("bad.device.id", payload(tap_id="g-topic"))  # not a valid device topic segment
    answer = dev.query("kiosk-1", uid)  # still answering
    assert (answer.outcome, answer.balance) == ("member", 250)
    bad = dev.answers.get(("kiosk-1", "q-bad"))
    assert bad and bad[0].outcome == "invalid"
    assert dev.tap("gate-in", uid).outcome == "credited"
    log = srv.log()
    for words in (
        "invalid query from kiosk-1",
        "invalid feedback from kiosk-1",
        "invalid status from kiosk-1",
        "ignored message on privcard/dev/bad.device.id/tap",
    ):
        assert words in log, f"{words!r} not logged:\n{srv.log_tail()}"
    assert dev.results_for("bad.device.id", "g-topic") == []
    assert "Traceback" not in log, srv.log_tail()
