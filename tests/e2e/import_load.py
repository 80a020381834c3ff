"""Tap latency while a large attendance list is previewed or imported (issue 11, item 2).

A real ``privcard server`` (MQTT worker + web console) against a real Mosquitto and a
SQLite file; a gate device taps every 200 ms from a thread of this process and times
each tap from publish to result (no resend: an unanswered tap stays unanswered). The
load is started from the CLI (``privcard admin import-attendance``, its own process),
or by the test through the console or the API.

Run by hand for figures (docs/benchmarks.md)::

    .venv/bin/python -m tests.e2e.import_load --rows 100000 --via cli --dry-run
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.brokers import python_env, running_mosquitto
from tests.helpers import Device, ServerProcess, admin_argv, close_store, open_service

GATE = "gate-load"


def attendance_csv(uids: list[str], rows: int, *, bad_every: int = 1000) -> str:
    """``rows`` data lines cycling over ``uids`` (so most repeat), one bad UID every ``bad_every``."""
    out = ["uid"]
    for i in range(rows):
        out.append("nothex!" if bad_every and i % bad_every == bad_every - 1 else uids[i % len(uids)])
    return "\n".join(out) + "\n"


def setup_db(db_url: str, members: int = 300) -> list[str]:
    """A gate device, a tapping card, and ``members`` members with cards; returns their UIDs."""
    svc = open_service(db_url)
    svc.devices.add(GATE, "gate", direction="in")
    uids = [f"04AA{i:010X}" for i in range(members + 1)]
    for i, uid in enumerate(uids):
        svc.members.add(f"Member {i}", uid)
    close_store()
    return uids


class TapProbe:
    """Taps one card every ``interval_s`` from a thread, remembering when each tap was sent."""

    def __init__(self, dev: Device, uid: str, interval_s: float = 0.2):
        self.dev, self.uid, self.interval_s = dev, uid, interval_s
        self.sent: list[tuple[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> TapProbe:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            tap = self.dev.make_tap(self.uid, device_id=GATE)
            self.sent.append((tap.tap_id, time.monotonic()))
            self.dev.publish_tap(GATE, tap)
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        """Stop tapping."""
        self._stop.set()
        self._thread.join(5)


class TimedDevice(Device):
    """A :class:`Device` that also records when each result arrived."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.arrived: dict[str, float] = {}

    def _on_result(self, topic, payload, msg) -> None:
        now = time.monotonic()
        super()._on_result(topic, payload, msg)
        try:
            import json

            self.arrived.setdefault(json.loads(payload)["tap_id"], now)
        except (ValueError, KeyError, TypeError):
            pass


def latencies(dev: TimedDevice, probe: TapProbe, timeout_s: float) -> list[float | None]:
    """Each probe tap's latency in seconds (None when unanswered within ``timeout_s``)."""
    out = []
    for tap_id, sent in probe.sent:
        got = dev.arrived.get(tap_id)
        out.append(got - sent if got is not None and got - sent <= timeout_s else None)
    return out


def summarise(lat: list[float | None]) -> dict:
    """Count, unanswered, median, p95 and max (ms); an unanswered tap counts as infinitely late in p95."""
    answered = sorted(x for x in lat if x is not None)
    n = len(lat)
    ranked = answered + [float("inf")] * (n - len(answered))
    p95 = ranked[max(0, round(0.95 * n) - 1)] if n else float("nan")
    return {
        "taps": n,
        "unanswered": n - len(answered),
        "median_ms": round(statistics.median(answered) * 1000, 1) if answered else None,
        "p95_ms": round(p95 * 1000, 1) if p95 != float("inf") else None,
        "max_ms": round(max(answered) * 1000, 1) if answered else None,
    }


def server_connects(srv: ServerProcess) -> int:
    """How many times the server process logged a (re)connection to the broker."""
    return len(re.findall(r"connected to ", srv.log()))


def mosquitto_connects(broker, client_id: str = "privcard-server") -> int:
    """How many times Mosquitto saw ``client_id`` connect."""
    return len(re.findall(rf"New client connected .* as {re.escape(client_id)}\b", broker.log()))


def run_cli(db_url: str, csv_path: Path, *extra: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``privcard admin import-attendance`` on ``csv_path`` in its own process."""
    return subprocess.run(
        admin_argv(
            db_url,
            "import-attendance",
            str(csv_path),
            "--activity",
            "learning_activity",
            "--event",
            "Load test",
            *extra,
        ),
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=timeout,
    )


def measure_cli(rows: int, dry_run: bool, workdir: Path) -> dict:
    """Tap latency while the CLI previews/imports a ``rows``-row list; the figures for docs/benchmarks.md."""
    db_url = f"sqlite:///{workdir / 'privcard.db'}"
    uids = setup_db(db_url)
    csv_path = workdir / "attendance.csv"
    csv_path.write_text(attendance_csv(uids[1:], rows))
    with running_mosquitto() as broker:
        srv = ServerProcess(db_url, broker.url, log_dir=workdir, extra_args=("--http", "127.0.0.1:0"))
        with srv, TimedDevice(broker.url) as dev:
            dev.wait_server()
            probe = TapProbe(dev, uids[0]).start()
            time.sleep(1.0)
            t0 = time.monotonic()
            proc = run_cli(db_url, csv_path, *(["--dry-run"] if dry_run else []))
            elapsed = time.monotonic() - t0
            time.sleep(1.0)
            probe.stop()
            time.sleep(5.0)
            stats = summarise(latencies(dev, probe, 5.0))
            stats.update(
                rows=rows,
                dry_run=dry_run,
                import_s=round(elapsed, 1),
                exit=proc.returncode,
                server_connects=server_connects(srv),
                mosquitto_connects=mosquitto_connects(broker),
                stderr_tail=proc.stderr.strip().splitlines()[-1:] if proc.stderr.strip() else [],
            )
            return stats


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--dry-run", action="store_true")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="privcard-importload-") as tmp:
        print(measure_cli(args.rows, args.dry_run, Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
