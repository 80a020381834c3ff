"""Feedback given at a site (issue 16, the scope's last gaps): a kiosk's at its site, the patron
page's at the member's home site, staff's at their site; the desk shows and filters by site,
and a branch's staff see and change only their sites' items — in the service layer, the
console and the API, tried by changing ids. Flask's test client on a real SQLite file.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from broker import contract
from server import store
from server.services import NotFound, ServiceError
from server.store import Feedback
from tests.browser.web_support import ADMIN, csrf_of, sign_in
from tests.site_support import SAM, UID_A, UID_B, A, token, two_site_app


@pytest.fixture
def app(tmp_db_url):
    app = two_site_app(tmp_db_url, accounts=(SAM,), devices=("kiosk",))
    svc = app.extensions["privcard.service"]
    at = datetime.now(UTC).replace(microsecond=0)
    ids = {}
    for site, uid in (("A", UID_A), ("B", UID_B)):
        fb = contract.Feedback(f"f-{site}", None, at, uid, category="suggestion", text=f"kiosk at {site}")
        assert svc.devices.record_feedback(f"kiosk-{site}", fb)
        ids[site] = Feedback.get(Feedback.feedback_id == f"f-{site}").id
    app.items = ids
    yield app
    store.db.close()


def _state(fid: int) -> tuple:
    row = Feedback.get_by_id(fid)
    return (row.status, row.assignee, row.answer)


def test_feedback_is_given_at_a_site_and_a_branch_sees_and_changes_only_its_own(app):
    svc = app.extensions["privcard.service"]
    desk, b_item = svc.feedback, app.items["B"]
    assert {d["id"]: d["site"] for d in desk.list()} == {app.items["A"]: "A", b_item: "B"}
    # the patron page: the member's home site; staff: their one site, else the member's home site
    mine = desk.submit(channel="patron_page", category="question", text="?", member=app.members["B"])
    assert mine["site"] == "B"
    at_counter = desk.submit(channel="counter", category="question", text="?", member=UID_B, scope=A, actor="web:sam")
    assert at_counter["site"] == "A"  # a visitor's feedback taken at A's counter
    assert desk.submit(channel="phone", category="question", text="?", member=UID_B)["site"] == "B"
    with pytest.raises(ServiceError, match="site B is outside your sites"):
        desk.submit(channel="counter", category="question", text="x", site="B", scope=A)
    with pytest.raises(ServiceError, match="unknown site"):
        desk.submit(channel="counter", category="question", text="x", site="Z")
    assert {d["site"] for d in desk.list(scope=A)} == {"A"}
    assert {d["id"] for d in desk.list(site="B")} == {b_item, mine["id"], b_item + 3}
    before = _state(b_item)
    for call in (
        lambda: desk.get(b_item, A),
        lambda: desk.assign(b_item, "sam", scope=A),
        lambda: desk.set_status(b_item, "in_progress", scope=A),
        lambda: desk.answer(b_item, "thanks", scope=A),
        lambda: desk.list(site="B", scope=A),
    ):
        with pytest.raises(NotFound):
            call()
    assert _state(b_item) == before
    assert desk.set_status(app.items["A"], "in_progress", scope=A)["status"] == "in_progress"


def test_the_console_desk_shows_filters_and_refuses_by_site(app):
    b_item, a_item = app.items["B"], app.items["A"]
    c = app.test_client()
    sign_in(c, SAM)
    page = c.get("/feedback")
    assert f'data-feedback="{a_item}"' in page.text and f'data-feedback="{b_item}"' not in page.text
    tok = csrf_of(page.text)
    assert c.get(f"/feedback/{b_item}").status_code == 404 and c.get("/feedback/999999").status_code == 404
    before = _state(b_item)
    for path, data in (
        ("assign", {"assignee": "sam"}),
        ("status", {"status": "in_progress"}),
        ("answer", {"answer": "thanks"}),
    ):
        assert c.post(f"/feedback/{b_item}/{path}", data={**data, "csrf_token": tok}).status_code == 404
    assert _state(b_item) == before
    assert c.get("/feedback?site=B").status_code == 404
    # recording feedback at another site is refused and stores nothing
    n = Feedback.select().count()
    c.post(
        "/feedback",
        data={"channel": "counter", "category": "question", "text": "x", "site": "B", "csrf_token": tok},
    )
    assert Feedback.select().count() == n
    # the programme administrator sees both, with a site column and filter
    admin = app.test_client()
    sign_in(admin, ADMIN)
    everything = admin.get("/feedback").text
    assert (
        'id="feedback-site"' in everything and f'data-feedback="{b_item}" data-status="new" data-site="B"' in everything
    )
    only_b = admin.get("/feedback?site=B").text
    assert f'data-feedback="{b_item}"' in only_b and f'data-feedback="{a_item}"' not in only_b
    assert 'id="fb-site"' in admin.get(f"/feedback/{b_item}").text


def test_the_api_desk_refuses_another_sites_items_like_missing_ones(app):
    b_item, a_item = app.items["B"], app.items["A"]
    api, h = app.test_client(), token(SAM)
    rows = api.get("/api/feedback", headers=h).get_json()["feedback"]
    assert [(r["id"], r["site"]) for r in rows] == [(a_item, "A")]
    r = api.get(f"/api/feedback/{b_item}", headers=h)
    assert r.status_code == 404 and r.get_json() == {
        "error": f"no feedback '{b_item}'",
        "error_th": f"ไม่พบความคิดเห็น '{b_item}'",
    }
    assert api.get("/api/feedback/999999", headers=h).get_json()["error"] == "no feedback '999999'"
    before = _state(b_item)
    assert api.post(f"/api/feedback/{b_item}/status", json={"status": "closed"}, headers=h).status_code == 404
    assert api.post(f"/api/feedback/{b_item}/answer", json={"answer": "x"}, headers=h).status_code == 404
    assert _state(b_item) == before
    assert api.get("/api/feedback?site=B", headers=h).status_code == 404
    ok = api.post(f"/api/feedback/{a_item}/answer", json={"answer": "ขอบคุณค่ะ"}, headers=h)
    assert ok.status_code == 200 and ok.get_json()["status"] == "answered"
    ha = token(ADMIN)
    assert api.get(f"/api/feedback/{b_item}", headers=ha).get_json()["site"] == "B"
    assert [r["id"] for r in api.get("/api/feedback?site=B", headers=ha).get_json()["feedback"]] == [b_item]

    def desk_total(site, who):
        r = api.get(f"/api/reports/feedback_desk?site={site}", headers=token(who))
        return r.status_code, (r.get_json()["rows"][-1]["total"] if r.status_code == 200 else None)

    assert desk_total("A", ADMIN) == (200, 1) and desk_total("B", ADMIN) == (200, 1)
    assert desk_total("B", SAM)[0] == 404


def test_existing_kiosk_feedback_migrates_to_its_kiosks_site(app):
    Feedback.update(site=None).execute()
    store.Counter.delete().where(store.Counter.key == "schema:site_scope").execute()
    store.upgrade()
    assert {r.device: r.site for r in Feedback.select()} == {"kiosk-A": "A", "kiosk-B": "B"}
    assert store.counter("schema:site_scope") == len(store.EXTRA_MIGRATIONS["site_scope"])
