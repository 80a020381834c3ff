"""Throughput of one central server with its devices bridged through site brokers (docs/benchmarks.md).

Not a timed test: a benchmark run by hand. Everything is real and on this machine:

- the central Mosquitto with the production config (passwords, ACL, TLS with the dev CA);
- one ``privcard server`` on a fresh SQLite database (the programme has ``--sites`` sites);
- ``--sites`` site brokers, each running the config ``privcard admin site bridge SITE``
  wrote (the production config plus a TLS bridge of exactly its devices' topics), each
  with ``--per-site`` devices;
- a load generator (``server.bench.Load``: every device its own MQTT connection with its
  own account, 20 taps in flight per device, as a gate's outbox).

Two layouts of the same 200 device accounts, alternating round by round in one run:

- **direct**: every device connects to the central broker (one site, today's layout);
- **bridged**: every device connects to its site's broker, which bridges to the centre.

Throughput is taps answered per second at saturation; the ratio bridged/direct is what
the issue asks to keep within 10 %. CPU per tap is reported for the server and for all the
brokers together (on this one machine the site brokers take their CPU from the server's).

    python -m tests.chaos.bridge_bench --sites 20 --per-site 10 --taps 10000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from server.bench import Load, _cpu_s  # noqa: E402
from tests.helpers import close_store, open_service  # noqa: E402
from tests.site_brokers import Centre, device_url  # noqa: E402


def _sites_toml(n: int) -> str:
    out = '[library]\ndefault_site = "S01"\n'
    for i in range(1, n + 1):
        out += (
            f'[sites.S{i:02d}]\nname_th = "สาขา {i}"\nname_en = "Branch {i}"\nhours = {{ default = "00:00-23:59" }}\n'
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sites", type=int, default=20)
    p.add_argument("--per-site", type=int, default=10)
    p.add_argument("--taps", type=int, default=10000, help="taps per round")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds of each layout")
    p.add_argument("--members", type=int, default=2000)
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--pin", action="store_true", help="server and central broker on CPU 0; site brokers and load on CPU 1"
    )
    args = p.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="privcard-bridge-bench-"))
    sites = [f"S{i:02d}" for i in range(1, args.sites + 1)]
    devices = {s: [f"g{s[1:]}x{j:02d}" for j in range(args.per_site)] for s in sites}
    uids = [f"04BE{i:010X}" for i in range(args.members)]
    centre = Centre(work, _sites_toml(args.sites))
    central, lib, db = centre.broker, centre.lib, centre.db
    loads = {}
    try:
        for s in sites:
            for d in devices[s]:
                central.add_user(d, reload=False)
        centre.start()
        from server.domain.config import load as load_programme

        svc = open_service(db, prog=load_programme(lib))
        for s in sites:
            for d in devices[s]:
                svc.devices.add(d, "gate", direction="in", site=s, settings={"repeat_s": 0})
        from server.store import Card, Member, utcnow
        from server.store import db as pdb

        now = utcnow()
        with pdb.atomic():
            for k in range(0, len(uids), 500):
                Member.insert_many(
                    [
                        {"name": f"Bench {k + i}", "created_at": now, "updated_at": now}
                        for i in range(len(uids[k : k + 500]))
                    ]
                ).execute()
            ids = [m.id for m in Member.select(Member.id).order_by(Member.id)]
            Card.insert_many(
                [{"uid": u, "member": m, "issued_at": now} for u, m in zip(uids, ids, strict=False)]
            ).execute()
        close_store()
        print(f"bridge bench: {args.sites} sites x {args.per_site} devices; writing the bridges ...", flush=True)
        site_urls: dict[str, str] = {}
        for s in sites:
            out = centre.bridge(s, reload=False)
            broker = centre.site_broker(out)
            site_urls.update({d: device_url(out, d, broker) for d in devices[s]})
        centre.reload()
        brokers = centre.sites
        direct_urls = {d: central.user_url(d) for s in sites for d in devices[s]}
        server = centre.start_server(timeout=60)
        if args.pin:
            _pin(server.proc.pid, {0})
            _pin(central.proc.pid, {0})
            for b in brokers:
                _pin(b.proc.pid, {1})
            os.sched_setaffinity(0, {1})  # this thread: the load's client threads inherit it
        # one layout's 200 clients at a time: paho's select() cannot watch descriptors above
        # 1024, and 400 clients (3 descriptors each) go past it
        urls = {"direct": direct_urls, "bridged": site_urls}
        results: dict[str, list[dict]] = {"direct": [], "bridged": []}
        # a warm-up round of each layout first, not counted: 200 new persistent sessions settling
        # through 20 bridges (the first subscriptions crossing each bridge) is not a tap's cost
        for r in range(-1, args.rounds):
            for name in ("direct", "bridged") if r % 2 == 0 else ("bridged", "direct"):
                print(f"  round {r + 1} {name}: connecting {len(urls[name])} device clients ...", flush=True)
                load = loads[name] = Load(None, list(urls[name]), uids, urls=urls[name])
                load.probe(120)
                pids = [central.proc.pid] + [b.proc.pid for b in brokers]
                cpu0, bcpu0 = _cpu_s(server.proc.pid), sum(_cpu_s(pid) for pid in pids)
                taps = args.taps if r >= 0 else max(args.taps // 5, 200)
                elapsed, lat = load.run(taps, f"{name}{r}")
                cpu = _cpu_s(server.proc.pid) - cpu0
                bcpu = sum(_cpu_s(pid) for pid in pids) - bcpu0
                load.close()
                del loads[name]
                row = {
                    "round": r + 1,
                    "taps_per_s": round(taps / elapsed, 1),
                    "p50_ms": round(statistics.median(lat) * 1000, 1),
                    "server_cpu_ms_per_tap": round(cpu / taps * 1000, 3),
                    # every Mosquitto of the run (the central one and the site brokers)
                    "brokers_cpu_ms_per_tap": round(bcpu / taps * 1000, 3),
                }
                if r < 0:
                    print(f"  warm-up {name:<8} {row}", flush=True)
                    continue
                results[name].append(row)
                print(f"  round {r + 1} {name:<8} {row}", flush=True)
        med = {k: statistics.median(x["taps_per_s"] for x in v) for k, v in results.items()}
        report = {
            "sites": args.sites,
            "per_site": args.per_site,
            "taps_per_round": args.taps,
            "rounds": results,
            "median_taps_per_s": med,
            "ratio_bridged_to_direct": round(med["bridged"] / med["direct"], 3),
            "pinned": args.pin,
        }
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(
                f"median: direct {med['direct']:.0f} taps/s, bridged {med['bridged']:.0f} taps/s, "
                f"ratio {report['ratio_bridged_to_direct']:.2f}"
            )
        return 0
    finally:
        for load in loads.values():
            load.close()
        centre.close()
        shutil.rmtree(work, ignore_errors=True)


def _pin(pid: int, cpus: set[int]) -> None:
    """Every thread of a process onto ``cpus`` (threads it starts later inherit it)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), cpus)


if __name__ == "__main__":
    raise SystemExit(main())
