"""The tap path's cost of the ``tap_inbox (device, at)`` index (session 13), in process, on SQLite.

A benchmark, not a test: each round makes a fresh SQLite file with 500 members, 10 gates and
``--inbox`` old taps already in the inbox (a library's year), then times ``--taps`` taps decided
in batches of ``--batch`` through ``Taps.decide_batch`` (every tap's inbox row is inserted, with
the index's entry), with the index and without it (dropped), rounds alternating. Prints each
round and the medians: wall ms a batch (its COMMIT's fsync included) and CPU ms a tap::

    python -m tests.chaos.inbox_index_bench --batch 1 --batch 20 --pairs 6
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

from broker.contract import Tap
from server import store
from tests.helpers import close_store, open_service

GATES = [f"g{i}" for i in range(10)]
UIDS = [f"04D0{i:010X}" for i in range(500)]


def one_round(path: str, with_index: bool, batch: int, taps: int, inbox: int) -> tuple[float, float]:
    """(wall ms a batch, CPU ms a tap) of ``taps`` taps decided ``batch`` at a time on a fresh file."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    svc = open_service(f"sqlite:///{path}")
    for gate in GATES:
        svc.devices.add(gate, "gate", direction="in")
    with store.db.atomic():
        for i, uid in enumerate(UIDS):
            store.Card.create(uid=uid, member=store.Member.create(name=f"Member {i}", balance=0))
    old = datetime.now(UTC) - timedelta(days=200)
    with store.db.atomic():
        for k in range(0, inbox, 500):
            store.TapInbox.insert_many(
                [
                    {
                        "device": GATES[i % 10],
                        "tap_id": f"old{i}",
                        "uid": UIDS[i % 500],
                        "at": old + timedelta(minutes=i),
                        "received_at": old + timedelta(minutes=i),
                        "outcome": "no_activity",
                        "result": {},
                    }
                    for i in range(k, min(k + 500, inbox))
                ]
            ).execute()
    if not with_index:
        store.db.execute_sql("DROP INDEX tap_inbox_device_at")
    now = datetime.now(UTC)

    def decide(prefix: str, first: int, n: int) -> None:
        svc.taps.decide_batch(
            [
                (GATES[j % 10], Tap(tap_id=f"{prefix}{j}", uid=UIDS[j % 500], at=now, clock_ok=True), now)
                for j in range(first, first + n)
            ]
        )

    for j in range(200):  # warm: the statements prepared, the members' cards read once
        decide("w", j, 1)
    cpu, wall = time.process_time(), time.perf_counter()
    for j in range(0, taps, batch):
        decide("t", j, batch)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    close_store()
    return wall * 1000 / (taps / batch), cpu * 1000 / taps


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.chaos.inbox_index_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, action="append", help="taps a batch (repeatable; default 1 and 20)")
    p.add_argument("--pairs", type=int, default=3, help="rounds with and without the index, alternating")
    p.add_argument("--taps", type=int, default=3000)
    p.add_argument("--inbox", type=int, default=200_000, help="old taps in the inbox before the timed ones")
    p.add_argument("--dir", default=os.environ.get("TMPDIR", "/var/tmp"), help="where the SQLite file goes (a disk)")
    args = p.parse_args(argv)
    path = os.path.join(tempfile.mkdtemp(dir=args.dir), "inbox.db")
    for batch in args.batch or [1, 20]:
        got: dict[str, list[tuple[float, float]]] = {"with": [], "without": []}
        for r in range(args.pairs):
            for name in ("with", "without") if r % 2 == 0 else ("without", "with"):
                wall, cpu = one_round(path, name == "with", batch, args.taps, args.inbox)
                got[name].append((wall, cpu))
                print(f"batch {batch:>3}  index {name:<7}  {wall:6.3f} ms a batch  {cpu:.4f} ms CPU a tap", flush=True)
        med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in got.items()}
        print(
            f"batch {batch:>3}  median with {med['with'][0]:.3f} ms / {med['with'][1]:.4f} ms CPU, without "
            f"{med['without'][0]:.3f} ms / {med['without'][1]:.4f} ms CPU: with ÷ without "
            f"{med['with'][0] / med['without'][0]:.2f} (wall), {med['with'][1] / med['without'][1]:.2f} (CPU)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
