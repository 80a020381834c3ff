"""The JSON API's refusals carry their Thai (``error_th``) beside the English (``error``)
that scripts match — as ``privcard admin --json`` does: another site's objects tried by
changing ids (404), the whole programme's routes and the admin role (403), no sign-in
(401), a service's refusal (400), Werkzeug's own errors (405). The real console app on a
real SQLite file; the session's language does not change the answer.
"""

from __future__ import annotations

from datetime import date

import pytest

from server import store
from server.web import auth
from tests.browser.web_support import ADMIN, csrf_of, sign_in
from tests.site_support import ANNA, BEA, SAM, UID_B, token, two_site_app


@pytest.fixture
def app(tmp_db_url):
    app = two_site_app(tmp_db_url, accounts=(ANNA, SAM, BEA), devices=("gate",))
    svc = app.extensions["privcard.service"]
    _o, entry = svc.points.award(UID_B, "borrow", actor="web:bea")  # made at B
    app.b_entry = entry.id
    yield app
    store.db.close()


def test_another_sites_objects_are_refused_in_english_and_thai(app):
    c = app.test_client()
    b = app.members["B"]
    sam, anna = token(SAM), token(ANNA)
    r = c.patch(f"/api/members/{b}", json={"name": "Changed"}, headers=sam)
    assert r.status_code == 404 and r.get_json() == {"error": f"no member {b}", "error_th": f"ไม่พบสมาชิก {b}"}
    r = c.get("/api/devices/in-B", headers=anna)
    assert r.status_code == 404 and r.get_json() == {"error": "no device in-B", "error_th": "ไม่พบอุปกรณ์ in-B"}
    # a missing id answers the same, so neither language tells which exists
    missing = c.get("/api/devices/in-Z", headers=anna).get_json()
    assert missing == {"error": "no device in-Z", "error_th": "ไม่พบอุปกรณ์ in-Z"}
    r = c.post(f"/api/entries/{app.b_entry}/void", json={"reason": "mine?"}, headers=sam)
    assert r.status_code == 404 and r.get_json()["error_th"].startswith("ไม่พบ")
    r = c.post(f"/api/members/{b}/redeem", json={"reward": "fine_discount", "points": 5}, headers=sam)
    assert r.status_code == 404 and r.get_json()["error_th"] == f"ไม่พบสมาชิก {b}"


def test_the_programmes_routes_and_the_admin_role_are_refused_in_english_and_thai(app):
    c = app.test_client()
    r = c.get("/api/ils/pending", headers=token(ANNA))
    assert r.status_code == 403 and r.get_json() == {
        "error": "this is the whole programme's; your account works for some sites",
        "error_th": "รายการนี้เป็นของทั้งโครงการ บัญชีของคุณดูแลเฉพาะบางสาขา",
    }
    r = c.get("/api/devices", headers=token(SAM))
    assert r.status_code == 403
    assert r.get_json() == {"error": "admin role required", "error_th": "ต้องใช้บทบาทผู้ดูแลระบบ (admin)"}
    r = c.get("/api/members")
    assert r.status_code == 401 and r.get_json()["error_th"] == "กรุณาเข้าสู่ระบบ หรือส่ง 'Authorization: Bearer <token>'"
    r = c.delete("/api/members", headers=token(SAM))
    assert r.status_code == 405 and r.get_json() == {"error": "method not allowed", "error_th": "ไม่อนุญาตให้ใช้เมธอดนี้"}
    r = c.get("/api/no-such-thing", headers=token(SAM))
    assert r.status_code == 404 and r.get_json() == {"error": "not found", "error_th": "ไม่พบ"}


@pytest.mark.parametrize("lang", ["en", "th"])
def test_a_service_refusal_is_english_for_scripts_and_thai_beside_it_whatever_the_session(app, lang):
    c = app.test_client()
    sign_in(c, ADMIN, lang=lang)
    csrf = {"X-CSRFToken": csrf_of(c.get("/").text)}
    a = app.members["A"]
    r = c.post(f"/api/members/{a}/redeem", json={"reward": "fine_discount", "points": 500}, headers=csrf)
    assert r.status_code == 400
    body = r.get_json()
    assert body["error"].startswith("balance ") and body["error_th"].startswith("คะแนนคงเหลือ ")
    r = c.patch(f"/api/members/{a}", json={"colour": "red"}, headers=csrf)
    assert r.get_json() == {"error": "unknown field(s): colour", "error_th": "ไม่รู้จักช่องข้อมูล: colour"}
    r = c.post(f"/api/members/{a}/redeem", json={"reward": "fine_discount"})  # no CSRF header
    assert r.status_code == 400 and r.get_json()["error"].startswith("CSRF check failed: ")
    assert r.get_json()["error_th"].startswith("การตรวจสอบ CSRF ไม่ผ่าน: ")


def test_thai_dates_are_in_the_buddhist_era_and_every_api_error_has_thai():
    from server import catalogue

    th = auth.thai("a renewal must end today or later, not %(day)s", {"day": date(2026, 1, 5)})
    assert th is not None and "2569" in th and "2026" not in th
    assert [e for e in auth.API_ERRORS if e not in catalogue.TH] == []
    assert auth.thai("a text the catalogue lacks") is None
