"""``privcard bench``: server throughput and latency against a raw broker echo.

Both targets run as separate processes on the same broker, driven by the same
load generator, in the same run:

- **echo**: a client that republishes each tap as a result without touching a
  database — the ceiling the broker and paho allow on this machine;
- **server**: ``privcard server`` on a fresh SQLite database, or on each database
  ``--db`` names (repeat it: ``--db sqlite --db postgresql://user@host/db`` measures both
  paths side by side in one run; a PostgreSQL URL gets a fresh database of its own on
  that server, created for the run and dropped after).

With ``--sun`` a third target runs beside them: the same server on cards that all
require Secure Unique NFC (NTAG 424 DNA, keys diversified from a bench master key),
every tap carrying a fresh SUN URL; the server's CPU time per tap is reported for
both server targets, so the cost of verification is their difference.

Phase 1 saturates each (every device keeps up to 20 taps in flight, as the gate's
outbox does) to measure throughput, ``--saturation-rounds`` times in turn (median);
the server process's CPU seconds per tap are reported with it (steadier than latency on
a shared machine). Phase 2 paces all at half the (slowest) server's throughput and
measures tap→result latency: each server runs beside an echo (on its own topic prefix)
and the two take turns every half second of taps, so both are timed under the same
machine load; ``--rounds`` such pairings, the median round of each reported. Ratios
compare them.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from datetime import UTC, datetime

from broker import contract
from broker.client import BusClient
from broker.net import free_port, wait_port

WINDOW = 20  # taps in flight per device, like the gate's outbox sender
#: the echo's topics: its own prefix, so an echo and a server can run side by side (the
#: half-load phase interleaves them) without both answering the same taps
ECHO_PREFIX = "privcard-echo"
#: the half-load phase alternates echo and server every this many seconds of taps
SLICE_S = 0.5
#: the load's pump thread looks for new work at least this often (seconds)
PUMP_TICK_S = 0.005


def echo_main(url: str, prefix: str = ECHO_PREFIX) -> None:
    """The raw echo: republish every tap's id as a result (no database)."""
    bus = BusClient(url, f"privcard-echo-{os.getpid()}")

    def on_tap(topic, payload, msg):
        try:
            tap = contract.Tap.parse(payload)
            dev = contract.parse_topic(topic, prefix).device_id
        except contract.ContractError:
            return
        result = contract.TapResult(tap.tap_id, "limit_reached", True)
        bus.publish(contract.result_topic(dev, prefix), result.encode())

    bus.subscribe(contract.device_wildcard("tap", prefix), on_tap)
    bus.start()
    threading.Event().wait()


class Load:
    """D simulated devices publishing taps and timing their results, all driven by one thread.

    Every device has its own MQTT connection (as every gate has), and one pump thread
    drives them all: it sends each tap when it is due (and its device has room in its
    window), waits on every socket at once, and reads what arrived (the result handlers
    run there). An earlier version gave each device paho's own network thread and fed
    them from more threads: on a 2-core machine the load generator's 20-odd threads then
    competed with the server under test for the CPUs and the GIL, and the half-load tail
    measured them as much as the server (``docs/benchmarks.md``). Other threads reach the
    pump only through :meth:`_call`, and wait on :attr:`done`, which the pump notifies
    only when what they wait for has happened (not on every answer).
    """

    def __init__(self, url: str | None, devices: list[str], uids: list[str], *, urls: dict[str, str] | None = None):
        """Devices on ``url``, or each on its own one (``urls``: device → URL with its own account)."""
        self.url, self.devices, self.uids = url, devices, uids
        #: with SUN: the server's card keys per UID, and each card's read counter
        self.sun_keys: dict | None = None
        self.counters: dict[str, int] = {}
        #: results refused as not genuine (the SUN target must have none: it would be timing refusals)
        self.not_genuine = 0
        #: the topic prefix taps go to: the server's, or the echo's (:data:`ECHO_PREFIX`)
        self.prefix = contract.DEFAULT_PREFIX
        #: tap id → (when sent, the list its latency goes to, its target, when sent by the wall clock)
        self.sent: dict[str, tuple[float, list | None, str, float]] = {}
        #: timed tap id → (sent, answer received), wall-clock seconds: joined with a server's
        #: own trace (``privcard server --timings``) by :func:`_breakdown`
        self.wall: dict[str, tuple[float, float]] = {}
        #: taps handed to the pump and not yet answered, per target (the interleaved run drains each slice)
        self.in_flight: dict[str, int] = {}
        self.lock = threading.Lock()
        self.done = threading.Condition(self.lock)
        self.answered = 0
        self.probed = False
        #: :attr:`done` is notified when :attr:`answered` reaches this (a run's n)
        self._notify_at: int | None = None
        self._run_started = 0.0
        #: the pump's own state (only its thread touches it): taps in flight per device (at
        #: most :data:`WINDOW`, as the gate's outbox sender keeps), taps waiting for room per
        #: device (saturation), and paced taps in send order: (due, device, index, tag, bucket, target)
        self._window = [0] * len(devices)
        self._waiting: list[deque] = [deque() for _ in devices]
        self._paced: deque = deque()
        self._dirty: set[int] = set()  # devices with packets queued and not yet written
        #: calls from other threads, run by the pump at the start of its next round
        self._calls: deque = deque()
        self._stopping = False
        self.clients: list[BusClient] = []
        for d, dev in enumerate(devices):
            c = BusClient(
                (urls or {}).get(dev, url), f"bench-{dev}-{os.getpid()}-{random.randrange(1 << 30)}", own_loop=True
            )
            for prefix in (contract.DEFAULT_PREFIX, ECHO_PREFIX):
                c.subscribe(contract.result_topic(dev, prefix), self._on_result(d))
            self.clients.append(c)
        #: allow-lists published live (not the retained copy a subscription gets): a server's
        #: publisher sends one at the end of its start-up round
        self.allowlists = 0
        self.clients[0].subscribe(contract.allowlist_topic(), self._on_allowlist)
        for c in self.clients:
            c.start()
        self._pump_thread = threading.Thread(target=self._pump, name="bench-load", daemon=True)
        self._pump_thread.start()
        for c in self.clients:
            if not c.wait_connected(30 if urls else 10):
                raise RuntimeError("bench devices could not connect")
        time.sleep(0.3)  # subscriptions settle

    # ------------------------------------------------------------------ the pump thread

    def _call(self, fn) -> None:
        """Run ``fn()`` on the pump thread at the start of its next round (within :data:`PUMP_TICK_S`)."""
        self._calls.append(fn)

    def _pump(self) -> None:
        """Until :meth:`close`: run calls, send what is due, wait on every socket, read what arrived."""
        misc_at = 0.0
        while not self._stopping:
            while self._calls:
                self._calls.popleft()()
            wait = self._send_due()
            now = time.monotonic()
            if now >= misc_at:  # keep-alives and reconnects: each client's full round, once a second
                misc_at = now + 1.0
                for c in self.clients:
                    c.loop(0.0, max_reads=64)
            socks = {}
            for c in self.clients:
                s = c.socket()
                if s is not None:
                    socks[s] = c
            if not socks:
                time.sleep(wait)
                continue
            try:
                readable = select.select(list(socks), [], [], wait)[0]
            except (OSError, ValueError):  # a socket closed meanwhile: the next round sees it gone
                continue
            for s in readable:
                socks[s].loop(0.0, max_reads=64)
            self._flush()

    def _send_due(self) -> float:
        """Send every tap whose time has come and whose device has room; seconds to wait before the next round."""
        for d, queue in enumerate(self._waiting):
            while queue and self._window[d] < WINDOW:
                self._send(d, *queue.popleft())
        wait = PUMP_TICK_S
        paced = self._paced
        while paced:
            due, d = paced[0][0], paced[0][1]
            if self._window[d] >= WINDOW:
                break  # that device's window is full: the taps after it wait, as one sender's do
            delay = due - time.perf_counter()
            if delay > 0:
                wait = min(wait, delay)
                break
            _, d, i, tag, bucket, target = paced.popleft()
            self._send(d, i, tag, bucket, target)
        self._flush()
        return wait

    def _flush(self) -> None:
        """Write what the devices have queued (each device's taps in one go)."""
        for d in self._dirty:
            self.clients[d].flush()
        self._dirty.clear()

    def _send(self, d: int, i: int, tag: str, bucket: list, target: str) -> None:
        """Publish tap ``i`` from device ``d`` (pump thread; written at the round's flush)."""
        dev, client = self.devices[d], self.clients[d]
        tap_id = f"{tag}:{dev}:{i}"
        uid = self.uids[i % len(self.uids)]
        ndef = None
        if self.sun_keys is not None:
            from server.sun import card_url

            # a card is read at one device at a time, and a device's taps arrive in
            # order: give each device its own cards, or two devices' reads of one
            # card could reach the server out of counter order and rightly be refused
            mine = self.uids[d :: len(self.devices)] or self.uids
            uid = mine[(i // len(self.devices)) % len(mine)]
            self.counters[uid] = counter = self.counters.get(uid, 0) + 1
            ndef = card_url(self.sun_keys[uid], uid, counter)
        tap = contract.Tap(tap_id, uid, datetime.now(UTC), True, ndef=ndef)
        self._window[d] += 1
        self.sent[tap_id] = (time.perf_counter(), bucket, target, time.time())
        client.publish(contract.tap_topic(dev, self.prefix), tap.encode())
        self._dirty.add(d)

    def _on_allowlist(self, topic, payload, msg) -> None:
        if not msg.retain:
            with self.lock:
                self.allowlists += 1
                self.done.notify_all()

    def _on_result(self, d: int):
        def handler(topic, payload, msg):
            now, wall = time.perf_counter(), time.time()
            try:
                result = json.loads(payload)
                tap_id = result["tap_id"]
            except (ValueError, KeyError, TypeError):
                return
            entry = self.sent.pop(tap_id, None)
            if entry is None:
                return  # a duplicate result
            start, bucket, target, sent_wall = entry
            if bucket is None:  # a probe
                with self.lock:
                    self.probed = True
                    self.done.notify_all()
                return
            self._window[d] -= 1
            bucket.append(now - start)
            self.wall[tap_id] = (sent_wall, wall)
            if result.get("outcome") == "card_not_genuine":
                self.not_genuine += 1
            with self.lock:
                self.answered += 1
                self.in_flight[target] -= 1
                if self.in_flight[target] == 0 or self.answered == self._notify_at:
                    self.done.notify_all()

        return handler

    # ------------------------------------------------------------------ driving it (any other thread)

    def started_up(self, seen: int, log_path: str | None = None, timeout: float = 30) -> None:
        """Wait until a server has published its allow-list (its start-up round is over) after ``seen`` were.

        A fresh server's first second is not its steady state: its publisher sends every
        device's retained config and the allow-list (each through the worker, each marked
        in the database), and the daily jobs run. Timing taps across it measured start-up,
        not the half-load tail. The server's own log line counts too (``log_path``): the
        live copy reaches one bench client, which a busy machine has been seen to miss.
        """

        def logged() -> bool:
            if log_path is None:
                return False
            with open(log_path, encoding="utf-8", errors="replace") as fh:
                return "published allow-list version" in fh.read()

        deadline = time.monotonic() + timeout
        with self.lock:
            while not self.done.wait_for(lambda: self.allowlists > seen, timeout=0.5):
                if logged():
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server never published its allow-list ({timeout:.0f} s)")

    def probe(self, timeout: float = 60) -> None:
        """Publish probe taps until one is answered: the target is up and subscribed."""
        with self.lock:
            self.probed = False
        end = time.monotonic() + timeout
        dev, client, i = self.devices[0], self.clients[0], 0
        while time.monotonic() < end:
            tap_id = f"probe:{os.getpid()}:{time.monotonic_ns()}:{i}"
            i += 1
            tap = contract.Tap(tap_id, self.uids[0], datetime.now(UTC), True).encode()
            topic = contract.tap_topic(dev, self.prefix)

            def send(tap_id=tap_id, tap=tap, topic=topic) -> None:
                self.sent[tap_id] = (time.perf_counter(), None, "", 0.0)
                client.publish(topic, tap)
                self._dirty.add(0)

            self._call(send)
            with self.lock:
                if self.done.wait_for(lambda: self.probed, timeout=0.5):
                    return
        raise RuntimeError("the target never answered a probe tap")

    def run(self, n: int, tag: str, rate: float | None = None) -> tuple[float, list[float]]:
        """Send ``n`` taps (paced at ``rate``/s if given, else each device keeping its window full); return (elapsed, latencies)."""
        bucket: list[float] = []
        with self.lock:
            self.answered, self._notify_at = 0, n
            self.in_flight[tag] = self.in_flight.get(tag, 0) + n
        devices = len(self.devices)

        def setup() -> None:
            self._run_started = start = time.perf_counter()
            for i in range(n):
                if rate:  # one sequence, round-robin over the devices, each tap at its time
                    self._paced.append((start + i / rate, i % devices, i, tag, bucket, tag))
                else:  # saturation
                    self._waiting[i % devices].append((i, tag, bucket, tag))

        self._call(setup)
        with self.lock:
            ok = self.done.wait_for(lambda: self.answered >= n, timeout=max(60, n / 50))
            self._notify_at = None
        elapsed = time.perf_counter() - self._run_started
        if not ok:
            raise RuntimeError(f"{tag}: only {self.answered} of {n} taps answered")
        return elapsed, list(bucket)

    def run_interleaved(
        self, n: int, tag: str, rate: float, targets: list[str], use, slice_s: float = SLICE_S
    ) -> dict[str, list[float]]:
        """``n`` taps to each target, all at ``rate``/s, alternating targets every ``slice_s`` s of taps.

        The targets run side by side (the echo on its own prefix); ``use(target)`` points
        the load at one. Each slice's taps are all answered before the next slice starts,
        so one target's backlog never lands in the other's time. Timing the echo and the
        server in separate rounds compared one 5-second moment of a shared machine with
        another (the echo's own p99 swung from 7 to 482 ms between consecutive rounds):
        slices half a second apart see the same machine. Returns each target's latencies.
        """
        buckets: dict[str, list[float]] = {t: [] for t in targets}
        left = dict.fromkeys(targets, n)
        per_slice = max(1, round(rate * slice_s))
        devices = len(self.devices)
        i = k = 0
        while any(left.values()):
            target = targets[k % len(targets)]
            k += 1
            m = min(per_slice, left[target])
            if not m:
                continue
            use(target)  # the pump has nothing of the last slice left: safe to switch
            with self.lock:
                self.in_flight[target] = self.in_flight.get(target, 0) + m

            def setup(i0=i, m=m, target=target) -> None:
                start = time.perf_counter()
                for j in range(m):
                    self._paced.append(
                        (start + j / rate, (i0 + j) % devices, i0 + j, f"{tag}-{target}", buckets[target], target)
                    )

            self._call(setup)
            i += m
            left[target] -= m
            with self.lock:
                if not self.done.wait_for(lambda t=target: self.in_flight[t] == 0, timeout=max(60, m / 20)):
                    raise RuntimeError(f"{tag}: {target} left {self.in_flight[target]} taps unanswered")
        return {t: list(v) for t, v in buckets.items()}

    def close(self) -> None:
        """Stop the pump, disconnect every device and free their sockets now.

        A paho client closes its socket pair only when it is collected, and each device's
        handlers hold this load (a cycle): without a collection here the next load's 200
        clients open descriptors past 1,024, which ``select()`` cannot watch.
        """
        self._stopping = True
        self._pump_thread.join(10)
        for c in self.clients:
            c.stop()
        self.clients = []
        gc.collect()


def smtp_sink_main(port: int, counter: str) -> None:
    """A minimal SMTP server that accepts every message and counts them (``--mail-load``'s sink).

    Standard library only (privcard's server extra does not carry aiosmtpd): enough SMTP
    for smtplib (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT); the count goes to the file
    ``counter`` about every 0.2 s.
    """
    import asyncio

    count = 0

    async def session(reader, writer):
        nonlocal count
        writer.write(b"220 privcard-bench sink\r\n")
        while True:
            line = await reader.readline()
            if not line:
                break
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                while (await reader.readline()) not in (b".\r\n", b""):
                    pass
                count += 1
                writer.write(b"250 accepted\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    async def report():
        while True:
            await asyncio.sleep(0.2)
            with open(counter + ".tmp", "w") as fh:
                fh.write(str(count))
            os.replace(counter + ".tmp", counter)

    async def run():
        server = await asyncio.start_server(session, "127.0.0.1", port)
        reporter = asyncio.create_task(report())
        reporter.add_done_callback(lambda _: None)
        async with server:
            await server.serve_forever()

    asyncio.run(run())


def _mail_members(db_url: str, n: int) -> None:
    """``n`` members with an address who accept messages (the ``--mail-load`` segment)."""
    from server import store

    store.connect(db_url)
    now = store.utcnow()
    rows = [
        {
            "name": f"Mail {i}",
            "email": f"reader{i}@bench.invalid",
            "consent_marketing": True,
            "group": "U5",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(n)
    ]
    with store.db.atomic():
        for i in range(0, n, 500):
            store.Member.insert_many(rows[i : i + 500]).execute()
    store.db.close()


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


#: the disk probe's writes: four WAL frames (a 4 KiB page and its 24-byte header) a sync,
#: about what a small batch of taps commits, in a file of this many frames reused in turn
PROBE_FRAMES, PROBE_FILE_FRAMES = 4, 4000


def _disk_probe(directory: str, seconds: float, pause: float = 0.002) -> dict:
    """How long ``fdatasync`` takes on ``directory``'s disk with nothing of privcard running.

    Writes :data:`PROBE_FRAMES` WAL-sized frames and syncs them, every ``pause`` seconds
    for ``seconds``, in a preallocated file (as SQLite reuses its WAL), and reports the
    sync's latency: median, p99, the longest, and how many took over 20 and 50 ms. A
    tap's answer waits for its batch's sync (commit before result), so a disk that
    stalls a sync for 100 ms stalls every tap in flight for as long; the echo never
    touches the disk.
    """
    path = os.path.join(directory, "disk-probe.bin")
    frame = 24 + 4096
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    lat: list[float] = []
    try:
        os.pwrite(fd, bytes(frame * PROBE_FILE_FRAMES), 0)
        os.fsync(fd)
        page = os.urandom(frame * PROBE_FRAMES)
        end = time.monotonic() + seconds
        at = 0
        while time.monotonic() < end:
            os.pwrite(fd, page, at * frame)
            at = (at + PROBE_FRAMES) % (PROBE_FILE_FRAMES - PROBE_FRAMES)
            started = time.perf_counter()
            os.fdatasync(fd)
            lat.append(time.perf_counter() - started)
            time.sleep(pause)
    finally:
        os.close(fd)
        os.unlink(path)
    if not lat:
        return {"seconds": seconds, "syncs": 0}
    return {
        "seconds": seconds,
        "syncs": len(lat),
        "p50_ms": round(_pct(lat, 50), 3),
        "p99_ms": round(_pct(lat, 99), 3),
        "max_ms": round(max(lat) * 1000, 3),
        "over_20ms": sum(x > 0.020 for x in lat),
        "over_50ms": sum(x > 0.050 for x in lat),
    }


def _disk_line(d: dict) -> str:
    """One line of :func:`_disk_probe`'s figures."""
    if not d.get("syncs"):
        return "no sync measured"
    return (
        f"{d['syncs']} syncs in {d['seconds']:g} s: fdatasync p50 {d['p50_ms']:.2f} ms, p99 {d['p99_ms']:.2f} ms, "
        f"longest {d['max_ms']:.1f} ms; {d['over_20ms']} over 20 ms, {d['over_50ms']} over 50 ms"
    )


def _verify_us(n: int = 2000) -> float:
    """Microseconds one SUN verification (keys cached, as on the tap path) takes in this process."""
    from server.sun import Keyring, card_url, verify

    ring = Keyring(master=os.urandom(16))
    uid = "04BE0000000001"
    keys = ring.keys(uid, None)
    urls = [card_url(keys, uid, i + 1) for i in range(n)]
    start = time.perf_counter()
    for url in urls:
        verify(url, uid, ring.keys(uid, None))
    return (time.perf_counter() - start) / n * 1e6


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def _summary(lat: list[float]) -> dict:
    return {"p50_ms": _pct(lat, 50), "p95_ms": _pct(lat, 95), "p99_ms": _pct(lat, 99)}


def _campaign_database(db_url: str, devices: list[str], uids: list[str], n: int, m: int) -> None:
    """The bench database again, with a programme of ``m`` activities and ``n`` campaigns running now.

    Half the campaigns are multipliers, half bonuses; every other one names no activity
    (it applies to all), the rest name ``entry`` and a library-defined activity, so every
    credited gate tap weighs all of them (the worst case for the tap path).
    """
    from datetime import timedelta

    from server import store
    from server.domain.config import load
    from server.services import bootstrap

    _bench_database(db_url, devices, uids, [])  # the same devices, members and cards as the plain one
    store.connect(db_url)
    svc = bootstrap(load())
    extra = max(m - len(svc.prog.activities), 0)
    lines = [
        f'[activities.bench_{i}]\npoints = {1 + i % 10}\nlimit = "per_day"\nth = "กิจกรรม {i}"\nen = "Activity {i}"\n'
        for i in range(extra)
    ]
    if lines:
        svc.programme.import_toml("\n".join(lines), actor="bench")
    now = datetime.now(svc.prog.tz)
    starts, ends = (
        (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
        (now + timedelta(days=1)).strftime("%Y-%m-%d %H:%M"),
    )
    for i in range(n):
        spec = {"code": f"bench_c{i}", "starts": starts, "ends": ends}
        spec.update({"kind": "multiplier", "multiplier": "2"} if i % 2 else {"kind": "bonus", "bonus": 1})
        if i % 4 >= 2:
            spec["activities"] = ["entry"] + ([f"bench_{i % extra}"] if extra else [])
        svc.campaigns.add(spec, actor="bench")
    store.db.close()


def _fresh_postgresql(url: str, tmp: str) -> tuple[str, str]:
    """A fresh database on the PostgreSQL server of ``url`` (its own database is not touched); (url, name)."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import psycopg2

    name = f"privcard_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(url, connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, "")), name


def _drop_postgresql(url: str, name: str) -> None:
    """Drop a database :func:`_fresh_postgresql` made (``WITH (FORCE)``: a killed server's connection cannot keep it)."""
    import psycopg2

    conn = psycopg2.connect(url, connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()


def _bench_database(db_url: str, devices: list[str], uids: list[str], sun_uids: list[str]) -> None:
    """The bench's devices, members and cards (UID-only, and secured ones with ``--sun``) in ``db_url``."""
    from server import store
    from server.domain.config import load
    from server.services import bootstrap

    store.connect(db_url)
    svc = bootstrap(load())
    for dev in devices:
        svc.devices.add(dev, "gate", direction="in")
    with store.db.atomic():
        for i, uid in enumerate(uids):
            m = store.Member.create(name=f"Bench {i}", balance=0)
            store.Card.create(uid=uid, member=m)
        for i, uid in enumerate(sun_uids):
            m = store.Member.create(name=f"Bench SUN {i}", balance=0)
            store.Card.create(uid=uid, member=m, sun=True)
    store.db.close()


def _db_label(spec: str) -> str:
    """How a ``--db`` value is named in the output: ``sqlite``, ``postgresql://host:port``, or the socket's
    path for a Unix socket (``postgresql:/var/run/postgresql/.s.PGSQL.5432``: ``?host=/var/run/postgresql``)."""
    if spec == "sqlite" or spec.startswith("sqlite:"):
        return "sqlite"
    from server import store

    params = store.make_database(spec).connect_params
    host, port = params.get("host") or "localhost", params.get("port") or 5432
    return f"postgresql:{host}/.s.PGSQL.{port}" if str(host).startswith("/") else f"postgresql://{host}:{port}"


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="privcard bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--mqtt", help="use this broker (default: start Mosquitto, else the embedded broker)")
    p.add_argument("--taps", type=int, default=5000)
    p.add_argument("--devices", type=int, default=10)
    p.add_argument("--members", type=int, default=2000)
    p.add_argument(
        "--warm-cards",
        action="store_true",
        help="tap every member's card once on each freshly started server before it is timed, as a server "
        "that has run for a while has seen its members (PostgreSQL: batches of known cards take one round trip)",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--rounds", type=int, default=5, help="half-load rounds (medians are reported)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument(
        "--sun",
        action="store_true",
        help="also run the server on cards that all require SUN (NTAG 424 DNA), side by side",
    )
    p.add_argument(
        "--campaigns",
        type=int,
        default=0,
        metavar="N",
        help="also run the server with N running campaigns (and --activities), side by side with the plain one",
    )
    p.add_argument(
        "--activities",
        type=int,
        default=0,
        metavar="M",
        help="with --campaigns: a programme of M activities (the shipped ones plus library-defined ones)",
    )
    p.add_argument("--campaign-rounds", type=int, default=3, help="alternating saturation rounds of the two servers")
    p.add_argument(
        "--mail-load",
        type=int,
        default=0,
        metavar="N",
        help="also queue a segment message to N members (timed) and run the server while it sends them to a "
        "local SMTP sink, side by side with the quiet server",
    )
    p.add_argument("--mail-rate", type=float, default=200.0, help="with --mail-load: [mail] rate_per_second")
    p.add_argument(
        "--mail-busy-rate",
        type=float,
        default=1.0,
        help="with --mail-load: [mail] busy_rate_per_second (the pace while taps are decided; "
        "equal to --mail-rate: the sender does not give way)",
    )
    p.add_argument("--mail-rounds", type=int, default=3, help="alternating saturation rounds, quiet vs sending")
    p.add_argument(
        "--db",
        action="append",
        metavar="URL",
        help="run the server on this database: sqlite (a fresh file, the default) or a postgresql:// URL (a fresh "
        "database on that server, dropped after); repeat to measure several side by side",
    )
    p.add_argument(
        "--saturation-rounds", type=int, default=1, help="saturation rounds of every target in turn (medians reported)"
    )
    p.add_argument(
        "--disk-probe",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="first time the disk's fdatasync alone for this long, where the SQLite database lies "
        "(a stall there stalls every tap in flight); 0 skips it",
    )
    p.add_argument(
        "--pin",
        action="store_true",
        help="the server (or echo) under test on CPU 0, the broker and the load generator on CPU 1: a server with "
        "a core of its own, as on its own machine (needs 2 CPUs)",
    )
    args = p.parse_args(argv)
    if args.pin and len(os.sched_getaffinity(0)) < 2:
        p.error("--pin needs two CPUs")
    if args.taps < 10 or args.devices < 1:
        p.error("need at least 10 taps and 1 device")
    specs = args.db or ["sqlite"]
    for spec in specs:
        if not (spec == "sqlite" or spec.startswith(("sqlite:", "postgresql://", "postgres://"))):
            p.error(f"--db takes sqlite or a postgresql:// URL, not {spec!r}")
    if len(set(specs)) != len(specs):
        p.error("each --db once")

    tmp = tempfile.mkdtemp(prefix="privcard-bench-")
    procs: list[subprocess.Popen] = []
    made_pg: list[tuple[str, str]] = []  # (server URL, database name) to drop
    broker_desc = args.mqtt
    embedded = None
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    cpus = sorted(os.sched_getaffinity(0))
    target_cpus, load_cpus = ({cpus[0]}, set(cpus[1:])) if args.pin else (None, None)

    def pinned(cpu_set):
        """A Popen ``preexec_fn`` that puts the child (and every thread it starts) on ``cpu_set``."""
        return None if cpu_set is None else (lambda: os.sched_setaffinity(0, cpu_set))

    if args.pin:
        os.sched_setaffinity(0, load_cpus)  # this thread: the load generator's client threads inherit it
        log(f"pinned: server or echo under test on CPU {cpus[0]}, broker and load on CPU {sorted(load_cpus)}")
    try:
        url = args.mqtt
        if url is None:
            port = free_port()
            binary = shutil.which("mosquitto") or (
                "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None
            )
            if binary:
                conf = os.path.join(tmp, "mosquitto.conf")
                with open(conf, "w") as fh:
                    fh.write(
                        f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
                        "max_queued_messages 1000000\nmax_inflight_messages 1000\npersistence false\n"
                    )
                procs.append(
                    subprocess.Popen(
                        [binary, "-c", conf],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        preexec_fn=pinned(load_cpus),
                    )
                )
                broker_desc = f"mosquitto ({binary}) on port {port}"
            else:
                from broker.embedded import EmbeddedBroker

                embedded = EmbeddedBroker("127.0.0.1", port).start()
                broker_desc = f"embedded amqtt on port {port} (install mosquitto for meaningful figures)"
            if not wait_port("127.0.0.1", port, 15.0):
                raise RuntimeError(f"nothing listens on port {port}")
            url = f"mqtt://127.0.0.1:{port}"
        log(f"broker: {broker_desc}")

        # the databases: devices and members, set up before the servers start
        devices = [f"bench-gate-{i}" for i in range(args.devices)]
        uids = [f"BE{i:08X}" for i in range(args.members)]
        # the SUN target's cards: 7-byte UIDs, keys diversified from a bench master key
        sun_uids = [f"04BE{i:010X}" for i in range(args.members)] if args.sun else []
        keyfile = os.path.join(tmp, "card-keys.toml")
        sun_keys = None
        if args.sun:
            from server.sun import Keyring

            with open(os.open(keyfile, os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
                fh.write(f'master = "{os.urandom(16).hex()}"\n')
            ring = Keyring.from_file(keyfile)
            sun_keys = {uid: ring.diversified(uid) for uid in sun_uids}
        #: each server target and the database it runs on: "server" is the first --db
        db_of: dict[str, str] = {}
        labels: dict[str, str] = {}
        for n, spec in enumerate(specs):
            if spec == "sqlite":
                url_n = f"sqlite:///{tmp}/bench{'' if n == 0 else n}.db"
            elif spec.startswith("sqlite:"):
                url_n = spec
            else:
                url_n, name = _fresh_postgresql(spec, tmp)
                made_pg.append((spec, name))
            target = "server" if n == 0 else f"server-{n + 1}"
            db_of[target], labels[target] = url_n, _db_label(spec)
            _bench_database(url_n, devices, uids, sun_uids if n == 0 else [])
            log(f"{target}: {labels[target]} database")
        db_url = db_of["server"]
        disk = _disk_probe(tmp, args.disk_probe) if args.disk_probe > 0 else None
        if disk is not None:
            log(f"disk alone: {_disk_line(disk)}")
        more = tuple(t for t in db_of if t != "server")
        targets = ("echo", "server", *more, "server-sun") if args.sun else ("echo", "server", *more)
        db_campaigns = None
        if args.campaigns or args.activities:
            db_campaigns = f"sqlite:///{tmp}/bench-campaigns.db"
            _campaign_database(db_campaigns, devices, uids, args.campaigns, args.activities)
            log(f"campaign database: {args.campaigns} running campaigns, {max(args.activities, 9)} activities")
            targets = (*targets, "server-campaigns")

        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), *sys.path]))
        py = sys.executable
        mail_args: list[str] = []
        mail_figures = None
        if args.mail_load:
            from server import store
            from server.domain.config import load
            from server.services import bootstrap

            _mail_members(db_url, args.mail_load)
            sink_port, sink_count = free_port(), os.path.join(tmp, "sink-count")
            procs.append(
                subprocess.Popen(
                    [py, "-c", f"from server.bench import smtp_sink_main; smtp_sink_main({sink_port}, {sink_count!r})"],
                    env=env,
                )
            )
            if not wait_port("127.0.0.1", sink_port, 15.0):
                raise RuntimeError("the SMTP sink did not start")
            mail_conf = os.path.join(tmp, "mail.toml")
            with open(mail_conf, "w") as fh:
                fh.write(
                    f"[mail]\nrate_per_second = {args.mail_rate}\nbusy_rate_per_second = {args.mail_busy_rate}\n"
                    "retry_first_s = 1\n"
                )
            mail_args = ["--config", mail_conf, "--smtp", f"smtp://127.0.0.1:{sink_port}"]
            # the segment message, queued in this process and timed (one INSERT ... SELECT)
            store.connect(db_url)
            svc = bootstrap(load())
            t0 = time.perf_counter()
            queued = svc.messages.send_segment(
                {"th": "ข่าว {name}", "en": "News for {name}"},
                {"th": "คุณมี {balance} แต้ม", "en": "You have {balance} points"},
                {"group": "U5"},
                actor="bench",
            )
            queue_s = time.perf_counter() - t0
            store.db.close()
            log(f"queued a segment message to {queued['counts']['queued']} members in {queue_s:.2f} s")
            mail_figures = {
                "members": args.mail_load,
                "queued": queued["counts"]["queued"],
                "queue_s": round(queue_s, 3),
            }

        def sink_sent() -> int:
            try:
                with open(sink_count) as fh:
                    return int(fh.read() or 0)
            except OSError:
                return 0

        load_gen = Load(url, devices, uids)
        warm = len(uids) if args.warm_cards else 0  # --warm-cards: every card once before a timed run
        results = {}

        def stop(proc: subprocess.Popen) -> None:
            proc.terminate()
            proc.wait(10)
            procs.remove(proc)

        def launch(target: str, log_name: str) -> subprocess.Popen:
            # a fresh session per run: the server must not inherit taps queued for it meanwhile
            cmd = (
                [py, "-c", f"from server.bench import echo_main; echo_main({url!r})"]
                if target == "echo"
                else [
                    py,
                    "-m",
                    "broker.dispatcher",
                    "server",
                    "--db",
                    db_campaigns if target == "server-campaigns" else db_of.get(target, db_url),
                    "--mqtt",
                    url,
                    "--client-id",
                    f"bench-server-{os.getpid()}-{time.monotonic_ns()}",
                    *(["--card-keys", keyfile] if target == "server-sun" else []),
                    *(mail_args if target == "server-mail" else []),
                    "--timings",
                    os.path.join(tmp, log_name + ".timings.json"),
                ]
            )
            with open(os.path.join(tmp, log_name), "w") as log_file:
                proc = subprocess.Popen(
                    cmd, env=env, stdout=subprocess.DEVNULL, stderr=log_file, preexec_fn=pinned(target_cpus)
                )
            procs.append(proc)
            return proc

        def start(target: str, log_name: str) -> subprocess.Popen:
            """Launch a target and return once it answers taps and (a server) has finished starting up."""
            seen = load_gen.allowlists
            proc = launch(target, log_name)
            use(target)
            load_gen.probe()
            if target != "echo":
                load_gen.started_up(seen, os.path.join(tmp, log_name))
            return proc

        def timings(log_name: str) -> dict:
            """The worker's own figures a stopped server wrote (``privcard server --timings``)."""
            with open(os.path.join(tmp, log_name + ".timings.json")) as fh:
                return json.load(fh)

        def use(target: str) -> None:
            # the SUN target taps its own secured cards, each read with a fresh URL
            load_gen.uids = sun_uids if target == "server-sun" else uids
            load_gen.sun_keys = sun_keys if target == "server-sun" else None
            load_gen.prefix = ECHO_PREFIX if target == "echo" else contract.DEFAULT_PREFIX

        sat: dict[str, list[dict]] = {t: [] for t in targets}
        for r in range(max(args.saturation_rounds, 1)):
            for target in targets:
                proc = start(target, f"{target}-{r}.log")
                load_gen.run(warm or min(200, args.taps), f"warm{r}-{target}")
                cpu0 = _cpu_s(proc.pid)
                elapsed, lat = load_gen.run(args.taps, f"full{r}-{target}")
                cpu = _cpu_s(proc.pid) - cpu0
                if load_gen.not_genuine:
                    raise RuntimeError(f"{target}: {load_gen.not_genuine} taps were refused as not genuine")
                one = {"throughput_tps": args.taps / elapsed, "cpu_ms_per_tap": cpu * 1000 / args.taps}
                one.update(_summary(lat))
                sat[target].append(one)
                log(
                    f"{target:>10}: {one['throughput_tps']:8.0f} taps/s at saturation, "
                    f"p99 {one['p99_ms']:.1f} ms, process CPU {one['cpu_ms_per_tap']:.3f} ms/tap"
                    + (f" ({labels[target]})" if target in labels else "")
                )
                stop(proc)
        for target, runs in sat.items():
            # the median round by throughput, with every round's throughput and CPU kept
            med = sorted(runs, key=lambda x: x["throughput_tps"])[len(runs) // 2]
            results[target] = dict(med)
            results[target]["cpu_ms_per_tap"] = statistics.median(x["cpu_ms_per_tap"] for x in runs)
            results[target]["saturation_rounds"] = [round(x["throughput_tps"], 1) for x in runs]
        if db_campaigns:
            # the comparison that matters: the two servers alternately, the median of each
            tput: dict[str, list[float]] = {
                "server": [results["server"]["throughput_tps"]],
                "server-campaigns": [results["server-campaigns"]["throughput_tps"]],
            }
            cpu_ms = {t: [results[t]["cpu_ms_per_tap"]] for t in tput}
            for r in range(max(args.campaign_rounds - 1, 0)):
                for target in ("server", "server-campaigns"):
                    proc = start(target, f"{target}-round-{r}.log")
                    load_gen.run(warm or min(200, args.taps), f"warm{r}-{target}")
                    cpu0 = _cpu_s(proc.pid)
                    elapsed, _ = load_gen.run(args.taps, f"round{r}-{target}")
                    cpu_ms[target].append((_cpu_s(proc.pid) - cpu0) * 1000 / args.taps)
                    tput[target].append(args.taps / elapsed)
                    log(f"{target:>16}: round {r + 2}: {tput[target][-1]:.0f} taps/s")
                    stop(proc)
            campaign_figures = {
                "campaigns": args.campaigns,
                "activities": max(args.activities, 9),
                "throughput_tps": round(statistics.median(tput["server-campaigns"]), 1),
                "plain_throughput_tps": round(statistics.median(tput["server"]), 1),
                "rounds": {k: [round(x, 1) for x in v] for k, v in tput.items()},
                # the server's own CPU per tap: steadier than throughput on a shared machine
                "cpu_ms_per_tap": round(statistics.median(cpu_ms["server-campaigns"]), 4),
                "plain_cpu_ms_per_tap": round(statistics.median(cpu_ms["server"]), 4),
            }
            campaign_figures["ratio"] = round(
                campaign_figures["throughput_tps"] / campaign_figures["plain_throughput_tps"], 3
            )
            targets = tuple(t for t in targets if t != "server-campaigns")
        if mail_figures is not None:
            # quiet server and sending server alternately; the sending one only measured once mail flows
            mt: dict[str, list[float]] = {"server": [], "server-mail": []}
            mcpu: dict[str, list[float]] = {"server": [], "server-mail": []}
            sent_during: list[int] = []
            for r in range(max(args.mail_rounds, 1)):
                for target in ("server", "server-mail"):
                    proc = start(target, f"{target}-mail-{r}.log")
                    if target == "server-mail":
                        deadline = time.monotonic() + 30
                        start = sink_sent()
                        while sink_sent() <= start and time.monotonic() < deadline:
                            time.sleep(0.1)
                        if sink_sent() <= start:
                            raise RuntimeError("the server sent no mail to the sink within 30 s")
                    load_gen.run(warm or min(200, args.taps), f"warmmail{r}-{target}")
                    before = sink_sent()
                    cpu0 = _cpu_s(proc.pid)
                    elapsed, _ = load_gen.run(args.taps, f"mail{r}-{target}")
                    # the server's CPU per tap, sending included: steadier than throughput here
                    mcpu[target].append((_cpu_s(proc.pid) - cpu0) * 1000 / args.taps)
                    time.sleep(0.3)
                    if target == "server-mail":
                        sent_during.append(sink_sent() - before)
                    mt[target].append(args.taps / elapsed)
                    log(
                        f"{target:>12}: round {r + 1}: {mt[target][-1]:.0f} taps/s, "
                        f"process CPU {mcpu[target][-1]:.3f} ms/tap"
                        + (f", {sent_during[-1]} mails sent meanwhile" if target == "server-mail" else "")
                    )
                    stop(proc)
            mail_figures.update(
                {
                    "rate_per_second": args.mail_rate,
                    "busy_rate_per_second": args.mail_busy_rate,
                    "quiet_throughput_tps": round(statistics.median(mt["server"]), 1),
                    "sending_throughput_tps": round(statistics.median(mt["server-mail"]), 1),
                    "rounds": {k: [round(x, 1) for x in v] for k, v in mt.items()},
                    "quiet_cpu_ms_per_tap": round(statistics.median(mcpu["server"]), 4),
                    "sending_cpu_ms_per_tap": round(statistics.median(mcpu["server-mail"]), 4),
                    "cpu_rounds": {k: [round(x, 4) for x in v] for k, v in mcpu.items()},
                    "mails_sent_during_rounds": sent_during,
                    "mails_sent_total": sink_sent(),
                }
            )
            mail_figures["ratio"] = round(
                mail_figures["sending_throughput_tps"] / mail_figures["quiet_throughput_tps"], 3
            )
        # one rate for every server, so their latencies compare: half the slowest one's throughput
        half = min(results[t]["throughput_tps"] for t in ("server", *more)) / 2
        n_half = max(200, min(args.taps, int(half * 5)))
        # Tail latency on a shared machine swings from moment to moment (the echo's own p99
        # too). Each server runs beside an echo and the two take turns every half second of
        # taps (Load.run_interleaved), so both are timed under the same machine load; each
        # round pairs them again with fresh processes, and the median round is reported,
        # with every round kept in the output. The echo of a round is the one that ran
        # beside "server" (the first --db); the other servers keep their own echo's p99.
        rounds: dict[str, list[dict]] = {t: [] for t in targets}
        servers = [t for t in targets if t != "echo"]
        for r in range(args.rounds):
            for target in servers:
                echo = start("echo", f"echo-half-{r}-{target}.log")
                load_gen.run(50, f"warmhalf{r}-{target}-echo")
                proc = start(target, f"{target}-half-{r}.log")
                load_gen.run(warm or 50, f"warmhalf{r}-{target}")
                pair = ["echo", target] if r % 2 == 0 else [target, "echo"]  # who starts alternates
                cpu0 = {"echo": _cpu_s(echo.pid), target: _cpu_s(proc.pid)}
                lat = load_gen.run_interleaved(n_half, f"half{r}-{target}", half, pair, use)
                cpu = {"echo": _cpu_s(echo.pid) - cpu0["echo"], target: _cpu_s(proc.pid) - cpu0[target]}
                stop(proc)
                stop(echo)
                got = {}
                for t in pair:
                    got[t] = one = _summary(lat[t])
                    one["cpu_ms_per_tap"] = cpu[t] * 1000 / n_half
                got[target]["worker"] = timings(f"{target}-half-{r}.log")
                got[target]["slowest"] = _breakdown(
                    load_gen.wall, got[target]["worker"].pop("trace", []), f"half{r}-{target}-"
                )
                got[target]["echo_p99_ms"] = got["echo"]["p99_ms"]
                rounds[target].append(got[target])
                if target == "server":
                    rounds["echo"].append(got["echo"])
                for t in ("echo", target):
                    one = got[t]
                    log(
                        f"{t:>6}: round {r + 1} at {half:.0f} taps/s p50 {one['p50_ms']:.1f} ms, "
                        f"p99 {one['p99_ms']:.1f} ms, process CPU {one['cpu_ms_per_tap']:.3f} ms/tap"
                        + (
                            f"; worker: batch p50 {one['worker']['batch_ms_p50']:.1f} ms p99 "
                            f"{one['worker']['batch_ms_p99']:.1f} ms, "
                            f"{one['worker']['cpu_ms_per_message']:.3f} ms CPU/message, "
                            f"commit p50 {one['worker']['commit_ms_p50']:.2f} ms longest {one['worker']['commit_ms_max']:.1f} ms"
                            if one.get("worker", {}).get("batches")
                            else ""
                        )
                    )
                    if one.get("slowest"):
                        log("        slowest 1%: " + _breakdown_line(one["slowest"]))
        for target in targets:
            med = {k: statistics.median(x[k] for x in rounds[target]) for k in ("p50_ms", "p95_ms", "p99_ms")}
            results[target]["half_load"] = {"rate_tps": half, "taps": n_half, **med, "rounds": rounds[target]}
        load_gen.close()
        s, e = results["server"], results["echo"]
        out = {
            "broker": broker_desc,
            "pinned": bool(args.pin),
            "warm_cards": bool(args.warm_cards),
            "taps": args.taps,
            "devices": args.devices,
            "members": args.members,
            "cpus": os.cpu_count(),
            "throughput_tps": round(s["throughput_tps"], 1),
            "echo_throughput_tps": round(e["throughput_tps"], 1),
            "throughput_ratio": round(s["throughput_tps"] / e["throughput_tps"], 3),
            "p50_ms": round(s["half_load"]["p50_ms"], 2),
            "p95_ms": round(s["half_load"]["p95_ms"], 2),
            "p99_ms": round(s["half_load"]["p99_ms"], 2),
            "echo_p50_ms": round(e["half_load"]["p50_ms"], 2),
            "echo_p99_ms": round(e["half_load"]["p99_ms"], 2),
            "p99_ratio": round(s["half_load"]["p99_ms"] / max(e["half_load"]["p99_ms"], 1e-6), 2),
            # the server process's CPU seconds per tap at saturation (steadier than latency when shared)
            "cpu_ms_per_tap": round(s["cpu_ms_per_tap"], 4),
            "echo_cpu_ms_per_tap": round(e["cpu_ms_per_tap"], 4),
            "db": labels["server"],
            "half_load_tps": round(half, 1),
            "half_load_taps": s["half_load"]["taps"],  # each round's timed taps, per target
            "saturated": {"server_p99_ms": round(s["p99_ms"], 2), "echo_p99_ms": round(e["p99_ms"], 2)},
            "disk_probe": disk,
            "half_load_rounds": {
                "server_p99_ms": [round(x["p99_ms"], 2) for x in s["half_load"]["rounds"]],
                "echo_p99_ms": [round(x["p99_ms"], 2) for x in e["half_load"]["rounds"]],
                # each round's server p99 against the echo's of the same round (run just before it)
                "p99_ratio": [
                    round(x["p99_ms"] / max(y["p99_ms"], 1e-6), 2)
                    for x, y in zip(s["half_load"]["rounds"], e["half_load"]["rounds"], strict=True)
                ],
                "server_cpu_ms_per_tap": [round(x["cpu_ms_per_tap"], 4) for x in s["half_load"]["rounds"]],
                "echo_cpu_ms_per_tap": [round(x["cpu_ms_per_tap"], 4) for x in e["half_load"]["rounds"]],
                # the server's own share (take a batch → answers written) and its CPU: steadier on a shared machine
                "worker_batch_ms_p99": [x["worker"].get("batch_ms_p99") for x in s["half_load"]["rounds"]],
                "worker_cpu_ms_per_message": [x["worker"].get("cpu_ms_per_message") for x in s["half_load"]["rounds"]],
                # the longest commit (WAL write and sync) of each round: a disk's stall shows here
                "worker_commit_ms_max": [x["worker"].get("commit_ms_max") for x in s["half_load"]["rounds"]],
                # where the slowest 1 % of each round's taps spent their time (_breakdown)
                "slowest_1pct": [x.get("slowest") for x in s["half_load"]["rounds"]],
            },
        }
        out["half_load_cpu_ms_per_tap"] = round(statistics.median(out["half_load_rounds"]["server_cpu_ms_per_tap"]), 4)
        out["worker_batch_ms_p99"] = statistics.median(
            x for x in out["half_load_rounds"]["worker_batch_ms_p99"] if x is not None
        )
        if more:
            out["databases"] = [
                {
                    "db": labels[t],
                    "throughput_tps": round(results[t]["throughput_tps"], 1),
                    "throughput_vs_first": round(results[t]["throughput_tps"] / s["throughput_tps"], 3),
                    "saturation_rounds": results[t]["saturation_rounds"],
                    "cpu_ms_per_tap": round(results[t]["cpu_ms_per_tap"], 4),
                    "p50_ms": round(results[t]["half_load"]["p50_ms"], 2),
                    "p95_ms": round(results[t]["half_load"]["p95_ms"], 2),
                    "p99_ms": round(results[t]["half_load"]["p99_ms"], 2),
                    "p50_vs_first_ms": round(results[t]["half_load"]["p50_ms"] - s["half_load"]["p50_ms"], 2),
                    "half_load_p99_ms": [round(x["p99_ms"], 2) for x in results[t]["half_load"]["rounds"]],
                    "half_load_p50_ms": [round(x["p50_ms"], 2) for x in results[t]["half_load"]["rounds"]],
                    # the server's own share of the p50 (take a batch → answers written), per half-load round
                    "worker_batch_ms_p50": [
                        x.get("worker", {}).get("batch_ms_p50") for x in results[t]["half_load"]["rounds"]
                    ],
                    # PostgreSQL batches decided from memory in one round trip, as the server counted them
                    # at the end of each half-load round (since it started), and each round's batches
                    "one_trip": [x.get("worker", {}).get("one_trip") for x in results[t]["half_load"]["rounds"]],
                    "batches": [x.get("worker", {}).get("batches") for x in results[t]["half_load"]["rounds"]],
                    # PostgreSQL batches the two-round-trip path handed to the four-round-trip one, by reason
                    "fallbacks": _sum_counts(
                        x.get("worker", {}).get("fallbacks") for x in results[t]["half_load"]["rounds"]
                    ),
                }
                for t in ("server", *more)
            ]
        if args.sun:
            u = results["server-sun"]
            out["sun"] = {
                "throughput_tps": round(u["throughput_tps"], 1),
                "cpu_ms_per_tap": round(u["cpu_ms_per_tap"], 4),
                "uid_only_cpu_ms_per_tap": round(s["cpu_ms_per_tap"], 4),
                "added_cpu_ms_per_tap": round(u["cpu_ms_per_tap"] - s["cpu_ms_per_tap"], 4),
                "p50_ms": round(u["half_load"]["p50_ms"], 2),
                "p99_ms": round(u["half_load"]["p99_ms"], 2),
                "verify_us": round(_verify_us(), 1),
            }
        if db_campaigns:
            out["campaigns"] = campaign_figures
        if mail_figures is not None:
            out["mail"] = mail_figures
        if args.json:
            print(json.dumps(out))
        else:
            print(
                f"\nthroughput: server {out['throughput_tps']:.0f} taps/s, echo {out['echo_throughput_tps']:.0f} "
                f"taps/s, ratio {out['throughput_ratio']:.2f} (target >= 0.70)"
            )
            print(
                f"latency at half load ({out['half_load_tps']:.0f} taps/s, median of {args.rounds} rounds): server p50 {out['p50_ms']:.1f} ms "
                f"p95 {out['p95_ms']:.1f} ms p99 {out['p99_ms']:.1f} ms; echo p99 {out['echo_p99_ms']:.1f} ms; "
                f"ratio {out['p99_ratio']:.2f} (target <= 3)"
            )
            print(
                f"server CPU {out['cpu_ms_per_tap']:.3f} ms/tap on {out['db']} (echo {out['echo_cpu_ms_per_tap']:.3f}); "
                f"at half load {out['half_load_cpu_ms_per_tap']:.3f} ms/tap"
            )
            print(
                f"per round: p99 ratio {out['half_load_rounds']['p99_ratio']}; the worker's own batch time p99 "
                f"{out['half_load_rounds']['worker_batch_ms_p99']} ms (median {out['worker_batch_ms_p99']:.1f}); "
                f"its longest commit {out['half_load_rounds']['worker_commit_ms_max']} ms"
            )
            if disk is not None:
                print(f"the disk alone, before: {_disk_line(disk)}")
            for d in out.get("databases", [])[1:]:
                print(
                    f"{d['db']}: {d['throughput_tps']:.0f} taps/s = {d['throughput_vs_first']:.2f} x {out['db']}'s "
                    f"(target >= 0.80); half-load p50 {d['p50_ms']:.1f} ms ({d['p50_vs_first_ms']:+.1f} ms, target "
                    f"within 2), p99 {d['p99_ms']:.1f} ms; server CPU {d['cpu_ms_per_tap']:.3f} ms/tap; "
                    f"worker batch p50 per round {d['worker_batch_ms_p50']} ms (first: "
                    f"{out['databases'][0]['worker_batch_ms_p50']}); fallbacks {d['fallbacks'] or 'none'}; "
                    f"one round trip (from memory) {d['one_trip']} of batches per round {d['batches']}"
                )
            if args.sun:
                x = out["sun"]
                print(
                    f"SUN: {x['throughput_tps']:.0f} taps/s; server CPU {x['cpu_ms_per_tap']:.3f} ms/tap vs UID-only "
                    f"{x['uid_only_cpu_ms_per_tap']:.3f} (+{x['added_cpu_ms_per_tap']:.3f} ms, target <= 0.2); "
                    f"half-load p50 {x['p50_ms']:.1f} ms p99 {x['p99_ms']:.1f} ms; verify() alone {x['verify_us']:.0f} us"
                )
            if db_campaigns:
                c = out["campaigns"]
                print(
                    f"campaigns: {c['campaigns']} running, {c['activities']} activities: {c['throughput_tps']:.0f} "
                    f"taps/s vs {c['plain_throughput_tps']:.0f} without (median of {args.campaign_rounds} alternating "
                    f"rounds), ratio {c['ratio']:.2f} (target >= 0.90); server CPU {c['cpu_ms_per_tap']:.3f} vs "
                    f"{c['plain_cpu_ms_per_tap']:.3f} ms/tap"
                )
            if mail_figures is not None:
                x = out["mail"]
                print(
                    f"mail: a segment message to {x['queued']} members queued in {x['queue_s']:.2f} s (target < 10); "
                    f"taps {x['sending_throughput_tps']:.0f}/s while sending at up to {x['rate_per_second']:.0f} "
                    f"mails/s vs {x['quiet_throughput_tps']:.0f}/s quiet (median of {args.mail_rounds} alternating "
                    f"rounds), ratio {x['ratio']:.2f} (target >= 0.90); server CPU {x['sending_cpu_ms_per_tap']:.3f} "
                    f"ms/tap sending vs {x['quiet_cpu_ms_per_tap']:.3f} quiet; mails sent during the rounds "
                    f"{x['mails_sent_during_rounds']}"
                )
        return 0
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        if embedded is not None:
            embedded.stop()
        for server_url, name in made_pg:
            try:
                _drop_postgresql(server_url, name)
            except Exception as exc:  # the figures are printed; say what is left behind
                print(f"could not drop bench database {name}: {exc}", file=sys.stderr)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}", file=sys.stderr)


#: a tap's way, in order: the parts :func:`_breakdown` splits its latency into
LEGS = (
    ("to_server", "to the server"),  # sent → read by the worker (waits while it decides the batch before)
    ("queued", "queued"),  # read → its batch taken
    ("decide", "decided"),  # batch taken → decided (the batch's statements and Python), its commit apart
    ("commit", "committed"),  # the batch's COMMIT: the WAL written and synced (a stalling disk shows here)
    ("answer", "answered"),  # committed → results and acks written
    ("to_client", "back to the device"),  # written → the device's handler
)


def _breakdown(wall: dict[str, tuple[float, float]], trace: list, measured: str = "") -> dict:
    """Where the slowest 1 % of a server's taps spent their time, in ms (mean of each leg), and every tap's median.

    ``wall`` is the load's (sent, received) per tap; ``trace`` the server's own
    ``[tap_id, read, taken, decided, written, commit]`` rows (one machine, one wall clock;
    ``commit``: the seconds the batch spent committing, inside taken → decided). The legs
    add up to the latency the device saw. Only the taps whose id starts with ``measured``
    count (a round's timed taps, not its warm-up burst).
    """
    trace = [t for t in trace if t[0].startswith(measured)]
    rows = []
    for tap_id, read, taken, decided, written, commit in trace:
        if tap_id in wall:
            sent, received = wall[tap_id]
            legs = (read - sent, taken - read, decided - taken - commit, commit, written - decided, received - written)
            rows.append((received - sent, legs))
    if not rows:
        return {}
    rows.sort(key=lambda r: r[0])
    slow = rows[-max(1, len(rows) // 100) :]
    out = {"taps": len(rows), "slowest": len(slow)}
    for k, (key, _) in enumerate(LEGS):
        out[key + "_ms"] = round(statistics.fmean(r[1][k] for r in slow) * 1000, 2)
        out[key + "_p50_ms"] = round(statistics.median(r[1][k] for r in rows) * 1000, 3)
    out["total_ms"] = round(statistics.fmean(r[0] for r in slow) * 1000, 2)
    return out


def _breakdown_line(b: dict) -> str:
    """One line of :func:`_breakdown`'s slowest 1 %: each leg's mean, then its median over every tap."""
    legs = ", ".join(f"{label} {b[key + '_ms']:.1f}" for key, label in LEGS)
    p50 = "/".join(f"{b[key + '_p50_ms']:.2f}" for key, _ in LEGS)
    return f"{b['total_ms']:.1f} ms = {legs} (every tap's medians: {p50} ms)"


def _sum_counts(counts) -> dict:
    """Counters (dicts of name -> count, or None) added up."""
    total: dict = {}
    for c in counts:
        for k, v in (c or {}).items():
            total[k] = total.get(k, 0) + v
    return total
