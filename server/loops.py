"""The server's background jobs: each kept running through bugs, and never silent about them.

Beside the tap worker, :class:`server.app.PointsServer` runs auxiliary jobs in their own
threads — the publisher (devices' retained configs, the allow-list), the daily term close,
the message triggers, the mail sender and, with an ILS, payment settlement. Each job is a
*round* (a function returning how long to wait before the next) that :func:`run_rounds`
calls again and again::

    round raises ── infrastructure (retry.is_infrastructure: the database unavailable)
         │             → WARNING once when the outage starts and once when it ends;
         │               wait 0.2 s doubling to 10 s, as the worker's retry policy does
         └──────── anything else (a bug, a row or template the code does not expect)
                       → ERROR with the traceback the first time, then at most once a
                         minute for the same failure, with how often it repeated;
                         wait 1 s doubling to 60 s (reset by a good round); the job's
                         health says "failing" until a round succeeds again (but see
                         "on and off" below)

A job never ends the process, unlike the tap worker (``PointsServer._work``): a restart
stops every gate's credits for its duration, and a bug that fails every round (a mail
template, one corrupt device row) would make that a restart loop. Taps go on being
credited; the failing job is visible in ``PointsServer.stats["jobs"]``, in the log, and —
when the server runs with a state directory (systemd's ``StateDirectory=``, or
``PRIVCARD_HEALTH_FILE``) — in the JSON file ``privcard doctor`` reads.

A round that never returns (a socket read without a timeout, a lock nobody releases) raises
nothing, so none of the above sees it. Each job's health therefore also carries when its
current round started (``round_started_at``, None between rounds), when its last one ended
(``round_finished_at``) and how long it waits between rounds (``interval_s``): ``privcard
doctor`` warns about a round running past that and fails one running far past it
(``broker/server_health.py``: the thresholds doctor and this module share). The server says
so itself too, from a thread that is not stuck: the main thread's watchdog loop calls
:meth:`Health.watch`, which logs a WARNING once when a round runs past the first threshold,
and the job logs again when that round finally ends (``round finished after N min``).

A job may fail on and off: a bug that only some rounds meet (every other round, one row in
a batch that comes and goes). Were every good round a recovery, each would log "works again"
and the next failure its traceback afresh. So, with :data:`RECOVER_AFTER_S` and
:data:`LOG_EVERY_S` (both a minute):

- the first good round after a failure is a recovery at once ("works again", health
  "running"), as above: the usual case, a row or setting that staff repaired;
- a job failing again within a minute of that recovery fails *on and off* (its health:
  ``intermittent``): the relapse is logged in one line (ERROR; with a traceback only when it is
  a failure not logged before), its health goes back to "failing" since the
  first failure, with the failed rounds counted on, and it stays "failing" through its good
  rounds — ``privcard doctor`` shows it failing — until it has gone a minute without failing;
  the good round after that minute logs "works again" (on and off), once;
- meanwhile the same failure (same exception type, raised at the same place) is logged at most
  once a minute, with how often it repeated since; a recovery does not reset that, so a failure
  logged less than a minute ago is not logged with its traceback again after a "works again".

So a job whose rounds alternate logs its traceback once, "works again" once, the relapse once,
then one line a minute while it goes on, and "works again" once when it stops.

A round may also say it tried nothing (:class:`Idle`: the publisher while the broker is
away). It proves neither a failure nor a recovery: a job failing on a bug stays "failing",
so a broker that comes and goes does not turn each reconnect into a "works again" and the
same failure's traceback logged afresh.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from broker import server_health
from server import store
from server.services import retry

log = logging.getLogger(__name__)

#: a failing job waits this long before its next round, doubling up to :data:`BUG_MAX_DELAY_S`
BUG_FIRST_DELAY_S = 1.0
BUG_MAX_DELAY_S = 60.0
#: the same failure is logged again at most this often (with how often it repeated meanwhile)
LOG_EVERY_S = 60.0
#: a job that failed again within this long of its recovery fails on and off: it counts as working
#: again only after this long without a failure (see the module docstring)
RECOVER_AFTER_S = 60.0
#: the file name ``privcard doctor`` reads in the server's state directory
HEALTH_FILE = server_health.HEALTH_FILE
#: the rounds' start and end times reach the file at most this often (they are in ``stats`` at
#: once). Writing on every round would rewrite it several times a second (the sender, the
#: publisher) for a reader that only acts on a round stuck for ten minutes or more; the end of a
#: round the file shows running is written at once, so a long round that ends clears doctor's
#: warning without waiting for the next refresh.
HEALTH_REFRESH_S = 30.0


def health_path_from_env(env=os.environ) -> str | None:
    """Where the server reports its jobs' health: ``PRIVCARD_HEALTH_FILE``, else the state directory systemd gives.

    ``privcard-server.service`` sets ``StateDirectory=privcard``, so systemd exports
    ``STATE_DIRECTORY=/var/lib/privcard``. Run by hand, without either: no file (the
    health is in the server's stats and its log).
    """
    if env.get("PRIVCARD_HEALTH_FILE"):
        return env["PRIVCARD_HEALTH_FILE"]
    state = env.get("STATE_DIRECTORY", "").split(":")[0]
    return str(Path(state, HEALTH_FILE)) if state else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _took(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.1f} s"


class Idle(float):
    """What a round returns (its wait, in seconds) when it tried nothing: see the module docstring."""


@dataclass
class JobHealth:
    """One background job's health, as the stats and the health file carry it."""

    #: running (its last round succeeded, or none ended yet) | failing (its last round raised a bug) |
    #: stopped (its thread ended on something the rounds could not catch: restart the server)
    state: str = "running"
    #: rounds that raised a bug since the server started
    errors: int = 0
    #: rounds that raised a bug since ``failing_since``: in a row, unless ``intermittent``
    failing_rounds: int = 0
    failing_since: str | None = None
    #: failing on and off (it failed again within :data:`RECOVER_AFTER_S` of a recovery): "failing"
    #: through its good rounds too, until it has gone that long without a failure
    intermittent: bool = False
    last_error: str | None = None
    last_error_at: str | None = None
    #: when a failing job last succeeded again
    recovered_at: str | None = None
    #: when the round now running started; None between rounds
    round_started_at: str | None = None
    #: when its last round ended (returned or raised)
    round_finished_at: str | None = None
    #: how long it waits after its last round (its normal pace: what doctor's "hung" is measured by)
    interval_s: float = 0.0
    #: its longest round so far, in seconds
    longest_round_s: float = 0.0


class Health:
    """Every background job's health, in memory (``stats``) and in the health file when there is one.

    Each job's entry is changed by its own thread only; the file is rewritten whole
    (write, then rename) when an entry changes — on a failed round (at most once a
    second, and once a minute once the back-off is at its cap) and on a recovery — and
    for the rounds' times at most every :data:`HEALTH_REFRESH_S` (see there).
    """

    def __init__(self, path: str | None, jobs: dict):
        self.path = path
        #: job name -> its :class:`JobHealth` as a dict (the server's ``stats["jobs"]``)
        self.jobs = jobs
        self._objects: dict[str, JobHealth] = {}
        self._lock = threading.Lock()
        self._started = _now()
        self._write_failed = False
        #: when the file was last (tried to be) written, monotonic; None: never
        self._written_at: float | None = None
        #: the jobs the file last written shows in the middle of a round
        self._shown_in_round: frozenset[str] = frozenset()
        #: how many times the file was written (the cost :data:`HEALTH_REFRESH_S` keeps down)
        self.writes = 0
        #: job name -> when its running round started (monotonic); absent between rounds
        self._began: dict[str, float] = {}
        #: job name -> the threshold its running round was logged as long past (see :meth:`watch`)
        self._warned: dict[str, float] = {}
        self._watch_lock = threading.Lock()

    def add(self, name: str) -> JobHealth:
        """A job's health, registered the first time it is asked for (before its thread starts)."""
        if name not in self._objects:
            self._objects[name] = JobHealth()
            self.jobs[name] = asdict(self._objects[name])
        return self._objects[name]

    def changed(self, name: str, job: JobHealth) -> None:
        """Publish a job's new health to the stats and the file."""
        self.jobs[name] = asdict(job)
        self.write()

    def round_started(self, name: str, job: JobHealth, began: float | None = None) -> None:
        """A job's round started (at ``began``, monotonic): in the stats now, in the file when a refresh is due."""
        with self._watch_lock:
            self._began[name] = time.monotonic() if began is None else began
        self.jobs[name] = asdict(job)
        if self._refresh_due():
            self.write()

    def round_ended(self, name: str, took: float) -> None:
        """A job's round ended after ``took`` s: if :meth:`watch` logged it as long, say it is over."""
        with self._watch_lock:
            self._began.pop(name, None)
            limit = self._warned.pop(name, None)
        if limit is not None:
            log.warning(
                "background job %s: round finished after %s (past the %s a round of it normally takes)",
                name,
                _took(took),
                _took(limit),
            )

    def watch(self, now: float | None = None) -> None:
        """Log each round running past :func:`broker.server_health.hung_after_s`, once (the main thread calls it).

        A few comparisons per job: cheap enough for the watchdog loop. Not done by the job's
        own thread, which is the one stuck.
        """
        now = time.monotonic() if now is None else now
        with self._watch_lock:
            long = []
            for name, began in self._began.items():
                job = self._objects.get(name)
                if job is None or job.state == "stopped":  # its thread ended in the round: not hung, said so
                    continue
                limit = server_health.hung_after_s(job.interval_s)
                if name not in self._warned and now - began > limit:
                    self._warned[name] = limit
                    long.append((name, now - began, limit, job.round_started_at))
        for name, took, limit, since in long:
            log.warning(
                "background job %s: one round running for %s, since %s — past the %s a round of it normally "
                "takes; it may be hung (privcard doctor warns now, and fails it after %s)",
                name,
                _took(took),
                since,
                _took(limit),
                _took(limit * server_health.HUNG_FAIL_FACTOR),
            )

    def round_finished(self, name: str, job: JobHealth) -> None:
        """A job's round ended: in the stats now, in the file at once if it shows the round running."""
        self.jobs[name] = asdict(job)
        if name in self._shown_in_round or self._refresh_due():
            self.write()

    def _refresh_due(self) -> bool:
        return bool(self.path) and (self._written_at is None or time.monotonic() - self._written_at >= HEALTH_REFRESH_S)

    def write(self) -> None:
        """Rewrite the health file (when there is one); a failure is logged once, never raised."""
        if not self.path:
            return
        try:
            with self._lock:  # the snapshot inside: a later write never carries older entries
                jobs = dict(self.jobs)
                report = {"pid": os.getpid(), "started_at": self._started, "updated_at": _now(), "jobs": jobs}
                self._written_at = time.monotonic()  # a failing write is not retried on every round either
                tmp = f"{self.path}.{os.getpid()}.tmp"
                with open(tmp, "w", encoding="utf-8") as fh:
                    json.dump(report, fh, ensure_ascii=False, indent=1)
                os.replace(tmp, self.path)
                self._shown_in_round = frozenset(n for n, h in jobs.items() if h.get("round_started_at"))
                self.writes += 1
            self._write_failed = False
        except OSError as exc:
            if not self._write_failed:
                log.warning("cannot write the jobs' health to %s: %s", self.path, exc)
            self._write_failed = True

    def remove(self) -> None:
        """Take the file away at a clean stop (a stale file would speak for a server that is gone)."""
        if self.path:
            try:
                os.unlink(self.path)
            except OSError:
                pass


def _signature(exc: BaseException) -> tuple:
    """What makes two failures "the same": the exception's type and where it was raised.

    Not its message, which often names the row or member it was about.
    """
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = (tb.tb_frame.f_code.co_filename, tb.tb_lineno) if tb is not None else None
    return type(exc).__qualname__, where


def _said(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _close_connection() -> None:
    """Drop this thread's database connection, so the next round opens a fresh one."""
    try:
        store.db.close()
    except Exception as exc:  # a connection that cannot even close: the next round reopens it
        log.debug("closing the database connection failed: %s", exc)


class _Rounds:
    """The state of one job between rounds: back-offs, the failure being logged, its health."""

    def __init__(self, name: str, health: Health, min_wait_s: float, first_wait_s: float = 0.0):
        self.name = name
        self.health = health
        self.job = health.add(name)
        self.job.interval_s = max(first_wait_s, min_wait_s)  # its pace until a round says otherwise
        self.min_wait_s = min_wait_s
        self._began = 0.0
        self.bug_delay = BUG_FIRST_DELAY_S
        self.outage_delay = retry.FIRST_DELAY_S
        self.outage: tuple[float, int] | None = None  # (since, attempts)
        #: per failure signature: (monotonic time it was last logged, repeats since); kept across recoveries
        self.logged: dict[tuple, list] = {}
        #: when its last round failed, and when it was last logged as working again (monotonic)
        self.failed_at: float | None = None
        self.recovered_at: float | None = None
        #: (failing_since, failing_rounds) of the failure it last recovered from: a relapse goes on counting
        self.recovered_from: tuple[str | None, int] = (None, 0)

    def begin(self) -> None:
        """A round starts now."""
        self._began = time.monotonic()
        self.job.round_started_at = _now()
        self.health.round_started(self.name, self.job, self._began)

    def end(self) -> None:
        """The round ended (returned or raised): its times, published with its outcome by :meth:`finished`."""
        took = time.monotonic() - self._began
        self.job.round_started_at, self.job.round_finished_at = None, _now()
        self.job.longest_round_s = round(max(self.job.longest_round_s, took), 3)
        self.health.round_ended(self.name, took)

    def finished(self, wait: float) -> None:
        """The round's outcome is known and the job waits ``wait`` s: publish its times and pace."""
        self.job.interval_s = round(wait, 3)
        self.health.round_finished(self.name, self.job)

    def good(self) -> None:
        if self.outage is not None:
            since, attempts = self.outage
            log.warning(
                "background job %s: database available again after %d attempt(s), %.1f s",
                self.name,
                attempts,
                time.monotonic() - since,
            )
        job, now = self.job, time.monotonic()
        if job.state == "failing" and job.intermittent and now - self.failed_at < RECOVER_AFTER_S:
            pass  # failing on and off: not working again before a minute without a failure
        elif job.state == "failing":
            unsaid = sum(seen[1] for seen in self.logged.values())
            log.warning(
                "background job %s works again after %d failed round(s) since %s%s%s",
                self.name,
                job.failing_rounds,
                job.failing_since,
                f", on and off (none in the last {RECOVER_AFTER_S:.0f} s)" if job.intermittent else "",
                f"; {unsaid} of them not logged" if unsaid else "",
            )
            for seen in self.logged.values():  # said here: the next line counts from now
                seen[1] = 0
            self.recovered_from = (job.failing_since, job.failing_rounds)
            job.state, job.failing_rounds, job.failing_since, job.intermittent = "running", 0, None, False
            job.recovered_at, self.recovered_at = _now(), now
            self.health.changed(self.name, job)
        self.outage = None
        self.bug_delay, self.outage_delay = BUG_FIRST_DELAY_S, retry.FIRST_DELAY_S

    def infrastructure(self, exc: BaseException) -> float:
        if self.outage is None:
            self.outage = (time.monotonic(), 0)
            log.warning("background job %s: database unavailable (%s); retrying until it answers", self.name, exc)
        since, attempts = self.outage
        self.outage = (since, attempts + 1)
        log.debug("background job %s: attempt %d failed", self.name, attempts + 1, exc_info=exc)
        wait, self.outage_delay = self.outage_delay, min(self.outage_delay * 2, retry.MAX_DELAY_S)
        return max(wait, self.min_wait_s)

    def bug(self, exc: BaseException) -> float:
        wait, self.bug_delay = max(self.bug_delay, self.min_wait_s), min(self.bug_delay * 2, BUG_MAX_DELAY_S)
        job, now, mono = self.job, _now(), time.monotonic()
        fresh = job.state != "failing"  # the first failed round since it ran well (or ever)
        relapse = fresh and self.recovered_at is not None and mono - self.recovered_at < RECOVER_AFTER_S
        if relapse:  # failing on and off: the failure it recovered from goes on
            job.state, job.intermittent = "failing", True
            job.failing_since, job.failing_rounds = self.recovered_from
        elif fresh:
            job.state, job.failing_since, job.failing_rounds, job.intermittent = "failing", now, 0, False
        job.errors += 1
        job.failing_rounds += 1
        job.last_error, job.last_error_at = _said(exc), now
        self.failed_at = mono
        self.health.changed(self.name, job)
        key = _signature(exc)
        seen = self.logged.get(key)
        if seen is None or (fresh and not relapse and mono - seen[0] >= LOG_EVERY_S):
            self.logged[key] = [mono, 0]
            log.error(
                "background job %s failed (%s); taps are still credited; it runs again in %.0f s, "
                "and this failure is logged again at most once a minute%s",  # relapse: "; this is N s after…"
                self.name,
                job.last_error,
                wait,
                f"; this is {self._on_and_off(mono)}" if relapse else "",
                exc_info=exc,
            )
        elif relapse:  # the same failure, logged with its traceback less than a minute ago: one line
            log.error(
                "background job %s failed again (%s) %s; %d failed round(s) since %s",
                self.name,
                job.last_error,
                self._on_and_off(mono),
                job.failing_rounds,
                job.failing_since,
            )
            seen[0], seen[1] = mono, 0
        else:
            seen[1] += 1
            if mono - seen[0] >= LOG_EVERY_S:
                log.error(
                    "background job %s failed again (%s): %d more time(s) in the last %.0f s, "
                    "%d round(s) %s since %s; it runs again in %.0f s",
                    self.name,
                    job.last_error,
                    seen[1],
                    mono - seen[0],
                    job.failing_rounds,
                    "failed on and off" if job.intermittent else "in a row",
                    job.failing_since,
                    wait,
                )
                seen[0], seen[1] = mono, 0
        return wait

    def _on_and_off(self, mono: float) -> str:
        return (
            f"{mono - self.recovered_at:.0f} s after it worked again: it fails on and off, and counts as "
            f"working again only after {RECOVER_AFTER_S:.0f} s without a failure (its health says failing till then)"
        )


def run_rounds(
    name: str,
    round_: Callable[[], float],
    *,
    stopping: threading.Event,
    health: Health,
    after_error: Callable[[], None] | None = None,
    first_wait_s: float = 0.0,
    min_wait_s: float = 0.0,
) -> None:
    """Call ``round_`` until ``stopping`` is set, waiting what it returns between rounds (0: at once).

    A round that raises is handled as the module docstring says; ``after_error`` runs
    then (the publisher asks for everything to be published again). A round that returns
    an :class:`Idle` wait tried nothing: it neither ends a failure nor an outage. ``min_wait_s``
    keeps a failing job from running more often than it normally would (the ILS is not
    asked more often than its ``retry_interval_s``). Something that escapes even this
    (a ``SystemExit`` from a library, a bug in the logging) marks the job ``stopped``
    and is logged at CRITICAL: the thread ends, loudly.
    """
    rounds = _Rounds(name, health, min_wait_s, first_wait_s)
    try:
        if first_wait_s and stopping.wait(first_wait_s):
            return
        while not stopping.is_set():
            rounds.begin()
            try:
                wait = round_()
            except Exception as exc:
                rounds.end()
                _close_connection()
                if after_error is not None:
                    after_error()
                wait = rounds.infrastructure(exc) if retry.is_infrastructure(exc) else rounds.bug(exc)
            else:
                rounds.end()
                if isinstance(wait, Idle):
                    pass  # it tried nothing: a failure or an outage it was in goes on until a round tries
                elif rounds.outage is not None or rounds.job.state == "failing":
                    rounds.good()
            rounds.finished(wait)
            if wait > 0:
                stopping.wait(wait)
    except BaseException as exc:
        rounds.job.state, rounds.job.last_error, rounds.job.last_error_at = "stopped", _said(exc), _now()
        rounds.job.round_started_at = None  # not hung: ended (doctor says so, and that a restart is needed)
        health.changed(name, rounds.job)
        log.critical(
            "background job %s stopped (%s): taps are still credited, but it will not run again "
            "until the server is restarted",
            name,
            _said(exc),
            exc_info=exc,
        )
