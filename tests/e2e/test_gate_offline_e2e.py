"""Issue 3's offline guarantee, end to end with real processes.

Broker stopped; 500 taps at a `privcard gate` (stdin reader) whose clock says they
happen on two earlier business days; the gate is SIGKILLed after each batch (twice)
and once more while it drains; broker and `privcard server` back → every tap
credited exactly once, on the business day of its original `at`, outbox empty.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

import pytest

from tests.brokers import PYTHON, GateProcess, LoggedProcess
from tests.helpers import TRUST_DEVICE_CLOCKS_TOML

pytestmark = pytest.mark.slow

DEV = "gate-e2e"
MEMBERS = 250
BKK = ZoneInfo("Asia/Bangkok")


def uid(i: int) -> str:
    return f"04{i:06X}"


def offset_to_noon(days_ago: int) -> float:
    """--clock-offset that puts the gate's clock at noon (Bangkok) `days_ago` days back."""
    now = datetime.now(BKK)
    target = datetime.combine(now.date() - timedelta(days=days_ago), dtime(12, 0), tzinfo=BKK)
    return (target - now).total_seconds()


def setup_db(db_url: str) -> None:
    from server import store
    from server.domain.config import load
    from server.services import bootstrap

    store.connect(db_url)
    svc = bootstrap(load())
    svc.devices.add(DEV, "gate", direction="in", activity="entry")
    for i in range(MEMBERS):
        svc.members.add(f"Member {i}", uid(i))
    store.db.close()


def start_gate(mqtt_url, state_dir, days_ago: int) -> GateProcess:
    g = GateProcess(
        DEV,
        mqtt_url,
        state_dir,
        "--clock-check",
        "always-ok",
        "--clock-offset",
        str(offset_to_noon(days_ago)),
        "--heartbeat-s",
        "5",
    )
    g.wait_line(rf" {DEV} ready: ", 20)
    return g


def test_500_offline_taps_two_sigkills_then_every_tap_credited_once_on_its_day(mosquitto, tmp_db_url, tmp_path):
    setup_db(tmp_db_url)
    state = tmp_path / "gate"
    mosquitto.stop()  # the network is down

    # batch 1: two days ago; killed once the gate has logged (= stored) every tap
    g = start_gate(mosquitto.url, state, days_ago=2)
    g.tap(*[uid(i) for i in range(MEMBERS)])
    g.wait_line(r"TAP gate-e2e:\d+ .* offline_", 60, count=MEMBERS)
    g.kill()

    # batch 2: yesterday; killed again
    g = start_gate(mosquitto.url, state, days_ago=1)
    assert g.wait_line(r"ready: outbox \d+")[0].split("ready: outbox ")[1].startswith(f"{MEMBERS},")
    g.tap(*[uid(i) for i in range(MEMBERS)])
    g.wait_line(r"TAP gate-e2e:\d+ .* offline_", 60, count=MEMBERS)
    g.kill()

    # a third life; the bus and the server come back while it runs
    g = start_gate(mosquitto.url, state, days_ago=0)
    assert g.outbox_depth() == 2 * MEMBERS
    mosquitto.start()
    # the gate's clock is *set* to earlier days (--clock-offset) rather than the server seeing
    # it offline for days: the library file trusts a gate's clock that far back
    # ([rules.backdating] gate = "max_age"); tests/integration/test_backdating_offline.py
    # shows the default policy crediting taps buffered in an offline period the server saw
    config = tmp_path / "library.toml"
    config.write_text(TRUST_DEVICE_CLOCKS_TOML)
    server = LoggedProcess(
        [
            PYTHON,
            "-m",
            "broker.dispatcher",
            "server",
            "--db",
            tmp_db_url,
            "--mqtt",
            mosquitto.url,
            "--config",
            str(config),
        ]
    )
    server.name = "server"
    try:
        server.wait_line(r"server running", 30)
        # kill the gate once more mid-drain (if the drain is not already over)
        deadline = time.monotonic() + 60
        while g.outbox_depth() > 2 * MEMBERS - 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        g.kill()
        g = start_gate(mosquitto.url, state, days_ago=0)
        deadline = time.monotonic() + 90
        while g.outbox_depth() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert g.outbox_depth() == 0, "the outbox did not drain"
    finally:
        server.terminate()
        g.kill()

    from server import store
    from server.store import LedgerEntry, TapInbox

    store.connect(tmp_db_url, upgrade_schema=False)
    try:
        taps = list(TapInbox.select().where(TapInbox.device == DEV))
        assert len(taps) == 2 * MEMBERS
        assert Counter(t.outcome for t in taps) == {"credited": 2 * MEMBERS}
        assert sorted(int(t.tap_id.split(":")[1]) for t in taps) == list(range(1, 2 * MEMBERS + 1))
        credits = list(LedgerEntry.select().where(LedgerEntry.source == "tap"))
        assert len(credits) == 2 * MEMBERS  # exactly once each
        assert len({c.ref for c in credits}) == 2 * MEMBERS
        today = datetime.now(BKK).date()
        days = Counter(c.day for c in credits)
        assert days == {today - timedelta(days=2): MEMBERS, today - timedelta(days=1): MEMBERS}
        per_member = Counter(c.member_id for c in credits)
        assert set(per_member.values()) == {2}
        assert all(c.points == 5 and c.activity == "entry" for c in credits)
        # the ledger keeps the original read time, not the drain time
        assert all(c.at.astimezone(BKK).time().hour == 12 for c in credits)
    finally:
        store.db.close()
