"""Console security: anonymous access, roles, CSRF, escaping, SQL-looking input,
lock-out, cookie flags. Flask's test client against a real SQLite database.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta

import pytest

from server import store
from server.store import Audit, Member
from tests.browser.web_support import ADMIN, STAFF, csrf_of, flashes, make_app, post_form, sign_in, text

#: an event day inside the window staff may date events in (the last 366 days)
EVENT_DAY = (date.today() - timedelta(days=30)).isoformat()


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
        if rule.endpoint in ("patron.signin", "patron.link", "patron.lang"):  # the patron pages' open ones
            continue
        if rule.endpoint == "messages.unsubscribe":  # a signed link that works without signing in (its own tests)
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = re.sub(
                rf"<(?:\w+:)?{arg}>",
                "1" if rule._converters[arg].__class__.__name__ == "IntegerConverter" else "x",
                url,
            )
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, url, rule.endpoint))
    return out


def test_every_page_and_api_call_refuses_anonymous(app):
    c = app.test_client()
    urls = _urls(app)
    assert len(urls) > 40  # pages and API
    for method, url, _endpoint in urls:
        r = c.open(url, method=method, json={} if url.startswith("/api/") and method != "GET" else None)
        if url.startswith("/api/"):
            assert r.status_code == 401, (method, url, r.status_code)
            assert "error" in r.get_json()
        else:
            assert r.status_code in (302, 400), (method, url, r.status_code)
            if r.status_code == 302:
                # the patron pages (docs/patrons.md) send to their own sign-in, never the console's
                want = "/me/signin" if url.startswith("/me/") else "/login"
                assert r.location.startswith(want), (method, url, r.location)
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


def _login(c, username: str, password: str):
    return c.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf_of(c.get("/login").text)}
    )


def test_lockout_after_five_failures_short_and_backing_off(app):
    from server.web import accounts

    c = app.test_client()
    c.get("/lang/en")
    unknown = _login(c, "nobody-here", "wrong")
    for _i in range(5):
        r = _login(c, STAFF[0], "wrong")
        assert r.status_code == 401
    # the same words for a wrong password, a locked account and an unknown user
    assert text(r.text) == text(unknown.text)
    assert "Wrong username or password, or too many failed attempts" in text(r.text)
    r = _login(c, STAFF[0], STAFF[1])
    assert r.status_code == 401 and text(r.text) == text(unknown.text)
    assert c.get("/").status_code == 302
    s = accounts.Staff.get(accounts.Staff.username == STAFF[0])
    assert timedelta(seconds=50) < s.locked_until - store.utcnow() <= timedelta(minutes=1)
    assert Audit.select().where(Audit.action == "staff.login_failed").count() == 5  # the right one was not checked
    # the lock ends; five more wrong ones lock it twice as long
    accounts.Staff.update(locked_until=store.utcnow() - timedelta(seconds=1)).where(accounts.Staff.id == s.id).execute()
    for _i in range(5):
        assert _login(c, STAFF[0], "wrong").status_code == 401
    s = accounts.Staff.get_by_id(s.id)
    assert timedelta(seconds=110) < s.locked_until - store.utcnow() <= timedelta(minutes=2)
    assert [accounts.lock_duration(n).total_seconds() / 60 for n in range(7)] == [1, 2, 4, 8, 15, 15, 15]
    # after it, the right password works and the back-off starts again
    accounts.Staff.update(locked_until=store.utcnow() - timedelta(seconds=1)).where(accounts.Staff.id == s.id).execute()
    assert _login(c, STAFF[0], STAFF[1]).status_code == 302
    assert c.get("/").status_code == 200
    s = accounts.Staff.get_by_id(s.id)
    assert (s.failures, s.locked_until, s.lockouts) == (0, None, 0)


@pytest.mark.parametrize("lang", ["en", "th"])
def test_one_source_failing_too_often_gets_429_in_its_language(app, lang):
    from server.web import accounts

    c = app.test_client()
    c.get(f"/lang/{lang}")
    # wrong passwords for many names (unknown and real): none gets locked, the source is stopped
    for i in range(accounts.SOURCE_MAX_FAILURES):
        assert _login(c, f"guess{i}", "wrong").status_code == 401
    r = _login(c, ADMIN[0], ADMIN[1])  # even the right password, from this address
    assert r.status_code == 429
    assert 0 < int(r.headers["Retry-After"]) <= accounts.SOURCE_WINDOW.total_seconds()
    expected = {
        "en": "Too many failed sign-ins from this address; try again in 15 minutes.",
        "th": "เข้าสู่ระบบไม่สำเร็จจากที่อยู่นี้หลายครั้งเกินไป โปรดลองใหม่ในอีก 15 นาที",
    }[lang]
    assert expected in text(r.text)
    # another address is not affected, and the admin is not locked
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert _login(other, ADMIN[0], ADMIN[1]).status_code == 302
    assert accounts.Staff.get(accounts.Staff.username == ADMIN[0]).locked_until is None


def test_session_cookie_flags_and_no_open_redirect(tmp_db_url):
    from server.domain.config import load
    from server.web import create_app

    app = make_app(tmp_db_url)
    c = app.test_client()
    page = c.get("/login")
    r = c.post(
        "/login?next=https://evil.example/",
        data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": csrf_of(page.text)},
    )
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert r.location == "/"
    # behind a TLS-terminating proxy the cookie is Secure
    tls = create_app(tmp_db_url, load(), behind_proxy=True, testing=True)
    c2 = tls.test_client()
    page = c2.get("/login", headers={"X-Forwarded-Proto": "https"}, base_url="https://localhost")
    r = c2.post(
        "/login",
        data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": csrf_of(page.text)},
        headers={"X-Forwarded-Proto": "https", "Referer": "https://localhost/login"},
        base_url="https://localhost",
    )
    assert r.status_code == 302
    assert "Secure" in r.headers["Set-Cookie"]


def test_changes_are_recorded_with_who_and_when(app, admin, staff):
    post_form(staff, "/members", "/members", {"name": "Audit Person", "card": "04DDEEFF00"})
    row = Audit.get(Audit.action == "member.add")
    assert row.actor == "web:bob"
    assert abs((store.utcnow() - row.at).total_seconds()) < 60
    page = admin.get("/staff")  # the log says who and what in words, not the stored codes
    row = re.search(r'<td class="audit-who">([^<]*)</td><td class="audit-what">([^<]*)</td>', page.text)
    assert row and row.groups() == ("bob", "Member enrolled"), row and row.groups()
    assert "web:bob" not in text(page.text) and "member.add" not in text(page.text)


def test_audit_details_show_thai_as_thai(app, admin, staff):
    post_form(staff, "/members", "/members", {"name": "สมชาย ใจดี", "card": "04DDEEFF01"})
    # rows written before, or by another tool, may hold the JSON with \\u escapes, or the
    # JSON text itself as a string: the Staff page shows those readably too
    escaped = json.dumps({"name": "วิภา รักเรียน", "tier": "gold"})  # ensure_ascii: \\u0e27...
    assert "\\u0e27" in escaped
    for detail in (escaped, json.dumps(escaped)):
        row = Audit.create(actor="cli", action="member.add", target="legacy", detail=None, at=store.utcnow())
        store.db.execute_sql(
            f"UPDATE audit SET detail = {store.db.param} WHERE id = {store.db.param}", (detail, row.id)
        )
    for lang, name, tier in (("th", "ชื่อ", "ประเภทบัตร: บัตรทอง"), ("en", "name", "card type: Gold card")):
        admin.get(f"/lang/{lang}")
        page = admin.get("/staff")
        assert page.status_code == 200
        shown = text(page.text)
        # key: value text, a card type by its name: no JSON, no code
        assert f"{name}: สมชาย ใจดี" in shown, shown
        assert shown.count(f"{name}: วิภา รักเรียน · {tier}") == 2, shown
        assert '"name"' not in shown and "gold" not in shown, shown
        assert "\\u0e" not in page.text
        if lang == "th":  # and the rest of the page is Thai too (the API token form's label was not)
            assert "ชื่อโทเค็น" in shown and "Label" not in shown


def test_flash_messages_are_escaped(app, admin):
    page = post_form(admin, "/members", "/members", {"name": "x", "card": "<b>bold</b>"})
    assert any("<b>" in f for f in flashes(page.text)) or "&lt;b&gt;" in page.text
    assert "<b>bold</b>" not in page.text


def _assert_error_page(r, code: int, messages: tuple[str, str], lang: str) -> str:
    """``r`` is the console's error page ``code`` in ``lang`` only, with a way back; returns its text."""
    english, thai = messages
    assert r.status_code == code, (code, r.status_code)
    shown = text(r.text)
    if lang == "th":
        assert thai in shown and english not in shown, (code, shown)
    else:
        assert english in shown and thai not in shown, (code, shown)
    assert ("กลับ" if lang == "th" else "Back") in shown
    return shown


ERROR_MESSAGES = {
    403: ("Only administrators can open this page.", "เฉพาะผู้ดูแลระบบเท่านั้นที่เปิดหน้านี้ได้"),
    404: ("Not found", "ไม่พบข้อมูล"),
    400: (
        "The form expired or was not sent by this console; nothing was changed. Please try again.",
        "แบบฟอร์มหมดอายุหรือไม่ได้ส่งจากระบบนี้ ไม่มีการเปลี่ยนแปลงใดๆ กรุณาลองอีกครั้ง",
    ),
    413: ("File too large (max 5 MB)", "ไฟล์มีขนาดใหญ่เกินไป (สูงสุด 5 MB)"),
}


@pytest.mark.parametrize("lang", ["th", "en"])
def test_error_pages_speak_the_staff_language(app, lang):
    admin, staff = app.test_client(), app.test_client()
    sign_in(admin, ADMIN, lang)
    sign_in(staff, STAFF, lang)
    event = post_form(admin, "/events", "/events", {"name": "PULINET", "activity": "pulinet_event", "day": EVENT_DAY})
    ev = store.Event.get(store.Event.name == "PULINET")
    token = csrf_of(event.text)
    too_big = io.BytesIO(b"04A1B2C3D4\n" * (600 * 1024))  # 6.6 MB: over the request limit
    responses = {
        403: staff.get("/staff"),
        404: admin.get("/members/999999"),
        400: admin.post("/members", data={"name": "Mallory", "card": "04AABBCCDD"}),
        413: admin.post(
            f"/events/{ev.id}/upload",
            data={"csrf_token": token, "file": (too_big, "list.csv")},
            content_type="multipart/form-data",
        ),
    }
    for code, r in responses.items():
        _assert_error_page(r, code, ERROR_MESSAGES[code], lang)
    # the refused upload and the refused form changed nothing
    assert store.Upload.select().count() == 0
    assert Member.select().count() == 0
    # the API answers an oversized request with JSON, in English like its other errors
    r = admin.post(
        "/api/members",
        data=b"{" + b" " * (7 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )
    assert r.status_code == 413 and r.get_json() == {"error": "request too large", "error_th": "คำขอมีขนาดใหญ่เกินไป"}


# --------------------------------------------------------------------------- sessions


def _cookie(c) -> str:
    return c.get_cookie("privcard_session").value


def _replay(app, cookie: str):
    """A new browser holding a copy of someone's session cookie."""
    c = app.test_client()
    c.set_cookie("privcard_session", cookie)
    return c


def test_sign_out_ends_the_session_for_every_copy_of_its_cookie(app):
    from server.web import accounts

    token = accounts.create_token(ADMIN[0], "script", actor="test")
    desk, office = app.test_client(), app.test_client()
    sign_in(desk, ADMIN)
    sign_in(office, ADMIN)  # the same account in another browser
    copied = _cookie(desk)
    # the cookie names a session, not an account
    content = app.session_interface.get_signing_serializer(app).loads(copied)
    assert "sid" in content and "staff_id" not in content and "pwv" not in content
    assert _replay(app, copied).get("/").status_code == 200  # a copy works while signed in

    r = post_form(desk, "/", "/logout", {}, follow=False)
    assert r.status_code == 302 and r.location == "/login"
    thief = _replay(app, copied)
    r = thief.get("/")
    assert r.status_code == 302 and r.location.startswith("/login")
    assert _replay(app, copied).get("/api/me").status_code == 401
    assert _replay(app, copied).get("/staff").status_code == 302
    # the account's other session goes on, and so does its API token
    assert office.get("/staff").status_code == 200
    assert office.get("/api/me").get_json()["username"] == ADMIN[0]
    assert app.test_client().get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert accounts.WebSession.select().where(accounts.WebSession.ended_at.is_null()).count() == 1
    # signing in again is a new session; the old cookie stays dead
    sign_in(desk, ADMIN)
    assert desk.get("/").status_code == 200 and _cookie(desk) != copied
    assert _replay(app, copied).get("/").status_code == 302


def test_disabling_an_account_ends_its_sessions_for_good(app):
    from server.web import accounts

    c = app.test_client()
    sign_in(c, STAFF)
    copied = _cookie(c)
    accounts.set_staff(STAFF[0], active=False, actor="test")
    accounts.set_staff(STAFF[0], active=True, actor="test")
    # enabled again, the account signs in afresh: the sessions from before stay ended
    assert _replay(app, copied).get("/").status_code == 302
    assert c.get("/").status_code == 302
    sign_in(c, STAFF)
    assert c.get("/").status_code == 200


def test_idle_sessions_end_and_old_rows_are_pruned_at_sign_in(app):
    from server.web import accounts

    WS = accounts.WebSession
    idle, ended, live = app.test_client(), app.test_client(), app.test_client()
    for c in (idle, ended, live):
        sign_in(c, STAFF)
    post_form(ended, "/", "/logout", {})
    assert WS.select().count() == 3
    # a request within a few minutes only reads; last_seen moves on after SEEN_EVERY
    live_key = WS.select().where(WS.ended_at.is_null()).order_by(WS.created_at.desc()).get().key
    seen = WS.get_by_id(live_key).last_seen
    live.get("/")
    assert WS.get_by_id(live_key).last_seen == seen
    WS.update(last_seen=seen - accounts.SEEN_EVERY).where(WS.key == live_key).execute()
    live.get("/")
    assert WS.get_by_id(live_key).last_seen > seen - accounts.SEEN_EVERY
    # twelve hours without a request: over, even though the cookie itself would still pass
    idle_key = next(k for k in WS.select(WS.key).where(WS.ended_at.is_null()).tuples() if k[0] != live_key)[0]
    WS.update(last_seen=store.utcnow() - accounts.SESSION_LIFETIME - timedelta(seconds=1)).where(
        WS.key == idle_key
    ).execute()
    assert idle.get("/").status_code == 302
    assert live.get("/").status_code == 200
    # the next sign-in deletes the ended and the idle rows
    sign_in(app.test_client(), ADMIN)
    assert WS.select().count() == 2
    assert {s.staff.username for s in WS.select()} == {STAFF[0], ADMIN[0]}
    assert WS.get_or_none(WS.key == idle_key) is None


def test_a_password_changed_during_sign_in_starts_no_session(app):
    from server.web import accounts

    s = accounts.authenticate(STAFF[0], STAFF[1])
    accounts.set_password(STAFF[0], "temporary-pass-44", actor="test", must_change=True)  # meanwhile
    with pytest.raises(accounts.AccountError, match="changed meanwhile"):
        accounts.start_session(s)
    assert accounts.WebSession.select().count() == 0
    # and a session id that was never issued, or is malformed, is nobody's
    for sid in ("", "x" * 43, None, 42, "y" * 1000):
        assert accounts.session_staff(sid) is None


# --------------------------------------------------------------------------- other error pages

OTHER_ERRORS = {
    405: (
        "This address cannot be used this way (for example, signing out is a button, not a link).",
        "ใช้ที่อยู่นี้ด้วยวิธีนี้ไม่ได้ (เช่น การออกจากระบบต้องกดปุ่ม ไม่ใช่เปิดลิงก์)",
    ),
    400: ("The request was not understood; nothing was changed.", "ระบบไม่เข้าใจคำขอนี้ ไม่มีการเปลี่ยนแปลงใดๆ"),
    410: ("The request could not be handled (error 410).", "ไม่สามารถดำเนินการตามคำขอนี้ได้ (ข้อผิดพลาด 410)"),
    500: (
        "Something went wrong on the server. The error was logged; please try again, and tell the "
        "administrator if it happens again.",
        "เกิดข้อผิดพลาดในระบบ ระบบได้บันทึกข้อผิดพลาดไว้แล้ว กรุณาลองอีกครั้ง หากยังเกิดขึ้นอีกกรุณาแจ้งผู้ดูแลระบบ",
    ),
}
SECRET = "db password is hunter2 at /srv/privcard/secret.py"  # what a failing view's exception says


def _add_failing_routes(app) -> None:
    """Test-only routes on this app instance: a 400, a 410 and an unexpected exception (page and API)."""
    from werkzeug.exceptions import BadRequest, Gone

    def bad():
        raise BadRequest("malformed input from the test")

    def gone():
        raise Gone()

    def boom():
        raise RuntimeError(SECRET)

    app.add_url_rule("/test-only/bad", "test_bad", bad)
    app.add_url_rule("/test-only/gone", "test_gone", gone)
    app.add_url_rule("/test-only/boom", "test_boom", boom)
    app.add_url_rule("/api/test-only/boom", "test_api_boom", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # TESTING would hand the exception to the test client


@pytest.mark.parametrize("lang", ["th", "en"])
def test_405_400_500_pages_speak_the_staff_language(app, lang, caplog):
    _add_failing_routes(app)
    c = app.test_client()
    sign_in(c, ADMIN, lang)
    responses = {
        405: c.get("/logout"),  # sign-out is a POST
        400: c.get("/test-only/bad"),
        410: c.get("/test-only/gone"),
        500: c.get("/test-only/boom"),
    }
    for code, r in responses.items():
        shown = _assert_error_page(r, code, OTHER_ERRORS[code], lang)
        assert r.mimetype == "text/html"
        assert 'class="top"' in r.text  # the console's own page, with its header
        # not Werkzeug's English page
        for werkzeug in (
            "Method Not Allowed",
            "The method is not allowed",
            "Internal Server Error",
            "Bad Request",
            "malformed input from the test",
            "The requested URL is no longer",
        ):
            assert werkzeug not in shown, (code, werkzeug)
    assert "POST" in responses[405].headers.get("Allow", "")
    # the 500 page shows nothing of what failed; the log has it all
    assert SECRET not in responses[500].text and "Traceback" not in responses[500].text
    assert "RuntimeError" not in responses[500].text
    assert any(SECRET in r.getMessage() or (r.exc_info and SECRET in str(r.exc_info[1])) for r in caplog.records)
    # the session survived the error pages: GET /logout did not sign anyone out
    assert c.get("/").status_code == 200


def test_api_errors_stay_json(app):
    _add_failing_routes(app)
    c = app.test_client()
    sign_in(c, ADMIN)
    r = c.get("/api/transfers")  # POST only
    assert r.status_code == 405 and r.get_json() == {"error": "method not allowed", "error_th": "ไม่อนุญาตให้ใช้เมธอดนี้"}
    assert "POST" in r.headers.get("Allow", "")
    r = c.get("/api/test-only/boom")
    assert r.status_code == 500 and r.get_json() == {
        "error": "internal server error",
        "error_th": "เกิดข้อผิดพลาดภายในเซิร์ฟเวอร์",
    }
    assert SECRET not in r.text
    r = c.get("/api/no-such-thing")
    assert r.status_code == 404 and r.get_json() == {"error": "not found", "error_th": "ไม่พบ"}


# --------------------------------------------------------------------------- upload size


@pytest.mark.parametrize("lang", ["th", "en"])
def test_upload_limit_and_its_message_agree(app, lang):
    admin = app.test_client()
    sign_in(admin, ADMIN, lang)
    post_form(admin, "/events", "/events", {"name": "PULINET", "activity": "pulinet_event", "day": EVENT_DAY})
    ev = store.Event.get(store.Event.name == "PULINET")
    page = admin.get(f"/events/{ev.id}")
    assert ("ขนาดไม่เกิน 5 MB" if lang == "th" else "At most 5 MB.") in text(page.text)  # the form says it
    message = "ไฟล์มีขนาดใหญ่เกินไป (สูงสุด 5 MB)" if lang == "th" else "File too large (max 5 MB)"

    def upload(size: int):
        body = b"04A1B2C3D4\n" + b"\n" * (size - 11)  # one card, then blank lines (skipped)
        assert len(body) == size
        return admin.post(
            f"/events/{ev.id}/upload",
            data={"csrf_token": csrf_of(page.text), "file": (io.BytesIO(body), "list.csv")},
            content_type="multipart/form-data",
        )

    # 5.5 MB: over the request limit, the translated 413 page
    r = upload(5_500_000)
    assert r.status_code == 413
    assert message in text(r.text) and "attendance file is larger" not in r.text
    # just over 5 MB but within the request limit: the same message, on the event page
    r = upload(5_000_001)
    assert r.status_code == 302
    shown = admin.get(r.location)
    assert flashes(shown.text) == [message], flashes(shown.text)
    assert store.Upload.select().count() == 0
    # exactly 5 MB is accepted and previewed
    r = upload(5_000_000)
    assert r.status_code == 302 and "upload=" in r.location
    assert store.Upload.select().count() == 1
