"""API tokens (expiry, listing, revocation, last use), odd input that used to be a 500,
the session cookie behind a TLS proxy, and migration 5 of the ``web`` namespace —
through Flask's test client on real SQLite (PostgreSQL too for the migration).

The sign-in policy under parallel guesses and many simultaneous sign-ins is tested
against a real server process in ``tests/security/test_signin_attack.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from server import store
from server.store import Audit
from server.web import accounts
from tests.brokers import python_env
from tests.browser.web_support import ADMIN, STAFF, post_form, sign_in, text

BIG = str(2**63)


def _bearer(app, token: str):
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return c


def test_a_token_expires_and_records_its_last_use(app):
    token, row = accounts.issue_token(STAFF[0], "script", days=7)
    assert timedelta(days=6, hours=23) < row.expires_at - store.utcnow() <= timedelta(days=7)
    assert row.last_used is None
    c = _bearer(app, token)
    assert c.get("/api/me").get_json()["username"] == STAFF[0]
    used = accounts.ApiToken.get_by_id(row.id).last_used
    assert used is not None and abs((store.utcnow() - used).total_seconds()) < 60
    # a day past its expiry: refused, and it says so in the list
    accounts.ApiToken.update(expires_at=store.utcnow() - timedelta(seconds=1)).where(
        accounts.ApiToken.id == row.id
    ).execute()
    assert c.get("/api/me").status_code == 401
    assert accounts.ApiToken.get_by_id(row.id).state == "expired"
    # lifetimes outside 1..366 days are refused and make nothing
    n = accounts.ApiToken.select().count()
    for days in (0, -1, 367, "abc", 1.5, True):
        with pytest.raises(accounts.AccountError):
            accounts.issue_token(STAFF[0], "x", days=days)
    assert accounts.ApiToken.select().count() == n


def test_tokens_listed_and_revoked_through_the_api(app):
    staff_token = accounts.create_token(STAFF[0], "bob's script")
    admin_token = accounts.create_token(ADMIN[0], "alice's script")
    bob, alice = _bearer(app, staff_token), _bearer(app, admin_token)
    # bob sees only his own; alice sees everyone's with ?all=1
    mine = bob.get("/api/tokens?all=1").get_json()["tokens"]
    assert [t["username"] for t in mine] == [STAFF[0]] and mine[0]["state"] == "active"
    everyone = alice.get("/api/tokens?all=1").get_json()["tokens"]
    assert {t["username"] for t in everyone} == {STAFF[0], ADMIN[0]}
    alices = next(t for t in everyone if t["username"] == ADMIN[0])
    # bob cannot revoke alice's token (404, nothing changes); he can make and revoke his own
    assert bob.post(f"/api/tokens/{alices['id']}/revoke", json={}).status_code == 404
    assert alice.get("/api/me").status_code == 200
    r = bob.post("/api/tokens", json={"label": "second", "days": 30})
    assert r.status_code == 201 and r.get_json()["token"].startswith("pct_")
    second = r.get_json()
    assert bob.post("/api/tokens", json={"days": 9999}).status_code == 400
    assert bob.post(f"/api/tokens/{second['id']}/revoke", json={}).get_json()["state"] == "revoked"
    assert _bearer(app, second["token"]).get("/api/me").status_code == 401
    # an admin revokes anyone's: that token stops at once
    mine_id = mine[0]["id"]
    assert alice.post(f"/api/tokens/{mine_id}/revoke", json={}).get_json()["state"] == "revoked"
    assert bob.get("/api/me").status_code == 401
    assert Audit.select().where(Audit.action == "staff.token_revoked").count() == 2
    assert alice.post(f"/api/tokens/{BIG}/revoke", json={}).status_code == 404


def test_a_password_change_and_disabling_revoke_tokens(app):
    token = accounts.create_token(STAFF[0], "script")
    c = app.test_client()
    sign_in(c, STAFF)
    page = c.get("/account")
    assert "script" in text(page.text) and "revokes its API tokens" in text(page.text)
    new = "bob-new-password-3"
    post_form(c, "/account", "/account", {"current": STAFF[1], "new": new, "again": new})
    assert _bearer(app, token).get("/api/me").status_code == 401
    row = accounts.ApiToken.get(accounts.ApiToken.digest == accounts._digest(token))
    assert (row.state, row.revoked_why) == ("revoked", "password")
    # disabling revokes too, and enabling again does not bring a token back
    token = accounts.create_token(STAFF[0], "script 2")
    accounts.set_staff(STAFF[0], active=False)
    accounts.set_staff(STAFF[0], active=True)
    assert _bearer(app, token).get("/api/me").status_code == 401
    with pytest.raises(accounts.AccountError):
        accounts.set_staff(STAFF[0], active=False) and accounts.create_token(STAFF[0], "while disabled")


@pytest.mark.parametrize("lang", ["en", "th"])
def test_tokens_on_the_staff_and_account_pages(app, lang):
    admin = app.test_client()
    sign_in(admin, ADMIN, lang=lang)
    r = post_form(admin, "/staff", "/staff", {"action": "token", "label": "nightly", "days": "10"})
    shown = text(r.text)
    assert {"en": "expires on", "th": "หมดอายุ"}[lang] in shown
    row = accounts.ApiToken.get(accounts.ApiToken.label == "nightly")
    assert timedelta(days=9) < row.expires_at - store.utcnow() <= timedelta(days=10)
    bobs = accounts.create_token(STAFF[0], "bob's")
    page = admin.get("/staff")
    assert "nightly" in text(page.text) and "bob's" in text(page.text)
    # a bad lifetime: refused in the staff's language, nothing made
    n = accounts.ApiToken.select().count()
    r = post_form(admin, "/staff", "/staff", {"action": "token", "label": "x", "days": "0"})
    assert {"en": "a token lasts 1 to 366 days", "th": "โทเค็นมีอายุได้ 1 ถึง 366 วัน"}[lang] in text(r.text)
    assert accounts.ApiToken.select().count() == n
    # the admin revokes bob's token on the Staff page
    bob_row = accounts.ApiToken.get(accounts.ApiToken.label == "bob's")
    r = post_form(admin, "/staff", f"/staff/tokens/{bob_row.id}/revoke", {})
    assert {"en": f"API token {bob_row.id} revoked.", "th": f"เพิกถอนโทเค็น API {bob_row.id} แล้ว"}[lang] in text(r.text)
    assert _bearer(app, bobs).get("/api/me").status_code == 401
    # bob lists his own on the Account page and cannot revoke alice's from there
    bob = app.test_client()
    sign_in(bob, STAFF, lang=lang)
    assert "bob's" in text(bob.get("/account").text) and "nightly" not in text(bob.get("/account").text)
    r = post_form(bob, "/account", f"/account/tokens/{row.id}/revoke", {}, follow=False)
    assert r.status_code == 404 and accounts.ApiToken.get_by_id(row.id).state == "active"
    mine = accounts.issue_token(STAFF[0], "mine")[1]
    post_form(bob, "/account", f"/account/tokens/{mine.id}/revoke", {})
    assert accounts.ApiToken.get_by_id(mine.id).state == "revoked"


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "broker.dispatcher", "admin", "--db", db_url, "staff", *args],
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=60,
    )


def test_tokens_from_the_cli(app, tmp_db_url):
    store.db.close()
    out = _cli(tmp_db_url, "token", STAFF[0], "--label", "cron", "--days", "5")
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    assert token.startswith("pct_") and "expires" in out.stderr
    listed = _cli(tmp_db_url, "tokens", STAFF[0])
    assert listed.returncode == 0, listed.stderr
    head, row = listed.stdout.splitlines()  # one header in both languages, one token
    assert head.startswith("Token/โทเค็น") and "Last used/ใช้ล่าสุด" in head
    tid, who, label, *_ = row.split()
    assert (who, label) == ("bob", "cron") and row.split()[-2:] == ["never/ไม่เคย", "active/ใช้งานได้"]
    data = json.loads(_cli(tmp_db_url, "tokens", STAFF[0], "--json").stdout)
    assert [(t["id"], t["username"], t["label"], t["last_used"], t["state"]) for t in data] == [
        (int(tid), "bob", "cron", None, "active")
    ]
    assert _cli(tmp_db_url, "token", STAFF[0], "--days", "400").returncode == 1
    r = _cli(tmp_db_url, "revoke-token", tid)
    assert r.returncode == 0 and f"token {tid} of bob revoked" in r.stdout
    assert "revoked/เพิกถอนแล้ว" in _cli(tmp_db_url, "tokens").stdout
    bad = _cli(tmp_db_url, "revoke-token", BIG)
    assert bad.returncode == 1 and "no API token" in bad.stderr
    store.db.connect(reuse_if_open=True)
    assert _bearer(app, token).get("/api/me").status_code == 401


@pytest.mark.parametrize("lang", ["en", "th"])
def test_odd_input_is_a_clear_404_or_400_not_a_500(app, lang):
    from server.web import create_app  # noqa: F401  (the app fixture built it with TESTING: exceptions propagate)

    c = app.test_client()
    sign_in(c, ADMIN, lang=lang)
    api = _bearer(app, accounts.create_token(ADMIN[0]))
    post_form(c, "/members", "/members", {"name": "Somchai Jaidee", "card": "04A1B2C3D4"})
    mid = store.Member.get(store.Member.name == "Somchai Jaidee").id
    not_found = {"en": "Not found", "th": "ไม่พบ"}[lang]
    for url in (
        f"/members/{BIG}",
        f"/members/{2**64}",
        f"/members/{BIG}/entries/1/void",
        f"/members/{mid}/entries/{BIG}/void",
    ):
        r = c.get(url)
        assert r.status_code == 404 and not_found in text(r.text), url
    r = api.post(f"/api/entries/{BIG}/void", json={"reason": "x"})
    assert r.status_code == 404 and r.get_json() == {"error": "not found", "error_th": "ไม่พบ"}
    # a huge keyset position is just past the end
    assert c.get(f"/members/{mid}?before={BIG}").status_code == 200
    assert api.get(f"/api/members/{mid}/entries?before={BIG}").status_code == 400
    for url in (
        "/api/members?limit=abc",
        "/api/entries?limit=abc",
        "/api/entries?limit=0",
        f"/api/members?limit={BIG}",
    ):
        r = api.get(url)
        assert r.status_code == 400 and "limit must be a whole number" in r.get_json()["error"], url
    # search with a lone surrogate (as percent-encoded UTF-8) and with the last code point
    for q in ("%ED%A0%80", "%ED%A0%80somch", "%F4%8F%BF%BF", "a%F4%8F%BF%BF", "%00"):
        assert c.get(f"/members?q={q}").status_code == 200, q
        assert api.get(f"/api/members?q={q}").status_code == 200, q
    from server.web import queries

    assert queries.search_members("\ud800somch")[0].name == "Somchai Jaidee"
    assert queries.search_members("somch\U0010ffff") == []
    assert store.Member.select().count() == 1


def test_the_session_cookie_is_secure_with_an_https_public_url(tmp_db_url, monkeypatch):
    from server.domain.config import load
    from server.web import create_app
    from tests.browser.web_support import make_app

    make_app(tmp_db_url)  # the accounts
    # a TLS proxy that sends no X-Forwarded-Proto: the request looks like plain http
    monkeypatch.setenv("PRIVCARD_WEB_PUBLIC_URL", "https://points.library.example/")

    def login_page_cookie(app) -> str:
        # the sign-in page already sets the session cookie (it holds the form's CSRF token)
        r = app.test_client().get("/login")
        assert r.status_code == 200
        return r.headers["Set-Cookie"]

    assert "Secure" in login_page_cookie(create_app(tmp_db_url, load(), testing=True))
    monkeypatch.setenv("PRIVCARD_WEB_PUBLIC_URL", "http://127.0.0.1:8080/")
    cookie = login_page_cookie(create_app(tmp_db_url, load(), testing=True))
    assert "Secure" not in cookie and "HttpOnly" in cookie
    monkeypatch.setenv("PRIVCARD_WEB_PUBLIC_URL", "ftp://x")
    with pytest.raises(ValueError, match="PRIVCARD_WEB_PUBLIC_URL"):
        create_app(tmp_db_url, load(), testing=True)


def test_migration_5_keeps_tokens_and_gives_them_an_expiry(any_db_url):
    from server.domain.config import load
    from server.web import create_app

    store.connect(any_db_url)
    accounts.add_staff(*ADMIN[:1], "admin", ADMIN[1], actor="test")
    token = accounts.create_token(ADMIN[0], "script", actor="test")
    # the database as the previous release left it: web schema 4, no new columns or table
    store.db.execute_sql("DROP TABLE web_signin_source")
    for table, column in (
        ("web_staff", "lockouts"),
        ("web_api_token", "expires_at"),
        ("web_api_token", "revoked_at"),
        ("web_api_token", "revoked_why"),
    ):
        store.db.execute_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
    store.Counter.update(value=4).where(store.Counter.key == "schema:web").execute()
    store.db.close()

    app = create_app(any_db_url, load(), testing=True)  # upgrades on start
    try:
        assert store.counter("schema:web") == len(store.EXTRA_MIGRATIONS["web"]) == 5
        row = accounts.ApiToken.get(accounts.ApiToken.label == "script")
        assert timedelta(days=89) < row.expires_at - store.utcnow() <= timedelta(days=90)
        assert accounts.staff_for_token(token).username == ADMIN[0]
        assert "web_signin_source" in store.db.get_tables()
        c = app.test_client()
        sign_in(c, ADMIN)
        assert c.get("/staff").status_code == 200
        assert store.upgrade() == len(store.MIGRATIONS)
    finally:
        store.db.close()


def test_parallel_guesses_check_at_most_the_limit_on_both_databases(any_db_url):
    """Threads calling the sign-in at once (the served-console version: tests/security)."""
    import threading

    store.connect(any_db_url)
    try:
        accounts.add_staff(*STAFF[:1], "staff", STAFF[1], actor="test")
        barrier = threading.Barrier(30)
        outcomes: list[str] = []

        def guess(i: int) -> None:
            barrier.wait()
            try:
                accounts.authenticate(STAFF[0], "wrong-password", source=f"198.51.100.{i}")
            except (accounts.SignInRefused, accounts.SignInThrottled) as exc:
                outcomes.append(type(exc).__name__ + ":" + exc.reason)
            finally:
                store.db.close()

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(outcomes) == 30
        checked = Audit.select().where(Audit.action == "staff.login_failed").count()
        assert 1 <= checked <= accounts.MAX_FAILURES, outcomes
        bob = accounts.Staff.get(accounts.Staff.username == STAFF[0])
        assert bob.locked_until is not None and bob.locked_until > store.utcnow()
        assert timedelta(seconds=50) < bob.locked_until - store.utcnow() <= timedelta(minutes=1)
        assert bob.lockouts == 1
        # the per-source window counts on both databases too
        for _i in range(accounts.SOURCE_MAX_FAILURES):
            with pytest.raises(accounts.SignInRefused):
                accounts.authenticate("nobody", "x", source="203.0.113.9")
        with pytest.raises(accounts.SignInThrottled) as exc:
            accounts.authenticate(ADMIN[0], "x", source="203.0.113.9")
        assert exc.value.reason == "source" and 0 < exc.value.retry_after <= 15 * 60
        row = accounts.SigninSource.get_by_id("203.0.113.9")
        assert row.failures == accounts.SOURCE_MAX_FAILURES
    finally:
        store.db.close()
