"""The fault-injection harness: gates tap while the broker and the server are killed.

What runs (all real, on this machine):

- Mosquitto with the *production* config (auth, per-device ACL, persistence) on free
  ports, every gate with its own account (tests/security/prodbroker.py);
- ``privcard server`` process(es) — one, or N replicas with ``--shared`` on PostgreSQL;
- gates: ``real_gates`` real ``privcard gate`` processes (``--reader stdin``, fed by
  the harness), the rest in-harness: the real :class:`gate.controller.Controller`
  with the real :class:`gate.outbox.Outbox` and :class:`broker.client.BusClient`
  (only the card reader and the indicator are replaced);
- a TCP proxy in front of every gate, to cut it off the network and back.

Faults, spread over the feeding period: SIGKILL of Mosquitto (restarted after
0.3–2.5 s), SIGKILL of a server (restarted), gates cut off for 1–8 s, and replays:
already-sent taps published again, shuffled, some with a forged body (same tap_id,
another member's card) — all must change nothing.

The oracle comes from the tap log, not from the server: every planned tap maps to a
(member, business day) key — unique by construction, except deliberate same-day
repeats and unknown cards — so the ledger must hold exactly one ``entry`` credit per
expected key: a lost tap is a missing key, a double credit a repeated one, a
credited forgery an unexpected one. Every outbox must be empty within
``drain_timeout_s`` of the last fault.

    python -m tests.chaos.harness                 # the short run (as in make test)
    python -m tests.chaos.harness --full          # 10,000 taps, 50 gates, 20+10 kills
    python -m tests.chaos.harness --full --replicas 2 --db postgres
    python -m tests.chaos.harness --db patroni --primary-kills 1 --taps 2000 ...   # a failover (test_failover.py)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from broker import contract  # noqa: E402
from broker.client import BusClient  # noqa: E402
from broker.contract import Tap  # noqa: E402
from tests.brokers import PYTHON, python_env  # noqa: E402
from tests.chaos.proxy import FaultProxy, ProxyLoop  # noqa: E402

PG_ADMIN = os.environ.get("PRIVCARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class ChaosConfig:
    """Sizes of a run. The defaults are the short run in ``make test``."""

    taps: int = 300
    gates: int = 5
    real_gates: int = 1
    broker_kills: int = 2
    server_kills: int = 2
    cuts: int = 4
    replays: int = 3
    replicas: int = 1
    db: str = "sqlite"  # sqlite | postgres | patroni (a two-node cluster started by the run)
    primary_kills: int = 0  # SIGKILL the Patroni leader (db="patroni"): a database failover
    duration_s: float = 20.0  # feeding period; faults happen inside it
    drain_timeout_s: float = 60.0
    repeat_share: float = 0.03  # same member, same day again (→ limit_reached)
    unknown_share: float = 0.02  # unknown cards (→ unknown_card)
    seed: int = 0
    workdir: str | None = None

    @classmethod
    def full(cls, **kw) -> ChaosConfig:
        """The run `make chaos` does: 10,000 taps from 50 gates, 20 broker kills, 10 server kills."""
        base = dict(
            taps=10_000,
            gates=50,
            real_gates=40,
            broker_kills=20,
            server_kills=10,
            cuts=40,
            replays=20,
            duration_s=300.0,
        )
        base.update(kw)
        return cls(**base)


@dataclass
class Report:
    """What a run did and found."""

    config: dict
    taps_planned: int = 0
    taps_stored: int = 0
    taps_answered: int = 0
    expected_credits: int = 0
    credited: int = 0
    lost: int = 0
    doubled: int = 0
    unexpected: int = 0
    outcomes: dict = field(default_factory=dict)
    broker_kills: int = 0
    server_kills: int = 0
    primary_kills: int = 0
    failover_s: list = field(default_factory=list)  # primary killed -> new primary accepts writes
    service_gap_s: list = field(default_factory=list)  # longest time without a result, around each kill
    cuts: int = 0
    replayed: int = 0
    forged: int = 0
    offline_decisions: int = 0
    resends: int = 0
    drain_s: float = 0.0
    drain_after_feed_s: float = 0.0
    feed_s: float = 0.0
    total_s: float = 0.0
    ledger_problems: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    examples: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        c = self.config
        lines = [
            f"chaos run: {self.taps_planned} taps from {c['gates']} gates ({c['real_gates']} real privcard gate "
            f"processes, {c['gates'] - c['real_gates']} in-harness controllers), {c['replicas']} server(s) on {c['db']}",
            f"  faults: {self.broker_kills} broker SIGKILLs, {self.server_kills} server SIGKILLs, {self.cuts} gate "
            f"cuts, {self.replayed} replayed taps ({self.forged} forged bodies)"
            + (
                f", {self.primary_kills} PostgreSQL primary SIGKILLs (new primary after "
                f"{', '.join(f'{x:.1f}' for x in self.failover_s)} s; no result for "
                f"{', '.join(f'{x:.1f}' for x in self.service_gap_s)} s)"
                if self.primary_kills
                else ""
            ),
            f"  gates: {self.taps_stored} taps stored, {self.offline_decisions} offline decisions, "
            f"{self.resends} resends",
            f"  server: {self.taps_answered} taps answered, outcomes {dict(sorted(self.outcomes.items()))}",
            f"  oracle: {self.expected_credits} credits expected, {self.credited} credited, {self.lost} lost, "
            f"{self.doubled} double-credited, {self.unexpected} unexpected",
            f"  every outbox empty {self.drain_s:.1f} s after the last fault (limit {c['drain_timeout_s']:.0f} s), "
            f"{self.drain_after_feed_s:.1f} s after the last tap; feeding {self.feed_s:.0f} s, "
            f"whole run {self.total_s:.0f} s",
        ]
        if self.ledger_problems:
            lines.append(f"  LEDGER PROBLEMS: {self.ledger_problems[:5]}")
        if self.problems:
            lines.append(f"  FAILED: {self.problems}")
        return "\n".join(lines)


class NullIndicator:
    """The in-harness gates' LEDs and relay: counts only."""

    def __init__(self, pins=None):
        self.signals = Counter()

    def signal(self, outcome: str, offline: bool = False) -> None:
        self.signals[outcome] += 1

    def open_door(self, open_ms: int) -> None:
        pass

    def on_exit_button(self, callback) -> None:
        pass

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- gates


class SimGate:
    """An in-harness gate: the real Controller, Outbox and BusClient; reader and LEDs replaced."""

    def __init__(self, device_id: str, url: str, state_dir: Path):
        from gate.controller import Controller, GateSettings
        from gate.outbox import Outbox

        self.device_id = device_id
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(state_dir / "outbox.db")
        self.next_at: datetime = contract.now_utc()
        offline = contract.Status("offline", {"kind": "gate"}).encode()
        self.bus = BusClient(url, f"privcard-gate-{device_id}", will=(contract.status_topic(device_id), offline, True))
        settings = GateSettings(device_id=device_id, repeat_s=0, clock_check="always-ok")
        self.ctl = Controller(
            settings,
            outbox=self.outbox,
            bus=self.bus,
            indicator=NullIndicator(),
            make_indicator=NullIndicator,
            clock=lambda: self.next_at,
            clock_ok=lambda: True,
            state_dir=state_dir,
        )
        self.log: list[tuple[str, str, datetime]] = []  # (tap_id, uid, at)

    def start(self) -> None:
        self.ctl.start()
        self.bus.start()

    def tap(self, uid: str, at: datetime) -> None:
        self.next_at = at
        decision = self.ctl.handle_read(uid)
        if decision is None:
            raise AssertionError(f"{self.device_id}: read of {uid} was debounced")
        if decision.tap.tap_id == "unstored":
            raise AssertionError(f"{self.device_id}: tap of {uid} was not stored: {decision.reason}")
        self.log.append((decision.tap.tap_id, uid, at))

    def done_feeding(self) -> None:
        pass

    def depth(self) -> int:
        return self.outbox.depth()

    def stats(self) -> dict:
        return dict(self.ctl.stats)

    def stop(self) -> None:
        self.ctl.stop(timeout=2)
        self.bus.stop()
        self.outbox.close()


class RealGate:
    """A ``privcard gate --reader stdin`` process fed card UIDs by the harness."""

    TAP_LINE = re.compile(r"\bTAP (\S+) ([0-9A-F]+) (\S+)")

    def __init__(self, device_id: str, url: str, state_dir: Path, log_dir: Path):
        self.device_id = device_id
        self.state_dir = state_dir
        self.url = url
        self.log_path = log_dir / f"gate-{device_id}.log"
        self.fed: list[str] = []
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        argv = [
            PYTHON,
            "-m",
            "broker.dispatcher",
            "gate",
            "--device-id",
            self.device_id,
            "--mqtt",
            self.url,
            "--reader",
            "stdin",
            "--state-dir",
            str(self.state_dir),
            "--no-gpio",
            "--clock-check",
            "always-ok",
            "--repeat-s",
            "0",
            "--heartbeat-s",
            "30",
        ]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=self._log, stderr=subprocess.STDOUT, env=python_env()
        )

    def tap(self, uid: str, at=None) -> None:
        self.proc.stdin.write(f"{uid}\n".encode())
        self.proc.stdin.flush()
        self.fed.append(uid)

    def done_feeding(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def logged_taps(self) -> list[tuple[str, str]]:
        """(tap_id, uid) of every tap the gate logged."""
        text = self.log_path.read_text(errors="replace")
        return [(m.group(1), m.group(2)) for m in self.TAP_LINE.finditer(text) if m.group(1) != "unstored"]

    def reader_closed(self) -> bool:
        return "closed (end of input)" in self.log_path.read_text(errors="replace")

    def depth(self) -> int:
        path = self.state_dir / "outbox.db"
        if not path.exists():
            return -1
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
                return int(db.execute("SELECT COUNT(*) FROM taps").fetchone()[0])
        except sqlite3.Error:
            return -1

    def stats(self) -> dict:
        text = self.log_path.read_text(errors="replace")
        return {"offline": text.count(" offline_"), "resent": 0}

    def answered(self, tap_id: str) -> bool:
        """True when the tap has left the outbox (its result arrived)."""
        path = self.state_dir / "outbox.db"
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
                return db.execute("SELECT 1 FROM taps WHERE tap_id = ?", (tap_id,)).fetchone() is None
        except sqlite3.Error:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# --------------------------------------------------------------------------- the run


class ChaosRun:
    """Set up, run the faults, drain, check. ``run()`` returns a :class:`Report`."""

    def __init__(self, cfg: ChaosConfig, log=print):
        self.cfg = cfg
        self.say = log
        self.rng = random.Random(cfg.seed or int.from_bytes(os.urandom(4), "big"))
        self.cfg.seed = self.cfg.seed or 0
        self.dir = Path(cfg.workdir or tempfile.mkdtemp(prefix="privcard-chaos-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.report = Report(config=asdict(cfg))
        self.lock = threading.Lock()
        self.pg_db: str | None = None
        self.servers = []
        self.gates: dict[str, SimGate | RealGate] = {}
        self.proxies: dict[str, FaultProxy] = {}
        self.injectors: dict[str, BusClient] = {}
        self.last_fault = time.monotonic()
        self.errors: list[str] = []
        self.cluster = None  # a PatroniCluster (db="patroni")
        self.kill_times: list[float] = []  # monotonic times of the primary kills
        self.result_times: list[float] = []  # when the gates' result count last rose (sampled)

    # ------------------------------------------------------------------ setup

    def _db_url(self) -> str:
        if self.cfg.db == "sqlite":
            return f"sqlite:///{self.dir / 'privcard.db'}"
        if self.cfg.db == "patroni":
            from tests.chaos.patroni import PatroniCluster

            self.cluster = PatroniCluster(nodes=2)
            self.cluster.start()
            return self.cluster.url
        import psycopg2

        self.pg_db = f"privcard_chaos_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        conn = psycopg2.connect(PG_ADMIN)
        conn.autocommit = True
        conn.cursor().execute(f'CREATE DATABASE "{self.pg_db}"')
        conn.close()
        base = PG_ADMIN.rsplit("/", 1)[0]
        return f"{base}/{self.pg_db}"

    def _drop_pg(self) -> None:
        if not self.pg_db:
            return
        import psycopg2

        conn = psycopg2.connect(PG_ADMIN)
        conn.autocommit = True
        conn.cursor().execute(f'DROP DATABASE IF EXISTS "{self.pg_db}" WITH (FORCE)')
        conn.close()

    def _plan(self, gate_ids: list[str], real_ids: set[str]) -> tuple[dict, dict, int]:
        """Per gate, the (uid, at|None) to feed; the member uids; the expected credit keys."""
        from tests.helpers import days_ago, local_time

        cfg = self.cfg
        per_gate = {
            g: cfg.taps // len(gate_ids) + (1 if i < cfg.taps % len(gate_ids) else 0) for i, g in enumerate(gate_ids)
        }
        real_taps = sum(per_gate[g] for g in real_ids)
        sim_taps = cfg.taps - real_taps
        days = list(range(1, 29))
        n_members = max(real_taps, sim_taps // len(days) + 2, 20) + 5
        uids = [f"04C4{i:010X}" for i in range(n_members)]
        # members nobody taps: forged replays carry their cards, so a forgery that got
        # credited shows up as a credit nobody expected
        self.decoys = [f"04DE{i:010X}" for i in range(50)]
        # sim keys: distinct (member, day) pairs, drawn without replacement
        pool = self.rng.sample(range(n_members * len(days)), min(sim_taps, n_members * len(days)))
        sim_keys = [(uids[k // len(days)], days[k % len(days)]) for k in pool]
        real_members = self.rng.sample(uids, real_taps)
        plan: dict[str, list] = {}
        real_iter = iter(real_members)
        key_iter = iter(sim_keys)
        used: list[tuple[str, int]] = []
        for g in gate_ids:
            items = []
            for _ in range(per_gate[g]):
                if g in real_ids:
                    items.append((next(real_iter), None))
                    continue
                r = self.rng.random()
                if r < cfg.unknown_share:
                    uid, day = f"05DD{self.rng.getrandbits(40):010X}", self.rng.choice(days)
                elif r < cfg.unknown_share + cfg.repeat_share and used:
                    uid, day = self.rng.choice(used)
                else:
                    uid, day = next(key_iter)
                    used.append((uid, day))
                at = local_time(
                    days_ago(day), self.rng.randint(8, 20), self.rng.randint(0, 59), self.rng.randint(0, 59)
                )
                items.append((uid, at))
            plan[g] = items
        return plan, uids, real_taps

    def setup(self) -> None:
        from tests.helpers import close_store, open_service
        from tests.security.prodbroker import ProductionMosquitto

        cfg = self.cfg
        self.db_url = self._db_url()
        self.broker = ProductionMosquitto()
        gate_ids = [f"g{i:02d}" for i in range(cfg.gates)]
        real_ids = set(gate_ids[: cfg.real_gates])
        for g in gate_ids:
            self.broker.add_user(g, reload=False)
        self.broker.start()
        self.plan, uids, _ = self._plan(gate_ids, real_ids)
        svc = open_service(self.db_url)
        from server.store import db

        for g in gate_ids:
            svc.devices.add(g, "gate", direction="in", settings={"repeat_s": 0})
        # members in bulk (thousands through add_member took a minute on PostgreSQL); no
        # sign-up credit, so the ledger holds only what the taps earn
        from server.store import Card, Member, bump, utcnow

        now = utcnow()
        with db.atomic():
            cards = [(f"Chaos {i:06d}", uid) for i, uid in enumerate(uids)] + [
                (f"Decoy {i:06d}", uid) for i, uid in enumerate(self.decoys)
            ]
            for k in range(0, len(cards), 500):
                Member.insert_many(
                    [{"name": name, "created_at": now, "updated_at": now} for name, _ in cards[k : k + 500]]
                ).execute()
            ids = {m.name: m.id for m in Member.select(Member.id, Member.name)}
            for k in range(0, len(cards), 500):
                Card.insert_many(
                    [{"uid": uid, "member": ids[name], "issued_at": now} for name, uid in cards[k : k + 500]]
                ).execute()
            bump("allowlist")
        self.member_of = {uid: ids[f"Chaos {i:06d}"] for i, uid in enumerate(uids)}
        close_store()
        self.proxy_loop = ProxyLoop()
        for g in gate_ids:
            self.proxies[g] = FaultProxy(self.proxy_loop, self.broker.host, self.broker.port, g)
        from tests.helpers import TRUST_DEVICE_CLOCKS_TOML, ServerProcess

        server_url = self.broker.server_url + ("?v=5" if cfg.replicas > 1 else "")
        # simulated gates date taps 1-28 days back with clocks they say are fine: the
        # library trusts gates' clocks that far ([rules.backdating] gate = "max_age")
        library = self.dir / "library.toml"
        library.write_text(TRUST_DEVICE_CLOCKS_TOML)
        for i in range(cfg.replicas):
            extra = ("--shared", "chaos") if cfg.replicas > 1 else ()
            srv = ServerProcess(
                self.db_url,
                server_url,
                client_id=f"privcard-server-{i}",
                config=library,
                log_dir=self.dir,
                extra_args=extra,
                name=f"server{i}",
            )
            srv.start(timeout=30)
            self.servers.append(srv)
        for g in gate_ids:
            url = f"mqtt://{g}:{self.broker.passwords[g]}@127.0.0.1:{self.proxies[g].port}"
            gate = (
                RealGate(g, url, self.dir / "gates" / g, self.dir)
                if g in real_ids
                else SimGate(g, url, self.dir / "gates" / g)
            )
            gate.start()
            self.gates[g] = gate
        self.real_ids = real_ids

    # ------------------------------------------------------------------ feeding

    def _feed(self, gate_id: str, items: list, start: float) -> None:
        gate = self.gates[gate_id]
        n = len(items)
        try:
            for i, (uid, at) in enumerate(items):
                due = start + self.cfg.duration_s * (i + self.rng.random()) / max(n, 1)
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                gate.tap(uid, at)
        except Exception as exc:
            with self.lock:
                self.errors.append(f"feeding {gate_id} failed: {exc!r}")
        finally:
            gate.done_feeding()

    # ------------------------------------------------------------------ faults

    def _schedule(self) -> list[tuple[float, str]]:
        cfg = self.cfg
        events = [("broker", cfg.broker_kills), ("server", cfg.server_kills), ("primary", cfg.primary_kills)]
        seq = [kind for kind, n in events for _ in range(n)]
        self.rng.shuffle(seq)
        # sequential kills, evenly spread over 5%..90% of the feeding period
        span = cfg.duration_s * 0.85
        return [(cfg.duration_s * 0.05 + span * (i + 0.5) / max(len(seq), 1), kind) for i, kind in enumerate(seq)]

    def _kill_loop(self, start: float) -> None:
        for when, kind in self._schedule():
            delay = start + when - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                if kind == "broker":
                    self.broker.kill()
                    time.sleep(self.rng.uniform(0.3, 2.5))
                    self.broker.start()
                    self.report.broker_kills += 1
                elif kind == "primary":
                    # a machine crash of the PostgreSQL primary; the cluster runs on without it
                    killed_at = time.monotonic()
                    self.kill_times.append(killed_at)
                    old = self.cluster.kill_primary()
                    self.say(f"chaos: SIGKILLed the PostgreSQL primary {old.name}; waiting for a new one ...")
                    new = self.cluster.wait_leader(120, not_=old.name)
                    self.report.failover_s.append(round(time.monotonic() - killed_at, 1))
                    self.report.primary_kills += 1
                    self.say(f"chaos: {new.name} is the primary after {self.report.failover_s[-1]} s")
                else:
                    srv = self.rng.choice(self.servers)
                    srv.kill()
                    time.sleep(self.rng.uniform(0.2, 2.0))
                    srv.start(timeout=60)
                    self.report.server_kills += 1
            except Exception as exc:
                with self.lock:
                    self.errors.append(f"{kind} kill/restart failed: {exc!r}")
            self.last_fault = time.monotonic()

    def _cut_loop(self, start: float) -> None:
        cfg = self.cfg
        times = sorted(self.rng.uniform(0.05, 0.85) * cfg.duration_s for _ in range(cfg.cuts))
        threads = []
        for when in times:
            delay = start + when - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            gate_id = self.rng.choice(list(self.proxies))
            length = self.rng.uniform(1.0, 8.0)
            t = threading.Thread(target=self._cut, args=(gate_id, length), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join()

    def _cut(self, gate_id: str, length: float) -> None:
        proxy = self.proxies[gate_id]
        proxy.cut()
        with self.lock:
            self.report.cuts += 1
        time.sleep(length)
        proxy.restore()
        self.last_fault = max(self.last_fault, time.monotonic())

    def _injector(self, gate_id: str) -> BusClient:
        if gate_id not in self.injectors:
            url = f"mqtt://{gate_id}:{self.broker.passwords[gate_id]}@{self.broker.host}:{self.broker.port}"
            bus = BusClient(url, f"replay-{gate_id}")
            bus.start()
            self.injectors[gate_id] = bus
        return self.injectors[gate_id]

    def _replay_loop(self, start: float) -> None:
        """Publish already-stored taps again, shuffled across gates; some with a forged body.

        In-harness gates: their exact taps again (30 % forged). Real gates (whose tap
        times the harness does not know): forged bodies only, for answered taps.
        A forged body keeps the tap_id and carries a decoy's card and the current time.
        """
        cfg = self.cfg
        sims = [g for g in self.gates.values() if isinstance(g, SimGate)]
        reals = [g for g in self.gates.values() if isinstance(g, RealGate)]
        for i in range(cfg.replays):
            delay = start + cfg.duration_s * (0.1 + 0.8 * (i + 0.5) / cfg.replays) - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            batch = []
            for g in sims:
                if g.log:
                    batch += [(g, entry) for entry in self.rng.sample(g.log, min(3, len(g.log)))]
            for g in reals:
                logged = g.logged_taps()
                if logged:
                    batch += [(g, (tap_id, uid, None)) for tap_id, uid in self.rng.sample(logged, min(2, len(logged)))]
            self.rng.shuffle(batch)
            for g, (tap_id, uid, at) in batch:
                forged = False
                body = Tap(tap_id, uid, at, True) if at is not None else None
                # forge only taps the server already answered (else the forgery would be "the" tap)
                if at is None or self.rng.random() < 0.3:
                    answered = g.answered(tap_id) if isinstance(g, RealGate) else g.outbox.get(tap_id) is None
                    if answered:
                        body = Tap(tap_id, self.rng.choice(self.decoys), contract.now_utc(), True)
                        forged = True
                if body is None:
                    continue
                try:
                    bus = self._injector(g.device_id)
                    bus.publish(contract.tap_topic(g.device_id), body.encode())
                except Exception as exc:
                    with self.lock:
                        self.errors.append(f"replay failed: {exc!r}")
                    continue
                with self.lock:
                    self.report.replayed += 1
                    self.report.forged += forged

    def _watch_results(self) -> None:
        """Sample the in-harness gates' result counts (every 50 ms): when did answers arrive?"""
        last = 0
        while not self.watch_stop.is_set():
            n = sum(g.ctl.stats.get("results", 0) for g in self.gates.values() if isinstance(g, SimGate))
            if n > last:
                self.result_times.append(time.monotonic())
                last = n
            time.sleep(0.05)

    def _service_gaps(self) -> list[float]:
        """Per primary kill: the longest time without any result that ends after the kill."""
        gaps = []
        times = self.result_times
        for k in self.kill_times:
            worst = 0.0
            for a, b in itertools.pairwise(times):
                if b > k and a < k + 600:
                    worst = max(worst, b - max(a, k - 5))
            gaps.append(round(worst, 1))
        return gaps

    # ------------------------------------------------------------------ drain and check

    def _drain(self) -> None:
        deadline = time.monotonic() + self.cfg.drain_timeout_s + 30
        while time.monotonic() < deadline:
            readers_done = all(g.reader_closed() for g in self.gates.values() if isinstance(g, RealGate))
            depths = {gid: g.depth() for gid, g in self.gates.items()}
            if readers_done and all(d == 0 for d in depths.values()):
                self.report.drain_s = max(0.0, time.monotonic() - self.last_fault)
                self.report.drain_after_feed_s = max(0.0, time.monotonic() - self.feed_end)
                return
            time.sleep(0.2)
        self.report.drain_s = time.monotonic() - self.last_fault
        left = {gid: d for gid, d in ((gid, g.depth()) for gid, g in self.gates.items()) if d}
        self.report.problems.append(f"outboxes not empty {self.report.drain_s:.0f} s after the last fault: {left}")

    def check(self) -> None:
        from server.store import LedgerEntry, TapInbox
        from tests.helpers import close_store, ledger_problems, open_service

        rep = self.report
        svc = open_service(self.db_url)
        tz = svc.prog.tz
        # the tap log: (device, tap_id) -> uid, and the expected credit keys
        logged: dict[tuple[str, str], str] = {}
        expected: set[tuple[int, str]] = set()
        real_members: set[int] = set()
        for gid, gate in self.gates.items():
            if isinstance(gate, SimGate):
                for tap_id, uid, at in gate.log:
                    logged[(gid, tap_id)] = uid
                    if uid in self.member_of:
                        expected.add((self.member_of[uid], at.astimezone(tz).date().isoformat()))
            else:
                taps = gate.logged_taps()
                for tap_id, uid in taps:
                    logged[(gid, tap_id)] = uid
                if len(taps) != len(gate.fed):
                    rep.problems.append(f"real gate {gid}: fed {len(gate.fed)} cards, logged {len(taps)} taps")
                for uid in gate.fed:
                    real_members.add(self.member_of[uid])
        rep.taps_planned = sum(len(v) for v in self.plan.values())
        rep.taps_stored = len(logged)
        rep.expected_credits = len(expected) + len(real_members)

        inbox = {
            (r.device, r.tap_id): r.outcome for r in TapInbox.select(TapInbox.device, TapInbox.tap_id, TapInbox.outcome)
        }
        unanswered = [k for k in logged if k not in inbox]
        rep.taps_answered = len(logged) - len(unanswered)
        rep.outcomes = dict(Counter(inbox[k] for k in logged if k in inbox))
        if unanswered:
            rep.problems.append(f"{len(unanswered)} stored taps have no result on the server, e.g. {unanswered[:3]}")
        wrong_unknown = [k for k, uid in logged.items() if uid not in self.member_of and inbox.get(k) != "unknown_card"]
        if wrong_unknown:
            rep.problems.append(f"unknown cards not answered unknown_card: {wrong_unknown[:3]}")

        # real gates tap "now" (one day); the in-harness ones 1-28 days ago: tell them apart by device
        actual_sim, actual_real = Counter(), Counter()
        for e in LedgerEntry.select().where((LedgerEntry.source == "tap") & (LedgerEntry.activity == "entry")):
            if e.device in self.real_ids:
                actual_real[e.member_id] += 1
            else:
                actual_sim[(e.member_id, e.day.isoformat())] += 1
        rep.credited = sum(actual_sim.values()) + sum(actual_real.values())
        lost = [k for k in expected if actual_sim.get(k, 0) == 0] + [m for m in real_members if not actual_real.get(m)]
        doubled = [k for k, n in actual_sim.items() if n > 1] + [m for m, n in actual_real.items() if n > 1]
        unexpected = [k for k in actual_sim if k not in expected] + [m for m in actual_real if m not in real_members]
        rep.lost, rep.doubled, rep.unexpected = len(lost), len(doubled), len(unexpected)
        rep.examples = {
            "lost": [str(x) for x in lost[:5]],
            "doubled": [str(x) for x in doubled[:5]],
            "unexpected": [str(x) for x in unexpected[:5]],
        }
        if lost:
            rep.problems.append(f"{len(lost)} credits lost, e.g. {lost[:3]}")
        if doubled:
            rep.problems.append(f"{len(doubled)} double credits, e.g. {doubled[:3]}")
        if unexpected:
            rep.problems.append(f"{len(unexpected)} unexpected credits (forged replays?), e.g. {unexpected[:3]}")
        rep.ledger_problems = ledger_problems()
        if rep.ledger_problems:
            rep.problems.append(f"ledger invariants broken: {rep.ledger_problems[:3]}")
        close_store()
        if self.report.drain_s > self.cfg.drain_timeout_s:
            rep.problems.append(
                f"outboxes took {self.report.drain_s:.1f} s to empty after the last fault "
                f"(limit {self.cfg.drain_timeout_s:.0f} s)"
            )
        rep.problems += self.errors

    # ------------------------------------------------------------------ all of it

    def run(self) -> Report:
        t0 = time.monotonic()
        try:
            self.say(f"chaos: setting up in {self.dir} ...")
            self.setup()
            self.say(
                f"chaos: {self.cfg.taps} taps over {self.cfg.duration_s:.0f} s from {self.cfg.gates} gates "
                f"({self.cfg.real_gates} real) ..."
            )
            start = time.monotonic()
            feeders = [
                threading.Thread(target=self._feed, args=(g, items, start), daemon=True, name=f"feed-{g}")
                for g, items in self.plan.items()
            ]
            faults = [
                threading.Thread(target=f, args=(start,), daemon=True, name=f.__name__)
                for f in (self._kill_loop, self._cut_loop, self._replay_loop)
            ]
            self.watch_stop = threading.Event()
            watcher = threading.Thread(target=self._watch_results, daemon=True, name="watch-results")
            watcher.start()
            for t in feeders + faults:
                t.start()
            for t in feeders:
                t.join()
            self.feed_end = time.monotonic()
            self.report.feed_s = self.feed_end - start
            for t in faults:
                t.join()
            for p in self.proxies.values():
                p.restore()
            if not self.broker.running:
                self.broker.start()
            for srv in self.servers:
                if not srv.running:
                    srv.start(timeout=60)
            self.say("chaos: faults done; draining outboxes ...")
            self._drain()
            self.watch_stop.set()
            self.report.service_gap_s = self._service_gaps()
            for g in self.gates.values():
                s = g.stats()
                self.report.offline_decisions += s.get("offline", 0)
                self.report.resends += s.get("resent", 0)
            self._stop_processes()
            self.check()
        finally:
            self._teardown()
            self.report.total_s = time.monotonic() - t0
        return self.report

    def _stop_processes(self) -> None:
        for bus in self.injectors.values():
            bus.stop()
        self.injectors.clear()
        for g in self.gates.values():
            try:
                g.stop()
            except Exception as exc:
                self.errors.append(f"stopping {g.device_id}: {exc!r}")
        self.gates_stopped = True
        for srv in self.servers:
            srv.stop()

    def _teardown(self) -> None:
        for bus in self.injectors.values():
            try:
                bus.stop()
            except Exception:
                pass
        if not getattr(self, "gates_stopped", False):
            for g in self.gates.values():
                try:
                    g.stop()
                except Exception:
                    pass
        for srv in self.servers:
            srv.kill()
        for p in self.proxies.values():
            p.close()
        if hasattr(self, "proxy_loop"):
            self.proxy_loop.close()
        if hasattr(self, "broker"):
            self.broker.close()
        try:
            self._drop_pg()
        except Exception as exc:
            self.say(f"chaos: could not drop {self.pg_db}: {exc}")
        if self.cluster is not None:
            self.cluster.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="the make chaos run (10,000 taps, 50 gates, 20+10 kills)")
    for name, typ in (
        ("taps", int),
        ("gates", int),
        ("real-gates", int),
        ("broker-kills", int),
        ("server-kills", int),
        ("primary-kills", int),
        ("cuts", int),
        ("replays", int),
        ("replicas", int),
        ("duration-s", float),
        ("drain-timeout-s", float),
        ("seed", int),
    ):
        p.add_argument(f"--{name}", type=typ)
    p.add_argument("--db", choices=["sqlite", "postgres", "patroni"])
    p.add_argument("--json", help="write the report as JSON to this file")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = p.parse_args(argv)
    kw = {k: v for k, v in vars(args).items() if v is not None and k not in ("full", "json", "keep")}
    cfg = ChaosConfig.full(**kw) if args.full else ChaosConfig(**kw)
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("broker.client.paho").setLevel(logging.ERROR)
    logging.getLogger("gate").setLevel(logging.ERROR)
    run = ChaosRun(cfg)
    rep = run.run()
    print(rep.summary())
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(rep), indent=2, default=str))
    if not args.keep:
        import shutil

        shutil.rmtree(run.dir, ignore_errors=True)
    else:
        print(f"logs in {run.dir}")
    return 0 if rep.ok else 1


if __name__ == "__main__":
    sys.exit(main())
