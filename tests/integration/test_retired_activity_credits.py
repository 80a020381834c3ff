"""A retired activity earns nothing by any path (points are money: fine discounts).

Retiring an activity in the console (``retired = true``) made a gate's tap earn nothing
for it, but until this test staff could still credit it: a counter award (console, JSON
API, CLI), a new event, an attendance list (preview, check, credit, job). Each is refused
now with the activity named in English and Thai, changing nothing; the pickers no longer
offer it (old entries and events keep its label); a list being credited when its activity
is retired stops at its next chunk, what it credited before staying (docs/rules.md).
Real SQLite, the real console app (CSRF and all), the real service layer.
"""

from __future__ import annotations

import re

import pytest

from server.catalogue import thai
from server.services import ServiceError
from server.services import attendance as att_mod
from server.store import Audit, Event, ImportJob, LedgerEntry, Upload
from tests.browser.web_support import make_app, post_form, sign_in
from tests.helpers import close_store
from tests.site_support import token

BORROW_EN = "borrow (Borrowing books and journals) is retired: it earns no points any more"
BORROW_TH = "กิจกรรม borrow (การยืมหนังสือและวารสาร) เลิกใช้แล้ว: ไม่ได้รับคะแนนอีกต่อไป"
TRAINING_EN = "db_training (E-database training) is retired: it earns no points any more"
TRAINING_TH = "กิจกรรม db_training (การอบรมฐานข้อมูลอิเล็กทรอนิกส์) เลิกใช้แล้ว: ไม่ได้รับคะแนนอีกต่อไป"


@pytest.fixture
def app(tmp_db_url):
    app = make_app(tmp_db_url)
    yield app
    close_store()


def _counts():
    """Entries, jobs, events, uploads and the audit of points, events and imports (sign-ins aside)."""
    moved = Audit.select().where(
        Audit.action.startswith("points.") | Audit.action.startswith("event.") | Audit.action.startswith("import.")
    )
    return (
        LedgerEntry.select().count(),
        ImportJob.select().count(),
        Event.select().count(),
        Upload.select().count(),
        moved.count(),
    )


def _select_options(html: str, name: str) -> list[str]:
    m = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert m, f"no select {name}"
    return re.findall(r'<option value="([^"]*)"', m.group(1))


def test_a_staff_award_of_a_retired_activity_is_refused_in_english_and_thai_and_changes_nothing(app):
    svc = app.extensions["privcard.service"]
    m = svc.members.add("Somchai", "04AA000000B1")
    assert svc.points.award(m.id, "borrow", actor="t")[0] == "credited"  # before: credited
    svc.programme.retire_activity("borrow", actor="t")
    other = svc.members.add("Somsri", "04AA000000C1")
    before, balance = _counts(), svc.ledger.balance(m.id)
    # the service (the console's form and `privcard admin points award` call it)
    with pytest.raises(ServiceError) as exc:
        svc.points.award(other.id, "borrow", actor="t")
    assert str(exc.value) == BORROW_EN
    assert thai(exc.value.template, exc.value.values) == BORROW_TH
    # the JSON API: both languages
    c = app.test_client()
    r = c.post(f"/api/members/{m.id}/credit", json={"activity": "borrow"}, headers=token(("alice", "")))
    assert r.status_code == 400 and r.get_json() == {"error": BORROW_EN, "error_th": BORROW_TH}
    # the console's credit form: refused, said in Thai to a Thai session
    sign_in(c, lang="th")
    page = post_form(c, f"/members/{m.id}", f"/members/{m.id}/credit", {"activity": "borrow", "item": ""})
    assert BORROW_TH in page.text
    assert _counts() == before and svc.ledger.balance(m.id) == balance and svc.ledger.balance(other.id) == 250
    # ... and the form no longer offers it, while the entry credited before keeps its label
    page = c.get(f"/members/{m.id}").text
    assert "borrow" not in _select_options(page, "activity")
    assert "การยืมหนังสือและวารสาร" in page  # the old entry's label in the ledger
    # brought back: credited again
    svc.programme.retire_activity("borrow", actor="t", retired=False)
    assert svc.points.award(other.id, "borrow", actor="t")[0] == "credited"


def test_events_and_lists_of_a_retired_activity_are_refused_before_anything_starts(app):
    svc = app.extensions["privcard.service"]
    m = svc.members.add("Somchai", "04AA000000B2")
    day = svc.today().isoformat()
    ev = svc.attendance.add_event("Scopus", "db_training", day, created_by="alice")
    c = app.test_client()
    sign_in(c)
    # previewed while the activity earned
    page = c.get(f"/events/{ev.id}").text
    up = svc.attendance.preview_upload(ev, "list.csv", f"member\n{m.id}\n", created_by="alice", role="admin")
    svc.attendance.run_job(svc.attendance.upload_job(up.id).id, pause_s=0)
    svc.programme.retire_activity("db_training", actor="t")
    before = _counts()
    refusals = [
        lambda: svc.attendance.add_event("Scopus 2", "db_training", day, created_by="alice"),
        lambda: svc.attendance.preview_upload(ev, "again.csv", f"{m.id}\n", created_by="alice", role="admin"),
        lambda: svc.attendance.credit_upload(ev, Upload.get_by_id(up.id), role="admin"),  # previewed before
        lambda: svc.attendance.check_import(f"{m.id}\n", "db_training", "Scopus", day=day),
        lambda: svc.attendance.start_job(
            f"{m.id}\n", "db_training", "Scopus", day=day, origin="api", started_by="alice", role="admin"
        ),
        lambda: svc.attendance.import_csv(f"{m.id}\n", "db_training", "Scopus", day=day),
    ]
    for refuse in refusals:
        with pytest.raises(ServiceError) as exc:
            refuse()
        assert str(exc.value) == TRAINING_EN
        assert thai(exc.value.template, exc.value.values) == TRAINING_TH
    assert _counts() == before and svc.ledger.balance(m.id) == 250
    # the API's import: both languages, no job
    r = c.post(
        "/api/events/import",
        json={"activity": "db_training", "event": "Scopus", "day": day, "csv": f"{m.id}\n"},
        headers=token(("alice", "")),
    )
    assert r.status_code == 400 and r.get_json() == {"error": TRAINING_EN, "error_th": TRAINING_TH}
    assert _counts() == before
    # the events page offers it no more for a new event; the old event keeps its label
    page = c.get("/events").text
    assert "db_training" not in _select_options(page, "activity")
    assert "E-database training" in page
    assert "volunteer" in _select_options(page, "activity")


def test_a_list_being_credited_stops_at_its_next_chunk_when_its_activity_is_retired(app, monkeypatch):
    """The job credits 2 rows a chunk here; the activity is retired after its first chunk."""
    monkeypatch.setattr(att_mod, "WRITE_CHUNK_ROWS", 2)
    svc = app.extensions["privcard.service"]
    ids = [svc.members.add(f"M{i}", f"04AA0000{i:04X}").id for i in range(5)]
    text = "member\n" + "\n".join(map(str, ids)) + "\n"
    job = svc.attendance.start_job(
        text, "db_training", "Scopus", origin="api", started_by="alice", role="admin", actor="web:alice"
    )

    def retire_after_first_chunk(j):
        if j.rows_done == 2:
            svc.programme.retire_activity("db_training", actor="t")

    job = svc.attendance.run_job(job.id, progress=retire_after_first_chunk, pause_s=0)
    assert (job.status, job.rows_done, job.credited) == ("failed", 2, 2)
    assert job.failure["values"]["credited"] == 2
    en = job.failure["template"] % job.failure["values"]
    assert en == (
        "db_training (E-database training) was retired while this list was being credited: "
        "2 row(s) credited before stay credited; the rest were not credited"
    )
    assert thai(job.failure["template"], job.failure["values"]) == (
        "กิจกรรม db_training (การอบรมฐานข้อมูลอิเล็กทรอนิกส์) ถูกเลิกใช้ระหว่างให้คะแนนตามรายชื่อนี้: "
        "2 แถวที่ให้คะแนนไปก่อนแล้วยังคงอยู่ แถวที่เหลือไม่ได้รับคะแนน"
    )
    credited = [e.member_id for e in LedgerEntry.select().where(LedgerEntry.activity == "db_training")]
    assert sorted(credited) == ids[:2]  # the first chunk's credits stay; no row after it
    stopped = Audit.select().where(Audit.action == "points.import").get()
    assert stopped.detail["stopped"] == "retired" and stopped.detail["credited"] == 2
    # run again (a restart resumes unfinished jobs): a failed job stays failed, credits nothing
    assert svc.attendance.run_job(job.id, pause_s=0).status == "failed"
    # brought back, the same list credits only the rest (each member once)
    svc.programme.retire_activity("db_training", actor="t", retired=False)
    again = svc.attendance.start_job(
        text, "db_training", "Scopus", origin="api", started_by="alice", role="admin", actor="web:alice"
    )
    again = svc.attendance.run_job(again.id, pause_s=0)
    assert (again.status, again.credited, again.already) == ("done", 3, 2)


def test_a_queued_preview_of_a_retired_activity_fails_clearly(app):
    svc = app.extensions["privcard.service"]
    m = svc.members.add("Somchai", "04AA000000B3")
    job = svc.attendance.start_job(
        f"{m.id}\n", "db_training", "Scopus", dry_run=True, origin="api", started_by="alice", role="admin"
    )
    svc.programme.retire_activity("db_training", actor="t")
    job = svc.attendance.run_job(job.id, pause_s=0)
    assert job.status == "failed" and job.failure["template"] % job.failure["values"] == TRAINING_EN
