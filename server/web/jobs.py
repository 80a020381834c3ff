"""The server's background runner for attendance import jobs (console and API).

A job (``store.ImportJob``, made by :mod:`server.services.attendance`) runs on a thread
of its own, never on a request's thread nor on the tap worker's: the request returns at
once (the console shows the job's progress, the API answers 202 and a URL to poll). The
chunks and their short transactions are the service's; this module only starts threads,
retries on database outages (the one policy of :mod:`server.services.retry`), resumes
unfinished jobs when the server starts, and marks a job failed on anything else.
"""

from __future__ import annotations

import logging
import threading
import time

from server import store
from server.services.errors import Message
from server.services.retry import retry
from server.store import ImportJob

log = logging.getLogger(__name__)
#: how often the runner prunes the lists of old finished imports (``[rules] import_files_keep_days``)
PRUNE_EVERY_S = 3600.0


class JobRunner:
    """Runs import jobs on background threads (one per job; the roles' limits bound how many)."""

    def __init__(self, service):
        self.svc = service
        self._threads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def submit(self, job_id: int) -> None:
        """Run a job in the background (no-op if it already runs here)."""
        with self._lock:
            t = self._threads.get(job_id)
            if t is not None and t.is_alive():
                return
            t = threading.Thread(target=self._run, args=(job_id,), name=f"privcard-import-{job_id}", daemon=True)
            self._threads[job_id] = t
            t.start()

    def resume(self) -> list[int]:
        """Start every console/API job a previous run of the server left unfinished."""
        ids = self.svc.attendance.unfinished_jobs()
        for job_id in ids:
            log.info("resuming attendance import job %d", job_id)
            self.submit(job_id)
        return ids

    def wait(self, job_id: int, timeout: float) -> ImportJob:
        """The job once finished, or as it stands after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            t = self._threads.get(job_id)
        if t is not None:
            t.join(max(0.0, deadline - time.monotonic()))
        return self.svc.attendance.job(job_id)

    def stop(self) -> None:
        """Ask running jobs to stop after their current chunk (they resume on the next start)."""
        self._stopping.set()

    def start_pruning(self, every_s: float = PRUNE_EVERY_S) -> threading.Thread:
        """Prune finished imports' lists now and every ``every_s`` seconds until :meth:`stop`."""

        def loop() -> None:
            while not self._stopping.is_set():
                self.prune()
                if not store.db.is_closed():
                    store.db.close()  # this thread's connection, between rounds
                self._stopping.wait(every_s)

        t = threading.Thread(target=loop, name="privcard-import-prune", daemon=True)
        t.start()
        return t

    def prune(self) -> dict | None:
        """One pruning round (:meth:`server.services.attendance.Attendance.prune_files`); None if it failed."""
        try:
            return self.svc.attendance.prune_files()
        except Exception as exc:  # the database may be away: the next round tries again
            log.warning("pruning old import lists failed: %s: %s", type(exc).__name__, exc)
            return None

    def _run(self, job_id: int) -> None:
        att = self.svc.attendance
        try:
            done, job = retry(
                lambda: att.run_job(job_id, stop=self._stopping.is_set),
                pause=self._stopping.wait,
                what=f"attendance import job {job_id}",
            )
            if done and job is not None:
                self.prune()  # a finished job is when old lists are worth a look
                log.info(
                    "attendance import job %d %s: %d rows, %d credited, %d already, %d errors",
                    job_id,
                    job.status,
                    job.rows_done,
                    job.credited,
                    job.already,
                    job.errors,
                )
        except Exception as exc:  # a bug, not the database: this job fails, once, with one line
            log.error("attendance import job %d failed: %s: %s", job_id, type(exc).__name__, exc)
            try:
                att.fail_job(
                    job_id, Message("the import stopped on an unexpected error (%(error)s)", error=type(exc).__name__)
                )
            except Exception:  # the database may be what failed; the job resumes on restart
                log.error("attendance import job %d: could not record the failure", job_id)
        finally:
            if not store.db.is_closed():
                store.db.close()  # this thread's connection
