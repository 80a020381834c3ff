"""The patron's own page (``/me``): sign-in with the counter PIN, lock-out, sessions, and
isolation — no patron sees another's data, whatever ids are put in URLs and forms and
whatever cookies are swapped, copied or forged; the staff and patron sessions never open
each other's pages. Flask's test client against a real SQLite database, through the real
forms (CSRF and all). The ILS PIN and the e-mailed link have their own files
(test_patron_ils.py, test_patron_link.py).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from server import store
from server.services import patrons
from server.services.patrons import PatronGuard, PatronPin, PatronSession
from server.store import Audit, Member, utcnow
from tests.browser.web_support import STAFF, sign_in, text
from tests.helpers import new_uid, run_admin
from tests.patron_support import client, cookie, csrf, patron_app, pin_sign_in, set_cookie

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def app(tmp_db_url):
    from server.web import accounts
    from tests.browser.web_support import ADMIN

    app = patron_app(tmp_db_url)
    accounts.add_staff(ADMIN[0], "admin", ADMIN[1])
    accounts.add_staff(STAFF[0], "staff", STAFF[1])
    yield app
    store.db.close()


@pytest.fixture
def svc(app):
    return app.extensions["privcard.service"]


def member(svc, name: str, pin: str = "2468", **kw) -> tuple[Member, str]:
    """An enrolled member with a counter PIN; (member, card UID)."""
    uid = new_uid()
    m = svc.members.add(name, uid, **kw)
    svc.patrons.set_pin(m.id, pin, actor="test")
    return m, uid


def signed_in(app, uid: str, pin: str = "2468", ip: str = "10.0.0.1"):
    c = client(app, ip, lang="en")
    r = pin_sign_in(c, uid, pin)
    assert r.status_code == 302 and r.location.endswith("/me/"), r.text[:300]
    return c


def audit(action: str) -> list[Audit]:
    return list(Audit.select().where(Audit.action == action).order_by(Audit.id))


def test_counter_pin_signs_in_and_the_page_shows_the_members_own_data_escaped(app, svc):
    m, uid = member(svc, EVIL + " สมชาย", email="somchai@example.org")
    svc.points.award(m.id, "borrow", actor="test")
    c = client(app, lang="en")
    assert c.get("/me/").location.endswith("/me/signin")  # not signed in: the sign-in page
    r = pin_sign_in(c, uid.lower(), "2468")  # a card number as typed, any case
    assert r.status_code == 302
    set_cookie_header = " ".join(r.headers.getlist("Set-Cookie"))
    assert "privcard_patron=" in set_cookie_header and "HttpOnly" in set_cookie_header
    assert "Path=/me" in set_cookie_header and "SameSite=Lax" in set_cookie_header
    assert "privcard_session=" not in set_cookie_header  # never the staff console's cookie
    page = c.get("/me/")
    assert page.status_code == 200
    t = text(page.text)
    balance = svc.ledger.balance(m.id)
    assert f"{balance:,} points" in t and "Earned this term" in t
    assert "Borrow" in t and "unlock" in t  # the privilege level and what unlocks the next
    assert EVIL not in page.text and "&lt;script&gt;" in page.text  # the name is shown, escaped
    assert "<img src=x" not in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Frame-Options"] == "DENY"
    assert [a.detail["method"] for a in audit("patron.signin")] == ["pin"]


def test_thai_is_the_default_with_buddhist_era_dates_and_english_on_request(app, svc):
    _m, uid = member(svc, "สมศรี รักเรียน")
    c = client(app)
    assert pin_sign_in(c, uid, "2468").status_code == 302
    t = text(c.get("/me/history").text)
    be_year = svc.today().year + 543
    assert "ประวัติ" in t and re.search(rf"\b\d{{1,2}}/\d{{1,2}}/{be_year}\b", t), t[:400]
    c.get("/me/lang/en?next=/me/history")
    t = text(c.get("/me/history").text)
    assert "History" in t and svc.today().isoformat() in t
    # the language link goes back only to a patron page
    assert c.get("/me/lang/th?next=https://evil.example/").location.endswith("/me/")
    assert c.get("/me/lang/th?next=/members").location.endswith("/me/")


def test_history_lists_the_last_100_entries_newest_first(app, svc):
    m, uid = member(svc, "Reader")
    for i in range(105):
        svc.points.award(m.id, "volunteer", item=f"shift-{i}", actor="test")
    c = signed_in(app, uid)
    html = c.get("/me/history").text
    items = re.findall(r'<li class="[^"]*">\s*<span class="what">', html)
    assert len(items) == 100
    assert "Your last 100 entries" in text(html)


def test_five_wrong_pins_lock_the_card_for_a_while_and_each_is_audited(app, svc):
    m, uid = member(svc, "Victim")
    _other, other_uid = member(svc, "Bystander", pin="1357")
    c = client(app, "10.0.0.7", lang="en")
    wrong = [f"97{i}53{i}" for i in range(5)]
    statuses = [pin_sign_in(c, uid, pin).status_code for pin in wrong]
    assert statuses == [401, 401, 401, 401, 429]  # the fifth wrong PIN locks
    r = pin_sign_in(c, uid, "2468")  # now even the right PIN is refused
    assert r.status_code == 429 and "locked until" in text(r.text)
    failed = audit("patron.signin_failed")
    assert [a.detail["failures"] for a in failed] == [1, 2, 3, 4, 5]
    assert failed[-1].detail["locked"] is True
    assert audit("patron.signin_refused")[-1].detail["locked"] is True
    dump = json.dumps([a.detail for a in Audit.select()])
    assert not [pin for pin in [*wrong, "2468"] if pin in dump]  # never a PIN
    # another card from another address is not affected
    assert pin_sign_in(client(app, "10.0.0.8"), other_uid, "1357").status_code == 302
    # the lock is time-based: when it has passed, the right PIN works and the count starts again
    PatronGuard.update(locked_until=utcnow() - timedelta(seconds=1)).where(
        PatronGuard.key == f"member:{m.id}"
    ).execute()
    assert pin_sign_in(client(app, "10.0.0.9"), uid, "2468").status_code == 302
    assert PatronGuard.get_by_id(f"member:{m.id}").failures == 0


def test_the_next_lock_in_a_row_is_longer(app, svc):
    m, uid = member(svc, "Again")
    c = client(app, "10.1.0.1", lang="en")
    for _i in range(5):
        pin_sign_in(c, uid, "1111")
    first = PatronGuard.get_by_id(f"member:{m.id}").locked_until
    PatronGuard.update(locked_until=utcnow() - timedelta(seconds=1)).where(
        PatronGuard.key == f"member:{m.id}"
    ).execute()
    c = client(app, "10.1.0.2", lang="en")
    for _i in range(5):
        pin_sign_in(c, uid, "1111")
    second = PatronGuard.get_by_id(f"member:{m.id}").locked_until
    assert second - utcnow() > (first - utcnow()) + timedelta(minutes=10)  # 15 min, then 30


def test_one_address_is_refused_after_ten_failures_whatever_the_cards(app, svc):
    _m, uid = member(svc, "Someone")
    c = client(app, "10.2.0.1", lang="en")
    codes = [pin_sign_in(c, f"04{i:08X}", "1234").status_code for i in range(patrons.SOURCE_MAX_FAILURES)]
    assert set(codes) == {401}  # unknown cards: the same answer as a wrong PIN
    r = pin_sign_in(c, uid, "2468")  # even a right PIN from this address waits now
    assert r.status_code == 429 and "Retry-After" in r.headers
    assert pin_sign_in(client(app, "10.2.0.2"), uid, "2468").status_code == 302  # other addresses are not


def test_staff_session_does_not_open_the_patron_page_and_the_patron_session_not_the_console(app, svc):
    _m, uid = member(svc, "Patron")
    staff = app.test_client()
    sign_in(staff, STAFF)
    assert staff.get("/").status_code == 200  # the console is open to staff
    r = staff.get("/me/")
    assert r.status_code == 302 and r.location.endswith("/me/signin")  # ...the patron page is not
    assert staff.get("/me/history").status_code == 302
    # a patron's session opens no console page or API, even with the cookie sent everywhere
    c = signed_in(app, uid)
    sid = cookie(c)
    c.set_cookie("privcard_patron", sid, path="/")
    for url in ("/", "/members", f"/members/{_m.id}", "/reports"):
        r = c.get(url)
        assert r.status_code == 302 and "/login" in r.location, url
    assert c.get("/api/members").status_code == 401
    # and the staff cookie put on a patron client does not make it staff
    staff_cookie = staff.get_cookie("privcard_session")
    c.set_cookie("privcard_session", staff_cookie.value, path="/")  # now it has both
    assert c.get("/me/").status_code == 200  # the patron page follows the patron cookie only
    t = text(c.get("/me/").text)
    assert "Sign out" in t and STAFF[0] not in t


def test_isolation_ids_in_urls_and_forms_are_ignored_cookies_swapped_and_forged(app, svc):
    a, a_uid = member(svc, "Alice Patron", email="alice@example.org")
    b, b_uid = member(svc, "Bob Patron", pin="9753", email="bob@example.org")
    svc.points.award(b.id, "volunteer", actor="test", item="bob-only-shift")
    ca, cb = signed_in(app, a_uid, ip="10.3.0.1"), signed_in(app, b_uid, "9753", ip="10.3.0.2")

    # ids in URLs: nothing takes a member id from the request
    for url in (
        f"/me/?member={b.id}",
        f"/me/?member_id={b.id}",
        f"/me/history?member={b.id}",
        f"/me/history?id={b.id}&member_id={b.id}",
        f"/me/settings?member={b.id}",
    ):
        t = text(ca.get(url).text)
        assert "Bob Patron" not in t and "bob@example.org" not in t and "Volunteer work" not in t, url
    for url in (f"/me/{b.id}", f"/me/members/{b.id}", f"/me/history/{b.id}", f"/me/member/{b.id}/history"):
        assert ca.get(url).status_code == 404, url
    # ids in forms: the settings form changes the signed-in member only
    token = csrf(ca.get("/me/settings").text)
    r = ca.post(
        "/me/settings",
        data={
            "csrf_token": token,
            "member": b.id,
            "member_id": b.id,
            "id": b.id,
            "email": "new-a@example.org",
            "language": "en",
            "consent_notices": "on",
        },
    )
    assert r.status_code == 302
    assert Member.get_by_id(a.id).email == "new-a@example.org"
    assert Member.get_by_id(b.id).email == "bob@example.org"

    # swapped cookies: each cookie shows its own member, never the other's
    sa, sb = cookie(ca), cookie(cb)
    set_cookie(ca, sb)
    home = text(ca.get("/me/").text)
    assert "Bob Patron" in home and "Alice Patron" not in home  # a stolen cookie is a stolen session...
    assert "Volunteer work" in text(ca.get("/me/history").text)
    set_cookie(ca, sa)
    home = text(ca.get("/me/").text)
    assert "Alice Patron" in home and "Bob Patron" not in home
    assert "Volunteer work" not in text(ca.get(f"/me/history?member={b.id}").text)  # only B has that entry
    # ...so a forged one must not be guessable: an altered or made-up id opens nothing
    for forged in (sa[:-1] + ("A" if sa[-1] != "A" else "B"), "x" * 43, str(b.id), f"{b.id}:{sb[:10]}", "", sa + "x"):
        c = client(app, "10.3.0.9")
        set_cookie(c, forged)
        r = c.get("/me/")
        assert r.status_code == 302 and r.location.endswith("/me/signin"), forged
    # A's CSRF token does not work in B's session
    r = cb.post("/me/settings", data={"csrf_token": token, "email": "evil@example.org", "language": "en"})
    assert r.status_code == 400 and Member.get_by_id(b.id).email == "bob@example.org"


def test_sign_out_ends_the_session_for_every_copy_of_the_cookie(app, svc):
    _m, uid = member(svc, "Leaver")
    c = signed_in(app, uid)
    sid = cookie(c)
    copy = client(app, "10.4.0.2")
    set_cookie(copy, sid)
    assert copy.get("/me/").status_code == 200
    token = csrf(c.get("/me/").text)
    r = c.post("/me/signout", data={"csrf_token": token})
    assert r.status_code == 302 and "bye=1" in r.location
    assert cookie(c) is None  # the cookie is deleted...
    assert copy.get("/me/").status_code == 302  # ...and a copy of it is refused: the row ended
    assert PatronSession.get_by_id(patrons._digest(sid)).ended_at is not None
    assert c.get("/me/signout").status_code == 405  # signing out is a POST with a token


def test_an_idle_session_ends_and_a_new_counter_pin_ends_open_sessions(app, svc):
    m, uid = member(svc, "Idle")
    c = signed_in(app, uid)
    key = patrons._digest(cookie(c))
    PatronSession.update(last_seen=utcnow() - patrons.IDLE - timedelta(seconds=1)).where(
        PatronSession.key == key
    ).execute()
    assert c.get("/me/").status_code == 302
    c = signed_in(app, uid)
    assert c.get("/me/").status_code == 200
    svc.patrons.set_pin(m.id, "8642", actor="web:bob")
    assert c.get("/me/").status_code == 302  # staff set a new PIN: the patron signs in again
    assert pin_sign_in(client(app, "10.5.0.1"), uid, "2468").status_code == 401
    assert pin_sign_in(client(app, "10.5.0.2"), uid, "8642").status_code == 302


def test_every_post_needs_the_pages_token(app, svc):
    _m, uid = member(svc, "Careful")
    c = client(app, lang="en")
    c.get("/me/signin")
    assert c.post("/me/signin", data={"card": uid, "pin": "2468"}).status_code == 400
    assert c.post("/me/signin", data={"card": uid, "pin": "2468", "csrf_token": "x" * 64}).status_code == 400
    assert c.post("/me/link", data={"card": uid}).status_code == 400
    c = signed_in(app, uid)
    assert c.post("/me/signout", data={}).status_code == 400
    assert c.post("/me/settings", data={"email": "x@example.org"}).status_code == 400
    assert c.get("/me/").status_code == 200  # still signed in


def test_settings_save_preferences_and_refuse_a_bad_address_changing_nothing(app, svc):
    m, uid = member(svc, "Prefs", email="prefs@example.org")
    c = signed_in(app, uid)
    page = c.get("/me/settings")
    assert 'value="prefs@example.org"' in page.text
    data = {
        "csrf_token": csrf(page.text),
        "email": "new@example.org",
        "phone": "081 234 5678",
        "language": "en",
        "consent_statement": "on",
    }
    r = c.post("/me/settings", data=data)
    assert r.status_code == 302 and "saved=1" in r.location
    got = Member.get_by_id(m.id)
    assert (got.email, got.phone, got.language) == ("new@example.org", "081 234 5678", "en")
    assert got.consent_statement and not got.consent_marketing and not got.consent_ranking and not got.consent_notices
    r = c.post("/me/settings", data={**data, "email": "not an address<script>", "consent_marketing": "on"})
    assert r.status_code == 400 and "e-mail must be an address" in text(r.text)
    assert "<script>" not in r.text.split("<main>")[1]
    got = Member.get_by_id(m.id)
    assert got.email == "new@example.org" and not got.consent_marketing  # nothing changed


def test_ranking_shows_only_with_consent(app, svc):
    m, uid = member(svc, "Ranked")
    c = signed_in(app, uid)
    svc.messages.set_preferences(m, consent_ranking=True)
    assert "My ranking this term" in text(c.get("/me/").text)
    svc.messages.set_preferences(m, consent_ranking=False)
    assert "My ranking this term" not in text(c.get("/me/").text)


def test_staff_set_the_pin_on_the_member_page_and_with_the_cli(app, svc, tmp_db_url):
    m = svc.members.add("Counter", (uid := new_uid()))
    staff = app.test_client()
    sign_in(staff, STAFF)
    page = staff.get(f"/members/{m.id}")
    assert "PIN for the patron page" in text(page.text) and "No PIN is set." in text(page.text)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = staff.post(f"/members/{m.id}/patron-pin", data={"csrf_token": token, "patron_pin": "12ab", "action": "set"})
    assert "a patron PIN must be 4-12 digits" in text(staff.get(r.location).text)
    assert not PatronPin.select().where(PatronPin.member == m.id).exists()
    staff.post(f"/members/{m.id}/patron-pin", data={"csrf_token": token, "patron_pin": "", "action": "set"})
    assert not PatronPin.select().where(PatronPin.member == m.id).exists()  # empty does not clear or set
    staff.post(f"/members/{m.id}/patron-pin", data={"csrf_token": token, "patron_pin": "0246", "action": "set"})
    row = PatronPin.get_by_id(m.id)
    assert row.pin_hash.startswith("$argon2id$") and row.set_by == f"web:{STAFF[0]}"
    assert pin_sign_in(client(app, "10.6.0.1"), uid, "0246").status_code == 302
    assert audit("patron.pin")[-1].detail == {"set": True}
    # the CLI, as staff type it: leading zeros kept; the PIN never printed
    store.db.close()
    code, out = run_admin(tmp_db_url, "member", "set", str(m.id), "patron_pin=0099", "email=c@example.org")
    assert code == 0, out
    assert "0099" not in json.dumps(out)
    store.db.connect(reuse_if_open=True)
    assert pin_sign_in(client(app, "10.6.0.2"), uid, "0099").status_code == 302
    assert Member.get_by_id(m.id).email == "c@example.org"
    code, out = run_admin(tmp_db_url, "member", "set", str(m.id), "patron_pin=12")
    assert code != 0 and "4-12 digits" in str(out)
    code, out = run_admin(tmp_db_url, "member", "set", str(m.id), "patron_pin=")
    assert code == 0
    store.db.connect(reuse_if_open=True)
    assert not PatronPin.select().where(PatronPin.member == m.id).exists()
    assert pin_sign_in(client(app, "10.6.0.3"), uid, "0099").status_code == 401
