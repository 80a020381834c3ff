"""The CSV of a finished attendance import is deleted after ``[rules] import_files_keep_days``
(default 30): the job's row stays (counts, rows shown), the list it read goes; a console list
credited that long ago likewise; a list previewed but not credited, and a job not finished,
are kept. Pruned by the service (SQLite and PostgreSQL, a settable clock), by the console's
job runner (its own thread, real time) and by ``privcard admin import-attendance``.
"""

from __future__ import annotations

import contextlib
import io
import time
from datetime import timedelta

import pytest

from server import admin, catalogue, store
from server.domain import config
from server.domain.config import ConfigError, build, default_raw
from server.store import ImportJob, Upload
from tests.helpers import close_store, new_uid, open_service

LIST = "card\n{a}\n{b}\n"


class Clock:
    """A settable clock starting now (event days must not be in the future)."""

    def __init__(self):
        self.now = store.utcnow()

    def __call__(self):
        return self.now


@pytest.fixture
def db_url(any_db_url):
    """Each test once on SQLite, once on PostgreSQL (tests/integration/conftest.py)."""
    from server.web import accounts  # noqa: F401 (the console's tables: events, uploads)

    return any_db_url


def _programme(keep_days=None):
    raw = default_raw()
    if keep_days is not None:
        raw["rules"]["import_files_keep_days"] = keep_days
    return build(raw)


def _members(svc) -> str:
    uids = [new_uid(), new_uid()]
    for i, uid in enumerate(uids):
        svc.members.add(f"Reader {i}", uid)
    return LIST.format(a=uids[0], b=uids[1])


def _run(svc, text, *, dry_run=False) -> ImportJob:
    day = svc.today().isoformat()
    job = svc.attendance.start_job(
        text, "pulinet_event", "Prune test", day=day, dry_run=dry_run, origin="cli", started_by="t", role="admin"
    )
    return svc.attendance.run_job(job.id, pause_s=0)


def test_finished_jobs_lists_go_after_the_configured_days_their_counts_stay(db_url):
    clock = Clock()
    svc = open_service(db_url, prog=_programme(7), clock=clock)
    try:
        text = _members(svc)
        done = _run(svc, text)
        assert done.status == "done" and done.credited == 2 and ImportJob.get_by_id(done.id).text == text
        waiting = svc.attendance.start_job(
            text, "pulinet_event", "Prune test", dry_run=True, origin="cli", started_by="t", role="admin"
        )  # queued, never run
        ev = svc.attendance.add_event("Workshop", "db_training", svc.today().isoformat(), created_by="t")
        credited = svc.attendance.preview_upload(ev, "list.csv", text, created_by="t")
        svc.attendance.run_job(svc.attendance.upload_job(credited.id).id, pause_s=0)
        svc.attendance.run_job(svc.attendance.credit_upload(ev, credited, started_by="t").id, pause_s=0)
        previewed = svc.attendance.preview_upload(ev, "later.csv", text, created_by="t")
        svc.attendance.run_job(svc.attendance.upload_job(previewed.id).id, pause_s=0)
        assert Upload.get_by_id(credited.id).credited_at is not None
        # six days later: everything kept
        clock.now += timedelta(days=6, hours=23)
        assert svc.attendance.prune_files() == {"jobs": 0, "uploads": 0}
        clock.now += timedelta(hours=2)  # over 7 days since they finished
        pruned = svc.attendance.prune_files()
        assert pruned["jobs"] == 4 and pruned["uploads"] == 1  # the CLI's, both previews', the credit's; one list
        job = ImportJob.get_by_id(done.id)
        assert job.text == "" and (job.status, job.credited, job.rows_done) == ("done", 2, 2)
        assert len(job.shown) == 2  # what the console shows of it stays
        assert ImportJob.get_by_id(waiting.id).text == text  # not finished: kept
        assert Upload.get_by_id(credited.id).text == ""
        assert Upload.get_by_id(previewed.id).text == text  # waiting for its credit: kept
        assert svc.attendance.prune_files() == {"jobs": 0, "uploads": 0}  # again: nothing
        # the pruned job answers as before
        assert svc.attendance.job(done.id).credited == 2
    finally:
        close_store()


def test_the_default_is_30_days_and_the_setting_is_checked_in_english_and_thai():
    assert _programme().import_files_keep_days == 30
    assert _programme(365).import_files_keep_days == 365
    for bad in (0, "30", 2.5):
        with pytest.raises(ConfigError, match=r"rules\.import_files_keep_days"):
            _programme(bad)
    with pytest.raises(ConfigError) as exc:
        _programme(3651)
    assert str(exc.value) == "rules.import_files_keep_days must be at most 3650 (ten years), got 3651"
    assert catalogue.thai_of(exc.value) == "rules.import_files_keep_days ต้องไม่เกิน 3650 (สิบปี) (ได้รับ 3651)"


def test_the_consoles_job_runner_prunes_on_its_own_thread(tmp_db_url):
    from server.web import create_app

    app = create_app(tmp_db_url, config.load(), testing=True)
    svc = app.extensions["privcard.service"]
    try:
        old = _run(svc, _members(svc))
        recent = _run(svc, _members(svc), dry_run=True)
        ImportJob.update(finished_at=store.utcnow() - timedelta(days=31)).where(ImportJob.id == old.id).execute()
        runner = app.extensions["privcard.jobs"]
        runner.start_pruning(every_s=0.1)
        deadline = time.monotonic() + 10
        while ImportJob.get_by_id(old.id).text and time.monotonic() < deadline:
            time.sleep(0.05)
        runner.stop()
        assert ImportJob.get_by_id(old.id).text == ""
        assert ImportJob.get_by_id(recent.id).text != ""  # finished today: kept
    finally:
        close_store()


def test_privcard_admin_import_attendance_prunes_old_lists(tmp_db_url, tmp_path):
    svc = open_service(tmp_db_url)
    old = _run(svc, _members(svc))
    ImportJob.update(finished_at=store.utcnow() - timedelta(days=40)).where(ImportJob.id == old.id).execute()
    text = _members(svc)
    close_store()
    csv = tmp_path / "list.csv"
    csv.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = admin.main(
            ["--db", tmp_db_url, "import-attendance", str(csv), "--activity", "pulinet_event", "--event", "Again"]
        )
    assert code == 0, err.getvalue()
    assert "deleted the lists of 1 old finished import(s)" in err.getvalue()
    store.connect(tmp_db_url)
    try:
        assert ImportJob.get_by_id(old.id).text == ""
        newest = ImportJob.select().order_by(ImportJob.id.desc()).first()
        assert newest.id != old.id and newest.text == text  # its own list: just finished, kept
    finally:
        close_store()
