"""SIP2 proxy benchmark (test code: it starts the test ILS, so it lives under tests/): added latency per message.

    .venv/bin/python -m tests.e2e.sip2_proxy_bench [--rounds 300] [--json]

Everything runs for real, in one run: Mosquitto on a free port, ``privcard server`` on a
fresh SQLite database (the proxy registered as a ``selfcheck``, the patrons as members),
the test ILS (``tests/sip2_ils.py``: pysip2's SIP2 server, a separate process) and a real
``privcard sip2-proxy`` in front of it. Two logged-in SIP2 connections to the *same* ILS
process: one direct, one through the proxy. Each round sends the same three requests on
both — 23 Patron Status, 99 SC Status, 11 Checkout (a new item each time, so the ILS
accepts it and the proxy stores and publishes a checkout event, which the server
credits) — in a random order of the two connections, and times each request → response
(CR received) with ``perf_counter``. The proxy's *added* latency is the proxied figure
minus the direct one, percentile by percentile, per kind of message and overall; and
"paired": the difference of each request's two timings, back to back, as a distribution.
Target (issue 12): ≤ 2 ms p99 added.

The client is a plain socket with hand-built frames (sequence numbers and checksums), the
same on both paths, so its own cost cancels out.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from tests.brokers import running_mosquitto
from tests.e2e.sip2_proxy_kit import ProxyProcess
from tests.helpers import ServerProcess, close_store, open_service
from tests.sip2_ils import default_state, free_port, start_ils

DEV = "selfcheck-bench"
PATRONS = [f"04BE{i:06X}" for i in range(20)]


class Connection:
    """One logged-in SIP2 connection with sequence numbers and checksums."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.seq = 0
        self.buf = b""
        assert self.call("9300CNprivcard|COs3cret|CPMAIN|")[:3] == b"941", "login refused"

    def frame(self, body: str) -> bytes:
        text = f"{body}AY{self.seq}AZ"
        self.seq = (self.seq + 1) % 10
        raw = text.encode()
        return raw + f"{(-sum(raw)) & 0xFFFF:04X}\r".encode()

    def call(self, body: str) -> bytes:
        self.sock.sendall(self.frame(body))
        while b"\r" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        reply, _, self.buf = self.buf.partition(b"\r")
        return reply

    def timed(self, body: str) -> tuple[float, bytes]:
        t0 = time.perf_counter()
        reply = self.call(body)
        return (time.perf_counter() - t0) * 1000, reply

    def close(self) -> None:
        self.sock.close()


def now18() -> str:
    now = datetime.now()
    return now.strftime("%Y%m%d") + "    " + now.strftime("%H%M%S")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]


def run(rounds: int, workdir: Path) -> dict:
    state = default_state()
    state["patrons"] = {
        p: dict(state["patrons"]["P200"], name=f"Bench {i}", charge_limit=10**6) for i, p in enumerate(PATRONS)
    }
    state["items"] = {
        f"I{n}": {"title": f"Book {n}", "available": True, "refuse": False} for n in range(2 * rounds + 10)
    }
    db_url = f"sqlite:///{workdir / 'privcard.db'}"
    svc = open_service(db_url)
    svc.devices.add(DEV, "selfcheck")
    for i, p in enumerate(PATRONS):
        svc.members.add(f"Bench {i}", p)
    close_store()
    with running_mosquitto() as mq, start_ils(workdir, **state) as ils:
        server = ServerProcess(db_url, mq.url, log_dir=workdir).start()
        proxy = ProxyProcess(DEV, free_port(), f"sip2://127.0.0.1:{ils.port}", mq.url, workdir / "proxy")
        try:
            direct, proxied = Connection(ils.port), Connection(proxy.port)
            times: dict[str, dict[str, list[float]]] = {}
            rnd = random.Random(12)
            items = iter(state["items"])
            for r in range(rounds):
                patron = PATRONS[r % len(PATRONS)]
                requests = {
                    "23 patron status": lambda p=patron: f"23000{now18()}AOWU|AA{p}|AC|AD|",
                    "99 sc status": lambda: "9900302.00",
                    "11 checkout": lambda p=patron: f"11NN{now18()}{now18()}AOWU|AA{p}|AB{next(items)}|AC|",
                }
                for kind, body in requests.items():
                    pair = [("direct", direct), ("proxied", proxied)]
                    rnd.shuffle(pair)
                    for path, conn in pair:
                        ms, reply = conn.timed(body())
                        assert reply[:2] == {"23": b"24", "99": b"98", "11": b"12"}[kind[:2]], reply[:60]
                        times.setdefault(kind, {}).setdefault(path, []).append(ms)
            direct.close()
            proxied.close()
            # every proxied checkout reached the server (one borrow a day per patron)
            deadline = time.monotonic() + 60
            while proxy.outbox_depth() and time.monotonic() < deadline:
                time.sleep(0.2)
            left = proxy.outbox_depth()
        finally:
            proxy.terminate()
            server.stop()
    times["all"] = {path: [ms for kind in list(times) for ms in times[kind][path]] for path in ("direct", "proxied")}
    report = {"rounds": rounds, "checkouts_left_in_outbox": left, "kinds": {}}
    for kind, by in times.items():
        row = {}
        for path in ("direct", "proxied"):
            row[path] = {
                "p50": round(pct(by[path], 50), 3),
                "p99": round(pct(by[path], 99), 3),
                "mean": round(statistics.fmean(by[path]), 3),
            }
        row["added"] = {p: round(row["proxied"][p] - row["direct"][p], 3) for p in ("p50", "p99", "mean")}
        # the same request on both paths, back to back: the difference, pair by pair
        pairs = [b - a for a, b in zip(by["direct"], by["proxied"], strict=True)]
        row["paired"] = {"p50": round(pct(pairs, 50), 3), "p99": round(pct(pairs, 99), 3)}
        row["n"] = len(by["direct"])
        report["kinds"][kind] = row
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.e2e.sip2_proxy_bench", description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=300, help="rounds of three requests on each path (default 300)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sip2bench-") as tmp:
        report = run(args.rounds, Path(tmp))
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(
        f"SIP2 proxy: {args.rounds} rounds; checkouts left in the proxy's outbox: {report['checkouts_left_in_outbox']}"
    )
    print(
        f"{'message':<18} {'n':>5} {'direct p50/p99':>16} {'proxied p50/p99':>17} {'added p50/p99':>16}"
        f" {'paired p50/p99 (ms)':>20}"
    )
    for kind, row in report["kinds"].items():
        d, p, a = row["direct"], row["proxied"], row["added"]
        print(
            f"{kind:<18} {row['n']:>5} {d['p50']:>7.2f}/{d['p99']:<8.2f} {p['p50']:>7.2f}/{p['p99']:<9.2f}"
            f" {a['p50']:>8.2f}/{a['p99']:<8.2f} {row['paired']['p50']:>8.2f}/{row['paired']['p99']:<8.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
