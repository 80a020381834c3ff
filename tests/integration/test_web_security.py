"""Console security: anonymous access, roles, CSRF, escaping, SQL-looking input,
lock-out, cookie flags. Flask's test client against a real SQLite database.
"""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest

from server import store
from server.store import Audit, Member
from tests.browser.web_support import ADMIN, STAFF, csrf_of, flashes, make_app, post_form, sign_in, text


@pytest.fixture
def app(tmp_db_url):
    app = make_app(tmp_db_url)
    yield app
    store.db.close()


@pytest.fixture
def admin(app):
    c = app.test_client()
    sign_in(c, ADMIN)
    return c


@pytest.fixture
def staff(app):
    c = app.test_client()
    sign_in(c, STAFF)
    return c


def _urls(app):
    """Every route with sample arguments, except the public ones."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("auth.login", "auth.lang", "static"):
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = re.sub(rf"<(?:\w+:)?{arg}>", "1" if rule._converters[arg].__class__.__name__ == "IntegerConverter"
                         else "x", url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, url, rule.endpoint))
    return out


def test_every_page_and_api_call_refuses_anonymous(app):
    c = app.test_client()
    urls = _urls(app)
    assert len(urls) > 40  # pages and API
    for method, url, endpoint in urls:
        r = c.open(url, method=method, json={} if url.startswith("/api/") and method != "GET" else None)
        if url.startswith("/api/"):
            assert r.status_code == 401, (method, url, r.status_code)
            assert "error" in r.get_json()
        else:
            assert r.status_code in (302, 400), (method, url, r.status_code)
            if r.status_code == 302:
                assert r.location.startswith("/login"), (method, url, r.location)
            else:  # a POST without CSRF token is refused before anything else
                assert method == "POST"
    # and the sign-in page itself is open
    assert c.get("/login").status_code == 200
    assert "Sign in" in text(c.get("/lang/en", follow_redirects=True).text)


def test_bad_bearer_token_is_refused(app):
    c = app.test_client()
    r = c.get("/api/members", headers={"Authorization": "Bearer pct_not-a-real-token"})
    assert r.status_code == 401


def test_staff_cannot_reach_admin_pages_or_api(app, staff):
    for url in ("/devices", "/staff", "/devices/x"):
        r = staff.get(url)
        assert r.status_code == 403, url
        assert "Only administrators can open this page." in text(r.text)
    r = staff.post("/devices", data={"id": "gate-9", "kind": "gate", "csrf_token": csrf_of(staff.get("/").text)})
    assert r.status_code == 403
    assert store.Device.get_or_none(store.Device.id == "gate-9") is None
    r = staff.get("/api/devices")
    assert r.status_code == 403
    # and the navigation does not offer them
    nav = staff.get("/").text
    assert 'href="/devices"' not in nav and 'href="/staff"' not in nav
    # the same pages open for an admin
    admin = app.test_client()
    sign_in(admin, ADMIN)
    assert admin.get("/devices").status_code == 200
    assert admin.get("/staff").status_code == 200


def test_form_without_valid_csrf_token_changes_nothing(app, admin):
    before = Member.select().count()
    r = admin.post("/members", data={"name": "Mallory", "card": "04AABBCCDD"})
    assert r.status_code == 400
    assert "nothing was changed" in text(r.text)
    r = admin.post("/members", data={"name": "Mallory", "card": "04AABBCCDD", "csrf_token": "forged.token"})
    assert r.status_code == 400
    # a token from another session is not valid either
    other = app.test_client()
    sign_in(other, STAFF)
    foreign = csrf_of(other.get("/members").text)
    r = admin.post("/members", data={"name": "Mallory", "card": "04AABBCCDD", "csrf_token": foreign})
    assert r.status_code == 400
    assert Member.select().count() == before
    # sign-out is a POST with CSRF too: a bare POST leaves the session signed in
    assert admin.post("/logout").status_code == 400
    assert admin.get("/").status_code == 200
    # the API with a cookie session needs the token in a header
    r = admin.post("/api/members", json={"name": "Mallory", "card": "04AABBCCDD"})
    assert r.status_code == 400 and "CSRF" in r.get_json()["error"]
    assert Member.select().count() == before
    token = csrf_of(admin.get("/").text)
    r = admin.post("/api/members", json={"name": "Trudy", "card": "04AABBCCDE"}, headers={"X-CSRFToken": token})
    assert r.status_code == 201
    assert Member.select().count() == before + 1


def test_html_in_member_names_is_escaped(app, admin):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    page = post_form(admin, "/members", "/members", {"name": evil, "card": "04C0FFEE01", "tier": "silver"})
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(" in page.text
    m = Member.get(Member.name == evil)
    for url in (f"/members/{m.id}", "/members?q=%3Cscript", "/", "/staff"):
        body = admin.get(url).text
        assert "<script>alert" not in body, url
    assert "&lt;script&gt;alert(" in admin.get("/staff").text  # the audit detail, as text
    # the JSON API returns the name as data, not markup
    assert admin.get(f"/api/members/{m.id}").get_json()["name"] == evil
    # the CSP forbids inline script as a second line of defence
    assert "script-src 'self'" in admin.get("/").headers["Content-Security-Policy"]


def test_sql_looking_search_input_is_harmless(app, admin):
    post_form(admin, "/members", "/members", {"name": "Somchai Jaidee", "card": "04A1B2C3D4"})
    for q in ("' OR '1'='1", "x'); DROP TABLE member; --", "%", "_", "\\", "1 OR 1=1", "*/ UNION SELECT 1 --"):
        r = admin.get("/members", query_string={"q": q})
        assert r.status_code == 200, q
        assert "No members found." in text(r.text), q
        assert admin.get("/api/members", query_string={"q": q}).get_json()["members"] == [], q
    assert Member.select().count() == 1
    page = admin.get("/members", query_string={"q": "somch"})
    assert "Somchai Jaidee" in text(page.text)


def test_lockout_after_five_failures_for_fifteen_minutes(app):
    from server.web import accounts

    c = app.test_client()
    c.get("/lang/en")
    for i in range(5):
        r = c.post("/login", data={"username": STAFF[0], "password": "wrong", "csrf_token": csrf_of(c.get("/login").text)})
        assert r.status_code == 401
    assert "locked until" in text(r.text)
    r = c.post("/login", data={"username": STAFF[0], "password": STAFF[1], "csrf_token": csrf_of(c.get("/login").text)})
    assert r.status_code == 401 and "locked until" in text(r.text)
    assert c.get("/").status_code == 302
    s = accounts.Staff.get(accounts.Staff.username == STAFF[0])
    assert timedelta(minutes=14) < s.locked_until - store.utcnow() <= timedelta(minutes=15)
    assert Audit.select().where(Audit.action == "staff.login_failed").count() == 5
    # 15 minutes later the right password works again
    accounts.Staff.update(locked_until=store.utcnow() - timedelta(seconds=1)).where(accounts.Staff.id == s.id).execute()
    r = c.post("/login", data={"username": STAFF[0], "password": STAFF[1], "csrf_token": csrf_of(c.get("/login").text)})
    assert r.status_code == 302
    assert c.get("/").status_code == 200


def test_session_cookie_flags_and_no_open_redirect(tmp_db_url):
    from server.web import create_app
    from server.domain.config import load

    app = make_app(tmp_db_url)
    c = app.test_client()
    page = c.get("/login")
    r = c.post("/login?next=https://evil.example/", data={"username": ADMIN[0], "password": ADMIN[1],
                                                         "csrf_token": csrf_of(page.text)})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert r.location == "/"
    # behind a TLS-terminating proxy the cookie is Secure
    tls = create_app(tmp_db_url, load(), behind_proxy=True, testing=True)
    c2 = tls.test_client()
    page = c2.get("/login", headers={"X-Forwarded-Proto": "https"}, base_url="https://localhost")
    r = c2.post("/login", data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": csrf_of(page.text)},
                headers={"X-Forwarded-Proto": "https", "Referer": "https://localhost/login"},
                base_url="https://localhost")
    assert r.status_code == 302
    assert "Secure" in r.headers["Set-Cookie"]


def test_changes_are_recorded_with_who_and_when(app, admin, staff):
    post_form(staff, "/members", "/members", {"name": "Audit Person", "card": "04DDEEFF00"})
    row = Audit.get(Audit.action == "member.add")
    assert row.actor == "web:bob"
    assert abs((store.utcnow() - row.at).total_seconds()) < 60
    page = admin.get("/staff")
    assert "web:bob" in text(page.text) and "member.add" in text(page.text)


def test_audit_details_show_thai_as_thai(app, admin, staff):
    post_form(staff, "/members", "/members", {"name": "สมชาย ใจดี", "card": "04DDEEFF01"})
    # rows written before, or by another tool, may hold the JSON with \\u escapes, or the
    # JSON text itself as a string: the Staff page shows those readably too
    escaped = json.dumps({"name": "วิภา รักเรียน", "tier": "gold"})  # ensure_ascii: \\u0e27...
    assert "\\u0e27" in escaped
    for detail in (escaped, json.dumps(escaped)):
        row = Audit.create(actor="cli", action="member.add", target="legacy", detail=None, at=store.utcnow())
        store.db.execute_sql(f"UPDATE audit SET detail = {store.db.param} WHERE id = {store.db.param}",
                             (detail, row.id))
    for lang in ("th", "en"):
        admin.get(f"/lang/{lang}")
        page = admin.get("/staff")
        assert page.status_code == 200
        shown = text(page.text)
        assert '"name": "สมชาย ใจดี"' in shown, shown
        assert shown.count('"name": "วิภา รักเรียน", "tier": "gold"') == 2, shown
        assert "\\u0e" not in page.text
        if lang == "th":  # and the rest of the page is Thai too (the API token form's label was not)
            assert "ชื่อโทเค็น" in shown and "Label" not in shown


def test_flash_messages_are_escaped(app, admin):
    page = post_form(admin, "/members", "/members", {"name": "x", "card": "<b>bold</b>"})
    assert any("<b>" in f for f in flashes(page.text)) or "&lt;b&gt;" in page.text
    assert "<b>bold</b>" not in page.text


ERROR_MESSAGES = {
    403: ("Only administrators can open this page.", "เฉพาะผู้ดูแลระบบเท่านั้นที่เปิดหน้านี้ได้"),
    404: ("Not found", "ไม่พบข้อมูล"),
    400: ("The form expired or was not sent by this console; nothing was changed. Please try again.",
          "แบบฟอร์มหมดอายุหรือไม่ได้ส่งจากระบบนี้ ไม่มีการเปลี่ยนแปลงใดๆ กรุณาลองอีกครั้ง"),
    413: ("File too large (max 5 MB)", "ไฟล์มีขนาดใหญ่เกินไป (สูงสุด 5 MB)"),
}


@pytest.mark.parametrize("lang", ["th", "en"])
def test_error_pages_speak_the_staff_language(app, lang):
    from server.web import accounts

    admin, staff = app.test_client(), app.test_client()
    sign_in(admin, ADMIN, lang)
    sign_in(staff, STAFF, lang)
    event = post_form(admin, "/events", "/events", {"name": "PULINET", "activity": "pulinet_event",
                                                   "day": "2026-01-15"})
    ev = accounts.Event.get(accounts.Event.name == "PULINET")
    token = csrf_of(event.text)
    too_big = io.BytesIO(b"04A1B2C3D4\n" * (600 * 1024))  # 6.6 MB: over the request limit
    responses = {
        403: staff.get("/staff"),
        404: admin.get("/members/999999"),
        400: admin.post("/members", data={"name": "Mallory", "card": "04AABBCCDD"}),
        413: admin.post(f"/events/{ev.id}/upload", data={"csrf_token": token, "file": (too_big, "list.csv")},
                        content_type="multipart/form-data"),
    }
    for code, r in responses.items():
        english, thai = ERROR_MESSAGES[code]
        assert r.status_code == code, (code, r.status_code)
        shown = text(r.text)
        if lang == "th":
            assert thai in shown and english not in shown, (code, shown)
        else:
            assert english in shown and thai not in shown, (code, shown)
        assert ("กลับ" if lang == "th" else "Back") in shown
    # the refused upload and the refused form changed nothing
    assert accounts.Upload.select().count() == 0
    assert Member.select().count() == 0
    # the API answers an oversized request with JSON, in English like its other errors
    r = admin.post("/api/members", data=b"{" + b" " * (7 * 1024 * 1024) + b"}",
                   headers={"Content-Type": "application/json", "X-CSRFToken": token})
    assert r.status_code == 413 and r.get_json() == {"error": "request too large"}
