"""Staff scopes reaching import jobs and imported entries (issue 16, the scope's last gaps):
a job answers only to its starter and to admins whose sites hold the starter's (another
site's job is 404, as a missing id); imported entries are made at a site (the list's, a
row's ``site`` cell checked against the importer's sites, the importer's one site, the
member's home site), so per-site reports and a branch's void rights work for them.
Flask's test client and the service layer on a real SQLite file.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from server import store
from server.services import NotFound, ServiceError
from server.store import ImportJob, LedgerEntry, Member
from tests.browser.web_support import ADMIN
from tests.site_support import ANNA, BEN, SAM, UID_A, UID_B, A, B, token, two_site_app


@pytest.fixture
def app(tmp_db_url):
    app = two_site_app(tmp_db_url, accounts=(ANNA, SAM, BEN))
    yield app
    store.db.close()


def _day(svc) -> str:
    return (svc.today() - timedelta(days=1)).isoformat()


def _start(api, who, svc, event="Talk", csv=UID_A + "\n", **extra):
    body = {"activity": "db_training", "event": event, "day": _day(svc), "csv": csv, "wait": 10, **extra}
    r = api.post("/api/events/import", json=body, headers=token(who))
    assert r.status_code in (200, 202), r.text
    return r.get_json()["job"]


# --------------------------------------------------------------------------- 1. job polling


def test_a_job_answers_its_starter_and_admins_holding_its_sites_and_404_to_another_site(app):
    svc = app.extensions["privcard.service"]
    api = app.test_client()
    by_admin = _start(api, ADMIN, svc, event="Programme talk", dry_run=True)
    by_ben = _start(api, BEN, svc, event="B talk", csv=UID_B + "\n", dry_run=True)
    by_sam = _start(api, SAM, svc, event="A talk", dry_run=True)
    assert ImportJob.get_by_id(by_ben).sites == "B" and ImportJob.get_by_id(by_admin).sites is None

    def status(who, job):
        return api.get(f"/api/jobs/{job}", headers=token(who)).status_code

    missing = api.get("/api/jobs/987654", headers=token(ANNA))
    assert missing.status_code == 404
    # a branch's admin: its own site's jobs, not another site's nor the programme administrator's
    for job in (by_ben, by_admin):
        r = api.get(f"/api/jobs/{job}", headers=token(ANNA))
        assert r.status_code == 404
        assert r.get_json() == {
            "error": f"no import job {job}",
            "error_th": f"ไม่พบงานนำเข้า {job}",
        }  # the very answer a missing id gets
        assert missing.get_json() == {"error": "no import job 987654", "error_th": "ไม่พบงานนำเข้า 987654"}
    assert status(ANNA, by_sam) == 200  # an account of its site
    assert status(BEN, by_ben) == 200 and status(BEN, by_sam) == 404
    assert status(SAM, by_ben) == 404 and status(SAM, by_sam) == 200
    assert {status(ADMIN, j) for j in (by_admin, by_ben, by_sam)} == {200}
    # the service layer says the same, whoever calls it
    with pytest.raises(NotFound):
        svc.attendance.job(by_ben, A, username="anna", role="admin")
    with pytest.raises(NotFound):
        svc.attendance.job("12abc", A, username="anna", role="admin")
    assert svc.attendance.job(by_ben, B, username="ben", role="admin").id == by_ben


def test_the_console_shows_no_job_of_another_sites_event(app):
    from tests.browser.web_support import sign_in

    svc = app.extensions["privcard.service"]
    ev_a = svc.attendance.add_event("A talk", "db_training", _day(svc), created_by="anna", scope=A)
    ev_b = svc.attendance.add_event("B talk", "db_training", _day(svc), created_by="ben", scope=B)
    up_b = svc.attendance.preview_upload(ev_b, "b.csv", UID_B + "\n", created_by="ben", role="admin", scope=B)
    c = app.test_client()
    sign_in(c, ANNA)
    page = c.get(f"/events/{ev_a.id}?upload={up_b.id}")
    assert page.status_code == 200 and "b.csv" not in page.text and 'id="import-progress"' not in page.text
    assert c.get(f"/events/{ev_b.id}?upload={up_b.id}").status_code == 404


# --------------------------------------------------------------------------- 3. imported entries' site


def _entries(member_id: int) -> list[LedgerEntry]:
    return list(LedgerEntry.select().where(LedgerEntry.member == member_id, LedgerEntry.source == "import"))


def test_imported_entries_are_made_at_the_importers_site_and_a_branch_may_void_its_own(app):
    svc = app.extensions["privcard.service"]
    day = _day(svc)
    rep = svc.attendance.import_csv(f"{UID_A}\n{UID_B}\n", "db_training", "A talk", day=day, actor="web:sam", scope=A)
    assert len(rep.credited) == 2 and not rep.errors
    (own,), (visitor,) = _entries(app.members["A"]), _entries(app.members["B"])
    assert (own.site, visitor.site) == ("A", "A")  # a visitor from B credited at A's event
    # a branch voids its own imported award to a visitor; not another site's import
    assert [r.member_id for r in svc.points.void(visitor.id, "typo", scope=A)] == [app.members["B"]]
    svc.attendance.import_csv(f"{UID_B}\n", "db_training", "B talk", day=day, actor="web:ben", scope=B)
    (b_own,) = [e for e in _entries(app.members["B"]) if e.item == "B talk"]
    assert b_own.site == "B"
    with pytest.raises(NotFound):
        svc.points.void(b_own.id, "not ours", scope=A)
    # the programme administrator's import: each member's home site
    svc.attendance.import_csv(f"{UID_A}\n{UID_B}\n", "db_training", "Both", day=day, actor="admin")
    assert {e.member_id: e.site for e in LedgerEntry.select().where(LedgerEntry.item == "Both")} == {
        app.members["A"]: "A",
        app.members["B"]: "B",
    }


def test_a_site_column_is_checked_against_the_importers_sites_row_by_row(app):
    svc = app.extensions["privcard.service"]
    text = f"uid,site\n{UID_A},A\n{UID_B},B\n{UID_B},Z\n"
    before = {k: Member.get_by_id(v).balance for k, v in app.members.items()}
    rep = svc.attendance.import_csv(text, "db_training", "Talk", day=_day(svc), actor="web:sam", scope=A)
    assert [line for line, *_ in rep.credited] == [2]
    errors = {line: str(msg) for line, msg in rep.errors}
    assert errors == {3: "site B is outside your sites", 4: "unknown site 'Z'; known: A, B"}
    assert not _entries(app.members["B"]) and Member.get_by_id(app.members["B"]).balance == before["B"]
    # the programme administrator's rows are made where each row says
    svc.attendance.import_csv(text, "db_training", "Talk 2", day=_day(svc), actor="admin")
    assert {e.member_id: e.site for e in LedgerEntry.select().where(LedgerEntry.item == "Talk 2")} == {
        app.members["A"]: "A",
        app.members["B"]: "B",
    }


def test_an_api_import_job_records_its_site_and_per_site_reports_count_it(app):
    svc = app.extensions["privcard.service"]
    api = app.test_client()
    text = f"uid,site\n{UID_A},\n{UID_B},B\n"
    job = _start(api, ANNA, svc, event="A list", csv=text)
    done = api.get(f"/api/jobs/{job}", headers=token(ANNA)).get_json()
    assert done["counts"] == {"credited": 1, "already_credited": 0, "errors": 1}
    assert done["errors"] == [
        {"line": 3, "error": "site B is outside your sites", "error_th": "สาขา B ไม่อยู่ในสาขาที่คุณดูแล"}
    ]
    (a_entry,) = _entries(app.members["A"])
    assert a_entry.site == "A" and not _entries(app.members["B"])
    # a named site outside the account's: refused before any job
    body = {"activity": "db_training", "event": "x", "day": _day(svc), "csv": UID_A + "\n", "site": "B"}
    r = api.post("/api/events/import", json=body, headers=token(ANNA))
    assert r.status_code == 400 and r.get_json()["error"] == "site B is outside your sites"
    # the programme administrator's list made at B counts in B's report, not in A's
    _start(api, ADMIN, svc, event="At B", csv=UID_A + "\n", site="B")
    assert LedgerEntry.get(LedgerEntry.item == "At B").site == "B"

    def imported(site):
        r = api.get(f"/api/reports/points?site={site}&from={_day(svc)}", headers=token(ADMIN))
        assert r.status_code == 200, r.text
        return {row["activity"]: row["entries"] for row in r.get_json()["rows"]}.get("db_training", 0)

    assert (imported("A"), imported("B")) == (1, 1)


def test_a_console_list_is_credited_at_its_events_site(app):
    svc = app.extensions["privcard.service"]
    ev = svc.attendance.add_event("B talk", "db_training", _day(svc), created_by="ben", scope=B)
    up = svc.attendance.preview_upload(ev, "b.csv", f"{UID_A}\n", created_by="ben", role="admin", scope=B)
    svc.attendance.run_job(svc.attendance.upload_job(up.id).id, pause_s=0)
    job = svc.attendance.credit_upload(ev, up, started_by="ben", role="admin", scope=B)
    assert (job.site, job.sites) == ("B", "B")
    svc.attendance.run_job(job.id, pause_s=0)
    (entry,) = _entries(app.members["A"])
    assert entry.site == "B"  # a member of A attending B's event: B's entry, B may void it
    assert svc.points.void(entry.id, "typo", scope=B)
    with pytest.raises(ServiceError, match="outside your sites"):
        svc.attendance.start_job(
            UID_A, "db_training", "x", origin="api", started_by="anna", role="admin", scope=A, site="B"
        )
