"""Attendance lists in chunks (issue 11, item 2): the same result as a small import,
idempotent, resumable after kill -9, with a row limit and a per-role limit. Real SQLite,
the real CLI in its own process; the console/API side is tests/e2e/test_import_load.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from server.services import ServiceError
from server.services import attendance as att_mod
from server.services.attendance import MAX_ROWS, RUNNING_PER_ROLE, SHOW_ERRORS, TooBusy
from server.store import ImportJob, LedgerEntry
from tests.brokers import python_env
from tests.helpers import admin_argv, close_store, ledger_problems, open_service

EVENT = "Scopus training"


def _members(svc, n: int) -> list[str]:
    uids = [f"04BB{i:010X}" for i in range(n)]
    for i, uid in enumerate(uids):
        svc.members.add(f"Member {i}", uid)
    return uids


def _csv(uids: list[str], rows: int) -> str:
    """A header, then ``rows`` lines cycling over ``uids`` with a bad cell every 97th line."""
    lines = ["uid"] + ["not-a-card" if i % 97 == 96 else uids[i % len(uids)] for i in range(rows)]
    return "\n".join(lines) + "\n"


def _by_line(rows) -> dict:
    return {r["line"]: (r["result"], r.get("member"), r.get("error")) for r in rows}


@pytest.fixture
def svc(tmp_db_url):
    s = open_service(tmp_db_url)
    yield s
    close_store()


def test_a_chunked_job_gives_what_a_small_import_gives_and_credits_nothing_twice(svc, tmp_path, tmp_db_url):
    uids = _members(svc, 40)
    svc.members.set(uids[5], status="blocked")
    text = _csv(uids, 900)  # 900 rows: 5 chunks of 200
    # the reference: the same list on a copy of the database, credited at once
    ref_db = tmp_path / "ref.db"
    close_store()
    shutil.copy(tmp_db_url[len("sqlite:///") :], ref_db)
    ref = open_service(f"sqlite:///{ref_db}")
    small = ref.attendance.import_csv(text, "db_training", EVENT).rows()
    close_store()
    svc = open_service(tmp_db_url)

    job = svc.attendance.start_job(
        text, "db_training", EVENT, origin="api", started_by="alice", role="admin", actor="web:alice"
    )
    seen = []
    job = svc.attendance.run_job(job.id, progress=lambda j: seen.append(j.rows_done), pause_s=0)
    assert job.status == "done" and sorted(set(seen)) == list(range(100, 901, 100))  # chunks of 100
    assert _by_line(job.shown) == {
        r["line"]: (r["result"], r.get("member"), r.get("error")) for r in small
    }  # credited, listed twice, blocked, bad cell: line by line the same
    assert (job.credited, job.already, job.errors) == (39, 0, 861)
    assert ledger_problems() == []
    # again: nothing new
    again = svc.attendance.start_job(
        text, "db_training", EVENT, origin="api", started_by="alice", role="admin", actor="web:alice"
    )
    again = svc.attendance.run_job(again.id, pause_s=0)
    assert (again.credited, again.already) == (0, 39)
    assert LedgerEntry.select().where(LedgerEntry.source == "import").count() == 39


def test_a_preview_writes_nothing_but_its_progress(svc):
    uids = _members(svc, 10)
    text = _csv(uids, 300)
    job = svc.attendance.start_job(
        text, "db_training", EVENT, dry_run=True, origin="api", started_by="bob", role="staff", actor="web:bob"
    )
    entries = LedgerEntry.select().count()
    job = svc.attendance.run_job(job.id, pause_s=0)
    assert (job.status, job.credited, job.already) == ("done", 10, 0)
    assert LedgerEntry.select().count() == entries


def test_row_limit_and_role_limits_refuse_clearly(svc, monkeypatch):
    uids = _members(svc, 2)
    over = "uid\n" + f"{uids[0]}\n" * (MAX_ROWS + 1)
    with pytest.raises(ServiceError, match=f"more than {MAX_ROWS:,} rows"):
        svc.attendance.start_job(over, "db_training", EVENT, origin="api", started_by="a", role="admin")
    assert ImportJob.select().count() == 0  # refused: nothing changed
    ok = "uid\n" + f"{uids[0]}\n" * MAX_ROWS  # exactly the limit is accepted
    assert svc.attendance.check_import(ok, "db_training", EVENT) == MAX_ROWS

    def start(role, who):
        return svc.attendance.start_job(
            "uid\n" + uids[0] + "\n", "db_training", EVENT, origin="console", started_by=who, role=role
        )

    assert RUNNING_PER_ROLE == {"staff": 1, "admin": 2}
    first = start("staff", "bob")
    with pytest.raises(TooBusy, match="at most 1 at once"):
        start("staff", "carol")  # the role's share is taken, whoever asks
    start("admin", "alice")
    start("admin", "alice")
    with pytest.raises(TooBusy):
        start("admin", "dave")
    svc.attendance.run_job(first.id, pause_s=0)
    start("staff", "carol")  # a finished job frees its place


def test_what_a_job_keeps_is_capped_and_its_counts_are_complete(svc):
    _members(svc, 1)
    text = "uid\n" + "zz\n" * (SHOW_ERRORS + 1500)
    job = svc.attendance.start_job(text, "db_training", EVENT, origin="api", started_by="a", role="admin")
    job = svc.attendance.run_job(job.id, pause_s=0)
    assert job.errors == SHOW_ERRORS + 1500
    assert len(job.shown) == att_mod.SHOW_ROWS  # the first rows (all errors here) and no more
    assert [r["line"] for r in job.shown[:3]] == [2, 3, 4]


@pytest.mark.parametrize("day", ["0001-01-01", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2020-01-01"])
def test_an_event_date_outside_the_window_is_refused(svc, day):
    uids = _members(svc, 1)
    with pytest.raises(ServiceError, match="cannot be credited"):
        svc.attendance.import_csv(f"{uids[0]}\n", "db_training", EVENT, day=day)
    with pytest.raises(ServiceError, match="cannot be credited"):
        svc.attendance.add_event(EVENT, "db_training", day[:10], created_by="a")
    assert LedgerEntry.select().where(LedgerEntry.source == "import").count() == 0


def _cli(db_url, csv_path, *extra):
    return subprocess.Popen(
        admin_argv(
            db_url,
            "import-attendance",
            str(csv_path),
            "--activity",
            "db_training",
            "--event",
            EVENT,
            *extra,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=python_env(),
    )


def test_a_killed_cli_import_resumes_and_credits_each_member_once(svc, tmp_path, tmp_db_url):
    uids = _members(svc, 600)
    close_store()
    csv_path = tmp_path / "list.csv"
    csv_path.write_text(_csv(uids, 6000))
    proc = _cli(tmp_db_url, csv_path)
    # wait until some chunks are committed, then kill -9 in the middle of the run
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        svc = open_service(tmp_db_url)
        job = ImportJob.select().first()
        done = job.rows_done if job else 0
        close_store()
        if done >= 600:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    svc = open_service(tmp_db_url)
    job = ImportJob.get()
    assert job.status == "running" and 0 < job.rows_done < 6000, (job.status, job.rows_done)
    close_store()
    again = _cli(tmp_db_url, csv_path)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 3, err  # done; some rows refused (listed twice, bad cells)
    assert f"resuming job {job.id}" in err and "rows" in err  # progress on stderr
    result = json.loads(out)
    svc = open_service(tmp_db_url)
    # the whole list's result, as if never interrupted: 600 credited once each
    assert result["counts"]["credited"] == 600 and result["counts"]["already_credited"] == 0
    assert result["counts"]["credited"] + result["counts"]["errors"] == 6000
    assert ImportJob.select().count() == 1
    assert LedgerEntry.select().where(LedgerEntry.source == "import").count() == 600
    assert ledger_problems() == []
