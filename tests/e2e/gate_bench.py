"""Gate benchmark (test code: it sets up a real server, so it lives under tests/): tap → feedback on a real ``privcard gate`` process, against baselines.

    .venv/bin/python -m tests.e2e.gate_bench [--taps 300] [--pace-ms 30] [--json]

Everything runs for real, in one run, on this machine: Mosquitto on a free port, the
real ``privcard server`` on a fresh SQLite database (two gate devices and members set
up with :func:`server.services.bootstrap`), and a real ``privcard gate`` process
(``stdin`` reader, ``--no-gpio``, ``GPIOZERO_PIN_FACTORY=mock``) whose cards are
written to its stdin one at a time. Every tap uses a card not used before in the run,
so debounce (``repeat_s``) never swallows one, and taps are paced (one at a time, then
``--pace-ms`` of rest) so the figures are latency, not queueing.

What is measured, each next to a baseline taken in the same run:

1. **Offline tap** (broker stopped): the feedback time the gate logs per tap
   (``TAP {tap_id} {uid} {outcome} ... [N ms]``: from ``Controller.handle_read``
   receiving the read card to the return of the last actuation — relay pulse, then
   LEDs/buzzer), against the raw cost of one ``Outbox.create()`` (SQLite WAL,
   ``synchronous=FULL`` commit: one fsync) measured in this process on the same disk,
   interleaved tap by tap. Target: gate p99 ≤ 50 ms.
   Also, with fewer taps, the *server silent* case (broker up, server stopped): the
   gate waits ``decision_timeout_ms`` by design, so the figure is the excess over it.
2. **Online tap** (server answering): the gate's logged feedback time against the
   server's own tap→result time, measured by a plain MQTT client publishing taps for
   a second device to the same server, interleaved with the gate's taps (and with
   in-process ``Outbox.create()`` calls, the fsync cost while the server also writes).
   The bench's client also listens to the gate's tap and result topics, which splits
   each online gate tap into: card written → tap on the bus, tap → result (the
   server), result → indicator line. Target: gate p99 ≤ server p99 + 10 ms.
3. **Resident memory** of the gate process (``VmRSS``) after 10 taps and after all.

A cross-check of (1) and (2) from outside: bench writes the UID to the gate's stdin →
bench reads the gate's last indicator line on its stdout. It adds the pipe, the
reader loop and two thread wake-ups, so it is an upper bound of read → actuation.
The gate logs whole milliseconds; the outside figures and the baselines are exact.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from broker.net import free_port, stop_process, wait_port

REPO = Path(__file__).resolve().parents[2]
GATE = "bench-gate"
CLIENT = "bench-mqtt"
WARMUP = 10
TAP_RE = r"TAP (?P<tap_id>\S+) {uid} (?P<outcome>[a-z_]+)(?P<door> door=open)? .*\[(?P<ms>\d+(?:\.\d+)?) ms\]$"

#: the targets of issue 3, "Performance (benchmark)"
OFFLINE_P99_TARGET_MS = 50.0
ONLINE_MARGIN_MS = 10.0


class BenchError(Exception):
    """The benchmark could not run (missing broker, a process that did not start...)."""


# --------------------------------------------------------------------------- helpers


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    env["GPIOZERO_PIN_FACTORY"] = "mock"
    return env


class Mosquitto:
    """A Mosquitto process on a free loopback port (the test suite's dev settings)."""

    def __init__(self, workdir: Path):
        self.binary = (
            os.environ.get("PRIVCARD_MOSQUITTO")
            or shutil.which("mosquitto")
            or next((p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None)
        )
        if not self.binary:
            raise BenchError("mosquitto is not installed (apt-get install mosquitto, or set PRIVCARD_MOSQUITTO)")
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "set_tcp_nodelay true\nmax_queued_messages 100000\nmax_inflight_messages 1000\n"
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_port("127.0.0.1", self.port, 15.0):
            raise BenchError(f"mosquitto did not start on port {self.port}")

    def stop(self) -> None:
        stop_process(self.proc)


class Proc:
    """A child process whose output lines are collected with the time they were read."""

    def __init__(self, name: str, args: list[str], *, stdin: bool = False):
        self.name = name
        self.proc = subprocess.Popen(
            args,
            env=_env(),
            cwd=str(REPO),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.out: list[tuple[float, str]] = []  # stdout (the gate's indicator lines)
        self.err: list[tuple[float, str]] = []  # stderr (the log)
        self._cond = threading.Condition()
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    def _pump(self, stream, sink) -> None:
        for line in iter(stream.readline, ""):
            now = time.perf_counter()
            with self._cond:
                sink.append((now, line.rstrip("\n")))
                self._cond.notify_all()

    def mark(self) -> tuple[int, int]:
        """Where the stdout and stderr logs end now."""
        with self._cond:
            return len(self.out), len(self.err)

    def wait(self, pattern: str, *, stream: str = "err", start: int = 0, timeout: float = 30.0):
        """The first (time, match) at or after line ``start`` of a stream; BenchError on timeout."""
        rx = re.compile(pattern)
        sink = self.err if stream == "err" else self.out
        deadline = time.monotonic() + timeout
        i = start
        with self._cond:
            while True:
                while i < len(sink):
                    t, line = sink[i]
                    m = rx.search(line)
                    if m:
                        return t, m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    tail = "\n".join(line for _, line in (self.err + self.out)[-30:])
                    raise BenchError(
                        f"{self.name}: no line /{pattern}/ (exit code {self.proc.poll()}); last lines:\n{tail}"
                    )
                self._cond.wait(min(left, 0.2))

    def write(self, text: str) -> float:
        """Write to stdin; the time just before the write."""
        t = time.perf_counter()
        self.proc.stdin.write(text)
        self.proc.stdin.flush()
        return t

    def rss_kib(self) -> int:
        """Resident memory from /proc/PID/status (VmRSS, KiB)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise BenchError("no VmRSS in /proc status")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _summary(values: list[float]) -> dict:
    """p50/p95/p99/max of milliseconds, rounded."""
    return {
        "n": len(values),
        "p50_ms": round(_pct(values, 50), 2),
        "p95_ms": round(_pct(values, 95), 2),
        "p99_ms": round(_pct(values, 99), 2),
        "max_ms": round(max(values), 2) if values else float("nan"),
        "mean_ms": round(sum(values) / len(values), 2) if values else float("nan"),
    }


def _slowest(values: list[float], k: int = 5) -> list[list]:
    """The k largest values with their position in the run: [[index, ms], ...]."""
    return [[i, round(v, 2)] for i, v in sorted(enumerate(values), key=lambda iv: -iv[1])[:k]]


def _uid(i: int) -> str:
    return f"BE{i:08X}"


# --------------------------------------------------------------------------- the pieces


def setup_db(db_url: str, members: int) -> None:
    """Two gate devices and ``members`` members, through the server's service layer."""
    from server import store
    from server.domain.config import load
    from server.services import bootstrap

    store.connect(db_url)
    try:
        svc = bootstrap(load())
        svc.devices.add(GATE, "gate", direction="in", activity="entry")
        svc.devices.add(CLIENT, "gate", direction="in", activity="entry")
        with store.db.atomic():
            for i in range(members):
                svc.members.add(f"Bench {i}", _uid(i))
    finally:
        store.db.close()


class GateTapper:
    """Presents one card at a time to the gate process and reads back what it did."""

    def __init__(self, gate: Proc):
        self.gate = gate

    def tap(self, uid: str, timeout: float = 30.0) -> dict:
        out0, err0 = self.gate.mark()
        t_write = self.gate.write(uid + "\n")
        _, m = self.gate.wait(TAP_RE.format(uid=re.escape(uid)), start=err0, timeout=timeout)
        # the last indicator line (the LED/buzzer signal comes after the relay pulse)
        t_signal, _ = self.gate.wait(
            rf"^\[{re.escape(GATE)}\] (?!DOOR OPEN|EXIT)", stream="out", start=out0, timeout=timeout
        )
        waited = re.search(r"no answer in (\d+) ms", m.string)
        return {
            "tap_id": m["tap_id"],
            "outcome": m["outcome"],
            "door": bool(m["door"]),
            "logged_ms": float(m["ms"]),
            "outside_ms": (t_signal - t_write) * 1000,
            "t_write": t_write,
            "t_signal": t_signal,
            "timeout_ms": int(waited[1]) if waited else None,
        }


class MqttClient:
    """A plain MQTT client tapping for device ``CLIENT`` and timing the server's results."""

    def __init__(self, url: str):
        from broker import contract
        from broker.client import BusClient

        self.contract = contract
        self.bus = BusClient(url, f"bench-mqtt-{os.getpid()}")
        self._cond = threading.Condition()
        self._answers: dict[str, float] = {}
        #: the gate's own taps and results as the bus sees them: tap_id -> time
        self.gate_taps: dict[str, float] = {}
        self.gate_results: dict[str, float] = {}
        self.bus.subscribe(contract.result_topic(CLIENT), self._seen(self._answers))
        self.bus.subscribe(contract.tap_topic(GATE), self._seen(self.gate_taps))
        self.bus.subscribe(contract.result_topic(GATE), self._seen(self.gate_results))
        self.bus.start()
        if not self.bus.wait_connected(15):
            raise BenchError("the MQTT client could not connect")
        self.seq = 0

    def _seen(self, sink: dict):
        def handler(topic, payload, msg=None) -> None:
            now = time.perf_counter()
            try:
                tap_id = json.loads(payload)["tap_id"]
            except (ValueError, KeyError, TypeError):
                return
            with self._cond:
                sink.setdefault(tap_id, now)
                self._cond.notify_all()

        return handler

    def gate_times(self, tap_id: str, timeout: float = 5.0) -> tuple[float, float] | None:
        """When the gate's tap and its result went over the bus (None if either was not seen)."""
        with self._cond:
            if self._cond.wait_for(lambda: tap_id in self.gate_taps and tap_id in self.gate_results, timeout):
                return self.gate_taps.pop(tap_id), self.gate_results.pop(tap_id)
        return None

    def tap(self, uid: str, timeout: float = 30.0) -> float:
        """Publish one tap and wait for its result; milliseconds."""
        self.seq += 1
        tap_id = f"{CLIENT}:{os.getpid()}.{self.seq}"
        tap = self.contract.Tap(tap_id, uid, datetime.now(UTC), True)
        t0 = time.perf_counter()
        self.bus.publish(self.contract.tap_topic(CLIENT), tap.encode(), qos=1)
        with self._cond:
            if not self._cond.wait_for(lambda: tap_id in self._answers, timeout):
                raise BenchError(f"the server did not answer {tap_id} within {timeout} s")
            return (self._answers.pop(tap_id) - t0) * 1000

    def close(self) -> None:
        self.bus.stop()


def outbox_create_ms(box, uid: str) -> float:
    """One ``Outbox.create()`` (allocate the tap id and commit with synchronous=FULL), in ms."""
    from broker.contract import now_utc

    t0 = time.perf_counter()
    box.create("bench-baseline", uid, now_utc(), True)
    return (time.perf_counter() - t0) * 1000


# --------------------------------------------------------------------------- the run


def run(taps: int, silent_taps: int, pace_s: float, workdir: Path, log) -> dict:
    """Start everything, measure, stop everything; the figures as a dict."""
    from gate.outbox import Outbox

    load_start = os.getloadavg()
    members = WARMUP + 2 * taps + silent_taps + taps  # gate online + client + silent + offline: never a repeat
    t_setup = time.perf_counter()
    broker = Mosquitto(workdir)
    broker.start()
    log(f"broker: mosquitto on port {broker.port}")
    db_url = f"sqlite:///{workdir}/bench.db"
    setup_db(db_url, members)
    log(f"database: {members} members, devices {GATE} and {CLIENT} ({time.perf_counter() - t_setup:.1f} s)")
    py = sys.executable
    procs: list[Proc] = []
    client = None
    baseline = None
    try:
        server = Proc(
            "server",
            [
                py,
                "-m",
                "broker.dispatcher",
                "server",
                "--db",
                db_url,
                "--mqtt",
                broker.url,
                "--client-id",
                f"bench-server-{os.getpid()}",
            ],
        )
        procs.append(server)
        server.wait(r"server running", timeout=60)
        gate = Proc(
            "gate",
            [
                py,
                "-m",
                "broker.dispatcher",
                "gate",
                "--device-id",
                GATE,
                "--mqtt",
                broker.url,
                "--reader",
                "stdin",
                "--no-gpio",
                "--state-dir",
                str(workdir / "gate"),
            ],
            stdin=True,
        )
        procs.append(gate)
        gate.wait(rf"gate {GATE} ready: ", timeout=60)
        gate.wait(rf"allow-list v\d+ from bus: {members} cards", timeout=60)
        gate.wait(r"config revision \d+ applied from bus", timeout=60)
        client = MqttClient(broker.url)
        tapper = GateTapper(gate)
        uids = iter(_uid(i) for i in range(members))

        # warm-up: both paths, then the first memory reading
        for _ in range(WARMUP):
            tapper.tap(next(uids))
            time.sleep(pace_s)
        rss_10 = gate.rss_kib()
        for i in range(WARMUP):
            client.tap(_uid(members - 1 - i))  # the server tolerates a repeat; these are not measured
        log(f"warm-up: {WARMUP} gate taps, RSS {rss_10 / 1024:.1f} MiB")

        # 2. online, interleaved: gate tap, rest, plain-client tap, rest
        online, online_out, server_ms, online_creates, outcomes = [], [], [], [], {}
        baseline = Outbox(workdir / "baseline" / "outbox.db")  # same disk as the gate's state dir
        for i in range(WARMUP):
            outbox_create_ms(baseline, f"0F{i:08X}")
        split = {"to_bus": [], "server": [], "from_bus": []}  # the gate's online taps, as the bus saw them
        phase_load = {"online": round(os.getloadavg()[0], 2)}
        for i in range(taps):
            r = tapper.tap(next(uids))
            online.append(r["logged_ms"])
            online_out.append(r["outside_ms"])
            seen = client.gate_times(r["tap_id"])
            if seen is not None:
                split["to_bus"].append((seen[0] - r["t_write"]) * 1000)
                split["server"].append((seen[1] - seen[0]) * 1000)
                split["from_bus"].append((r["t_signal"] - seen[1]) * 1000)
            outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
            time.sleep(pace_s)
            server_ms.append(client.tap(next(uids)))
            time.sleep(pace_s)
            online_creates.append(outbox_create_ms(baseline, f"0E{i:08X}"))
            time.sleep(pace_s)
        rss_online = gate.rss_kib()
        log(f"online: {taps} gate taps {outcomes}, {taps} plain MQTT taps")
        client.close()
        client = None

        # 1b. server silent: broker up, no server; the gate waits decision_timeout_ms by design
        server.stop()
        phase_load["server_silent"] = round(os.getloadavg()[0], 2)
        silent, silent_outcomes, timeout_ms = [], {}, None
        for _ in range(silent_taps):
            r = tapper.tap(next(uids))
            silent.append(r["logged_ms"])
            timeout_ms = r["timeout_ms"] or timeout_ms
            silent_outcomes[r["outcome"]] = silent_outcomes.get(r["outcome"], 0) + 1
            time.sleep(pace_s)
        log(f"server silent: {silent_taps} taps {silent_outcomes}")

        # 1. offline: broker down; interleaved with the in-process outbox baseline
        _, err0 = gate.mark()
        broker.stop()
        gate.wait(r"disconnected from ", start=err0, timeout=30)
        phase_load["offline"] = round(os.getloadavg()[0], 2)
        offline, offline_out, creates, off_outcomes = [], [], [], {}
        for i in range(taps):
            r = tapper.tap(next(uids))
            offline.append(r["logged_ms"])
            offline_out.append(r["outside_ms"])
            key = r["outcome"] + (" door=open" if r["door"] else "")
            off_outcomes[key] = off_outcomes.get(key, 0) + 1
            time.sleep(pace_s)
            creates.append(outbox_create_ms(baseline, _uid(i)))
            time.sleep(pace_s)
        rss_all = gate.rss_kib()
        total_taps = WARMUP + taps + silent_taps + taps
        log(f"offline: {taps} gate taps {off_outcomes}, {taps} in-process outbox creates")
    finally:
        if client is not None:
            client.close()
        if baseline is not None:
            baseline.close()
        for p in reversed(procs):
            p.stop()
        broker.stop()

    off, crt, on, srv = _summary(offline), _summary(creates), _summary(online), _summary(server_ms)
    sil = _summary(silent) if silent else None
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "loadavg_phases": phase_load,
        "taps": taps,
        "pace_ms": round(pace_s * 1000, 1),
        "offline": {
            "gate_ms": off,
            "outside_ms": _summary(offline_out),
            "outbox_create_ms": crt,
            "p50_ratio": round(off["p50_ms"] / max(crt["p50_ms"], 1e-6), 2),
            "p99_ratio": round(off["p99_ms"] / max(crt["p99_ms"], 1e-6), 2),
            "outcomes": off_outcomes,
            "slowest_gate": _slowest(offline),
            "slowest_create": _slowest(creates),
            "target_p99_ms": OFFLINE_P99_TARGET_MS,
            "met": off["p99_ms"] <= OFFLINE_P99_TARGET_MS,
        },
        "server_silent": None
        if sil is None
        else {
            "gate_ms": sil,
            "decision_timeout_ms": timeout_ms,
            "over_timeout_p50_ms": round(sil["p50_ms"] - (timeout_ms or 0), 2),
            "over_timeout_max_ms": round(sil["max_ms"] - (timeout_ms or 0), 2),
            "outcomes": silent_outcomes,
        },
        "online": {
            "gate_ms": on,
            "outside_ms": _summary(online_out),
            "server_ms": srv,
            "outbox_create_ms": _summary(online_creates),
            "p99_diff_ms": round(on["p99_ms"] - srv["p99_ms"], 2),
            "p50_diff_ms": round(on["p50_ms"] - srv["p50_ms"], 2),
            "outcomes": outcomes,
            "slowest_gate": _slowest(online),
            "slowest_server": _slowest(server_ms),
            "gate_split_ms": {k: _summary(v) for k, v in split.items()},
            "target_margin_ms": ONLINE_MARGIN_MS,
            "met": on["p99_ms"] <= srv["p99_ms"] + ONLINE_MARGIN_MS,
        },
        "rss_mib": {
            "after_10": round(rss_10 / 1024, 1),
            "after_online": round(rss_online / 1024, 1),
            "after_all": round(rss_all / 1024, 1),
            "taps_online": WARMUP + taps,
            "taps_all": total_taps,
            "growth_pct": round((rss_all - rss_10) / rss_10 * 100, 1),
        },
    }


def _row(name: str, s: dict) -> str:
    return f"  {name:<44} {s['p50_ms']:8.2f} {s['p95_ms']:8.2f} {s['p99_ms']:8.2f} {s['max_ms']:8.2f}  (n={s['n']})"


def report(r: dict) -> str:
    """The figures as a readable table."""
    off, on, mem = r["offline"], r["online"], r["rss_mib"]
    lines = [
        f"gate benchmark {r['date']}: {r['taps']} taps per phase, {r['pace_ms']:.0f} ms rest between taps, "
        f"{r['cpus']} CPUs, 1-min load average {r['loadavg_start'][0]:.2f} at start, "
        f"{', '.join(f'{v:.2f} {k}' for k, v in r['loadavg_phases'].items())}, {r['loadavg_end'][0]:.2f} at end",
        "",
        f"  {'latency (ms)':<44} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}",
        "offline (broker down):",
        _row("gate: read -> relay/LED, as logged", off["gate_ms"]),
        _row("outside: stdin write -> indicator line", off["outside_ms"]),
        _row("baseline: Outbox.create() (one fsync)", off["outbox_create_ms"]),
    ]
    if r["server_silent"]:
        sil = r["server_silent"]
        lines.append(f"server silent (broker up, server stopped, decision_timeout_ms {sil['decision_timeout_ms']}):")
        lines.append(_row("gate: read -> relay/LED, as logged", sil["gate_ms"]))
        lines.append(
            f"  {'  over the timeout':<44} {sil['over_timeout_p50_ms']:8.2f} {'':>8} {'':>8} "
            f"{sil['over_timeout_max_ms']:8.2f}"
        )
    lines += [
        "online (server answering):",
        _row("gate: read -> relay/LED, as logged", on["gate_ms"]),
        _row("outside: stdin write -> indicator line", on["outside_ms"]),
        _row("baseline: plain MQTT client tap -> result", on["server_ms"]),
        _row("baseline: Outbox.create() (one fsync)", on["outbox_create_ms"]),
        "  the gate's online taps as seen on the bus (outside clock):",
        _row("  stdin write -> tap on the bus", on["gate_split_ms"]["to_bus"]),
        _row("  tap -> result on the bus (server)", on["gate_split_ms"]["server"]),
        _row("  result on the bus -> indicator line", on["gate_split_ms"]["from_bus"]),
        "",
        f"offline: gate p99 {off['gate_ms']['p99_ms']:.1f} ms (target <= {off['target_p99_ms']:.0f} ms: "
        f"{'met' if off['met'] else 'MISSED'}); gate/outbox-create ratio p50 {off['p50_ratio']:.2f}, "
        f"p99 {off['p99_ratio']:.2f}; outcomes {off['outcomes']}",
        f"  slowest offline taps [tap #, ms]: {off['slowest_gate']}; slowest creates: {off['slowest_create']}",
        f"online: gate p99 {on['gate_ms']['p99_ms']:.1f} ms vs server p99 {on['server_ms']['p99_ms']:.1f} ms, "
        f"difference {on['p99_diff_ms']:+.1f} ms (target <= +{on['target_margin_ms']:.0f} ms: "
        f"{'met' if on['met'] else 'MISSED'}); p50 difference {on['p50_diff_ms']:+.1f} ms",
        f"  slowest online gate taps [tap #, ms]: {on['slowest_gate']}; slowest plain-client taps: "
        f"{on['slowest_server']}",
        f"memory (VmRSS of the gate process): {mem['after_10']:.1f} MiB after 10 taps, "
        f"{mem['after_online']:.1f} MiB after {mem['taps_online']}, {mem['after_all']:.1f} MiB after "
        f"{mem['taps_all']} ({mem['growth_pct']:+.1f} %)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="python -m tests.e2e.gate_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--taps", type=int, default=300, help="taps per phase (online, offline; default %(default)s)")
    p.add_argument(
        "--silent-taps",
        type=int,
        default=10,
        help="taps with the server stopped (each waits decision_timeout_ms; default %(default)s)",
    )
    p.add_argument("--pace-ms", type=float, default=30.0, help="rest after each tap (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON object (progress goes to stderr)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    if args.taps < 5 or args.silent_taps < 0 or args.pace_ms < 0:
        p.error("need at least 5 taps, and no negative counts or pauses")
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else (lambda *a: print(*a, flush=True))
    workdir = Path(tempfile.mkdtemp(prefix="privcard-gate-bench-"))
    try:
        result = run(args.taps, args.silent_taps, args.pace_ms / 1000, workdir, log)
    except BenchError as exc:
        print(f"gate bench: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
    else:
        print()
        print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
