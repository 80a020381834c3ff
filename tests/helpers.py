"""Helpers for tests that drive the points server: data setup, a server process, a device.

- :func:`open_service` binds the store to a database URL (SQLite or PostgreSQL) in
  *this* process and returns a :class:`server.services.Services` — the quickest way to
  set up members and devices, and to read the ledger back afterwards.
- :class:`ServerProcess` runs ``privcard server --db URL --mqtt URL`` as a child
  process (log in a file), waits until it answers on the bus, kills it with SIGKILL,
  restarts it with the same MQTT client id (so the broker redelivers to its
  persistent session).
- :class:`Device` is a test client for the bus: it publishes taps and queries as
  gates and kiosks do and collects every ``result``/``answer`` by id.
- :class:`GateSimulator` publishes a list of taps at a pace and, like a real gate's
  outbox, keeps resending the unanswered ones until each has a result.
- :func:`ledger_problems` checks the ledger's invariants and returns what is wrong.

Typical use::

    svc = open_service(db_url)
    svc.devices.add("gate-in", "gate", direction="in")
    svc.members.add("Somchai", "04A1B2C3")
    with ServerProcess(db_url, bus.url, log_dir=tmp_path) as srv, Device(bus.url) as dev:
        dev.wait_server()
        result = dev.tap("gate-in", "04A1B2C3")
        assert result.outcome == "credited"
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from broker import contract
from broker.client import BusClient
from broker.contract import Answer, Query, Tap, TapResult
from broker.net import stop_process
from tests.brokers import PYTHON, python_env

BANGKOK = "Asia/Bangkok"


# --------------------------------------------------------------------------- data


def until(condition, what: str = "condition", timeout: float = 20.0, every: float = 0.01):
    """Poll ``condition`` until it returns something true, and return that; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def job_health(path, name: str) -> dict:
    """One background job's entry in a server health file (empty while the file or the job is not there yet)."""
    try:
        return json.loads(path.read_text())["jobs"][name]
    except (OSError, ValueError, KeyError):
        return {}


def open_service(db_url: str, prog=None, clock=None):
    """Bind the store to ``db_url`` in this process (closing any earlier binding); the service layer on it."""
    from server import store
    from server.domain.config import load
    from server.services import bootstrap

    close_store()
    store.connect(db_url)
    prog = prog or load()
    return bootstrap(prog, clock=clock) if clock else bootstrap(prog)


def close_store() -> None:
    """Close this process's database connection, if any."""
    from server import store

    if store.db.obj is not None and not store.db.obj.is_closed():
        store.db.obj.close()


def local_time(day: date, hh: int, mm: int = 0, ss: int = 0, tz: str = BANGKOK) -> datetime:
    """An aware datetime at ``hh:mm:ss`` library time on ``day``."""
    from zoneinfo import ZoneInfo

    return datetime.combine(day, dtime(hh, mm, ss), tzinfo=ZoneInfo(tz))


def library_today(tz: str = BANGKOK) -> date:
    """Today's date in the library's time zone."""
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(tz)).date()


def days_ago(n: int, tz: str = BANGKOK) -> date:
    """A library date ``n`` days before today (taps up to 30 days old are accepted)."""
    return library_today(tz) - timedelta(days=n)


#: a library that trusts its gates' and counters' clocks as far back as the maximum tap age
#: (``[rules.backdating]``): for tests of the programme's day rules that date taps on
#: chosen past days from a running clock; the back-dating policy itself (the default:
#: only back to an offline period the server saw) has tests of its own
TRUST_DEVICE_CLOCKS_TOML = """
[rules.backdating]
gate = "max_age"
counter = "max_age"
"""


#: a library file for the replica races: device clocks trusted, and an unlimited
#: "visit" activity, so every tap of a race can be credited and counted
RACE_LIBRARY_TOML = (
    TRUST_DEVICE_CLOCKS_TOML
    + """
[activities.visit]
points = 1
limit = "unlimited"
th = "เยี่ยมชมนิทรรศการ"
en = "Exhibition visit"
"""
)


def admin_argv(db_url: str, *args: str) -> list[str]:
    """The command line of ``privcard admin --db URL --json ARGS...`` (for tests that run or kill it)."""
    return [PYTHON, "-m", "broker.dispatcher", "admin", "--db", db_url, "--json", *args]


def trusting_programme():
    """The default programme with :data:`TRUST_DEVICE_CLOCKS_TOML`."""
    from server.domain.config import load

    return load(overrides={"rules": {"backdating": {"gate": "max_age", "counter": "max_age"}}})


_uid_counter = itertools.count(1)


def new_uid(prefix: str = "04") -> str:
    """A fresh 7-byte card UID, unique within this test process."""
    return f"{prefix}{os.getpid() % 0xFFFF:04X}{next(_uid_counter):08X}"


@functools.lru_cache(maxsize=1)
def _default_programme():
    from server.domain.config import load

    return load()


def ledger_problems(member_ids=None, prog=None) -> list[str]:
    """Check the ledger in the bound store; returns descriptions of what is wrong (empty = fine).

    - cached balance == sum of the member's entries;
    - at most one non-voided credit per (member, activity, day[, item]) for limited activities,
      and per member for ``once``;
    - a tap_id credited at most once (one non-voided tap entry per tap ref and device);
    - no balance below zero.

    ``prog`` (the programme the server runs) defaults to the shipped defaults.
    """
    from server.store import LedgerEntry, Member

    prog = prog or _default_programme()
    problems = []
    members = Member.select() if member_ids is None else Member.select().where(Member.id.in_(list(member_ids)))
    for m in members:
        total = sum(e.points for e in LedgerEntry.select(LedgerEntry.points).where(LedgerEntry.member == m.id))
        if total != m.balance:
            problems.append(f"member {m.id}: cached balance {m.balance} != ledger sum {total}")
        if m.balance < 0:
            problems.append(f"member {m.id}: balance {m.balance} below zero")
    voided = {e.void_of_id for e in LedgerEntry.select(LedgerEntry.void_of).where(LedgerEntry.void_of.is_null(False))}
    live = [
        e
        for e in LedgerEntry.select().where(LedgerEntry.points > 0, LedgerEntry.source.not_in(["void", "transfer"]))
        if e.id not in voided
    ]
    keys = defaultdict(list)
    refs = defaultdict(list)
    from server.store import Device

    device_site = {d.id: d.site for d in Device.select(Device.id, Device.site)}
    for e in live:
        # the activity as the entry's site sees it (issue 16: a site may override it, or keep
        # its limit per site with scope = "site")
        site = e.site or device_site.get(e.device) or prog.default_site
        act = (prog.for_site(site) if site in prog.sites else prog).activities.get(e.activity)
        if act is not None and act.limit != "unlimited":
            day = "once" if act.limit == "once" else e.day.isoformat()
            item = e.item if act.limit == "per_item_per_day" else ""
            if act.scope == "site":
                item = f"@{site}:{item}"
            keys[(e.member_id, e.activity, day, item)].append(e.id)
        if e.source == "tap":
            refs[(e.device, e.ref)].append(e.id)
    problems += [f"double credit {k}: entries {v}" for k, v in keys.items() if len(v) > 1]
    problems += [f"tap {k} credited {len(v)} times: entries {v}" for k, v in refs.items() if len(v) > 1]
    return problems


# --------------------------------------------------------------------------- server process


class ServerError(AssertionError):
    """The server process did not start or died; the message carries its log tail."""


class ServerProcess:
    """``privcard server`` as a child process of the test.

    ``start()`` launches it and waits for its "connected" log line; ``kill()`` sends
    SIGKILL (no cleanup at all, like a power cut); ``stop()`` sends SIGTERM and
    waits; ``restart()`` = kill + start with the same client id, so the broker
    redelivers unacknowledged messages to the same persistent session.
    The log (stdout+stderr of every run, appended) is ``.log_path``.
    """

    def __init__(
        self,
        db_url: str,
        mqtt_url: str,
        *,
        client_id: str = "privcard-server",
        config: str | os.PathLike | None = None,
        log_dir: str | os.PathLike | None = None,
        extra_args: tuple = (),
        name: str = "server",
    ):
        self.db_url = db_url
        self.mqtt_url = mqtt_url
        self.client_id = client_id
        self.config = config
        self.extra_args = tuple(extra_args)
        self.name = name
        log_dir = Path(log_dir) if log_dir else Path(os.environ.get("TMPDIR", "/tmp"))
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}-{uuid.uuid4().hex[:8]}.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def argv(self) -> list[str]:
        """The command line (``python -m broker.dispatcher server ...``, the ``privcard`` dispatcher)."""
        argv = [
            PYTHON,
            "-m",
            "broker.dispatcher",
            "server",
            "--db",
            self.db_url,
            "--mqtt",
            self.mqtt_url,
            "--client-id",
            self.client_id,
        ]
        if self.config:
            argv += ["--config", str(self.config)]
        return argv + list(self.extra_args)

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 20.0) -> ServerProcess:
        """Start and wait until it has connected to the broker (raises ServerError with the log if not)."""
        if self.running:
            return self
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            log.write(f"==== start {self.starts + 1}: {' '.join(self.argv[1:])}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=python_env()
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "connected to " in self.log(offset):
                return self
            if self.proc.poll() is not None:
                raise ServerError(f"{self.name} exited with {self.proc.returncode} at start:\n{self.log_tail()}")
            time.sleep(0.05)
        raise ServerError(f"{self.name} did not connect to {self.mqtt_url} within {timeout}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL and reap."""
        if self.running:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (graceful: finishes the batch, disconnects); SIGKILL if it hangs. Returns the exit code."""
        return stop_process(self.proc, timeout)

    def restart(self, timeout: float = 20.0) -> ServerProcess:
        """Kill -9, then start again with the same client id."""
        self.kill()
        return self.start(timeout)

    def log(self, offset: int = 0) -> str:
        """The log from byte ``offset`` on."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(offset)
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 60) -> str:
        """The last ``n`` lines of the log."""
        return "\n".join(self.log().splitlines()[-n:])

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()

    def __repr__(self) -> str:
        return f"<ServerProcess {self.name} pid={self.proc.pid if self.proc else None} log={self.log_path}>"


# --------------------------------------------------------------------------- device client


class Device:
    """A bus client playing gates, counters and kiosks in tests.

    It subscribes to every device's ``result`` and ``answer`` topics and keeps each
    message by id (a tap_id can collect several results: redeliveries, or two
    servers answering the same tap). Results are parsed with the contract, so a
    malformed server reply fails the test.

    ``tap()`` publishes a tap and waits for its result, republishing it every
    ``resend_s`` until answered — what a gate's outbox does, and what makes tests
    immune to the moment a server's subscription reaches the broker.
    """

    def __init__(self, mqtt_url: str, *, prefix: str = contract.DEFAULT_PREFIX, client_id: str | None = None):
        self.prefix = prefix
        self.bus = BusClient(mqtt_url, client_id or f"test-device-{uuid.uuid4().hex[:8]}")
        self.results: dict[tuple[str, str], list[TapResult]] = defaultdict(list)
        self.answers: dict[tuple[str, str], list[Answer]] = defaultdict(list)
        self.garbled: list[tuple[str, bytes]] = []
        self.cond = threading.Condition()
        self._seq = itertools.count(1)
        self._token = uuid.uuid4().hex[:6]

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 10.0) -> Device:
        """Connect and subscribe."""
        self.bus.subscribe(f"{self.prefix}/dev/+/result", self._on_result)
        self.bus.subscribe(f"{self.prefix}/dev/+/answer", self._on_answer)
        self.bus.start()
        if not self.bus.wait_connected(timeout):
            raise AssertionError(f"test device could not connect to {self.bus.url}: {self.bus.last_error}")
        return self

    def close(self) -> None:
        """Disconnect."""
        self.bus.stop()

    def __enter__(self) -> Device:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ receiving

    def _collect(self, topic, payload, parse, store, key) -> None:
        """File a parsed reply under (device id, its id); unparsable ones go to ``garbled``."""
        device_id = topic.split("/")[-2]
        try:
            reply = parse(payload)
        except contract.ContractError:
            reply = None
        with self.cond:
            if reply is None:
                self.garbled.append((topic, payload))
            else:
                store[(device_id, getattr(reply, key))].append(reply)
            self.cond.notify_all()

    def _on_result(self, topic, payload, msg) -> None:
        self._collect(topic, payload, TapResult.parse, self.results, "tap_id")

    def _on_answer(self, topic, payload, msg) -> None:
        self._collect(topic, payload, Answer.parse, self.answers, "query_id")

    def results_for(self, device_id: str, tap_id: str) -> list[TapResult]:
        """Every result received so far for a tap."""
        with self.cond:
            return list(self.results.get((device_id, tap_id), []))

    def wait_result(self, device_id: str, tap_id: str, timeout: float = 10.0, count: int = 1) -> TapResult | None:
        """The first result for a tap once ``count`` have arrived, or None after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.results.get((device_id, tap_id), [])) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.1))
            return self.results[(device_id, tap_id)][0]

    # ------------------------------------------------------------------ sending

    def next_tap_id(self, device_id: str) -> str:
        """A fresh tap id (device id + this client's token + a sequence)."""
        return f"{device_id}:{self._token}:{next(self._seq)}"

    def make_tap(
        self,
        uid: str,
        *,
        at: datetime | None = None,
        clock_ok: bool = True,
        tap_id: str | None = None,
        device_id: str = "dev",
    ) -> Tap:
        """A Tap (``at`` defaults to now)."""
        return Tap(
            tap_id=tap_id or self.next_tap_id(device_id), uid=uid, at=at or contract.now_utc(), clock_ok=clock_ok
        )

    def publish_tap(self, device_id: str, tap: Tap) -> None:
        """Publish a tap (QoS 1) without waiting."""
        self.bus.publish(contract.tap_topic(device_id, self.prefix), tap.encode())

    def send_raw(self, device_id: str, payload: bytes | str, kind: str = "tap") -> None:
        """Publish any bytes on a device topic (garbage tests); ``device_id`` is not validated."""
        self.bus.publish(f"{self.prefix}/dev/{device_id}/{kind}", payload)

    def tap(
        self,
        device_id: str,
        uid: str,
        *,
        at: datetime | None = None,
        clock_ok: bool = True,
        tap_id: str | None = None,
        timeout: float = 15.0,
        resend_s: float = 2.0,
    ) -> TapResult:
        """Tap a card at a device and return the server's result (AssertionError on timeout)."""
        tap = self.make_tap(uid, at=at, clock_ok=clock_ok, tap_id=tap_id, device_id=device_id)
        return self.send(device_id, tap, timeout=timeout, resend_s=resend_s)

    def send(self, device_id: str, tap: Tap, *, timeout: float = 15.0, resend_s: float = 2.0) -> TapResult:
        """Publish ``tap`` and wait for a *new* result for it, resending every ``resend_s``.

        A tap_id already answered before counts only for results that arrive after this call
        (so a deliberate redelivery returns the server's reply to the redelivery).
        """
        before = len(self.results_for(device_id, tap.tap_id))
        deadline = time.monotonic() + timeout
        while True:
            self.publish_tap(device_id, tap)
            wait = min(resend_s, deadline - time.monotonic())
            if self.wait_result(device_id, tap.tap_id, wait, count=before + 1) is not None:
                return self.results_for(device_id, tap.tap_id)[before]
            if time.monotonic() >= deadline:
                raise AssertionError(f"no result for tap {tap.tap_id} on {device_id} within {timeout}s")

    def query(
        self,
        device_id: str,
        uid: str,
        *,
        pin: str | None = None,
        timeout: float = 15.0,
        resend_s: float = 2.0,
        ndef: str | None = None,
    ) -> Answer:
        """Ask the server for a card's balance as a kiosk does (``ndef``: the card's SUN URL;
        ``pin``: a staff unlock, sent once)."""
        query = Query(query_id=self.next_tap_id(device_id), uid=uid, ndef=ndef, pin=pin)
        if pin is not None:
            resend_s = timeout  # each PIN query is one guess: never resent
        deadline = time.monotonic() + timeout
        key = (device_id, query.query_id)
        while True:
            self.bus.publish(contract.query_topic(device_id, self.prefix), query.encode())
            end = min(time.monotonic() + resend_s, deadline)
            with self.cond:
                while not self.answers.get(key) and time.monotonic() < end:
                    self.cond.wait(0.1)
                if self.answers.get(key):
                    return self.answers[key][0]
            if time.monotonic() >= deadline:
                raise AssertionError(f"no answer for query {query.query_id} on {device_id} within {timeout}s")

    def wait_server(self, servers: int = 1, timeout: float = 20.0) -> None:
        """Block until ``servers`` server processes answer on the bus.

        Sends probe taps from an unregistered device (each server answers ``invalid``,
        "unknown device") until one probe got ``servers`` answers.
        """
        device_id = f"probe-{self._token}"
        deadline = time.monotonic() + timeout
        sent: list[str] = []
        while time.monotonic() < deadline:
            tap = self.make_tap("04000000", device_id=device_id)
            sent.append(tap.tap_id)
            self.publish_tap(device_id, tap)
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                if any(len(self.results_for(device_id, t)) >= servers for t in sent):
                    return
                time.sleep(0.02)
        raise AssertionError(f"{servers} server(s) did not answer probes on {self.bus.url} within {timeout}s")


# --------------------------------------------------------------------------- gate simulator


class GateSimulator:
    """Publishes taps at a pace and resends unanswered ones until every tap has a result.

    Like a real gate's outbox: a tap stays pending from its first publish until a
    ``result`` with its tap_id arrives; a pending tap is republished every
    ``resend_s``. ``taps`` is a list of (device_id, Tap).
    """

    def __init__(
        self, device: Device, taps: list[tuple[str, Tap]], *, interval_s: float = 0.005, resend_s: float = 1.0
    ):
        self.device = device
        self.taps = list(taps)
        self.interval_s = interval_s
        self.resend_s = resend_s
        self.sent_at: dict[tuple[str, str], float] = {}
        self.resends = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gate-simulator", daemon=True)

    def start(self) -> GateSimulator:
        """Start publishing in a background thread."""
        self._thread.start()
        return self

    def answered(self) -> int:
        """How many distinct taps have a result."""
        return sum(1 for dev, tap in self.taps if self.device.results_for(dev, tap.tap_id))

    def pending(self) -> list[tuple[str, Tap]]:
        """Taps published and not answered yet, plus those not published yet."""
        return [(d, t) for d, t in self.taps if not self.device.results_for(d, t.tap_id)]

    def _resend_due(self) -> None:
        now = time.monotonic()
        for d, t in self.taps:
            key = (d, t.tap_id)
            sent = self.sent_at.get(key)
            if sent is not None and now - sent >= self.resend_s and not self.device.results_for(d, t.tap_id):
                self.device.publish_tap(d, t)
                self.sent_at[key] = now
                self.resends += 1

    def _run(self) -> None:
        last_check = time.monotonic()
        for d, t in self.taps:
            if self._stop.is_set():
                return
            self.device.publish_tap(d, t)
            self.sent_at[(d, t.tap_id)] = time.monotonic()
            if time.monotonic() - last_check > 0.25:
                self._resend_due()
                last_check = time.monotonic()
            time.sleep(self.interval_s)
        while not self._stop.is_set() and self.pending():
            self._resend_due()
            self._stop.wait(0.1)

    def wait_all(self, timeout: float = 60.0) -> bool:
        """True once every tap has a result (False on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._thread.is_alive() and not self.pending():
                return True
            if not self.pending():
                return True
            time.sleep(0.05)
        return not self.pending()

    def stop(self) -> None:
        """Stop publishing."""
        self._stop.set()
        self._thread.join(5)


# --------------------------------------------------------------------------- admin CLI


def run_admin(db_url: str, *args: str, timeout: float = 60.0) -> tuple[int, object]:
    """Run ``privcard admin --db URL --json ARGS...`` and return (exit code, parsed JSON or stderr text)."""
    import json

    proc = subprocess.run(
        admin_argv(db_url, *args),
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=timeout,
    )
    try:
        data = json.loads(proc.stdout) if proc.stdout.strip() else proc.stderr
    except ValueError:
        data = proc.stdout + proc.stderr
    return proc.returncode, data


def admin_here(*argv: str) -> tuple[int, dict | None, list[str]]:
    """Run ``privcard admin ARGV`` in this process: (exit code, its ``--json`` output or None, stderr lines).

    For what ``privcard admin`` prints (its refusals' English and Thai lines) without a process
    start per case; :func:`run_admin` runs the real command in a process of its own.
    """
    import contextlib
    import io
    import json

    from server import admin

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = admin.main(list(argv))
    body = out.getvalue().strip()
    return code, (json.loads(body) if body else None), err.getvalue().splitlines()


# --------------------------------------------------------------------------- PostgreSQL


def _pg_admin(base_url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Run one statement outside a transaction (CREATE/DROP DATABASE need that) on ``base_url``; its rows."""
    import psycopg2

    conn = psycopg2.connect(base_url, connect_timeout=5)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql, params or None)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def _pg_url_for(base_url: str, name: str) -> str:
    """``base_url`` naming the database ``name`` instead (its host, user and options kept)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


class fresh_pg_database:
    """A uniquely named PostgreSQL database for one test, dropped afterwards.

    ``with fresh_pg_database(pg_url, template=pg_template) as url: ...`` — ``pg_url`` is any
    reachable URL on the server (the conftest's ``pg_url`` fixture); the shared database it
    names is never touched. With ``template`` (the conftest's session-wide ``pg_template``,
    a :class:`migrated_pg_template`) the database is a copy of one with every migration
    applied (``CREATE DATABASE … TEMPLATE``), as fresh as one migrated from scratch in a
    fraction of the time; without it the database is empty, for tests that build an old
    schema and migrate it. The drop uses ``WITH (FORCE)`` so a killed server's connection
    cannot keep it alive.
    """

    def __init__(self, base_url: str, prefix: str = "privcard_test", template: str | None = None):
        self.base_url = base_url
        self.template = template
        self.name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.url = _pg_url_for(base_url, self.name)

    def __enter__(self) -> str:
        copy = f' TEMPLATE "{self.template}"' if self.template else ""
        _pg_admin(self.base_url, f'CREATE DATABASE "{self.name}"{copy}')
        return self.url

    def __exit__(self, *exc) -> None:
        close_store()
        _pg_admin(self.base_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class migrated_pg_template:
    """A PostgreSQL database with every registered migration applied, for :class:`fresh_pg_database` to copy.

    The conftest's ``pg_template`` makes one per test session (per process, so per
    pytest-xdist worker too) and drops it at the session's end: migrated afresh by each
    session's code, it cannot be stale after the migrations change, and sessions of other
    checkouts on the same server (other migrations) each have their own. ``CREATE DATABASE
    … TEMPLATE`` fails while anyone is connected to the template, so :meth:`create` closes
    its own connection, ends any other left on it and then forbids connections to it.
    :meth:`create` also drops the templates of this host's sessions that were killed
    before they could (their process is gone).
    """

    PREFIX = "privcard_tpl"

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.name = f"{self.PREFIX}_{self._host_tag()}_{os.getpid()}"
        self.url = _pg_url_for(base_url, self.name)

    @staticmethod
    def _host_tag() -> str:
        import socket

        return "".join(c for c in socket.gethostname().lower() if c.isalnum())[:16] or "host"

    def _drop_orphans(self) -> None:
        mine = f"{self.PREFIX}_{self._host_tag()}_"
        rows = _pg_admin(self.base_url, "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (mine,))
        for (name,) in rows:
            pid = name[len(mine) :]
            if pid.isdigit() and not _process_alive(int(pid)):
                _pg_admin(self.base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def create(self) -> str:
        """Make the template (every package's migrations, the web console's too); its name."""
        import server.services
        import server.web  # noqa: F401  (both register their packages' migrations on import)
        from server import store

        self._drop_orphans()
        self.drop()  # a session of an earlier process with our pid
        _pg_admin(self.base_url, f'CREATE DATABASE "{self.name}"')
        bound = store.db.obj
        try:
            store.connect(self.url).close()
        finally:
            store.db.initialize(bound)  # the process's binding as it was
        _pg_admin(
            self.base_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (self.name,),
        )
        _pg_admin(self.base_url, f'ALTER DATABASE "{self.name}" WITH ALLOW_CONNECTIONS false')
        return self.name

    def drop(self) -> None:
        """Drop the template, if it exists."""
        _pg_admin(self.base_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _process_alive(pid: int) -> bool:
    """True if a process with this id runs on this host (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: a library that replaced the shipped groups with its own two
OWN_GROUPS = """\
[terms]
default = "none"
renewal_fee_baht = 50
on_expiry = "keep"

[terms.groups.STU]
th = "นักศึกษา"
en = "Student"
term = "semester"

[terms.groups.FAC]
th = "คณาจารย์"
en = "Faculty"
term = "date"
"""
