"""The points server process: MQTT in, decisions committed, results out.

One :class:`PointsServer` wires the bus client, the store and the service:

- one worker thread owns the MQTT connection (``BusClient(own_loop=True)``): it
  reads everything that has arrived, decides it as one batch (group commit), then
  publishes each ``result``/``answer`` and only then acks the MQTT message (manual
  ack) — so a ``kill -9`` anywhere either loses nothing (the broker redelivers the
  unacked message to the persistent session, or the gate resends from its outbox)
  or answers a redelivery from the tap inbox. No message crosses a thread between
  arriving and being answered (each hand-off cost milliseconds at the tail);
- a self-check proxy's ``checkout`` is decided like a tap, in the same batch, and
  answered on the proxy's ``result`` topic;
- a publisher thread keeps every device's retained ``config`` and the retained
  ``allowlist`` up to date (it polls two counters, so changes made by the CLI or
  the web console in other processes reach the devices within a second);
- the term close, the message triggers, the mail sender (with ``[mail]``) and (with an
  ILS) payment settlement run in threads of their own too. Each of these auxiliary jobs is a round that :func:`server.loops.run_rounds`
  repeats: a bug in one is logged, backed off and retried, and shown in ``stats["jobs"]``
  and to ``privcard doctor`` — it never stops the worker, nor the process.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass

from broker import contract
from broker.client import BusClient, parse_mqtt_url
from broker.contract import Checkout, ContractError, Feedback, Query, Status, Tap
from server import loops, store
from server.domain import rules
from server.domain.config import Programme
from server.services import bootstrap, retry

log = logging.getLogger(__name__)

#: how long the worker's SQLite connection waits for another writer's lock before the
#: retry policy takes over (far below the MQTT keep-alive; see _worker_connection)
WORKER_BUSY_TIMEOUT_MS = 250
#: after its last batch the worker counts as busy this long more (taps come in bursts; the sender waits)
TAPS_QUIET_S = 0.5
#: on PostgreSQL, MQTT read rounds between two looks at a statement's result (store.work_while_waiting):
#: reading a full batch's worth (256) at once made the batch wait for the reading at half load
WAIT_READS = 8
#: the last this many batches' timings are kept (:meth:`PointsServer.timings`)
TIMINGS_KEPT = 100_000
#: how long the publisher waits for the broker to confirm a retained config or allow-list (PUBACK)
PUBLISH_TIMEOUT_S = 5.0


@dataclass
class Incoming:
    """A message waiting for the worker."""

    kind: str
    device_id: str
    payload: bytes
    msg: object
    received: object
    done: bool = False  # answered and acked: a retry of its batch skips it
    #: the tap's id once parsed (the trace joins on it)
    ref: str | None = None


class PointsServer:
    """The server: consume taps/queries/feedback/status, decide, commit, answer."""

    def __init__(
        self,
        db_url: str,
        mqtt_url: str,
        prog: Programme,
        *,
        client_id: str = "privcard-server",
        shared_group: str | None = None,
        prefix: str = contract.DEFAULT_PREFIX,
        batch_max: int = 256,
        poll_s: float = 1.0,
        persistent: bool = True,
        keyring=None,
        ils=None,
        mail=None,
        health_file: str | None = None,
    ):
        self.db_url = db_url
        self.mqtt_url = mqtt_url
        self.prog = prog
        self.prefix = prefix
        self.batch_max = batch_max
        self.poll_s = poll_s
        self.shared_group = shared_group
        self.service = bootstrap(prog, keyring=keyring, ils=ils, mail=mail)
        # replicas change each other's members: each batch is read (server.services.taps._Memory)
        self.service.taps.remember = shared_group is None
        #: messages read by the worker's bus.loop() and not yet decided (worker thread only)
        self.inbox: list[Incoming] = []
        self.stopping = threading.Event()
        #: set when the process should end: a signal (``privcard server`` sets it), or the worker
        #: stopped on a bug (:attr:`failed`) — the server exits so systemd starts it afresh
        self.halt = threading.Event()
        #: the exception the worker thread stopped on (None while it runs, or after a clean stop)
        self.failed: BaseException | None = None
        self._republish = threading.Event()
        self._threads: list[threading.Thread] = []
        #: the worker had something to decide until about then (monotonic); the sender reads it
        self.busy_until = 0.0
        self.stats = {"taps": 0, "invalid": 0, "queries": 0, "batches": 0, "errors": 0, "jobs": {}}
        #: the background jobs' health (stats["jobs"], and the file privcard doctor reads): server/loops.py
        self.health = loops.Health(health_file or loops.health_path_from_env(), self.stats["jobs"])
        #: the publisher's last allow-list version sent, the term close's last day, the daily messages' last day
        self._last_allowlist = None
        #: what the publisher sent without the broker confirming it, said once (publisher thread only):
        #: ("config", device id) or ("allowlist",) -> the revision or version sent
        self._unconfirmed: dict[tuple, int] = {}
        self._terms_done = None
        self._messages_day = None
        #: per batch (worker thread only): (seconds from taking it to its answers written,
        #: the worker's CPU seconds for the round that read and answered it, messages,
        #: seconds of it spent committing)
        self._timings: deque[tuple[float, float, int, float]] = deque(maxlen=TIMINGS_KEPT)
        #: per tap, when tracing (``privcard server --timings``): (tap_id, read, batch taken,
        #: decided and committed, answers written — wall-clock seconds —, and the seconds its
        #: batch spent committing) — ``privcard bench``
        #: joins them with its own send and receive times to say where a slow tap's time went
        self.trace: deque[tuple] | None = None
        self._decided_at = 0.0
        self.bus = BusClient(
            mqtt_url,
            client_id,
            persistent=persistent,
            manual_ack=True,
            protocol=5 if shared_group else None,
            own_loop=True,
            # Results are bounded by the taps in flight (each device's window), so MQTT 3.1.1
            # needs no cap of its own; with a cap paho walks every unacknowledged result on
            # each PUBACK (4 % of the worker's CPU at saturation). MQTT 5 keeps one: a broker
            # may announce a Receive Maximum, which paho does not enforce itself.
            max_inflight=1000 if shared_group or parse_mqtt_url(mqtt_url).protocol == 5 else 0,
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> PointsServer:
        """Open the database, subscribe, start the worker's thread and one per background job."""
        store.connect(self.db_url)
        for kind in ("tap", "checkout", "query", "feedback", "status"):
            topic = contract.device_wildcard(kind, self.prefix)
            if self.shared_group and kind != "status":
                topic = f"$share/{self.shared_group}/{topic}"
            self.bus.subscribe(topic, self._enqueue(kind), qos=1)
        self.bus.on_connect(lambda *_: self._republish.set())
        self.bus.start()  # own-loop: connects on the worker's first bus.loop()
        worker = threading.Thread(target=self._work, name="privcard-worker", daemon=True)
        worker.start()
        self._threads.append(worker)
        msgs = self.service.messages
        jobs = [
            ("publisher", self._publish_round, {"after_error": self._republish.set}),
            ("terms", self._terms_round, {}),
            ("messages", self._messages_round, {}),
        ]
        if msgs.configured:
            log.info("sending messages through %s", msgs.config.safe_url)
            jobs.append(("sender", self._send_round, {}))
        if self.service.ils.configured:
            interval = self.service.ils.config.retry_interval_s
            jobs.append(("ils", self._ils_round, {"first_wait_s": interval, "min_wait_s": interval}))
        for name, _, _ in jobs:
            self.health.add(name)
        self.health.write()  # before the threads: a stale file from a killed process is replaced at once
        for name, round_, options in jobs:
            t = threading.Thread(
                target=loops.run_rounds,
                args=(name, round_),
                kwargs={"stopping": self.stopping, "health": self.health, **options},
                name=f"privcard-{name}",
                daemon=True,
            )
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        """Finish the current batch, disconnect, close the database."""
        self.stopping.set()
        for t in self._threads:
            t.join(timeout=10)
        self.bus.stop()
        self.service.ils.close()
        store.db.close()
        self.health.remove()

    def _enqueue(self, kind: str):
        def handler(topic: str, payload: bytes, msg) -> None:
            try:
                device_id = contract.parse_topic(topic, self.prefix).device_id
            except ContractError as exc:
                log.warning("ignored message on %s: %s", topic[:120], exc)
                self.bus.ack(msg)
                return
            self.inbox.append(Incoming(kind, device_id, payload, msg, contract.now_utc()))

        return handler

    # ------------------------------------------------------------------ worker

    def _worker_connection(self) -> None:
        """The worker's own connection: on SQLite a short busy timeout, and no WAL checkpoints.

        The worker owns the MQTT connection, so it must never wait long on the database:
        while another connection holds the write lock (a long staff import, a backup) its
        ``BEGIN IMMEDIATE`` gives up after :data:`WORKER_BUSY_TIMEOUT_MS` and the retry
        policy waits in :meth:`_pause`, which keeps calling ``bus.loop()`` — pings go out,
        the broker keeps the connection, new messages queue in the inbox.

        A checkpoint copies the WAL into the database and fsyncs it (tens to hundreds of
        ms); done inside a tap commit it stalls every tap queued behind it. The publisher
        thread checkpoints instead (see :meth:`_checkpoint`).
        """
        if store.is_sqlite() and store.db.is_closed():
            store.db.connect(reuse_if_open=True)
            store.db.execute_sql("PRAGMA wal_autocheckpoint=0")
            store.db.execute_sql(f"PRAGMA busy_timeout={WORKER_BUSY_TIMEOUT_MS}")

    def _checkpoint(self) -> None:
        """Fold the WAL back into the database without blocking the worker's commits."""
        if store.is_sqlite():
            store.db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _work(self) -> None:
        """The worker thread; a bug that escapes the per-message handling ends the process, not the thread alone.

        A dead worker behind a live process would answer nothing while systemd's watchdog,
        pinged by the main thread, kept it running. Instead the failure is logged, and
        :attr:`halt` is set: ``privcard server`` stops and exits 1, systemd
        (``Restart=always``) starts it again. What was taken and not yet answered stays
        unacked in the persistent MQTT session, so the broker hands it to the new process;
        a gate keeps every unanswered tap in its outbox as well. Nothing is lost.
        """
        try:
            self._work_loop()
        except BaseException as exc:
            self.failed = exc
            log.critical(
                "the tap worker stopped on a bug (%s: %s); the server exits so it is started afresh "
                "(unanswered messages stay unacked and are delivered again)",
                type(exc).__name__,
                str(exc)[:200],
                exc_info=exc,
            )
            self.halt.set()
        finally:
            # the thread's id may be another thread's later: it must not inherit this bus's reading
            store.stop_working_while_waiting()

    def _work_loop(self) -> None:
        """Read what has arrived, decide it as one batch, write the answers.

        On PostgreSQL the worker reads MQTT while it waits for a statement's result
        (:func:`server.store.work_while_waiting`): the next batch is in the inbox, parsed
        by paho, by the time this one's answers are out. Only reading: what arrives is
        decided in the next batch, after this one's COMMIT, as before.
        """
        if not store.is_sqlite():
            store.work_while_waiting(
                self.bus.socket,
                lambda: len(self.inbox) < self.batch_max,
                # a few packets at a time: the statement's result is looked at between them
                lambda: self.bus.loop(0.0, max_reads=WAIT_READS),
            )
        while not self.stopping.is_set():
            cpu = time.thread_time()
            self.bus.loop(0.0 if self.inbox else 0.2, max_reads=self.batch_max)
            if not self.inbox:
                continue
            started = time.perf_counter()
            committing = store.commit_seconds()
            taken = time.time()
            batch = self.inbox[: self.batch_max]
            del self.inbox[: len(batch)]
            if any(item.kind != "status" for item in batch):  # a gate's heartbeat is not a tap
                self.busy_until = time.monotonic() + TAPS_QUIET_S
            self._worker_connection()
            if not self._decide(batch):
                return
            self.bus.flush()
            committed = store.commit_seconds() - committing  # the disk's part (a retried batch: every try's)
            self._timings.append((time.perf_counter() - started, time.thread_time() - cpu, len(batch), committed))
            if self.trace is not None:
                written = time.time()
                self.trace.extend(
                    (i.ref, i.received.timestamp(), taken, self._decided_at, written, committed) for i in batch if i.ref
                )

    def timings(self) -> dict:
        """The worker's own figures over its last :data:`TIMINGS_KEPT` batches (``privcard bench`` reports them).

        ``batch_ms``: from taking a batch to its answers written (decide, commit, publish,
        flush) — the server's share of a tap's latency, without the broker's and the
        network's; ``cpu_ms_per_message``: the worker thread's CPU time for reading,
        deciding and answering, per message. Both move less with a shared machine's load
        than the latency a device sees. ``commit_ms``: the part of a batch spent committing
        (:func:`server.store.commit_seconds`: the WAL written and synced), where a disk
        that stalls its fsync shows.
        """
        rows = list(self._timings)
        # per tap, when tracing: [tap_id, read, batch taken, decided, answers written] (wall-clock seconds),
        # and the seconds its batch spent committing
        trace = {"trace": [list(t) for t in self.trace]} if self.trace is not None else {}
        if not rows:
            return {"batches": 0, "messages": 0, **trace}
        ms = sorted(r[0] * 1000 for r in rows)
        commit_ms = sorted(r[3] * 1000 for r in rows)
        messages = sum(r[2] for r in rows)
        return {
            "batches": len(rows),
            "messages": messages,
            "batch_size_max": max(r[2] for r in rows),
            "batch_ms_p50": round(statistics.median(ms), 3),
            "batch_ms_p99": round(ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))], 3),
            "batch_ms_max": round(ms[-1], 3),
            # of which committing (the WAL written and synced to the disk): a slow disk shows here
            "commit_ms_p50": round(statistics.median(commit_ms), 3),
            "commit_ms_p99": round(commit_ms[min(len(commit_ms) - 1, round(0.99 * (len(commit_ms) - 1)))], 3),
            "commit_ms_max": round(commit_ms[-1], 3),
            "cpu_ms_per_message": round(sum(r[1] for r in rows) * 1000 / messages, 4),
            # PostgreSQL batches decided the four-round-trip way after all (another replica's rows, a promotion…)
            "fallbacks": dict(self.service.taps.fallbacks),
            # PostgreSQL batches decided from memory in one round trip (so far, this process)
            "one_trip": self.service.taps.one_trip,
            **trace,
        }

    def _pause(self, seconds: float) -> bool:
        """Wait out a back-off while keeping the MQTT connection alive; True when stopping.

        New messages keep arriving in the inbox meanwhile (they wait for the batch in hand).
        """
        end = time.monotonic() + seconds
        while not self.stopping.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return False
            self.bus.loop(min(0.2, left), max_reads=self.batch_max)
        return True

    def _decide(self, batch: list[Incoming]) -> bool:
        """Handle a batch under the service's retry policy; False when stopping.

        Database outages are retried by :func:`server.services.retry.retry` for as long as
        they last, waiting in :meth:`_pause` (so the MQTT connection stays alive): the
        messages stay unacked, nothing is answered, nothing is lost. A bug that one
        message triggers is not retried: the service gives up on that tap alone, and the
        worker acks it *without* a result (see :meth:`_give_up`) — the gate keeps the tap
        in its outbox and resends it, so it is never credited wrongly nor lost.
        """

        def attempt() -> None:
            self._worker_connection()
            self._handle([item for item in batch if not item.done])

        done, _ = retry.retry(attempt, pause=self._wait_out, what=f"a batch of {len(batch)}")
        return done

    def _wait_out(self, delay: float) -> bool:
        """Count a database outage and wait it out; True when stopping."""
        self.stats["errors"] += 1
        return self._pause(delay)

    def _give_up(self, item: Incoming, exc: Exception | None = None) -> None:
        """Ack a message that triggers a bug, without an answer: one log line, the traceback at debug.

        A tap's failure is logged where it failed (the tap service names the tap); ``exc``
        is given for the other kinds, whose one line is written here.
        """
        self.stats["poison"] = self.stats.get("poison", 0) + 1
        if exc is not None:
            log.error(
                "gave up on a %s from %s: it triggers a bug, acked without an answer: %s: %s",
                item.kind,
                item.device_id,
                type(exc).__name__,
                str(exc)[:200],
            )
            log.debug("the bug a %s from %s triggered", item.kind, item.device_id, exc_info=exc)
        self._ack(item)

    def _ack(self, item: Incoming) -> None:
        """Acknowledge a message once (after its commit and answer)."""
        if not item.done:
            item.done = True
            self.bus.ack(item.msg)

    def _handle(self, batch: list[Incoming]) -> None:
        taps, tap_msgs, others = [], [], []
        for item in batch:
            if item.kind not in ("tap", "checkout"):
                others.append(item)
                continue
            try:
                # a self-check proxy's checkout is decided with the taps, in the same commit
                tap = (Checkout if item.kind == "checkout" else Tap).parse(item.payload)
            except ContractError as exc:
                self._refuse_tap(item, exc)
                continue
            taps.append((item.device_id, tap, item.received))
            tap_msgs.append(item)
            item.ref = tap.tap_id
        if taps:
            results = self.service.taps.decide_batch(taps)  # one commit for the whole batch
            if self.trace is not None:
                self._decided_at = time.time()
            self.stats["batches"] += 1
            self.stats["taps"] += len(results)
            for (device_id, _, _), result, item in zip(taps, results, tap_msgs, strict=False):
                if result is None:
                    self._give_up(item)
                    continue
                self.bus.publish(contract.result_topic(device_id, self.prefix), result.encode())
                self._ack(item)
        for item in others:
            try:
                getattr(self, f"_on_{item.kind}")(item)
            except Exception as exc:
                if retry.is_infrastructure(exc):
                    raise
                self._give_up(item, exc)

    def _refuse_tap(self, item: Incoming, exc: ContractError) -> None:
        self.stats["invalid"] += 1
        log.warning("invalid %s from %s (%s): %s", item.kind, item.device_id, exc.ref or "no readable tap_id", exc)
        if exc.ref:
            result = contract.invalid_result(exc.ref, str(exc))
            self.bus.publish(contract.result_topic(item.device_id, self.prefix), result.encode())
        self._ack(item)

    def _on_query(self, item: Incoming) -> None:
        try:
            query = Query.parse(item.payload)
        except ContractError as exc:
            log.warning("invalid query from %s (%s): %s", item.device_id, exc.ref or "no readable query_id", exc)
            if exc.ref:
                answer = contract.Answer(
                    exc.ref, "invalid", message={"th": rules.message("invalid")["th"], "en": str(exc)[:200]}
                )
                self.bus.publish(contract.answer_topic(item.device_id, self.prefix), answer.encode())
            self._ack(item)
            return
        if query.pin is not None:
            answer = self.service.staff.unlock(item.device_id, query)
        else:
            answer = self.service.reads.answer_query(item.device_id, query)
        self.stats["queries"] += 1
        self.bus.publish(contract.answer_topic(item.device_id, self.prefix), answer.encode())
        self._ack(item)

    def _on_feedback(self, item: Incoming) -> None:
        try:
            fb = Feedback.parse(item.payload)
        except ContractError as exc:
            log.warning("invalid feedback from %s (%s): %s", item.device_id, exc.ref or "no readable id", exc)
        else:
            self.service.devices.record_feedback(item.device_id, fb)
        self._ack(item)

    def _on_status(self, item: Incoming) -> None:
        try:
            status = Status.parse(item.payload) if item.payload else None
        except ContractError as exc:
            log.warning("invalid status from %s: %s", item.device_id, exc)
        else:
            if status is not None and not self.service.devices.record_status(item.device_id, status):
                log.info("status from unknown device %s ignored", item.device_id)
        self._ack(item)

    # ------------------------------------------------------------------ retained config and allow-list

    def _published(self, info) -> bool:
        """Wait until the worker has written a publish (it owns the socket); False if stopping or timed out.

        Waits in short slices so a stop is never held up by a publish nobody will write
        (the worker has already left), and says so: a config that did not reach the broker
        is not marked published, so the next round sends it again.
        """
        deadline = time.monotonic() + PUBLISH_TIMEOUT_S
        while not self.stopping.is_set() and time.monotonic() < deadline:
            try:
                info.wait_for_publish(0.2)
            except (RuntimeError, ValueError):  # not queued: the connection dropped meanwhile
                return False
            if info.is_published():
                return True
        return False

    def _terms_round(self) -> float:
        """Once a business day, lapse the members whose term ended (off the tap path; docs/rules.md)."""
        today = self.service.today()
        if today != self._terms_done:
            report = self.service.terms.close(today, actor="server:daily")
            self._terms_done = today
            if report["lapsed"] or report["tiers"]:
                back = report["tiers"]
                log.info(
                    "term close %s: %d member(s) lapsed, %d points forfeited; %d tier(s) won by points put back "
                    "for the new term%s",
                    today,
                    len(report["lapsed"]),
                    report["forfeited_points"],
                    len(back),
                    (": " + ", ".join(f"#{r['member']} {r['from']}→{r['to']}" for r in back[:20]))
                    + (f", … ({len(back) - 20} more)" if len(back) > 20 else "")
                    if back
                    else "",
                )
        return max(self.poll_s, 30.0)

    def deciding(self) -> bool:
        """Whether the worker is deciding taps now or did within :data:`TAPS_QUIET_S` (no query: two reads).

        The sender slows to ``busy_rate_per_second`` while this is true, so taps come first.
        """
        return bool(self.inbox) or time.monotonic() < self.busy_until

    def _messages_round(self) -> float:
        """The message triggers (off the tap path: their own thread and short transactions).

        The level and tier jobs (credits since the last round) every few seconds; once a day
        the term-ending and monthly-statement jobs. Sending is the sender's job
        (:meth:`_send_round`), in a thread of its own: a bug in a trigger does not hold up
        the mail already queued, and the health of each says which one fails.
        """
        msgs = self.service.messages
        msgs.level_job()
        msgs.tier_job()
        today = self.service.today()
        if today != self._messages_day:
            msgs.daily_jobs(today)
            self._messages_day = today
        return max(self.poll_s, 5.0)

    def _send_round(self) -> float:
        """One round of due messages through ``[mail]``'s SMTP server (rate-limited, retried with back-off).

        See :meth:`server.services.messages.Messages.send_due`; the tap worker comes first
        (``busy``: the sender slows while it is deciding taps).
        """
        msgs = self.service.messages
        counts = msgs.send_due(stop=self.stopping, busy=self.deciding)
        if counts["sent"] or counts["failed"] or counts["retry"]:
            log.info("messages: %s", counts)
        if counts["sent"] or counts["skipped"]:
            return 0.0  # more may be due at once
        due = msgs.next_due_in()
        return max(min(self.poll_s, 1.0), 0.05) if due is None else min(max(due, 0.05), 5.0)

    def _ils_round(self) -> float:
        """Settle pending ILS payments, every ``retry_interval_s`` (off the tap path: its own thread)."""
        for res in self.service.ils.settle(actor="server"):
            log.info("ILS payment %s: %s", res["transaction"], res["status"])
        return self.service.ils.config.retry_interval_s

    def _confirmed(self, info, key: tuple, revision: int, what: str) -> bool:
        """Whether the broker confirmed a publish of the publisher's; if not, say so once for that revision.

        Only a confirmed publish is logged as published (and marked so): one the broker did not
        confirm in :data:`PUBLISH_TIMEOUT_S` — it went away meanwhile, or is too slow — is sent again
        by the next round. That is said at INFO the first time for this revision, at DEBUG after:
        a broker that answers nothing would otherwise add a line every round.
        """
        if self._published(info):
            self._unconfirmed.pop(key, None)
            return True
        if self.stopping.is_set():
            log.debug("%s not published: the server is stopping", what)
        elif self._unconfirmed.get(key) == revision:
            log.debug("%s still not confirmed by the broker; sent again next round", what)
        else:
            self._unconfirmed[key] = revision
            log.info(
                "%s not published yet: the broker did not confirm it (the connection dropped, or no answer within %g s); "
                "the next round sends it again",
                what,
                PUBLISH_TIMEOUT_S,
            )
        return False

    def _publish_round(self) -> float:
        """Publish the configs that changed (every one after a reconnect) and the allow-list when it changed.

        Without a broker connection it tries nothing, and says so (:class:`server.loops.Idle`):
        a publisher failing on a bad row stays "failing" while the broker is away, rather than
        "works again" at each outage and the same failure logged afresh at each reconnect.
        """
        if not self.bus.connected.is_set():
            self._checkpoint()
            return loops.Idle(self.poll_s)
        everything = self._republish.is_set()
        self._republish.clear()
        configs = self.service.devices.configs_to_publish(everything)
        for cfg, revision in configs:
            info = self.bus.publish(contract.config_topic(cfg.device_id, self.prefix), cfg.encode(), retain=True)
            if not self._confirmed(
                info, ("config", cfg.device_id), revision, f"config of {cfg.device_id} (revision {revision})"
            ):
                break  # stopping, or the broker is gone: the next round publishes it
            self.service.devices.mark_published(cfg.device_id, revision)
            log.info("published config of %s (revision %d)", cfg.device_id, revision)
        # the version is two cheap reads; the list itself is built only when it changed
        version = self.service.devices.allowlist_version()
        if everything or version != self._last_allowlist:
            allow = self.service.devices.allowlist()
            info = self.bus.publish(contract.allowlist_topic(self.prefix), allow.encode(), retain=True)
            what = f"allow-list version {allow.version} ({len(allow.uids)} cards)"
            if self._confirmed(info, ("allowlist",), allow.version, what):
                self._last_allowlist = allow.version
                log.info("published %s", what)
        self._checkpoint()
        return self.poll_s
