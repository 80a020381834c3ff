"""Events and their registration lists: create an event, preview a list, credit it.

An attendance list is CSV of card UIDs or member ids (optional header). Crediting is
idempotent: the accrual key is (member, activity, event day, event), so the same list
imported again credits nothing new. Bad rows are reported by line; good rows are kept.
The console keeps an uploaded list (``store.Upload``) between its preview and its
credit; both are made here, with the preview's rows shaped once for every viewer.

Long lists never hold the tap path. Every preview and import runs in chunks: an
import's chunk is one short write transaction (:data:`WRITE_CHUNK_ROWS` rows, followed
by a pause twice as long, so the tap worker waits at most one chunk for the SQLite
write lock), a preview's chunk (:data:`CHUNK_ROWS` rows) reads only and writes nothing
but its progress. The console and the API run them as *jobs*
(``store.ImportJob``) on a thread of their own (``server.web.jobs``); the CLI runs the
same job in its own process. A job's cursor (``next_line``) moves in the same
transaction as its chunk's credits, so a job killed at any point resumes where it
stopped and credits nothing twice. Limits: :data:`MAX_ROWS` rows per list, and
:data:`RUNNING_PER_ROLE` jobs at once per staff role. What a job keeps for the screen is
capped (:data:`SHOW_ROWS`, :data:`SHOW_ERRORS`); its counts are complete.

    ::

        request/CLI --start_job--> ImportJob(queued) --run_job: chunk, commit, pause--> done
                       (checks: CSV valid, <= MAX_ROWS, role limit)       (cursor + counts per chunk)
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as time_of_day

from broker import contract
from broker.contract import ContractError
from server.catalogue import TH_SUFFIX
from server.domain import rules
from server.services import members, tiers
from server.services.errors import Message, NotFound, ServiceError, Words
from server.services.ledger import STAFF_BACKDATE_DAYS, Ledger, LiveProgramme
from server.services.points import NOT_BY_HAND, refuse_retired
from server.services.retry import read_unit, unit_of_work
from server.services.sites import EVERYTHING, Scope, day_at, view
from server.store import Accrual, Card, Event, ImportJob, Member, Upload, db, is_sqlite

log = logging.getLogger(__name__)

#: the activities an event's registration list can credit
EVENT_ACTIVITIES = ("pulinet_event", "db_training", "learning_activity", "volunteer")
MAX_TEXT = 5_000_000
#: rows per list. No event has more attendees than the library has members (a large
#: university library: tens of thousands). Measured on a loaded 2-core machine, 100,000
#: rows preview in about 30 s and 100,000 different members are credited in about 4.5
#: minutes, while the 5 MB file limit alone would let a 1.7-million-row list hold a job
#: for over an hour.
MAX_ROWS = 100_000
#: rows per chunk: a preview's chunk only reads; a credit's chunk is one write transaction
#: (100 credits: tens of milliseconds, most of it the commit's fsync)
CHUNK_ROWS = 200
WRITE_CHUNK_ROWS = 100
#: a time typed for a list may be this far ahead of the server's clock (another computer's clock);
#: further, it has not happened yet and is refused
FUTURE_SLACK = timedelta(minutes=5)
#: the pause between chunks, so the tap worker (and the web) get the write lock and the GIL
CHUNK_PAUSE_S = 0.02
#: after a write chunk, pause this many times its duration: the write lock is free 2/3 of
#: the time. SQLite's busy handler polls a waiting writer (the tap worker) only every
#: 100 ms once it has waited a while, so short, rare windows are missed: measured with
#: every row a credit, 200-row chunks and 20 ms pauses gave taps a p95 of 1.5 s.
WRITE_PAUSE_FACTOR = 2.0
#: how many jobs may be unfinished at once, per staff role (the CLI is not limited)
RUNNING_PER_ROLE = {"staff": 1, "admin": 2}
#: what a job keeps for the screen: the first SHOW_ROWS rows, then errors up to SHOW_ERRORS
SHOW_ROWS = 1000
SHOW_ERRORS = 1000


@dataclass
class ImportReport:
    """What an attendance import did, row by row."""

    credited: list = field(default_factory=list)  # (line, member_id, entry_id)
    already: list = field(default_factory=list)  # (line, member_id)
    errors: list = field(default_factory=list)  # (line, message)

    def to_dict(self) -> dict:
        """JSON-friendly form."""
        return {
            "credited": [{"line": ln, "member": m, "entry": e} for ln, m, e in self.credited],
            "already_credited": [{"line": ln, "member": m} for ln, m in self.already],
            "errors": [{"line": ln, "error": msg} for ln, msg in self.errors],
        }

    def rows(self) -> list[dict]:
        """One row per line, in file order, as an upload keeps them (reasons as template and values)."""
        with_member = [r[1] for r in self.credited] + [r[1] for r in self.already]
        names = {m.id: m.name for m in Member.select(Member.id, Member.name).where(Member.id.in_(with_member))}
        rows = [
            {"line": ln, "member": m, "name": names.get(m), "result": "credited", "entry": e}
            for ln, m, e in self.credited
        ]
        rows += [{"line": ln, "member": m, "name": names.get(m), "result": "already"} for ln, m in self.already]
        rows += [{"line": ln, "result": "error", "error": msg, **_why(msg)} for ln, msg in self.errors]
        return sorted(rows, key=lambda r: r["line"])


def _why(msg) -> dict:
    """A row's reason as its template and values (stored with the upload, shown in each viewer's language)."""
    if getattr(msg, "template", None) is None:
        return {}
    plain = (str, int, float, bool, type(None))

    values = {k: v if isinstance(v, plain) else str(v) for k, v in msg.values.items()}
    # a name in both languages (Words) keeps its Thai beside it: ``name`` and ``name__th`` (catalogue.localize)
    values.update({k + TH_SUFFIX: v.th_words for k, v in msg.values.items() if isinstance(v, Words)})
    return {"why": {"template": msg.template, "values": values}}


def event_time(ev: Event) -> str:
    """The event's day, typed alone: every row is dated that day, at noon at its site (:class:`_Run`)."""
    return ev.day.isoformat()


class Attendance:
    """Events, registration lists and their credits."""

    prog = LiveProgramme()

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.clock = ledger.clock

    # ------------------------------------------------------------------ events and uploads

    def event_activities(self) -> list:
        """The activities a new event can credit, as the programme defines them (none retired)."""
        acts = self.prog.activities
        return [acts[a] for a in EVENT_ACTIVITIES if a in acts and not acts[a].retired]

    def check_day(self, when: date, sites: list[str] | None = None) -> None:
        """Refuse an event day in the future or more than :data:`STAFF_BACKDATE_DAYS` ago.

        "Today" is the latest of the ``sites``' own days (None: the programme's): an event at a
        site in a time zone ahead may be dated that site's today while the programme's is still yesterday.
        """
        now = self.clock()
        today = max((day_at(self.prog, c, now) for c in sites or ()), default=self.ledger.today())
        if when > today:
            raise ServiceError("an event in the future cannot be credited yet")
        if when < today - timedelta(days=STAFF_BACKDATE_DAYS):
            raise ServiceError(
                "a date more than %(days)s days ago cannot be credited (%(day)s)",
                days=STAFF_BACKDATE_DAYS,
                day=when,
            )

    def event(self, event_id, scope: Scope = EVERYTHING) -> Event:
        """An event staff of ``scope`` may see and import into: its site within it (else NotFound, like a missing id)."""
        ev = Event.get_or_none(Event.id == event_id) if str(event_id).isdigit() else None
        if ev is None or not scope.covers(ev.site, self.prog):
            raise NotFound("no event %(id)s", id=event_id)
        return ev

    def events(self, scope: Scope = EVERYTHING, limit: int = 100) -> list[Event]:
        """The latest events within ``scope`` (a programme administrator: every site's)."""
        q = Event.select().order_by(Event.day.desc(), Event.id.desc())
        if not scope.everything:
            codes = scope.codes(self.prog)
            cond = Event.site.in_(codes)
            if self.prog.default_site in codes:
                cond |= Event.site.is_null()
            q = q.where(cond)
        return list(q.limit(limit))

    def _site(self, site, scope: Scope) -> str | None:
        """An event's site as staff typed it (checked, within ``scope``); none: a one-site scope's site, else NULL."""
        if site in (None, "", "none"):
            site = next(iter(scope.sites)) if scope.sites is not None and len(scope.sites) == 1 else None
        else:
            site = str(site).strip().upper()
            if site not in self.prog.sites:
                raise ServiceError(
                    "unknown site %(site)r; known: %(known)s", site=site, known=", ".join(self.prog.sites)
                )
        if not scope.covers(site, self.prog):
            raise ServiceError("site %(site)s is outside your sites", site=site or self.prog.default_site)
        return site

    def add_event(
        self,
        name: str,
        activity: str,
        day: str,
        *,
        created_by: str,
        actor: str = "system",
        site: str | None = None,
        scope: Scope = EVERYTHING,
    ) -> Event:
        """Create an event whose registration list will be credited (not in the future, not over a year ago).

        At ``site`` (None: the only site of a one-site ``scope``, else the default site); a
        site outside ``scope`` is refused.
        """
        name = members.clean_name(name or "", what="an event name", limit=120)
        site = self._site(site, scope)
        if activity not in EVENT_ACTIVITIES or activity not in self.prog.activities:
            raise ServiceError("activity must be one of %(activities)s", activities=", ".join(EVENT_ACTIVITIES))
        refuse_retired(self.prog.activities[activity])
        try:
            when = date.fromisoformat(day or "")
        except (TypeError, ValueError):
            raise ServiceError("date must be YYYY-MM-DD") from None
        self.check_day(when, [site or self.prog.default_site])
        with unit_of_work():
            ev = Event.create(name=name, activity=activity, day=when, created_by=created_by, site=site)
            # the site by its code even when the event's row says "the default site" (NULL)
            where = site or self.prog.default_site
            self.ledger.audit(actor, "event.add", ev.id, name=name, activity=activity, day=when.isoformat(), site=where)
        return ev

    def preview_upload(
        self,
        ev: Event,
        filename: str,
        text: str,
        *,
        created_by: str,
        role: str = "staff",
        actor: str = "system",
        scope: Scope = EVERYTHING,
    ) -> Upload:
        """Keep a registration list and start its preview job (nothing is credited); the event within ``scope``."""
        ev = self.event(ev.id, scope)
        site = self._event_site(ev)
        total = self.check_import(text, ev.activity, ev.name, day=event_time(ev))
        digest = _digest(
            text, ev.activity, ev.name, event_time(ev), True, site, scope.text()
        )  # outside the transaction
        with unit_of_work():
            up = Upload.create(event=ev, filename=filename[:200], text=text, preview=None, created_by=created_by)
            self._new_job(
                text,
                ev.activity,
                ev.name,
                event_time(ev),
                True,
                total=total,
                digest=digest,
                origin="console",
                started_by=created_by,
                role=role,
                actor=actor,
                upload_id=up.id,
                scope=scope,
                site=site,
            )
        return up

    def credit_upload(
        self,
        ev: Event,
        up: Upload,
        *,
        started_by: str = "system",
        role: str = "staff",
        actor: str = "system",
        scope: Scope = EVERYTHING,
    ) -> ImportJob:
        """Start the job that credits a previewed list once (the accrual key makes a second credit a no-op anyway).

        The event within ``scope`` (else NotFound), and the list one of its own.
        """
        ev = self.event(ev.id, scope)
        if up.event_id != ev.id:
            raise NotFound("no upload %(id)s", id=up.id)
        site = self._event_site(ev)
        refuse_retired(self.prog.activities.get(ev.activity))  # retired since its preview: nothing starts
        total = count_rows(up.text)
        digest = _digest(up.text, ev.activity, ev.name, event_time(ev), False, site, scope.text())
        with unit_of_work():
            if Upload.get_by_id(up.id).credited_at is not None:
                raise ServiceError("This list was already credited.")
            busy = ImportJob.select().where(
                (ImportJob.upload_id == up.id)
                & (ImportJob.dry_run == False)  # noqa: E712
                & ImportJob.status.in_(("queued", "running"))
            )
            if busy.exists():
                raise ServiceError("This list is being credited.")
            return self._new_job(
                up.text,
                ev.activity,
                ev.name,
                event_time(ev),
                False,
                total=total,
                digest=digest,
                origin="console",
                started_by=started_by,
                role=role,
                actor=actor,
                upload_id=up.id,
                scope=scope,
                site=site,
            )

    def _event_site(self, ev: Event) -> str:
        """Where an event's list is credited: the event's site (NULL: the default site)."""
        return ev.site if ev.site in self.prog.sites else self.prog.default_site

    def check_site(self, site, scope: Scope = EVERYTHING) -> str | None:
        """A site staff named for an import (None/"": none), checked against the programme and ``scope``."""
        if site in (None, ""):
            return None
        code = str(site).strip().upper()
        if code not in self.prog.sites:
            raise ServiceError("unknown site %(site)r; known: %(known)s", site=code, known=", ".join(self.prog.sites))
        if not scope.covers(code, self.prog):
            raise ServiceError("site %(site)s is outside your sites", site=code)
        return code

    def upload_job(self, upload_id: int) -> ImportJob | None:
        """The latest job of an upload (its preview, or its credit once started)."""
        return (
            ImportJob.select(*_JOB_FIELDS).where(ImportJob.upload_id == upload_id).order_by(ImportJob.id.desc()).first()
        )

    # ------------------------------------------------------------------ jobs

    def check_import(self, text: str, activity: str, event: str, *, day=None) -> int:
        """Refuse a list before any job starts (activity, event, date, CSV, row limit); its data rows."""
        _Run(self, activity, event, day, True, "check", EVERYTHING, None)
        return count_rows(text)

    def start_job(
        self,
        text: str,
        activity: str,
        event: str,
        *,
        day=None,
        dry_run: bool = False,
        origin: str,
        started_by: str,
        role: str,
        actor: str = "system",
        scope: Scope = EVERYTHING,
        site: str | None = None,
    ) -> ImportJob:
        """Check a list and queue its job (refused when the role already runs its share).

        Within ``scope``: when the console has events of this name and activity and none of
        them is within the scope, the event is another site's: NotFound. ``site``: where its
        entries are made (checked against the programme and ``scope``); none: a row's
        ``site`` column, else the scope's one site, else each member's home site.
        """
        site = self.check_site(site, scope)
        if not scope.everything:
            named = list(Event.select(Event.site).where((Event.name == event) & (Event.activity == activity)))
            if named and not any(scope.covers(e.site, self.prog) for e in named):
                raise NotFound("no event %(name)s", name=event)
        total = self.check_import(text, activity, event, day=day)
        # the file's work outside the write transaction
        digest = _digest(text, activity, event, day, dry_run, site, scope.text())
        with unit_of_work():
            return self._new_job(
                text,
                activity,
                event,
                day,
                dry_run,
                total=total,
                digest=digest,
                origin=origin,
                started_by=started_by,
                role=role,
                actor=actor,
                scope=scope,
                site=site,
            )

    def resumable_job(
        self,
        text: str,
        activity: str,
        event: str,
        *,
        day=None,
        dry_run: bool = False,
        origin: str = "cli",
        site: str | None = None,
        scope: Scope = EVERYTHING,
    ) -> ImportJob | None:
        """An unfinished job of ``origin`` for the very same list and options, site and scope (a CLI run
        that was killed)."""
        digest = _digest(text, activity, event, day, dry_run, self.check_site(site, scope), scope.text())
        return (
            ImportJob.select()
            .where(
                (ImportJob.digest == digest)
                & (ImportJob.origin == origin)
                & ImportJob.status.in_(("queued", "running"))
            )
            .order_by(ImportJob.id)
            .first()
        )

    def _new_job(
        self,
        text,
        activity,
        event,
        day,
        dry_run,
        *,
        total,
        digest,
        origin,
        started_by,
        role,
        actor,
        upload_id=None,
        scope: Scope = EVERYTHING,
        site: str | None = None,
    ):
        """Insert a job inside the caller's write transaction (so the role count cannot race); nothing slow here."""
        limit = RUNNING_PER_ROLE.get(role, 1)
        if origin != "cli":
            running = (
                ImportJob.select()
                .where(
                    (ImportJob.role == role) & (ImportJob.origin != "cli") & ImportJob.status.in_(("queued", "running"))
                )
                .count()
            )
            if running >= limit:
                raise TooBusy(
                    "%(n)s attendance import(s) already running for the %(role)s role (at most %(limit)s at once); "
                    "try again when it has finished",
                    n=running,
                    role=role,
                    limit=limit,
                )
        job = ImportJob.create(
            origin=origin,
            started_by=started_by[:64],
            role=role[:8],
            actor=actor[:80],
            activity=activity,
            event=(event or "").strip()[:120],
            day=None if day is None else str(day)[:40],
            dry_run=bool(dry_run),
            upload_id=upload_id,
            digest=digest,
            text=text,
            total=total,
            sites=scope.text(),
            site=site,
        )
        self.ledger.audit(
            actor,
            "import.start",
            job.id,
            activity=activity,
            event=job.event,
            dry_run=bool(dry_run),
            rows=job.total,
            **({"site": site} if site else {}),
        )
        return job

    def job(self, job_id, scope: Scope = EVERYTHING, *, username: str | None = None, role: str = "admin") -> ImportJob:
        """A job without its text, as staff of ``scope`` (signed in as ``username``, of ``role``) may see it.

        Whoever started a job sees it; otherwise an admin whose scope holds the whole scope
        of the job's starter (a programme administrator: every job; a branch's admin: the
        jobs of its site's accounts, not a programme administrator's nor another site's).
        Any other job is NotFound, the same answer as an id that does not exist.
        """
        n = int(job_id) if str(job_id).isdigit() and len(str(job_id)) <= 18 else None
        job = ImportJob.select(*_JOB_FIELDS).where(ImportJob.id == n).first() if n is not None else None
        if job is None or not self._may_see(job, scope, username, role):
            raise NotFound("no import job %(id)s", id=job_id)
        return job

    @staticmethod
    def _may_see(job: ImportJob, scope: Scope, username: str | None, role: str) -> bool:
        if username is not None and job.started_by == username:
            return True
        if role != "admin":
            return False
        if scope.everything:
            return True
        started = Scope.parse(job.sites)
        return not started.everything and started.sites <= scope.sites

    def unfinished_jobs(self, origins=("console", "api")) -> list[int]:
        """Jobs a server restart should resume."""
        q = ImportJob.select(ImportJob.id).where(
            ImportJob.status.in_(("queued", "running")) & ImportJob.origin.in_(origins)
        )
        return [j.id for j in q.order_by(ImportJob.id)]

    def run_job(
        self,
        job_id: int,
        *,
        stop: Callable[[], bool] = lambda: False,
        progress: Callable[[ImportJob], None] | None = None,
        pause_s: float = CHUNK_PAUSE_S,
    ) -> ImportJob:
        """Run (or resume) a job chunk by chunk until it is done, failed, or ``stop()`` says so."""
        job = ImportJob.get_by_id(job_id)
        if job.status in ("done", "failed"):
            return job
        try:
            run = _Run(self, job.activity, job.event, job.day, job.dry_run, job.actor, Scope.parse(job.sites), job.site)
        except ServiceError as exc:  # e.g. the programme changed under a queued job
            return self._fail(job, exc.message)
        rows = _rows(job.text)
        cursor = job.next_line
        if cursor:  # resuming: who was already seen decides "listed twice" for what follows
            done = []
            for line, value, _site in rows:
                done.append(value)
                if len(done) >= CHUNK_ROWS or line >= cursor:
                    run.replay(done)
                    done = []
                if line >= cursor:
                    break
        with unit_of_work():
            ImportJob.update(status="running", updated_at=self.clock()).where(ImportJob.id == job_id).execute()
        exhausted = False
        size = CHUNK_ROWS if run.dry_run else WRITE_CHUNK_ROWS
        while not exhausted:
            if stop():
                return ImportJob.get_by_id(job_id)
            chunk = []
            for item in rows:
                chunk.append(item)
                if len(chunk) >= size:
                    break
            else:
                exhausted = True
            started = time.monotonic()
            job = self._chunk(job_id, run, chunk, cursor, exhausted)
            took = time.monotonic() - started
            if job is None:  # someone else moved the cursor: another runner has this job
                return ImportJob.get_by_id(job_id)
            if job.status == "failed":  # its activity was retired meanwhile (:meth:`_chunk`)
                return job
            cursor = job.next_line
            if progress:
                progress(job)
            pause = pause_s
            if not run.dry_run and pause_s:
                pause = max(pause_s, took * WRITE_PAUSE_FACTOR)
            if not exhausted and pause:
                time.sleep(pause)
        return job

    def _chunk(self, job_id, run, chunk, cursor, last) -> ImportJob | None:
        """One chunk: its rows, the job's counts and cursor, all in one short transaction."""
        results = []
        if run.dry_run:  # a preview reads only; the job's progress is its one small write
            with read_unit():
                results = run.rows(chunk)
        with unit_of_work():
            q = ImportJob.select(*_JOB_FIELDS).where(ImportJob.id == job_id)
            job = (q if is_sqlite() else q.for_update()).first()  # SQLite: BEGIN IMMEDIATE already serialises
            if job.next_line != cursor or job.status not in ("queued", "running"):
                return None
            stopped = run.retired_since()
            if stopped is not None:  # its rows so far stay as they are; none after is done
                return self._stop_retired(job, stopped)
            if not run.dry_run:
                results = run.rows(chunk)
            shown = list(job.shown or [])
            shown_errors = sum(1 for r in shown if r.get("result") == "error")
            for line, res in results:
                kind = res[0]
                job.rows_done += 1
                if kind == "credited":
                    job.credited += 1
                elif kind == "already":
                    job.already += 1
                else:
                    job.errors += 1
                if len(shown) < SHOW_ROWS or (kind == "error" and shown_errors < SHOW_ERRORS):
                    shown.append(_shown_row(line, res))
                    shown_errors += kind == "error"
            job.shown = shown
            if chunk:
                job.next_line = chunk[-1][0]
            job.updated_at = self.clock()
            if last:
                job.status, job.finished_at = "done", self.clock()
                if not job.dry_run:
                    self._audit_import(job)
                if job.upload_id is not None:
                    if job.dry_run:
                        Upload.update(preview=shown).where(Upload.id == job.upload_id).execute()
                    else:
                        Upload.update(result=shown, credited_at=self.clock()).where(
                            Upload.id == job.upload_id
                        ).execute()
            job.save(
                only=[
                    ImportJob.shown,
                    ImportJob.next_line,
                    ImportJob.rows_done,
                    ImportJob.credited,
                    ImportJob.already,
                    ImportJob.errors,
                    ImportJob.updated_at,
                    ImportJob.status,
                    ImportJob.finished_at,
                ]
            )
        return job

    def _audit_import(self, job: ImportJob, **extra) -> None:
        """The ``points.import`` audit row of a list credited to its end, or stopped (``extra``)."""
        self.ledger.audit(
            job.actor,
            "points.import",
            job.event,
            activity=job.activity,
            credited=job.credited,
            already=job.already,
            errors=job.errors,
            job=job.id,
            **extra,
        )

    def _stop_retired(self, job: ImportJob, act) -> ImportJob:
        """Fail a job whose activity was retired after it started (inside the chunk's transaction).

        A library retires an activity to stop it earning: a list still being credited stops
        at its next chunk, as a gate's next tap earns nothing. What earlier chunks credited
        stays (each a committed credit, voidable one by one); the failure says how many and
        that the rest were not credited. Bringing the activity back and crediting the list
        again credits only the rest (the accrual key: each member once).
        """
        if job.dry_run:
            why = Message(
                "%(activity)s (%(name)s) was retired while this list was being previewed: it earns no points any more",
                activity=act.code,
                name=Words(act.en, act.th),
            )
        else:
            why = Message(
                "%(activity)s (%(name)s) was retired while this list was being credited: "
                "%(credited)s row(s) credited before stay credited; the rest were not credited",
                activity=act.code,
                name=Words(act.en, act.th),
                credited=job.credited,
            )
            self._audit_import(job, stopped="retired")
        job.status, job.finished_at, job.updated_at = "failed", self.clock(), self.clock()
        job.failure = _why(why)["why"]
        job.save(only=[ImportJob.status, ImportJob.finished_at, ImportJob.updated_at, ImportJob.failure])
        return job

    def _fail(self, job: ImportJob, message) -> ImportJob:
        with unit_of_work():
            ImportJob.update(
                status="failed",
                failure=_why(message).get("why") or {"template": str(message), "values": {}},
                finished_at=self.clock(),
            ).where(ImportJob.id == job.id).execute()
        return ImportJob.get_by_id(job.id)

    def prune_files(self) -> dict:
        """Delete the CSV text of finished imports older than ``[rules] import_files_keep_days``.

        A job done or failed that long ago keeps its row — counts, the rows shown, who and
        when — but not the list it read (up to :data:`MAX_ROWS` lines each, kept for
        nothing once finished); a console list credited that long ago likewise. A list
        previewed but not yet credited is kept: it is waiting for its credit. Two short
        UPDATEs; ``{"jobs": n, "uploads": n}`` pruned (run by the console's job runner at
        start, hourly and after each job, and by ``privcard admin import-attendance``).
        """
        before = self.clock() - timedelta(days=self.prog.import_files_keep_days)
        with unit_of_work():
            jobs = (
                ImportJob.update(text="")
                .where(
                    ImportJob.status.in_(("done", "failed")) & (ImportJob.finished_at < before) & (ImportJob.text != "")
                )
                .execute()
            )
            uploads = (  # the console's table: absent from a database the console never opened
                Upload.update(text="")
                .where(Upload.credited_at.is_null(False) & (Upload.credited_at < before) & (Upload.text != ""))
                .execute()
                if Upload.table_exists()
                else 0
            )
        if jobs or uploads:
            log.info(
                "pruned the lists of %d import job(s) and %d credited upload(s) finished before %s",
                jobs,
                uploads,
                before,
            )
        return {"jobs": jobs, "uploads": uploads}

    def fail_job(self, job_id: int, message) -> ImportJob:
        """Mark a job failed (the runner met an error that is not the database's)."""
        return self._fail(ImportJob.get_by_id(job_id), message)

    # ------------------------------------------------------------------ the import itself

    def import_csv(
        self,
        text: str,
        activity: str,
        event: str,
        *,
        day=None,
        actor: str = "system",
        dry_run: bool = False,
        scope: Scope = EVERYTHING,
        site: str | None = None,
    ) -> ImportReport:
        """Preview or credit a list here and now, in chunks, with the full report (small lists and tests).

        The same rows and rules as a job, without a job row; lists over :data:`MAX_ROWS`
        are refused.
        """
        run = _Run(self, activity, event, day, dry_run, actor, scope, self.check_site(site, scope))
        count_rows(text)
        report = ImportReport()
        chunk: list = []

        def flush():
            with read_unit() if dry_run else unit_of_work():
                for line, res in run.rows(chunk):
                    if res[0] == "credited":
                        report.credited.append((line, res[1], res[2]))
                    elif res[0] == "already":
                        report.already.append((line, res[1]))
                    else:
                        report.errors.append((line, res[1]))
            chunk.clear()

        for item in _rows(text):
            chunk.append(item)
            if len(chunk) >= CHUNK_ROWS:
                flush()
        flush()
        if not dry_run:
            with unit_of_work():
                self.ledger.audit(
                    actor,
                    "points.import",
                    run.event,
                    activity=activity,
                    credited=len(report.credited),
                    already=len(report.already),
                    errors=len(report.errors),
                )
        return report


class TooBusy(ServiceError):
    """A role already runs as many import jobs as it may (HTTP 429)."""


#: a job's columns without its text (which may be megabytes)
_JOB_FIELDS = [f for f in ImportJob._meta.sorted_fields if f.name != "text"]


def _digest(text, activity, event, day, dry_run, site=None, sites=None) -> str:
    h = hashlib.sha256()
    parts = [activity, (event or "").strip(), str(day), str(bool(dry_run))]
    if site or sites:  # only then: a job's digest from before sites is unchanged
        parts += [f"site={site or ''}", f"sites={sites or ''}"]
    for part in parts:
        h.update(str(part).encode() + b"\0")
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _shown_row(line: int, res: tuple) -> dict:
    """A row as an upload keeps it (reasons as template and values, shown in each viewer's language)."""
    kind = res[0]
    if kind == "error":
        return {"line": line, "result": "error", "error": str(res[1]), **_why(res[1])}
    row = {"line": line, "member": res[1], "name": res[-1], "result": kind}
    if kind == "credited":
        row["entry"] = res[2]
    return row


class _Run:
    """One list's rules: the activity, event, day and accrual key, where its entries are made
    (``site``, each row's ``site`` cell checked against ``scope``), and who was seen so far."""

    def __init__(self, att: Attendance, activity: str, event: str, day, dry_run: bool, actor: str, scope: Scope, site):
        prog = att.prog
        # an activity of the programme, or of one of the list's sites (a site-only activity); each
        # row earns by the activity as the site its entry is made at sees it (:meth:`act_at`)
        if activity not in prog.activities and not any(
            activity in view(prog, c).activities for c in ([site] if site else scope.codes(prog))
        ):
            raise ServiceError("unknown activity %(activity)r", activity=activity)
        if activity in NOT_BY_HAND:
            raise ServiceError("%(activity)s is not credited from attendance lists", activity=activity)
        refuse_retired(prog.activities.get(activity))  # a preview, a check, a job's start or resumption
        event = (event or "").strip()
        if not event or len(event) > 120:
            raise ServiceError("an event name of 1-120 characters is required")
        # a time typed without an offset is the list's site's clock (its one site, or the scope's one site)
        here = site or (next(iter(scope.sites)) if scope.sites is not None and len(scope.sites) == 1 else None)
        self.when = att.ledger.time_of(day, tz=view(prog, here).tz if here else None) if day else att.clock()
        # a list for a day (no time typed) is dated that day's noon at each row's own site
        self.dated = bool(day) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(day).strip()) is not None
        if self.when > att.clock() + timedelta(days=1):  # before converting it: year 9999 cannot be
            raise ServiceError("an event in the future cannot be credited yet")
        if day and not self.dated and self.when > att.clock() + FUTURE_SLACK:  # a time typed: not yet happened
            raise ServiceError("an event in the future cannot be credited yet")
        # the list's day: the day typed, else the programme's day of the time typed (or of now); a row is
        # dated by its own site (:meth:`day_at`)
        self.day = date.fromisoformat(str(day).strip()) if self.dated else rules.business_day(self.when, prog)
        att.check_day(self.day, [site] if site else scope.codes(prog))  # the rows' sites: one, or the scope's
        self.now = att.clock()
        self._today: dict[str, date] = {}  # site -> its day now (a row's site may still be on an earlier day)
        self.att, self.activity, self.event = att, activity, event
        self.dry_run, self.actor = dry_run, actor
        self.scope, self.site = scope, site
        self.seen: set[int] = set()

    def site_of(self, m: Member, cell: str | None) -> str:
        """Where a row's entry is made: its ``site`` cell (checked: a site of the programme within
        the scope), else the list's site, else the scope's one site, else the member's home site,
        else the default site."""
        prog = self.att.prog
        if cell:
            code = cell.strip().upper()
            if code not in prog.sites:
                raise ServiceError("unknown site %(site)r; known: %(known)s", site=code, known=", ".join(prog.sites))
            if not self.scope.covers(code, prog):
                raise ServiceError("site %(site)s is outside your sites", site=code)
            return code
        if self.site:
            return self.site
        if self.scope.sites is not None and len(self.scope.sites) == 1:
            return next(iter(self.scope.sites))
        return m.home_site if m.home_site in prog.sites else prog.default_site

    def day_at(self, site: str) -> date:
        """The day a row's entry is dated where it is made: the day typed, else the day at that site
        (its own time zone) of the time typed, or of now — a list imported late in the evening at a
        site behind the programme's zone is that site's today, not its tomorrow."""
        return self.day if self.dated else day_at(self.att.prog, site, self.when)

    def check_site_day(self, site: str) -> date:
        """A row's day at its site (:meth:`day_at`), refused when that site has not reached it yet.

        The list's day is checked against the latest day among its sites; a row made at a
        site in a time zone behind (its own cell, or its member's home site) may still be on
        the day before, and an entry there must not be dated its tomorrow.
        """
        day = self.day_at(site)
        today = self._today.get(site)
        if today is None:
            today = self._today[site] = day_at(self.att.prog, site, self.now)
        if day > today:
            raise ServiceError(
                "%(day)s has not begun yet at site %(site)s: its entries cannot be credited yet",
                day=day,
                site=site,
            )
        return day

    def at_site(self, site: str) -> datetime:
        """When a row's entry happened: the time typed, or now; for a day typed alone, its noon in
        the site's own time zone (not the programme's: 14:00 at a site an hour ahead), or now
        when that noon is still to come there."""
        if not self.dated:
            return self.when
        noon = datetime.combine(self.day, time_of_day(12), tzinfo=view(self.att.prog, site).tz)
        return min(noon, self.now)

    def act_at(self, site: str):
        """The activity as the site a row's entry is made at sees it — its points, limit and scope
        (``[sites.CODE.activities.X]`` over the programme's), as a tap at that site's device earns
        it — or None when that site has no such activity."""
        return view(self.att.prog, site).activities.get(self.activity)

    def key_at(self, site: str, day: date) -> tuple | None:
        """The accrual key of a row's day at a site: by the site's own limit (and the site in it for
        an activity whose limit is per site)."""
        act = self.act_at(site)
        return None if act is None else rules.accrual_key(act, day, self.event, site=site)

    def lookup(self, values) -> dict:
        """Everything a chunk's rows need, in a few queries (not a few per row): value -> member facts."""
        ids = {int(v) for v in values if isinstance(v, str) and _MEMBER_ID.fullmatch(v)}
        patrons = {v[len(PATRON) :] for v in values if isinstance(v, str) and v.startswith(PATRON)}
        uids = {v for v in values if isinstance(v, str) and not _MEMBER_ID.fullmatch(v) and not v.startswith(PATRON)}
        by_uid = (
            {c.uid: c.member_id for c in Card.select(Card.uid, Card.member).where(Card.uid.in_(uids))} if uids else {}
        )
        if patrons:
            for m in Member.select(Member.id, Member.patron_id).where(Member.patron_id.in_(patrons)):
                by_uid[PATRON + m.patron_id] = m.id
        wanted = ids | set(by_uid.values())
        if not wanted:
            return {}
        found = {
            m.id: m
            for m in Member.select(
                Member.id,
                Member.name,
                Member.status,
                Member.valid_until,
                Member.home_site,
                Member.tier,
                Member.group,
            ).where(Member.id.in_(wanted))
        }
        active = {
            c.member_id
            for c in Card.select(Card.member).where(Card.member.in_(list(found)) & (Card.status == "active"))
        }
        accrued: dict[int, set] = {}  # member -> the (day, item) accrual keys of this activity (a preview)
        keys = [self.key_at(s, self.day_at(s)) for s in self.att.prog.sites] if self.dry_run else []
        if any(k is not None for k in keys):
            days = {k[0] for k in keys if k is not None}
            for a in Accrual.select(Accrual.member, Accrual.day, Accrual.item).where(
                Accrual.member.in_(list(found)) & (Accrual.activity == self.activity) & Accrual.day.in_(sorted(days))
            ):
                accrued.setdefault(a.member_id, set()).add((a.day, a.item))
        out = {}
        for v in values:
            if not isinstance(v, str):
                continue
            mid = int(v) if _MEMBER_ID.fullmatch(v) else by_uid.get(v)
            m = found.get(mid)
            if m is not None:
                out[v] = (m, m.id in active, accrued.get(m.id, set()))
        return out

    def retired_since(self):
        """The activity when it has been retired since this list was checked (else None).

        The programme in force is read each time (:class:`LiveProgramme`: at most
        ``live.CHECK_S`` old, as on the tap path).
        """
        act = self.att.prog.activities.get(self.activity)
        return act if act is not None and act.retired else None

    def replay(self, values: list) -> None:
        """Remember the members of rows an earlier run of the same job already did."""
        for m, _active, _accrued in self.lookup(values).values():
            self.seen.add(m.id)

    def rows(self, chunk: list) -> list:
        """Each (line, value, site cell) of a chunk with its result (see :meth:`row`)."""
        found = self.lookup([v for _line, v, _site in chunk])
        return [(line, self.row(value, found, cell)) for line, value, cell in chunk]

    def row(self, value, found: dict, cell: str | None = None) -> tuple:
        """One row: ("credited", member, entry, name) | ("already", member, name) | ("error", message).

        A row whose ``site`` cell is unknown or outside the scope is an error and changes nothing.
        """
        if isinstance(value, Message):
            return ("error", value)
        if value not in found:
            if value.startswith(PATRON):
                return ("error", Message("no member with patron_id %(ref)r", ref=value[len(PATRON) :]))
            return ("error", Message("no member with id or card %(ref)r", ref=value))
        m, has_active_card, accrued_items = found[value]
        try:
            site = self.site_of(m, cell)
            act = self.act_at(site)
            if act is None:
                raise ServiceError("site %(site)s has no activity %(activity)s", site=site, activity=self.activity)
            refuse_retired(act)  # as that site sees it (a site's own ``retired``)
            day = self.check_site_day(site)
            key = self.key_at(site, day)
            accrued = key is not None and key in accrued_items
            if m.id in self.seen:
                raise ServiceError("member %(id)s is listed twice", id=m.id)
            self.seen.add(m.id)
            members.check_active(m, self.day)
            at = self.at_site(site)
            if not self.att.ledger.live.campaigns.available(self.activity, at):  # as a staff award
                raise ServiceError("%(activity)s is earned only while its campaign runs", activity=self.activity)
            if not has_active_card and not _MEMBER_ID.fullmatch(value) and not value.startswith(PATRON):
                raise ServiceError("card %(card)s is blocked", card=value)
            if self.dry_run:
                return ("already", m.id, m.name) if accrued else ("credited", m.id, None, m.name)
            # the activity as the row's site sees it, by the member's tier's table
            points = rules.tier_points(act, m.tier, self.att.prog)
            with db.atomic():  # a savepoint per credit: a refused one leaves nothing behind
                entry = self.att.ledger.credit(
                    m.id,
                    self.activity,
                    points,
                    day,
                    at,
                    source="import",
                    item=self.event,
                    actor=self.actor,
                    ref=f"import:{self.event}"[:160],
                    key=key,
                    site=site,
                    campaign=self.att.ledger.one_off_tag(self.activity, points),  # its campaign's report counts it
                )
                if entry is not None:  # a credit that reaches a tier's earned_at promotes, as a tap's
                    tiers.maybe_promote(self.att.ledger, m, day, self.actor)
            return ("already", m.id, m.name) if entry is None else ("credited", m.id, entry.id, m.name)
        except ServiceError as exc:
            return ("error", exc.message)


_MEMBER_ID = re.compile(r"\d{1,7}")
#: a list's value that is a library patron id (a ``patron_id`` column), not a member id or UID
PATRON = "patron:"


def count_rows(text: str) -> int:
    """Data rows in a list (a header not counted), refusing one over 5 MB, over :data:`MAX_ROWS` rows, or not CSV."""
    if len(text) > MAX_TEXT:
        raise ServiceError("attendance file is larger than 5 MB")
    n = 0
    reader = csv.reader(io.StringIO(text, newline=None))
    try:
        for row in reader:
            if not any(c.strip() for c in row):
                continue
            if reader.line_num == 1 and _is_header([c.strip() for c in row]):
                continue
            n += 1
            if n > MAX_ROWS:
                raise ServiceError(
                    "attendance file has more than %(limit)s rows; split it into lists of at most %(limit)s rows",
                    limit=f"{MAX_ROWS:,}",
                )
    except csv.Error as exc:  # e.g. a field over csv.field_size_limit(), or a NUL byte
        raise ServiceError(
            "attendance file is not valid CSV (line %(line)s): %(error)s", line=reader.line_num, error=str(exc)
        ) from None
    return n


def _is_header(cells: list[str]) -> bool:
    """Whether a first line is a header (no cell looks like a member id or a UID)."""
    return not any(re.fullmatch(r"[0-9A-Fa-f:\s-]{1,40}", c) for c in cells if c)


def _rows(text: str) -> Iterator[tuple[int, str | Message, str | None]]:
    """(line, member id or UID, site cell) triples from CSV with an optional header, streamed; a bad
    line's value is its Message. The site cell is the ``site`` column's (None without one)."""
    # newline=None: universal newlines, so files saved with bare \r line ends read too
    reader = csv.reader(io.StringIO(text, newline=None))
    column, by_patron, site_column = 0, False, None
    for n, row in enumerate(reader, start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if n == 1 and _is_header(cells):
            header = [c.lower() for c in cells]
            site_column = header.index("site") if "site" in header else None
            for i, h in enumerate(header):
                if h in ("uid", "card", "card_uid", "member", "member_id", "id", "patron_id"):
                    column, by_patron = i, h == "patron_id"
                    break
            else:
                why = Message(
                    "header has no uid/card/member_id/patron_id column: %(header)s", header=",".join(cells)[:80]
                )
                yield n, why, None
                return
            continue
        site = (cells[site_column] or None) if site_column is not None and site_column < len(cells) else None
        if column >= len(cells) or not cells[column]:
            yield n, Message("empty card/member cell"), site
            continue
        value = cells[column]
        if by_patron:
            yield n, PATRON + value, site
            continue
        if not re.fullmatch(r"\d{1,7}", value):
            try:
                value = contract.normalise_uid(value)
            except ContractError as exc:
                yield n, Message.of(exc), site
                continue
        yield n, value, site
