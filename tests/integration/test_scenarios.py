"""The programme's scenarios end to end: a real broker (Mosquitto, then the embedded one),
a real ``privcard server`` process, taps published as a gate publishes them.

Members are set up through the service (and the admin CLI for void and transfer);
devices exist before the server starts. Taps carry explicit ``at`` times with
``clock_ok`` true on days within the 30-day maximum age, so "the next day" is real: the
server runs with a library file that trusts gates' and counters' clocks that far back
(``[rules.backdating]``; the default policy has its own tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from server.store import LedgerEntry
from tests.helpers import (
    TRUST_DEVICE_CLOCKS_TOML,
    Device,
    ServerProcess,
    close_store,
    days_ago,
    ledger_problems,
    local_time,
    new_uid,
    open_service,
    run_admin,
)

DAY = days_ago(3)
NEXT_DAY = DAY + timedelta(days=1)


@dataclass
class Stack:
    svc: object
    dev: Device
    srv: ServerProcess
    db_url: str

    def member(self, name="Somchai", **kw) -> str:
        uid = new_uid()
        self.svc.members.add(name, uid, **kw)
        return uid

    def balance(self, uid: str) -> int:
        answer = self.dev.query("kiosk-1", uid)
        assert answer.outcome == "member", answer
        return answer.balance


@pytest.fixture
def stack(bus, tmp_path, tmp_db_url):
    svc = open_service(tmp_db_url)
    svc.devices.add("gate-in", "gate", direction="in", location="Main entrance")
    svc.devices.add("gate-out", "gate", direction="out", location="Main exit")
    svc.devices.add("counter-1", "counter", location="Circulation")
    svc.devices.add("kiosk-1", "kiosk")
    config = tmp_path / "library.toml"
    config.write_text(TRUST_DEVICE_CLOCKS_TOML)  # the scenarios date taps on chosen past days
    srv = ServerProcess(tmp_db_url, bus.url, config=config, log_dir=tmp_path).start()
    dev = Device(bus.url).start()
    try:
        dev.wait_server()
        yield Stack(svc, dev, srv, tmp_db_url)
        assert dev.garbled == [], "the server published results that break the contract"
        assert ledger_problems() == []
        assert "Traceback" not in srv.log(), srv.log_tail()
    finally:
        dev.close()
        srv.kill()
        close_store()


def test_sign_up_gives_250(stack):
    uid = stack.member("Malee", tier="gold", group="U3")
    answer = stack.dev.query("kiosk-1", uid)
    assert (answer.outcome, answer.balance, answer.member["name"], answer.member["tier"]) == (
        "member",
        250,
        "Malee",
        "gold",
    )
    assert answer.privileges["borrow"]["books"] == 15
    assert [h["activity"] for h in answer.history] == ["signup"]


def test_entry_once_a_day_then_again_the_next_day(stack):
    uid = stack.member()
    r = stack.dev.tap("gate-in", uid, at=local_time(DAY, 9, 0))
    assert (r.outcome, r.points, r.balance, r.open, r.activity, r.name) == (
        "credited",
        5,
        255,
        True,
        "entry",
        "Somchai",
    )
    r = stack.dev.tap("gate-in", uid, at=local_time(DAY, 15, 30))
    assert (r.outcome, r.points, r.balance, r.open) == ("limit_reached", 0, 255, True)
    r = stack.dev.tap("gate-in", uid, at=local_time(NEXT_DAY, 8, 1))
    assert (r.outcome, r.points, r.balance) == ("credited", 5, 260)
    assert stack.balance(uid) == 260


def test_late_stay_in_the_last_30_minutes_once_a_day(stack):
    uid = stack.member()
    r = stack.dev.tap("gate-out", uid, at=local_time(DAY, 20, 0))
    assert (r.outcome, r.points, r.open) == ("no_activity", 0, True)
    r = stack.dev.tap("gate-out", uid, at=local_time(DAY, 21, 45))
    assert (r.outcome, r.points, r.balance, r.activity) == ("credited", 10, 260, "late_stay")
    r = stack.dev.tap("gate-out", uid, at=local_time(DAY, 21, 58))
    assert (r.outcome, r.points) == ("limit_reached", 0)
    r = stack.dev.tap("gate-out", uid, at=local_time(NEXT_DAY, 21, 29))
    assert r.outcome == "no_activity"
    r = stack.dev.tap("gate-out", uid, at=local_time(NEXT_DAY, 21, 30))
    assert (r.outcome, r.balance) == ("credited", 270)


def test_two_different_activities_the_same_day_both_earn(stack):
    uid = stack.member()
    assert stack.dev.tap("gate-in", uid, at=local_time(DAY, 9, 0)).points == 5
    r = stack.dev.tap("counter-1", uid, at=local_time(DAY, 13, 0))
    assert (r.outcome, r.activity, r.points, r.balance) == ("credited", "borrow", 5, 260)
    r = stack.dev.tap("gate-out", uid, at=local_time(DAY, 21, 40))
    assert (r.outcome, r.activity, r.points, r.balance) == ("credited", "late_stay", 10, 270)
    assert stack.dev.tap("counter-1", uid, at=local_time(DAY, 16, 0)).outcome == "limit_reached"
    assert stack.balance(uid) == 270


def test_unknown_blocked_and_expired_cards_are_refused(stack):
    r = stack.dev.tap("gate-in", "04DEADBEEF01")
    assert (r.outcome, r.open, r.points, r.balance, r.name) == ("unknown_card", False, 0, None, None)
    blocked = stack.member("Lost card")
    stack.svc.members.block_card(blocked, reason="reported lost")
    r = stack.dev.tap("gate-in", blocked)
    assert (r.outcome, r.open, r.points, r.balance) == ("card_blocked", False, 0, None)
    expired = stack.member("Graduated", valid_until=(DAY - timedelta(days=1)).isoformat())
    r = stack.dev.tap("gate-in", expired, at=local_time(DAY, 10, 0))
    assert (r.outcome, r.open, r.points) == ("expired", False, 0)
    # a member whose card was replaced: the old card is refused, the new one works
    old = stack.member("Replaced")
    new = new_uid()
    stack.svc.members.replace_card(old, new)
    assert stack.dev.tap("gate-in", old).outcome == "card_blocked"
    assert stack.dev.tap("gate-in", new).outcome == "credited"


def test_redelivered_tap_id_gets_the_identical_result_and_no_second_credit(stack):
    uid = stack.member()
    tap = stack.dev.make_tap(uid, at=local_time(DAY, 10, 0), tap_id="gate-in:redeliver-1")
    first = stack.dev.send("gate-in", tap)
    assert (first.outcome, first.balance) == ("credited", 255)
    stack.dev.tap("counter-1", uid, at=local_time(DAY, 11, 0))  # the balance moves on to 260
    for _ in range(3):  # the gate's outbox sends it again (e.g. it missed the result)
        assert stack.dev.send("gate-in", tap) == first
    assert stack.balance(uid) == 260
    assert LedgerEntry.select().where(LedgerEntry.ref == "gate-in:redeliver-1").count() == 1


def test_void_restores_the_balance(stack):
    uid = stack.member()
    r = stack.dev.tap("gate-in", uid, at=local_time(DAY, 10, 0), tap_id="gate-in:void-me")
    assert r.balance == 255
    entry = LedgerEntry.get(LedgerEntry.ref == "gate-in:void-me")
    rc, out = run_admin(stack.db_url, "void", str(entry.id), "--reason", "tapped twice by mistake")
    assert rc == 0, out
    assert out[0]["points"] == -5 and out[0]["balance"] == 250
    assert stack.balance(uid) == 250
    # with the credit voided, the day's entry can be earned again
    assert stack.dev.tap("gate-in", uid, at=local_time(DAY, 11, 0)).balance == 255
    rc, out = run_admin(stack.db_url, "void", str(entry.id), "--reason", "again")
    assert rc == 1 and "already voided" in str(out)


def test_transfer_moves_points_and_never_below_zero(stack):
    a, b = stack.member("Giver"), stack.member("Taker")
    rc, out = run_admin(stack.db_url, "transfer", a, b, "100")
    assert rc == 0, out
    assert (out["from_balance"], out["to_balance"]) == (150, 350)
    assert (stack.balance(a), stack.balance(b)) == (150, 350)
    rc, out = run_admin(stack.db_url, "transfer", a, b, "151")
    assert rc == 1 and "less than 151" in str(out)
    assert (stack.balance(a), stack.balance(b)) == (150, 350)
    r = stack.dev.tap("gate-in", a, at=local_time(DAY, 9, 0))
    assert (r.outcome, r.balance) == ("credited", 155)
