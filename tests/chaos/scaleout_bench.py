"""Scale-out benchmark: taps/s of 1 vs 2 (vs N) server replicas on one PostgreSQL database.

    python -m tests.chaos.scaleout_bench [--taps 3000] [--replicas 1 2] [--rounds 3] [--markdown]

Each configuration gets a fresh PostgreSQL database and a fresh Mosquitto (dev
settings: TCP_NODELAY, loopback, no auth — the broker is not what is measured); the
replicas run ``privcard server --shared bench`` (MQTT v5 shared subscriptions). The load
is ``privcard bench``'s generator (one pump thread; session 7): ``--taps`` taps from 20
gates, each its own connection keeping 20 unanswered,
each tap a distinct member's entry today so every one is a real credit (ledger entry,
accrual key, inbox row, balance update). (Until issue 16 the taps were dated on 28 past
days of 108 members: since the back-dating policy, a gate never seen offline has its
taps counted today, so only 108 of 3,000 were credits.) Throughput = taps / (first publish → last
result). The baseline, measured in the same run on the same broker, is a raw echo:
``privcard bench``'s echo process, which answers every tap with a canned result without
any database. (Before session 7 the load was one connection fed by one thread, and the echo
ran inside the load's own process: both capped what was measured.)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from broker import contract  # noqa: E402
from server.bench import ECHO_PREFIX, Load  # noqa: E402
from tests.brokers import MosquittoBroker  # noqa: E402

PG_ADMIN = os.environ.get("PRIVCARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
GATES = 20


def _pg(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(PG_ADMIN)
    conn.autocommit = True
    conn.cursor().execute(sql)
    conn.close()


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc); 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def backends(name: str) -> list[int]:
    """The PostgreSQL backend processes connected to database ``name`` (the replicas' connections)."""
    import psycopg2

    conn = psycopg2.connect(PG_ADMIN)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))
            return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


def echo_process(url: str) -> subprocess.Popen:
    """The raw baseline: ``privcard bench``'s echo (no database), a process of its own on its own prefix."""
    return subprocess.Popen(
        [sys.executable, "-c", f"from server.bench import echo_main; echo_main({url!r})"],
        cwd=str(REPO),
        stdout=subprocess.DEVNULL,
    )


def setup_db(db_url: str, n_members: int) -> list[str]:
    from server.store import Card, Member, db
    from tests.helpers import close_store, open_service

    svc = open_service(db_url)
    uids = [f"04B0{i:010X}" for i in range(n_members)]
    for g in range(GATES):
        svc.devices.add(f"b{g:02d}", "gate", direction="in")
    with db.atomic():
        for i, uid in enumerate(uids):
            Card.create(uid=uid, member=Member.create(name=f"Bench {i}", balance=0))
    close_store()
    return uids


def bench_replicas(replicas: int, taps: int, log_dir: Path) -> dict:
    """Throughput of ``replicas`` servers sharing the work; also the same-run echo baseline."""
    from tests.helpers import ServerProcess

    name = f"privcard_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _pg(f'CREATE DATABASE "{name}"')
    broker = MosquittoBroker()
    broker.start()
    servers = []
    load = None
    try:
        db_url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
        uids = setup_db(db_url, taps)
        # GATES devices, each its own connection and window of 20 (privcard bench's one-thread
        # generator); tap i comes from device i % GATES with member i's card: every tap a credit
        load = Load(broker.url, [f"b{g:02d}" for g in range(GATES)], uids)
        echo = echo_process(broker.url)
        try:
            load.prefix = ECHO_PREFIX
            load.probe()
            echo_s, _ = load.run(taps, f"echo{replicas}")
        finally:
            echo.terminate()
            echo.wait(10)
        load.prefix = contract.DEFAULT_PREFIX
        for i in range(replicas):
            srv = ServerProcess(
                db_url,
                broker.url + "?v=5",
                client_id=f"bench-{i}",
                log_dir=log_dir,
                extra_args=("--shared", "bench"),
                name=f"bench{replicas}-{i}",
            )
            srv.start(timeout=30)
            servers.append(srv)
        time.sleep(1.0)
        # CPU per tap of each part, so a bigger machine's throughput can be reasoned from it:
        # the replicas, their PostgreSQL backends (this database's only), the broker
        # (a replica's worker opens its connection at its first batch: a backend born during the
        # run counts from zero)
        pids = {"server": [s.proc.pid for s in servers], "broker": [broker.proc.pid]}
        load.probe()  # member 0's entry: the timed tap 0 is then limit_reached, so taps credits in all
        cpu0 = {p: cpu_s(p) for p in [*pids["server"], *pids["broker"], *backends(name)]}
        elapsed, latency = load.run(taps, f"run{replicas}")
        pids["postgres"] = backends(name)
        cpu = {k: sum(cpu_s(p) - cpu0.get(p, 0.0) for p in v) * 1000 / taps for k, v in pids.items()}
        lat = sorted(latency)
        from tests.helpers import close_store, ledger_problems, open_service

        open_service(db_url)
        from server.store import LedgerEntry

        credited = LedgerEntry.select().where(LedgerEntry.source == "tap").count()
        problems = ledger_problems()
        close_store()
        return {
            "replicas": replicas,
            "taps": taps,
            "seconds": elapsed,
            "taps_per_s": taps / elapsed,
            "p50_ms": statistics.median(lat) * 1000,
            "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1000,
            "echo_per_s": taps / echo_s,
            "credited": credited,
            "problems": problems,
            "cpu_ms_per_tap": cpu,
        }
    finally:
        if load is not None:
            load.close()  # its 20 connections, before the broker goes
        for srv in servers:
            srv.stop()
        broker.close()
        _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="taps/s of 1 vs N privcard server replicas on PostgreSQL")
    p.add_argument("--taps", type=int, default=3000)
    p.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat the configurations interleaved (1,2,1,2,...) and report the median round",
    )
    p.add_argument("--markdown", action="store_true", help="print a markdown table row per configuration")
    args = p.parse_args(argv)
    import logging
    import tempfile

    logging.basicConfig(level=logging.WARNING)
    log_dir = Path(tempfile.mkdtemp(prefix="privcard-scaleout-"))
    runs: dict[int, list[dict]] = {n: [] for n in args.replicas}
    for round_ in range(args.rounds):
        for n in args.replicas:
            r = bench_replicas(n, args.taps, log_dir)
            runs[n].append(r)
            print(
                f"round {round_ + 1}: {n} replica(s): {r['taps_per_s']:.0f} taps/s ({r['taps']} taps in "
                f"{r['seconds']:.1f} s), p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms; raw echo "
                f"{r['echo_per_s']:.0f} msg/s (server = {r['taps_per_s'] / r['echo_per_s']:.2f} x echo); "
                f"credited {r['credited']}; CPU ms/tap: "
                + ", ".join(f"{k} {v:.3f}" for k, v in r["cpu_ms_per_tap"].items())
                + (f"; PROBLEMS {r['problems'][:3]}" if r["problems"] else ""),
                flush=True,
            )
    # the median run (by taps/s) of each configuration
    rows = [sorted(runs[n], key=lambda r: r["taps_per_s"])[len(runs[n]) // 2] for n in args.replicas]
    for row in rows:
        row["rounds"] = [round(r["taps_per_s"]) for r in runs[row["replicas"]]]
        if any(r["problems"] or r["credited"] != r["taps"] for r in runs[row["replicas"]]):
            row["problems"] = row["problems"] or ["a round credited the wrong number of taps"]
    base = rows[0]["taps_per_s"]
    for r in rows[1:]:
        print(f"{r['replicas']} vs {rows[0]['replicas']} replica(s): {r['taps_per_s'] / base:.2f}x")
    if args.markdown:
        print(
            f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}"
        )
        print(
            "| replicas | taps | taps/s (median) | every round | p50 ms | p99 ms | raw echo msg/s | taps/s ÷ echo "
            "| vs first | CPU ms/tap: servers, PostgreSQL, broker |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            c = r["cpu_ms_per_tap"]
            print(
                f"| {r['replicas']} | {r['taps']} | {r['taps_per_s']:.0f} | {', '.join(map(str, r['rounds']))} | "
                f"{r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['echo_per_s']:.0f} | "
                f"{r['taps_per_s'] / r['echo_per_s']:.2f} | {r['taps_per_s'] / base:.2f} | "
                f"{c['server']:.3f}, {c['postgres']:.3f}, {c['broker']:.3f} |"
            )
    return 1 if any(r["problems"] or r["credited"] != r["taps"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
