"""A hypothesis state machine over the service and a real SQLite file.

Steps: tap, queue a tap, redeliver (now or later), deliver the queue in any order
as one group commit, void a credit, transfer, let time pass (hours or days),
restart the server (reconnect the store, new service layer). Checked all along:

- the outcome of every new tap is what a simple model of the rules predicts
  (trusted clock or receive time, 30-day age limit, late-stay window, one credit
  per member, activity and day, voids releasing the day's credit);
- a redelivered tap_id is answered identically, whatever happened in between;
- at most one non-voided credit per member, activity and day;
- every balance equals its ledger sum (and the model's), never below zero.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from broker.contract import Tap
from server import store
from server.services import ServiceError
from server.store import LedgerEntry
from tests.helpers import close_store, ledger_problems, open_service, trusting_programme

BKK = ZoneInfo("Asia/Bangkok")
START = datetime(2026, 11, 23, 10, 0, tzinfo=BKK)  # a Monday, 10:00 library time
MEMBERS = ["04AA000001", "04AA000002", "04AA000003"]
DEVICES = {"gate-in": "entry", "gate-out": "late_stay", "counter": "borrow"}
POINTS = {"entry": 5, "late_stay": 10, "borrow": 5}
TIMES = [(8, 0), (12, 30), (21, 29), (21, 30), (21, 45), (22, 0), (23, 59)]
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


class Clock:
    def __init__(self, now: datetime):
        self.now = now.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now


class LedgerMachine(RuleBasedStateMachine):
    """The service against a model of the programme's tap rules."""

    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="privcard-prop-", dir=SCRATCH)
        self.url = f"sqlite:///{self.dir}/privcard.db"
        self.clock = Clock(START)
        self.svc = None
        self.seq = 0
        self.keys: dict[tuple, str] = {}  # (member uid, activity, day) -> tap_id of the live credit
        self.balance = {uid: 250 for uid in MEMBERS}
        self.answers: dict[tuple[str, str], object] = {}  # (device, tap_id) -> first result
        self.taps: dict[tuple[str, str], Tap] = {}
        self.credits: dict[tuple[str, str], tuple] = {}  # live credits: (device, tap_id) -> key
        self.queue: list[tuple[str, Tap]] = []

    # ------------------------------------------------------------------ setup and teardown

    @initialize()
    def setup(self):
        self.svc = open_service(self.url, prog=trusting_programme(), clock=self.clock)
        self.svc.devices.add("gate-in", "gate", direction="in")
        self.svc.devices.add("gate-out", "gate", direction="out")
        self.svc.devices.add("counter", "counter")
        for i, uid in enumerate(MEMBERS):
            self.svc.members.add(f"Member {i}", uid)

    # ------------------------------------------------------------------ the model

    def expect(self, device: str, tap: Tap, received: datetime) -> tuple[str, int]:
        """(outcome, points) the rules give a first delivery; updates the model."""
        trusted = tap.clock_ok and tap.at <= received + timedelta(seconds=300)
        when = tap.at if trusted else received
        if trusted and received - tap.at > timedelta(days=30):
            return "invalid", 0
        local = when.astimezone(BKK)
        activity = DEVICES[device]
        if activity == "late_stay":
            minutes = local.hour * 60 + local.minute + local.second / 60
            if not (21 * 60 + 30 <= minutes <= 22 * 60):
                return "no_activity", 0
        key = (tap.uid, activity, local.date())
        if key in self.keys:
            return "limit_reached", 0
        self.keys[key] = tap.tap_id
        self.credits[(device, tap.tap_id)] = key
        self.balance[tap.uid] += POINTS[activity]
        return "credited", POINTS[activity]

    def check(self, device: str, tap: Tap, result, received: datetime) -> None:
        key = (device, tap.tap_id)
        if key in self.answers:
            assert result == self.answers[key], f"redelivery of {key} answered differently"
            return
        outcome, points = self.expect(device, tap, received)
        assert (result.outcome, result.points) == (outcome, points), (device, tap, result)
        if outcome != "invalid":
            assert result.balance == self.balance[tap.uid]
        assert result.open == (outcome != "invalid")
        self.answers[key] = result
        self.taps[key] = tap

    def new_tap(self, member: int, device: str, days_back: int, hhmm: tuple[int, int], clock_ok: bool) -> Tap:
        self.seq += 1
        day: date = self.clock().astimezone(BKK).date() - timedelta(days=days_back)
        at = datetime(day.year, day.month, day.day, *hhmm, tzinfo=BKK)
        return Tap(tap_id=f"{device}:{self.seq}", uid=MEMBERS[member], at=at, clock_ok=clock_ok)

    # ------------------------------------------------------------------ rules

    taps_args = dict(
        member=st.integers(0, len(MEMBERS) - 1),
        device=st.sampled_from(sorted(DEVICES)),
        days_back=st.sampled_from([0, 0, 0, 1, 2, 31]),
        hhmm=st.sampled_from(TIMES),
        clock_ok=st.booleans(),
    )

    @rule(**taps_args)
    def tap(self, member, device, days_back, hhmm, clock_ok):
        t = self.new_tap(member, device, days_back, hhmm, clock_ok)
        received = self.clock()
        self.check(device, t, self.svc.taps.decide(device, t, received), received)

    @rule(**taps_args)
    def queue_tap(self, member, device, days_back, hhmm, clock_ok):
        self.queue.append((device, self.new_tap(member, device, days_back, hhmm, clock_ok)))

    @precondition(lambda self: self.answers)
    @rule(data=st.data(), later=st.booleans())
    def redeliver(self, data, later):
        key = data.draw(st.sampled_from(sorted(self.answers)))
        device, tap = key[0], self.taps[key]
        if later:
            self.queue.append((device, tap))
        else:
            received = self.clock()
            self.check(device, tap, self.svc.taps.decide(device, tap, received), received)

    @precondition(lambda self: self.queue)
    @rule(data=st.data())
    def deliver_queue_in_any_order(self, data):
        order = data.draw(st.permutations(self.queue))
        self.queue = []
        received = self.clock()
        results = self.svc.taps.decide_batch([(device, tap, received) for device, tap in order])
        for (device, tap), result in zip(order, results, strict=False):
            self.check(device, tap, result, received)

    @precondition(lambda self: self.credits)
    @rule(data=st.data())
    def void(self, data):
        device, tap_id = data.draw(st.sampled_from(sorted(self.credits)))
        entry = LedgerEntry.get(
            (LedgerEntry.ref == tap_id) & (LedgerEntry.device == device) & (LedgerEntry.source == "tap")
        )
        key = self.credits[(device, tap_id)]
        try:
            self.svc.points.void(entry.id, "property test")
        except ServiceError as exc:  # the points were spent or given away meanwhile
            assert self.balance[key[0]] < entry.points, exc
            return
        del self.credits[(device, tap_id)]
        del self.keys[key]
        self.balance[key[0]] -= entry.points

    @rule(
        src=st.integers(0, len(MEMBERS) - 1),
        dst=st.integers(0, len(MEMBERS) - 1),
        points=st.sampled_from([1, 5, 100, 255, 400]),
    )
    def transfer(self, src, dst, points):
        a, b = MEMBERS[src], MEMBERS[dst]
        try:
            self.svc.points.transfer(a, b, points)
        except ServiceError:
            assert a == b or self.balance[a] < points
            return
        assert a != b and self.balance[a] >= points
        self.balance[a] -= points
        self.balance[b] += points

    @rule(hours=st.sampled_from([1, 6, 11, 24, 24 * 3]))
    def time_passes(self, hours):
        self.clock.now += timedelta(hours=hours)

    @rule()
    def restart_server(self):
        close_store()
        self.svc = open_service(self.url, prog=trusting_programme(), clock=self.clock)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def books_balance(self):
        if self.svc is None:
            return
        # two aggregate queries per step (ledger_problems() does the full check at the end)
        rows = store.db.execute_sql(BALANCES_SQL).fetchall()
        assert [(b, s) for _, b, s in rows] == [(self.balance[uid],) * 2 for uid in MEMBERS], rows
        assert store.db.execute_sql(DOUBLE_CREDIT_SQL).fetchall() == []

    def teardown(self):
        if self.svc is not None:
            assert ledger_problems() == []
        close_store()
        shutil.rmtree(self.dir, ignore_errors=True)


BALANCES_SQL = (
    f"SELECT m.id, m.balance, COALESCE(SUM(e.points), 0) FROM {store.Member._meta.table_name} m "
    f"LEFT JOIN {store.LedgerEntry._meta.table_name} e ON e.member_id = m.id GROUP BY m.id, m.balance "
    "ORDER BY m.id"
)
DOUBLE_CREDIT_SQL = (
    f"SELECT e.member_id, e.activity, e.day, COUNT(*) FROM {store.LedgerEntry._meta.table_name} e "
    "WHERE e.source = 'tap' AND e.points > 0 AND NOT EXISTS "
    f"(SELECT 1 FROM {store.LedgerEntry._meta.table_name} v WHERE v.void_of_id = e.id) "
    "GROUP BY e.member_id, e.activity, e.day HAVING COUNT(*) > 1"
)


LedgerMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("PRIVCARD_PROPERTY_EXAMPLES", "50")),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLedgerProperties = LedgerMachine.TestCase
