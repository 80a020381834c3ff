"""``kill -9`` of the points server while taps are flowing, then restart: every tap
is credited exactly once (each broker in turn).

The publisher behaves like a gate's outbox: it keeps every tap until its result
arrives and resends the unanswered ones, so taps published while the server is
dead, or whose result was lost in the crash, come back. The server restarts with
the same MQTT client id (its persistent session), so the broker also redelivers
what the dead server had received but not acknowledged.
"""

from __future__ import annotations

import random
import time
from collections import Counter

from server.domain.config import load
from server.store import LedgerEntry, Member
from tests.helpers import (
    Device,
    GateSimulator,
    ServerProcess,
    close_store,
    ledger_problems,
    open_service,
)

LIBRARY_TOML = """
[activities.visit]
points = 1
limit = "unlimited"
th = "เยี่ยมชม"
en = "Visit"
"""
MEMBERS = [f"04DD{i:06X}" for i in range(20)]
TAPS = 400
KILL_AFTER = (80, 220)  # kill -9 once this many taps have been answered


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_kill_9_while_taps_flow_loses_and_doubles_nothing(bus, tmp_path, tmp_db_url):
    config = tmp_path / "library.toml"
    config.write_text(LIBRARY_TOML)
    prog = load(config)
    svc = open_service(tmp_db_url, prog=prog)
    svc.devices.add("door", "gate", direction="in", activity="visit")  # every tap earns 1 point
    for i, uid in enumerate(MEMBERS):
        svc.members.add(f"Member {i}", uid)

    rnd = random.Random(7)
    srv = ServerProcess(tmp_db_url, bus.url, config=config, log_dir=tmp_path)
    dev = Device(bus.url)
    sim = None
    try:
        srv.start()
        dev.start()
        dev.wait_server()
        taps = [("door", dev.make_tap(rnd.choice(MEMBERS), device_id="door")) for _ in range(TAPS)]
        sim = GateSimulator(dev, taps, interval_s=0.004, resend_s=1.0).start()
        for n in KILL_AFTER:
            assert wait_until(lambda n=n: sim.answered() >= n, 60), (
                f"stuck at {sim.answered()} answers\n{srv.log_tail()}"
            )
            srv.kill()
            in_flight = len(sim.pending())
            assert 0 < in_flight < TAPS, "the server must die while taps are still flowing"
            time.sleep(0.3)  # taps keep coming while it is dead
            srv.start()
        assert sim.wait_all(90), f"{len(sim.pending())} taps never answered\n{srv.log_tail()}"
        sim.stop()

        # every tap answered; redeliveries (resends, broker redelivery) got the identical result
        for device_id, tap in taps:
            results = dev.results_for(device_id, tap.tap_id)
            assert results and all(r == results[0] for r in results), (tap.tap_id, results)
            assert results[0].outcome == "credited" and results[0].points == 1, results[0]
        # ... and each one is in the ledger exactly once
        refs = Counter(e.ref for e in LedgerEntry.select().where(LedgerEntry.source == "tap"))
        assert sorted(refs) == sorted(t.tap_id for _, t in taps), "a tap is missing from the ledger"
        doubled = {ref: n for ref, n in refs.items() if n > 1}
        assert not doubled, f"taps credited twice: {doubled}"
        per_member = Counter(t.uid for _, t in taps)
        for i, uid in enumerate(MEMBERS, start=1):
            assert Member.get_by_id(i).balance == 250 + per_member[uid]
        assert ledger_problems(prog=prog) == []
        assert srv.starts == 1 + len(KILL_AFTER)
    finally:
        if sim is not None:
            sim.stop()
        dev.close()
        srv.kill()
        close_store()
