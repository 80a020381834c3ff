"""Two ``privcard server`` processes on one database, both receiving every tap.

Each server has its own (non-shared) subscription, so every tap is decided by both —
the hardest case: they race on the same tap_id, the same member's balance and the
same daily-accrual key. Run on one PostgreSQL database (a fresh one of our own) and
on one SQLite file. Whatever the interleaving:

- every tap is answered, by both servers, and both answers are identical;
- no tap is credited twice (an ``unlimited`` activity makes any double visible);
- no member earns a per-day activity twice on one day;
- every balance equals its ledger sum.
"""

from __future__ import annotations

import os
import random

import pytest

from server.domain.config import load
from server.store import LedgerEntry, TapInbox
from tests.helpers import (
    RACE_LIBRARY_TOML,
    Device,
    GateSimulator,
    ServerProcess,
    close_store,
    days_ago,
    fresh_pg_database,
    ledger_problems,
    local_time,
    open_service,
)

MEMBERS = [f"04CC{i:06X}" for i in range(12)]
TAPS = int(os.environ.get("PRIVCARD_CONCURRENCY_TAPS", "160"))


def run_two_servers(db_url: str, broker, tmp_path) -> None:
    config = tmp_path / "library.toml"
    config.write_text(RACE_LIBRARY_TOML)
    prog = load(config)
    svc = open_service(db_url, prog=prog)
    svc.devices.add("door", "gate", direction="in", activity="visit")  # every tap earns 1
    svc.devices.add("gate-in", "gate", direction="in")  # entry: once a day
    for i, uid in enumerate(MEMBERS):
        svc.members.add(f"Member {i}", uid)

    rnd = random.Random(20261122)
    servers = [
        ServerProcess(
            db_url,
            broker.url,
            client_id=f"privcard-server-{name}",
            config=config,
            log_dir=tmp_path,
            name=f"server-{name}",
        )
        for name in ("a", "b")
    ]
    dev = Device(broker.url)
    try:
        for srv in servers:
            srv.start()
        dev.start()
        dev.wait_server(servers=2)
        taps = []
        for _ in range(TAPS):
            device_id = rnd.choice(["door", "door", "gate-in"])
            at = local_time(days_ago(rnd.randint(0, 3)), rnd.randint(8, 20), rnd.randint(0, 59))
            taps.append((device_id, dev.make_tap(rnd.choice(MEMBERS), at=at, device_id=device_id)))
        sim = GateSimulator(dev, taps, interval_s=0.002, resend_s=3.0).start()
        assert sim.wait_all(90), (
            f"{len(sim.pending())} taps unanswered\n" + servers[0].log_tail() + servers[1].log_tail()
        )
        # every tap reaches both servers: wait for the second answer too
        for device_id, tap in taps:
            assert dev.wait_result(device_id, tap.tap_id, timeout=30, count=2) is not None, tap.tap_id
        sim.stop()

        for device_id, tap in taps:
            results = dev.results_for(device_id, tap.tap_id)
            assert all(r == results[0] for r in results), f"servers disagree on {tap.tap_id}: {results}"
            assert results[0].outcome in ("credited", "limit_reached"), results[0]
        credited = {(d, t.tap_id) for d, t in taps if dev.results_for(d, t.tap_id)[0].outcome == "credited"}
        door_taps = sum(1 for d, _ in taps if d == "door")
        assert {t for d, t in credited if d == "door"} == {t.tap_id for d, t in taps if d == "door"}

        entries = list(LedgerEntry.select().where(LedgerEntry.source == "tap"))
        assert sorted((e.device, e.ref) for e in entries) == sorted(credited), "ledger and answers disagree"
        assert sum(e.points for e in entries if e.device == "door") == door_taps
        assert TapInbox.select().count() == len(taps)
        assert ledger_problems(prog=prog) == []
        for srv in servers:
            assert srv.running, srv.log_tail()
            assert "Traceback" not in srv.log(), srv.log_tail()
    finally:
        dev.close()
        for srv in servers:
            srv.kill()
        close_store()


@pytest.mark.postgres
def test_two_servers_on_one_postgresql_database_never_double_credit(pg_url, pg_template, mosquitto, tmp_path):
    with fresh_pg_database(pg_url, template=pg_template) as url:
        run_two_servers(url, mosquitto, tmp_path)


def test_two_servers_on_one_sqlite_file_never_double_credit(tmp_db_url, mosquitto, tmp_path):
    run_two_servers(tmp_db_url, mosquitto, tmp_path)
