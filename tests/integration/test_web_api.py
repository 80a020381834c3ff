"""The console's JSON API with a bearer token, its OpenAPI description, the staff
CLI, member search paths, and report CSVs — through Flask's test client on SQLite.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from server import store
from server.store import Audit
from tests.brokers import python_env
from tests.browser.web_support import ADMIN, STAFF, sign_in, text


@pytest.fixture
def api(app):
    """A client with an admin bearer token (no cookie, no CSRF token needed)."""
    from server.web import accounts

    token = accounts.create_token(ADMIN[0], "tests")
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return c


def test_api_operations_with_a_token(api):
    r = api.post("/api/members", json={"name": "Api Person", "card": "04 a1 b2 c3", "group": "U2"})
    assert r.status_code == 201, r.get_json()
    a = r.get_json()
    assert a["balance"] == 250 and a["cards"][0]["uid"] == "04A1B2C3"
    b = api.post("/api/members", json={"name": "Second", "card": "04A1B2C4"}).get_json()
    assert (
        api.post("/api/members", json={"name": "Dup", "card": "04A1B2C3"}).get_json()["error"]
        == "card 04A1B2C3 already belongs to a member"
    )

    r = api.post(f"/api/members/{a['id']}/credit", json={"activity": "partner_purchase", "item": "More Coffee"})
    assert r.get_json()["outcome"] == "credited" and r.get_json()["balance"] == 255
    r = api.post(f"/api/members/{a['id']}/credit", json={"activity": "partner_purchase", "item": "Nowhere Shop"})
    assert r.status_code == 400 and "unknown partner shop" in r.get_json()["error"]
    r = api.post(f"/api/members/{a['id']}/credit", json={"activity": "entry"})
    assert r.status_code == 400

    r = api.post("/api/transfers", json={"from": a["id"], "to": "04A1B2C4", "points": 5})
    assert r.status_code == 201
    assert api.get(f"/api/members/{b['id']}").get_json()["balance"] == 255
    r = api.post("/api/transfers", json={"from": a["id"], "to": b["id"], "points": 10_000})
    assert r.status_code == 400 and "less than" in r.get_json()["error"]

    r = api.post(f"/api/members/{a['id']}/redeem", json={"reward": "fine_discount", "points": 50})
    assert r.get_json()["baht"] == 10 and r.get_json()["balance"] == 200
    r = api.post(f"/api/members/{a['id']}/redeem", json={"reward": "fine_discount", "points": 30})
    assert r.status_code == 400 and "steps of 25" in r.get_json()["error"]

    entries = api.get(f"/api/members/{a['id']}/entries").get_json()["entries"]
    shop = next(e for e in entries if e["activity"] == "partner_purchase")
    assert api.post(f"/api/entries/{shop['id']}/void", json={"reason": ""}).status_code == 400
    r = api.post(f"/api/entries/{shop['id']}/void", json={"reason": "wrong shop"})
    assert r.status_code == 200
    assert api.get(f"/api/members/{a['id']}").get_json()["balance"] == 195

    r = api.patch(f"/api/members/{a['id']}", json={"tier": "gold", "valid_until": "2030-05-31"})
    assert r.get_json()["tier"] == "gold"
    assert api.patch(f"/api/members/{a['id']}", json={"balance": 9999}).status_code == 400

    r = api.post(
        "/api/events/import",
        json={"activity": "db_training", "event": "Scopus", "csv": "uid\n04A1B2C3\nXYZ\n", "dry_run": True},
    )
    rep = r.get_json()
    assert rep["dry_run"] and len(rep["credited"]) == 1 and rep["errors"][0]["line"] == 3
    assert api.get(f"/api/members/{a['id']}").get_json()["balance"] == 195
    rep = api.post(
        "/api/events/import", json={"activity": "db_training", "event": "Scopus", "csv": "uid\n04A1B2C3\n"}
    ).get_json()
    assert len(rep["credited"]) == 1
    rep = api.post(
        "/api/events/import", json={"activity": "db_training", "event": "Scopus", "csv": "uid\n04A1B2C3\n"}
    ).get_json()
    assert rep["credited"] == [] and len(rep["already_credited"]) == 1

    r = api.post(
        "/api/devices", json={"id": "gate-1", "kind": "gate", "direction": "in", "settings": {"open_ms": 3500}}
    )
    assert r.status_code == 201
    r = api.patch("/api/devices/gate-1", json={"open_ms": 99999})
    assert r.status_code == 400 and "open_ms must be a whole number from 100 to 60000" in r.get_json()["error"]
    r = api.get("/api/devices/gate-1").get_json()
    assert r["config"]["settings"]["open_ms"] == 3500

    # every change carries the token owner's name
    actors = {a.actor for a in Audit.select().where(Audit.action.startswith("points."))}
    assert actors == {"web:alice"}
    assert api.get("/api/me").get_json() == {"username": "alice", "role": "admin"}


def test_openapi_describes_the_routes(api, app):
    spec = api.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path, method in (
        ("/members", "post"),
        ("/members/{ref}/credit", "post"),
        ("/entries/{entry_id}/void", "post"),
        ("/transfers", "post"),
        ("/members/{ref}/redeem", "post"),
        ("/devices/{device_id}", "patch"),
        ("/events/import", "post"),
        ("/reports/{name}", "get"),
    ):
        assert method in paths[path], (path, method)
    # every API rule of the app is described
    rules = {
        r.rule[len("/api") :].replace("<int:", "<") for r in app.url_map.iter_rules() if r.rule.startswith("/api/")
    }
    described = {p.replace("{", "<").replace("}", ">") for p in paths}
    assert rules - {"/openapi.json"} == described


def test_staff_token_cannot_do_admin_things(app):
    from server.web import accounts

    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {accounts.create_token(STAFF[0])}"
    assert c.get("/api/devices").status_code == 403
    assert c.post("/api/devices", json={"id": "x1", "kind": "gate"}).status_code == 403
    assert c.get("/api/members").status_code == 200


def test_search_by_name_prefix_later_word_card_and_id(app):
    from server.web.queries import search_members

    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + __import__("server.web.accounts", fromlist=["x"]).create_token(
        ADMIN[0]
    )
    made = [
        c.post("/api/members", json={"name": n, "card": u}).get_json()["id"]
        for n, u in (
            ("Somchai Jaidee", "04000001"),
            ("Somsri Jaidee", "04000002"),
            ("Anan Somboon", "04000003"),
            ("สมชาย ใจดี", "0400000A"),
        )
    ]
    names = lambda q: [m["name"] for m in c.get("/api/members", query_string={"q": q}).get_json()["members"]]  # noqa: E731
    assert names("som") == ["Somchai Jaidee", "Somsri Jaidee", "Anan Somboon"]  # prefix first, then later word
    assert names("JAIDEE") == ["Somchai Jaidee", "Somsri Jaidee"]
    assert names("สมช") == ["สมชาย ใจดี"]
    assert names("ใจ") == ["สมชาย ใจดี"]
    assert names("04:00:00:03") == ["Anan Somboon"]
    assert names(str(made[1])) == ["Somsri Jaidee"]
    assert [m.name for m in search_members("0400000")][:1] == ["Somchai Jaidee"]  # card prefix
    # the name search uses the expression index, not a table scan
    plan = " ".join(
        str(r)
        for r in store.db.execute_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM member WHERE lower(name) >= ? AND lower(name) < ?", ("som", "son")
        )
    )
    assert "web_member_lower_name" in plan


def test_report_csv_and_pages(app):
    c = app.test_client()
    sign_in(c, ADMIN)
    c.environ_base["HTTP_AUTHORIZATION"] = ""
    page = c.get("/reports")
    assert page.status_code == 200
    for title in (
        "Entries per day",
        "Entries per hour",
        "Top borrowers of the semester",
        "Top library users of the semester",
        "Points earned and redeemed per activity",
        "Members by segment",
        "Kiosk feedback ratings",
    ):
        assert title in text(page.text)
    r = c.get("/reports/segments.csv")
    assert r.mimetype == "text/csv"
    lines = r.data.decode("utf-8-sig").splitlines()
    assert lines[0] == "Segment,Who,Silver,Gold,Active,Total"
    assert lines[1].startswith("U1,Undergraduate,")
    c.get("/lang/th")
    assert c.get("/reports/segments.csv").data.decode("utf-8-sig").splitlines()[0].startswith("กลุ่ม,")
    assert c.get("/reports/nonsense.csv").status_code == 404


def test_staff_cli_add_prompts_and_refuses(tmp_db_url):
    run = lambda *args, stdin=None: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "broker.dispatcher", "admin", "--db", tmp_db_url, "staff", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=60,
    )
    r = run("add", "root", "--role", "admin", stdin="correct horse battery\n")  # no --password: reads it
    assert r.returncode == 0 and "staff account root (admin) created" in r.stdout
    r = run("add", "root", "--role", "admin", "--password", "another-password")
    assert r.returncode == 1 and "already exists" in r.stderr
    r = run("add", "shorty", "--password", "short")
    assert r.returncode == 1 and "at least 8 characters" in r.stderr
    assert run("list").stdout.splitlines()[1].split()[:3] == ["root", "admin/ผู้ดูแลระบบ", "active/ใช้งานได้"]
    token = run("token", "root").stdout.strip()
    assert token.startswith("pct_")
    # the account signs in to the console
    from server.domain.config import load
    from server.web import accounts, create_app

    create_app(tmp_db_url, load())
    assert accounts.authenticate("root", "correct horse battery").role == "admin"
    assert accounts.staff_for_token(token).username == "root"
    store.db.close()


def test_an_import_s_audit_row_names_its_activity_and_its_event_apart_in_thai_and_english(app, api):
    """In Thai the keys ``activity`` and ``event`` were both "กิจกรรม", so an import's row read
    "กิจกรรม: … · กิจกรรม: …": the event is called as the events page calls it, ชื่อกิจกรรม."""
    import re

    r = api.post(
        "/api/events/import",
        json={"activity": "db_training", "event": "Scopus workshop", "csv": "uid\n04A1B2C3\n", "dry_run": True},
    )
    assert r.status_code == 200, r.get_json()
    c = app.test_client()
    for lang, activity, event in (
        ("th", "กิจกรรม: การอบรมฐานข้อมูลอิเล็กทรอนิกส์", "ชื่อกิจกรรม: Scopus workshop"),
        ("en", "activity: E-database training", "event: Scopus workshop"),
    ):
        sign_in(c, lang=lang)
        page = c.get("/staff").text
        row = re.search(r'<tr data-action="import.start">(.*?)</tr>', page, re.S)
        assert row, page[-3000:]
        detail = text(re.search(r'<td class="audit-detail">(.*?)</td>', row.group(1), re.S).group(1))
        labels = re.findall(r"(?:^|· )([^·:]+):", detail)
        assert len(set(labels)) == len(labels), detail  # no key said twice
        assert activity in detail.split(" · ") and event in detail.split(" · "), detail
